-- How many times a dashboard was recorded again on request; each time is a new job.
ALTER TABLE dashboards ADD COLUMN generation integer NOT NULL DEFAULT 0;
