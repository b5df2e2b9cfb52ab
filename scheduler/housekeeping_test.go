package scheduler_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"credential-grafana/commands/commandstest"
	"credential-grafana/scheduler"
)

func addScan(t *testing.T, env *commandstest.Env, age time.Duration) {
	t.Helper()
	if _, err := env.DB.Pool.Exec(context.Background(), `INSERT INTO scan_runs (started_at, finished_at, users, tables_new, failures)
		VALUES (now() - $1::interval, now() - $1::interval, 0, 0, 0)`, age.String()); err != nil {
		t.Fatal(err)
	}
}

func scanAges(t *testing.T, env *commandstest.Env) []int {
	t.Helper()
	rows, err := env.DB.Pool.Query(context.Background(), `SELECT round(extract(epoch FROM now() - started_at) / 86400)::int FROM scan_runs ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var days []int
	for rows.Next() {
		var d int
		if err := rows.Scan(&d); err != nil {
			t.Fatal(err)
		}
		days = append(days, d)
	}
	return days
}

func TestHousekeepingKeepsScanHistoryAndAlwaysTheNewestScan(t *testing.T) {
	t.Parallel()
	env := commandstest.New(t)
	for _, days := range []int{30, 10, 8, 6, 1} {
		addScan(t, env, time.Duration(days)*24*time.Hour)
	}
	hk := scheduler.NewHousekeeper(scheduler.HousekeepingConfig{DB: env.DB}) // SCAN_HISTORY's default: 7 days
	res, err := hk.RunOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := scanAges(t, env); res.ScansPruned != 3 || len(got) != 2 || got[0] != 6 || got[1] != 1 {
		t.Fatalf("after house-keeping: pruned %d, scans aged %v days, want 3 pruned and [6 1] left", res.ScansPruned, got)
	}

	// Scans that all are old: the newest stays, for status to show.
	env2 := commandstest.New(t)
	addScan(t, env2, 40*24*time.Hour)
	addScan(t, env2, 20*24*time.Hour)
	if _, err := scheduler.NewHousekeeper(scheduler.HousekeepingConfig{DB: env2.DB}).RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := scanAges(t, env2); len(got) != 1 || got[0] != 20 {
		t.Fatalf("all scans old: left %v, want the newest [20]", got)
	}
}

// writeGIF writes a GIF aged age (by its modification time) under dir.
func writeGIF(t *testing.T, dir, name string, age time.Duration) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte("GIF89a-test-bytes"), 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-age)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestHousekeepingDeletesOldGIFsButKeepsTheirDashboardsAndPosts(t *testing.T) {
	t.Parallel()
	env := commandstest.New(t)
	ctx := context.Background()
	dir := t.TempDir()
	u, err := env.DB.Users().Insert(ctx, env.UniqueUser(t, "gifs"), "")
	if err != nil {
		t.Fatal(err)
	}
	day := 24 * time.Hour
	oldPosted := writeGIF(t, dir, "old-posted.gif", 40*day)
	oldWaiting := writeGIF(t, dir, "old-waiting.gif", 40*day)
	young := writeGIF(t, dir, "young.gif", 2*day)
	other := writeGIF(t, dir, "notes.txt", 40*day)
	for i, d := range []struct{ path, state string }{{oldPosted, "posted"}, {oldWaiting, "captured"}, {young, "posted"}} {
		if _, err := env.DB.Pool.Exec(ctx, `INSERT INTO dashboards (user_id, kind, table_name, dashboard_uid, local_snapshot_url, state, slack_sent_at)
			VALUES ($1, 'QOR', $2, $3, $4, $5, CASE WHEN $5 = 'posted' THEN now() END)`,
			u.ID, "run_"+string(rune('a'+i)), u.Name+"-uid-"+string(rune('a'+i)), d.path, d.state); err != nil {
			t.Fatal(err)
		}
	}
	hk := scheduler.NewHousekeeper(scheduler.HousekeepingConfig{DB: env.DB, GIFDir: dir}) // GIF_RETENTION's default: 30 days
	res, err := hk.RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	exists := func(p string) bool { _, err := os.Stat(p); return err == nil }
	if exists(oldPosted) || !exists(oldWaiting) || !exists(young) || !exists(other) {
		t.Fatalf("after house-keeping: old posted %v, old waiting to post %v, young %v, not a GIF %v; want only the old posted one gone",
			exists(oldPosted), exists(oldWaiting), exists(young), exists(other))
	}
	if res.GIFsDeleted != 1 || res.GIFsAwaiting != 1 || res.BytesFreed != int64(len("GIF89a-test-bytes")) {
		t.Fatalf("result %+v, want 1 deleted, 1 awaiting its post", res)
	}
	var n int
	var path string
	if err := env.DB.Pool.QueryRow(ctx, `SELECT count(*), max(local_snapshot_url) FILTER (WHERE table_name = 'run_a')
		FROM dashboards WHERE user_id = $1 AND (state <> 'posted' OR slack_sent_at IS NOT NULL)`, u.ID).Scan(&n, &path); err != nil {
		t.Fatal(err)
	}
	if n != 3 || path != "" {
		t.Fatalf("dashboards after house-keeping: %d of 3 kept with their posts, deleted GIF's path %q, want 3 and the path cleared", n, path)
	}
}

func TestHousekeepingRunsInOneReplicaAtATime(t *testing.T) {
	t.Parallel()
	env := commandstest.New(t)
	addScan(t, env, 30*24*time.Hour)
	addScan(t, env, time.Hour)
	unlock, ok, err := env.DB.TryLockHousekeeping(context.Background()) // another replica's pass
	if err != nil || !ok {
		t.Fatalf("take the house-keeping lock: %v %v", ok, err)
	}
	hk := scheduler.NewHousekeeper(scheduler.HousekeepingConfig{DB: env.DB})
	res, err := hk.RunOnce(context.Background())
	if err != nil || !res.Skipped || len(scanAges(t, env)) != 2 {
		t.Fatalf("while another replica holds the lock: %+v %v, %d scans left; want skipped and both kept", res, err, len(scanAges(t, env)))
	}
	unlock()
	if res, err = hk.RunOnce(context.Background()); err != nil || res.Skipped || len(scanAges(t, env)) != 1 {
		t.Fatalf("once the lock is free: %+v %v, want the old scan pruned", res, err)
	}
}
