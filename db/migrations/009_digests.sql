-- The regression rules a run broke (a JSON array of cg.BrokenRule). Migration 008 (rules)
-- adds it too; IF NOT EXISTS lets either come first.
ALTER TABLE dashboards ADD COLUMN IF NOT EXISTS rules_broken jsonb NOT NULL DEFAULT '[]';

-- The time zone a user's digests are scheduled and shown in (an IANA name).
ALTER TABLE users ADD COLUMN time_zone text NOT NULL DEFAULT 'UTC';

-- Digests: one message per period to the user's channel. A period is [start, end) in
-- the user's time zone; last_period_end is the end of the latest period done (posted,
-- or found without runs). A replica claims (digest, period end) by setting claimed_end
-- and claimed_at; a claim older than the lease is another replica's that died mid-post.
CREATE TABLE digests (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id         bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    every           text        NOT NULL CHECK (every IN ('daily', 'weekly')),
    weekday         smallint    NOT NULL DEFAULT 0 CHECK (weekday BETWEEN 0 AND 6), -- weekly: 0 = Sunday
    at_minute       smallint    NOT NULL CHECK (at_minute BETWEEN 0 AND 1439),
    last_period_end timestamptz NOT NULL,
    claimed_end     timestamptz,
    claimed_at      timestamptz,
    created_by      text        NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, every, weekday, at_minute)
);
