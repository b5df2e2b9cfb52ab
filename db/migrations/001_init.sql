-- Users: a person or a project with three databases of its own.
CREATE TABLE users (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username       text        NOT NULL UNIQUE CHECK (username ~ '^[a-z][a-z0-9_-]{0,39}$'),
    status         text        NOT NULL DEFAULT 'provisioning'
                   CHECK (status IN ('provisioning', 'active', 'disabled', 'removed')),
    status_reason  text        NOT NULL DEFAULT '',
    slack_user_id  text        NOT NULL DEFAULT '',
    api_key_hash   bytea       UNIQUE,            -- sha256 of the key; the key itself is shown once and never stored
    api_key_hint   text        NOT NULL DEFAULT '', -- masked form, to recognise a key
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- Credentials: per-user key/value pairs. Secret values live only in value_cipher.
CREATE TABLE credentials (
    user_id      bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key_name     text        NOT NULL,
    is_secret    boolean     NOT NULL,
    value_plain  text,                       -- set only when is_secret is false
    value_cipher bytea,                      -- set only when is_secret is true: AES-256-GCM, see db/crypto.go
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key_name),
    CHECK ((is_secret AND value_plain IS NULL AND value_cipher IS NOT NULL)
        OR (NOT is_secret AND value_plain IS NOT NULL AND value_cipher IS NULL))
);

-- Dashboards: one record per run table found, with the pipeline's state.
CREATE TABLE dashboards (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id             bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind                text        NOT NULL CHECK (kind IN ('TIMING', 'QOR', 'DRC')),
    table_name          text        NOT NULL,
    dashboard_uid       text        NOT NULL UNIQUE,
    dashboard_url       text        NOT NULL DEFAULT '',
    local_snapshot_url  text        NOT NULL DEFAULT '',  -- the GIF's path (the seed's name)
    state               text        NOT NULL DEFAULT 'pending',
    step                text        NOT NULL DEFAULT '',
    last_error          text        NOT NULL DEFAULT '',
    reason              text        NOT NULL DEFAULT '',
    attempts            integer     NOT NULL DEFAULT 0,
    slack_channel_id    text        NOT NULL DEFAULT '',
    slack_file_id       text        NOT NULL DEFAULT '',
    posting_started_at  timestamptz,
    slack_sent_at       timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, kind, table_name)
);
CREATE INDEX dashboards_state_idx ON dashboards (state) WHERE state NOT IN ('posted', 'incompatible', 'muted');

-- The seed's per-kind tables, as read-only views, so its queries keep working.
CREATE VIEW dashboardtiming AS
    SELECT d.id, u.username, d.table_name, d.dashboard_url, d.local_snapshot_url, d.slack_sent_at
    FROM dashboards d JOIN users u ON u.id = d.user_id WHERE d.kind = 'TIMING';
CREATE VIEW dashboardqor AS
    SELECT d.id, u.username, d.table_name, d.dashboard_url, d.local_snapshot_url, d.slack_sent_at
    FROM dashboards d JOIN users u ON u.id = d.user_id WHERE d.kind = 'QOR';
CREATE VIEW dashboarddrc AS
    SELECT d.id, u.username, d.table_name, d.dashboard_url, d.local_snapshot_url, d.slack_sent_at
    FROM dashboards d JOIN users u ON u.id = d.user_id WHERE d.kind = 'DRC';

-- Audit log: who changed what. Never a secret value.
CREATE TABLE audit_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text        NOT NULL,
    action      text        NOT NULL,
    target_user text        NOT NULL DEFAULT '',
    detail      jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_target_idx ON audit_log (target_user, at);
