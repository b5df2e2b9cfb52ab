-- Each process that works pipeline jobs beats here every few seconds, so that the
-- jobs of a process that died are taken over within seconds rather than after River's
-- stuck-job rescue (JOB_RESCUE_AFTER, by default JOB_TIMEOUT + 1 minute).
CREATE TABLE pipeline_processes (
    client_id    text PRIMARY KEY,            -- River's client ID, as in river_job.attempted_by
    host         text NOT NULL,
    pid          integer NOT NULL,
    -- Where pid names this process: the boot and PID namespace (Linux), and the
    -- process's start time in clock ticks after boot, so a reused pid is not taken for it.
    instance     text NOT NULL DEFAULT '',
    pid_start    bigint NOT NULL DEFAULT 0,
    started_at   timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now(),
    beat_every   interval NOT NULL,           -- how often it promised to beat
    dead_after   interval NOT NULL,           -- silent this long, it is taken for dead
    stopped_at   timestamptz                  -- it stopped, or was found dead
);
CREATE INDEX pipeline_processes_host ON pipeline_processes (host, instance) WHERE stopped_at IS NULL;
