-- Regression rules (cg.Rule): a condition on a key figure of a user's runs, for all its
-- designs (design '') or one, and who to mention in Slack when a run breaks it. expr is
-- the normalised form (cg.Condition.String); mention is <@U…> or <!subteam^S…>.
CREATE TABLE rules (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    design     text        NOT NULL DEFAULT '',
    expr       text        NOT NULL,
    mention    text        NOT NULL,
    created_by text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, design, expr, mention)
);

-- The rules a run broke when it was posted: a JSON array of cg.BrokenRule.
ALTER TABLE dashboards ADD COLUMN IF NOT EXISTS rules_broken jsonb NOT NULL DEFAULT '[]';
