-- How many times a dashboard was recorded again on request; each time is a new job.
ALTER TABLE dashboards ADD COLUMN generation integer NOT NULL DEFAULT 0;

-- The stage a run's key figures were read at ("finish", "sign-off", "iteration 3").
ALTER TABLE dashboards ADD COLUMN stage text NOT NULL DEFAULT '';
