package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"credential-grafana/bot/slacktest"
	"credential-grafana/commands/commandstest"
	"credential-grafana/db/dbtest"
)

// Five concurrent `user add` of one name: one creates it, the others say it is being
// created (or exists); none shows a raw SQLSTATE.
func TestCLIConcurrentAddsOfOneNameSayItIsBeingCreated(t *testing.T) {
	_, cli := cliEnv(t)
	if code, _, errOut := cli("", "user", "list"); code != 0 { // creates and migrates the master database
		t.Fatalf("user list: %d %s", code, errOut)
	}
	racer := dbtest.UniqueName("racer")
	commandstest.DropUserLater(t, racer)
	codes, errs := concurrentAdds(cli, racer, 5)
	created := 0
	for i, code := range codes {
		switch {
		case code == 0:
			created++
		case strings.Contains(errs[i], racer+" is being created by another request") || strings.Contains(errs[i], "already exists"):
		default:
			t.Errorf("add %d: exit %d: %s", i, code, errs[i])
		}
		if strings.Contains(errs[i], "SQLSTATE") || strings.Contains(errs[i], "XX000") {
			t.Errorf("add %d shows a raw SQLSTATE: %s", i, errs[i])
		}
	}
	if created != 1 {
		t.Fatalf("%d of five concurrent adds created the user, want exactly 1 (exit codes %v)", created, codes)
	}
	if code, out, _ := cli("", "user", "show", racer); code != 0 || !strings.Contains(out, "active") {
		t.Fatalf("user show after the race: %d %s", code, out)
	}
}

// `dashboards alice` with no run tables says so instead of printing nothing.
func TestCLIDashboardsOfAUserWithoutTablesSaysSo(t *testing.T) {
	_, cli := cliEnv(t)
	user := dbtest.UniqueName("empty")
	commandstest.DropUserLater(t, user)
	if code, out, errOut := cli("", "user", "add", user); code != 0 {
		t.Fatalf("user add: %d %s %s", code, out, errOut)
	}
	for _, args := range [][]string{{"dashboards", user}, {"dashboards", user, "QOR"}} {
		code, out, errOut := cli("", args...)
		if code != 0 || !strings.Contains(out, "run tables for "+user+" yet") {
			t.Errorf("%v: %d %q %s, want a line saying there are no run tables", args, code, out, errOut)
		}
	}
	if code, out, _ := cli("", "dashboards", user, "--json"); code != 0 || strings.TrimSpace(out) != "[]" {
		t.Errorf("dashboards --json: %d %q, want []", code, out)
	}
}

