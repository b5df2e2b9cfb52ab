package db

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Process is one process that works the pipeline's jobs, as it reports itself in
// pipeline_processes.
type Process struct {
	// ClientID is its River client ID, the one River writes into a job's attempted_by.
	ClientID string
	Host     string
	PID      int
	// Instance and PIDStart say where PID names this process (boot and PID namespace)
	// and when it started, so that a process on the same instance can tell it is gone.
	// Empty and 0 where the system does not say.
	Instance    string
	PIDStart    int64
	StartedAt   time.Time
	HeartbeatAt time.Time
}

// StrandedJob is a running job whose process stopped, or missed two beats: it waits to
// be taken over.
type StrandedJob struct {
	ID          int64
	Kind        string
	DashboardID int64 // 0 if the job's arguments name none
	Attempt     int
	// ClientID is the process that was running it, and Since its last sign of life:
	// the job has waited since then.
	ClientID string
	Since    time.Time
	// Stopped: the process stopped or was found dead, so the job is taken over at the
	// next beat of any process; otherwise it is taken over once the process is silent
	// for its dead_after.
	Stopped bool
}

// Processes is the repository of pipeline_processes.
type Processes struct{ db *DB }

// Processes returns the pipeline processes' repository.
func (d *DB) Processes() Processes { return Processes{d} }

// Beat records that p is alive now (by the database's clock), inserting it on its first
// beat with how often it beats and after how long silent it is taken for dead.
func (r Processes) Beat(ctx context.Context, p Process, beatEvery, deadAfter time.Duration) error {
	_, err := r.db.Pool.Exec(ctx, `INSERT INTO pipeline_processes
		(client_id, host, pid, instance, pid_start, beat_every, dead_after)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (client_id) DO UPDATE SET heartbeat_at = now(), beat_every = $6, dead_after = $7
		WHERE pipeline_processes.stopped_at IS NULL`,
		p.ClientID, p.Host, p.PID, p.Instance, p.PIDStart, beatEvery, deadAfter)
	if err != nil {
		return fmt.Errorf("record the heartbeat of process %q: %w", p.ClientID, err)
	}
	return nil
}

// Stopped records that a process stopped (or was found dead): the jobs it left running
// are taken over at the next beat of any other process.
func (r Processes) Stopped(ctx context.Context, clientID string) error {
	if _, err := r.db.Pool.Exec(ctx, `UPDATE pipeline_processes SET stopped_at = now()
		WHERE client_id = $1 AND stopped_at IS NULL`, clientID); err != nil {
		return fmt.Errorf("record that process %q stopped: %w", clientID, err)
	}
	return nil
}

// OnInstance lists the processes not known to have stopped that run on host and
// instance, except self: those whose pid the caller can check.
func (r Processes) OnInstance(ctx context.Context, host, instance, self string) ([]Process, error) {
	rows, err := r.db.Pool.Query(ctx, `SELECT client_id, host, pid, instance, pid_start, started_at, heartbeat_at
		FROM pipeline_processes WHERE host = $1 AND instance = $2 AND client_id <> $3 AND stopped_at IS NULL`, host, instance, self)
	if err != nil {
		return nil, fmt.Errorf("list processes on %s: %w", host, err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Process, error) {
		var p Process
		err := row.Scan(&p.ClientID, &p.Host, &p.PID, &p.Instance, &p.PIDStart, &p.StartedAt, &p.HeartbeatAt)
		return p, err
	})
}

// Forget deletes the processes that stopped more than a day ago and left no running
// job.
func (r Processes) Forget(ctx context.Context) error {
	if _, err := r.db.Pool.Exec(ctx, `DELETE FROM pipeline_processes p
		WHERE p.stopped_at < now() - interval '1 day'
		AND NOT EXISTS (SELECT 1 FROM river_job j WHERE j.state = 'running'
			AND j.attempted_by[array_length(j.attempted_by, 1)] = p.client_id)`); err != nil {
		return fmt.Errorf("forget stopped processes: %w", err)
	}
	return nil
}

