-- What the pipeline learns from a run table, kept for the next run's comparison.
ALTER TABLE dashboards
    ADD COLUMN design   text  NOT NULL DEFAULT '',
    ADD COLUMN platform text  NOT NULL DEFAULT '',
    ADD COLUMN run_id   text  NOT NULL DEFAULT '',
    ADD COLUMN figures  jsonb NOT NULL DEFAULT '{}';
CREATE INDEX dashboards_design_idx ON dashboards (user_id, kind, design, id);

-- Designs whose posts a user muted (from the "mute" button).
CREATE TABLE muted_designs (
    user_id    bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind       text        NOT NULL,
    design     text        NOT NULL,
    muted_by   text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, kind, design)
);

-- Scans, for status and metrics.
CREATE TABLE scan_runs (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz NOT NULL,
    users       integer     NOT NULL,
    tables_new  integer     NOT NULL,
    failures    integer     NOT NULL,
    detail      jsonb       NOT NULL DEFAULT '{}'
);