// `status --json` gives the last scan's duration in milliseconds, as the README says.
func TestCLIStatusJSONDurationsAreMilliseconds(t *testing.T) {
	envFile, cli := cliEnv(t)
	if code, out, errOut := cli("", "scan", "--once"); code != 0 {
		t.Fatalf("scan --once: %d %s %s", code, out, errOut)
	}
	// A scan of known length, recorded as the newest.
	pool := masterPool(t, envFile)
	if _, err := pool.Exec(context.Background(), `INSERT INTO scan_runs (started_at, finished_at, users, tables_new, failures, detail)
		VALUES (now(), now(), 0, 0, 0, '{"started_at": "2026-01-01T00:00:00Z", "duration": 1500000000}')`); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := cli("", "status", "--json")
	if code != 0 {
		t.Fatalf("status --json: %d %s %s", code, out, errOut)
	}
	var st struct {
		LastScan map[string]any `json:"last_scan"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status --json is not JSON: %v\n%s", err, out)
	}
	if st.LastScan["duration_ms"] != float64(1500) {
		t.Fatalf("last_scan = %v, want duration_ms 1500 (an old record's 1.5 s in ns, read as ms)", st.LastScan)
	}
	if _, ns := st.LastScan["duration"]; ns {
		t.Fatalf("last_scan still has a nanosecond duration: %v", st.LastScan)
	}
}

// masterPool connects to the master database the env file names.
func masterPool(t *testing.T, envFile string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), dbtest.URLFor(masterDatabase(t, envFile)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// `user list` on a fresh installation says there are no users.
func TestCLIUserListWithoutUsersSaysSo(t *testing.T) {
	_, cli := cliEnv(t)
	if code, out, errOut := cli("", "user", "list"); code != 0 || !strings.Contains(out, "no users yet") {
		t.Fatalf("user list: %d %q %s, want a line saying there are no users", code, out, errOut)
	}
}

// serve runs `serve` with envFile until the test ends, and waits for /readyz.
func serve(t *testing.T, envFile string) (base string) {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	t.Setenv("HOST", "127.0.0.1")
	t.Setenv("PORT", addr[len("127.0.0.1:"):])
	t.Setenv("METRICS_ADDR", "off")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	errOut := &commandstest.SyncBuffer{}
	go func() { done <- run(ctx, []string{"serve", "--env-file", envFile}, nil, io.Discard, errOut) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("serve did not shut down")
		}
	})
	base = "http://" + addr
	for i := 0; i < 200; i++ {
		if resp, err := http.Get(base + "/readyz"); err == nil {
			resp.Body.Close()
			return base
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("serve did not answer /readyz:\n%s", errOut.String())
	return ""
}

// The service prunes scans older than SCAN_HISTORY and deletes GIFs older than
// GIF_RETENTION once it runs; status shows what the GIF directory uses.
func TestServePrunesOldScansAndGIFsAndStatusShowsTheGIFDisk(t *testing.T) {
	envFile, cli := cliEnv(t)
	gifDir := t.TempDir()
	t.Setenv("GIF_CAPTURE_DIR", gifDir)
	t.Setenv("CHROMIUM_PATH", "/nonexistent") // no browser needed here
	if code, _, errOut := cli("", "user", "list"); code != 0 {
		t.Fatalf("user list: %d %s", code, errOut)
	}
	pool := masterPool(t, envFile)
	ctx := context.Background()
	for _, age := range []string{"30 days", "9 days", "1 hour"} {
		if _, err := pool.Exec(ctx, `INSERT INTO scan_runs (started_at, finished_at, users, tables_new, failures)
			VALUES (now() - $1::interval, now() - $1::interval, 0, 0, 0)`, age); err != nil {
			t.Fatal(err)
		}
	}
	old, young := filepath.Join(gifDir, "old.gif"), filepath.Join(gifDir, "young.gif")
	for _, p := range []string{old, young} {
		if err := os.WriteFile(p, make([]byte, 2500), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	aMonthAgo := time.Now().Add(-31 * 24 * time.Hour)
	if err := os.Chtimes(old, aMonthAgo, aMonthAgo); err != nil {
		t.Fatal(err)
	}
	// River's finished jobs: a completed one two days old (River keeps completed jobs 24 h,
	// cancelled 24 h, discarded 7 days, and its leader prunes them: river@v0.51.2 client.go
	// CompletedJobRetentionPeriod, internal/maintenance/job_cleaner.go).
	if _, err := pool.Exec(ctx, `INSERT INTO river_job (args, kind, max_attempts, priority, queue, state, attempt, attempted_at, created_at, scheduled_at, finalized_at)
		VALUES ('{}', 'old_finished', 1, 1, 'default', 'completed', 1, now() - interval '2 days', now() - interval '2 days', now() - interval '2 days', now() - interval '2 days')`); err != nil {
		t.Fatal(err)
	}
	serve(t, envFile)
	var scans, jobs int
	for i := 0; i < 600; i++ { // house-keeping's and River's first passes run at start; wait for them
		if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM scan_runs WHERE started_at < now() - interval '7 days'),
			(SELECT count(*) FROM river_job WHERE kind = 'old_finished')`).Scan(&scans, &jobs); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(old); scans == 0 && jobs == 0 && os.IsNotExist(err) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := os.Stat(old); scans != 0 || jobs != 0 || !os.IsNotExist(err) {
		t.Fatalf("after serve started: %d scans older than SCAN_HISTORY and %d old finished jobs left, old GIF: %v; want none and the GIF gone", scans, jobs, err)
	}
	if _, err := os.Stat(young); err != nil {
		t.Fatalf("the young GIF is gone: %v", err)
	}
	code, out, errOut := cli("", "status")
	if code != 0 || !strings.Contains(out, "gifs       "+gifDir+": 1 files, 2.5 kB") {
		t.Fatalf("status: %d\n%s\n%s\nwant a gifs line with 1 file of 2.5 kB", code, out, errOut)
	}
}

// `status` in another process than the service says what /readyz says about Slack: the
// service's Socket Mode connection, not that the CLI process itself is not connected.
func TestCLIStatusAndReadyzAgreeOnSlack(t *testing.T) {
	envFile, cli := cliEnv(t)
	s := slacktest.New(t)
	t.Setenv("SLACK_BOT_TOKEN", s.BotToken())
	t.Setenv("SLACK_APP_TOKEN", s.AppToken())
	t.Setenv("SLACK_API_URL", s.APIURL())
	t.Setenv("CHROMIUM_PATH", "/nonexistent")
	base := serve(t, envFile)
	var ready struct {
		Checks map[string]struct {
			OK bool `json:"ok"`
		} `json:"checks"`
	}
	for i := 0; i < 300; i++ { // the bot connects after serve answers
		_, body := httpGet(t, base+"/readyz", "")
		_ = json.Unmarshal([]byte(body), &ready)
		if ready.Checks["slack"].OK {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !ready.Checks["slack"].OK {
		t.Fatalf("/readyz never said Slack is connected: %+v", ready)
	}
	code, out, errOut := cli("", "status")
	if code != 0 || !strings.Contains(out, "slack      ok") {
		t.Fatalf("status while /readyz says Slack is fine: %d\n%s\n%s", code, out, errOut)
	}

	// With the service's connection refused, both say so.
	s.RevokeAppToken()
	for i := 0; i < 300; i++ {
		_, body := httpGet(t, base+"/readyz", "")
		_ = json.Unmarshal([]byte(body), &ready)
		if !ready.Checks["slack"].OK {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if ready.Checks["slack"].OK {
		t.Fatal("/readyz still says Slack is connected after the app token was revoked")
	}
	if code, out, _ = cli("", "status"); !strings.Contains(out, "slack      FAILING") {
		t.Fatalf("status after the app token was revoked: %d\n%s", code, out)
	}
}

// concurrentAdds runs `user add name` n times at once through cli and returns each
// exit code and standard error.
func concurrentAdds(cli func(stdin string, args ...string) (int, string, string), name string, n int) ([]int, []string) {
	var wg sync.WaitGroup
	codes := make([]int, n)
	errs := make([]string, n)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], _, errs[i] = cli("", "user", "add", name)
		}()
	}
	wg.Wait()
	return codes, errs
}
