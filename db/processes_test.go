package db_test

import (
	"context"
	"testing"
	"time"

	"credential-grafana/db"
	"credential-grafana/db/dbtest"
)

// runningJob inserts a River job running under process client, attempted at
// attemptedAgo, as River's fetch leaves it (attempt counted, client last in
// attempted_by).
func runningJob(t *testing.T, d *db.DB, client string, attempt, maxAttempts int, attemptedAgo time.Duration) int64 {
	t.Helper()
	var id int64
	err := d.Pool.QueryRow(context.Background(), `INSERT INTO river_job
		(args, kind, max_attempts, queue, state, attempt, attempted_at, attempted_by)
		VALUES ('{"dashboard_id": 7}', 'record_gif', $1, 'record', 'running', $2, now() - $3::interval, ARRAY['someone_before', $4])
		RETURNING id`, maxAttempts, attempt, attemptedAgo, client).Scan(&id)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func jobState(t *testing.T, d *db.DB, id int64) (state string, errs int, rescues int) {
	t.Helper()
	err := d.Pool.QueryRow(context.Background(), `SELECT state, coalesce(array_length(errors, 1), 0),
		coalesce((metadata->>'river:rescue_count')::int, 0) FROM river_job WHERE id = $1`, id).Scan(&state, &errs, &rescues)
	if err != nil {
		t.Fatal(err)
	}
	return state, errs, rescues
}

func TestTheJobsOfAStoppedOrSilentProcessAreTakenOverAndALiveOnesAreNot(t *testing.T) {
	t.Parallel()
	_, url := dbtest.NewDatabase(t)
	ctx := context.Background()
	d, err := db.Open(ctx, db.Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	procs := d.Processes()
	beat := func(id string) {
		if err := procs.Beat(ctx, db.Process{ClientID: id, Host: "h", PID: 1}, time.Second, 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"live", "silent", "stopped", "spent"} {
		beat(id)
	}
	// "silent" last beat 6 s ago (more than its dead_after), "stopped" stopped.
	if _, err := d.Pool.Exec(ctx, `UPDATE pipeline_processes SET heartbeat_at = now() - interval '6 seconds' WHERE client_id IN ('silent', 'spent')`); err != nil {
		t.Fatal(err)
	}
	if err := procs.Stopped(ctx, "stopped"); err != nil {
		t.Fatal(err)
	}
	live := runningJob(t, d, "live", 1, 12, time.Hour) // running long, but its process is alive
	silent := runningJob(t, d, "silent", 1, 12, 10*time.Second)
	stopped := runningJob(t, d, "stopped", 2, 12, time.Second)
	spent := runningJob(t, d, "spent", 12, 12, 10*time.Second) // its last attempt
	unknown := runningJob(t, d, "a_process_before_this_version", 1, 12, time.Hour)

	waiting, err := d.StrandedJobs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[int64]db.StrandedJob{}
	for _, j := range waiting {
		got[j.ID] = j
	}
	if len(got) != 3 || got[silent].ClientID != "silent" || got[stopped].ClientID != "stopped" || !got[stopped].Stopped ||
		got[silent].Stopped || got[spent].ID == 0 || got[silent].DashboardID != 7 || got[silent].Kind != "record_gif" {
		t.Fatalf("waiting jobs %+v, want the silent, stopped and spent processes' jobs", waiting)
	}
	if since := time.Since(got[silent].Since); since < 5*time.Second || since > time.Minute {
		t.Errorf("the silent process's job waits since %s ago, want its last heartbeat, 6 s ago", since)
	}

	// A process late with its beats does not take its own jobs for a dead one's.
	if mine, err := d.TakeOverJobs(ctx, "silent"); err != nil || len(mine) != 2 {
		t.Fatalf("take-over by the silent process: %+v, %v; want the stopped and spent processes' jobs only", mine, err)
	}
	taken, err := d.TakeOverJobs(ctx, "me")
	if err != nil {
		t.Fatal(err)
	}
	if len(taken) != 1 || taken[0].ID != silent {
		t.Fatalf("took over %+v, want the silent process's job", taken)
	}
	for id, want := range map[int64]string{live: "running", silent: "available", stopped: "available", spent: "discarded", unknown: "running"} {
		state, errs, rescues := jobState(t, d, id)
		if state != want {
			t.Errorf("job %d is %s, want %s", id, state, want)
		}
		if want != "running" && (errs != 1 || rescues != 1) {
			t.Errorf("job %d taken over with %d errors and rescue count %d, want one of each, as River's rescuer does", id, errs, rescues)
		}
	}
	// Taking over twice (another replica at the same beat) changes nothing more.
	if again, err := d.TakeOverJobs(ctx, "other"); err != nil || len(again) != 0 {
		t.Fatalf("second take-over: %+v, %v; want nothing", again, err)
	}
	// A stopped process's beat does not bring it back.
	beat("stopped")
	if n, _ := d.StrandedJobs(ctx); len(n) != 0 {
		t.Fatalf("jobs still waiting: %+v", n)
	}
	var stoppedAt *time.Time
	if err := d.Pool.QueryRow(ctx, `SELECT stopped_at FROM pipeline_processes WHERE client_id = 'stopped'`).Scan(&stoppedAt); err != nil || stoppedAt == nil {
		t.Fatalf("the stopped process came back with a beat: %v, %v", stoppedAt, err)
	}
}
