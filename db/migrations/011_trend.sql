-- The trend dashboard of a run's design and platform (grafana.RenderTrend), saved with
-- the run's dashboard: its link (with ?orgId=), for the post. Empty when the run names
-- no design or the trend dashboard could not be made.
ALTER TABLE dashboards ADD COLUMN trend_url text NOT NULL DEFAULT '';