// strandedJobs joins each running job to the process running it: the last of River's
// attempted_by. A job whose process is not in the table (a version before this one)
// is left to River's own rescue.
const strandedJobs = `SELECT j.id, j.kind, coalesce((j.args->>'dashboard_id')::bigint, 0), j.attempt, p.client_id,
		p.heartbeat_at, p.stopped_at IS NOT NULL
	FROM river_job j JOIN pipeline_processes p ON p.client_id = j.attempted_by[array_length(j.attempted_by, 1)]
	WHERE j.state = 'running'`

// StrandedJobs lists the running jobs that wait to be taken over: their process
// stopped, was found dead, or has missed two beats. Oldest first.
func (d *DB) StrandedJobs(ctx context.Context) ([]StrandedJob, error) {
	rows, err := d.Pool.Query(ctx, strandedJobs+`
		AND (p.stopped_at IS NOT NULL OR p.heartbeat_at < now() - 2 * p.beat_every)
		ORDER BY p.heartbeat_at, j.id`)
	if err != nil {
		return nil, fmt.Errorf("list jobs waiting to be taken over: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (StrandedJob, error) {
		var s StrandedJob
		err := row.Scan(&s.ID, &s.Kind, &s.DashboardID, &s.Attempt, &s.ClientID, &s.Since, &s.Stopped)
		return s, err
	})
}

// TakeOverJobs makes the running jobs of processes that stopped, were found dead, or
// were silent for their dead_after available to work again at once, and returns
// them. It changes them as River's own stuck-job rescuer does (riverpgxv5's
// JobRescueMany: an attempt error appended, river:rescue_count in the metadata), but
// makes them available now rather than after the retry policy's delay; a job out of
// attempts is discarded, as River does. by names the process taking over: it never
// takes over its own jobs (its beats were late, it is not dead).
func (d *DB) TakeOverJobs(ctx context.Context, by string) ([]StrandedJob, error) {
	rows, err := d.Pool.Query(ctx, `WITH stranded AS (
		SELECT j.id, p.client_id, p.heartbeat_at, p.stopped_at IS NOT NULL AS stopped
		FROM river_job j JOIN pipeline_processes p ON p.client_id = j.attempted_by[array_length(j.attempted_by, 1)]
		WHERE j.state = 'running' AND (p.stopped_at IS NOT NULL OR p.heartbeat_at < now() - p.dead_after)
			AND p.client_id <> $1::text
		FOR UPDATE OF j SKIP LOCKED
	)
	UPDATE river_job j SET
		state = CASE WHEN j.attempt >= j.max_attempts THEN 'discarded' ELSE 'available' END::river_job_state,
		finalized_at = CASE WHEN j.attempt >= j.max_attempts THEN now() END,
		scheduled_at = now(),
		errors = array_append(j.errors, jsonb_build_object('at', now(), 'attempt', greatest(j.attempt, 0),
			'error', format('its process %s stopped (last heartbeat %s); taken over by %s', s.client_id, s.heartbeat_at, $1::text),
			'trace', '')),
		metadata = j.metadata || jsonb_build_object('river:rescue_count',
			coalesce(CASE WHEN jsonb_typeof(j.metadata -> 'river:rescue_count') = 'number'
				THEN (j.metadata ->> 'river:rescue_count')::int END, 0) + 1)
	FROM stranded s
	WHERE j.id = s.id AND j.state = 'running'
	RETURNING j.id, j.kind, coalesce((j.args->>'dashboard_id')::bigint, 0), j.attempt, s.client_id, s.heartbeat_at, s.stopped`, by)
	if err != nil {
		return nil, fmt.Errorf("take over the jobs of stopped processes: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (StrandedJob, error) {
		var s StrandedJob
		err := row.Scan(&s.ID, &s.Kind, &s.DashboardID, &s.Attempt, &s.ClientID, &s.Since, &s.Stopped)
		return s, err
	})
}
