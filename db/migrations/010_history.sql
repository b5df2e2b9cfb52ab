-- The user databases whose run history (cg_history.runs) was backfilled from the runs
-- recorded here before the service wrote a summary row with each run: one row per user
-- and kind, written once the backfill of that database succeeded, so it runs once.
CREATE TABLE history_backfilled (
    user_id       bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind          text        NOT NULL,
    runs          integer     NOT NULL,
    backfilled_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, kind)
);
