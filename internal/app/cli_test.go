package app

import (
	"bytes"
	"context"
	"fmt"
	"image/gif"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"credential-grafana/cg"
	"credential-grafana/commands/commandstest"
	"credential-grafana/db"
	"credential-grafana/db/dbtest"
	"credential-grafana/grafana"
	"credential-grafana/grafana/grafanatest"
)

// cliEnv writes an env file for a fresh master database and returns a function that
// runs the CLI with it.
func cliEnv(t *testing.T) (string, func(stdin string, args ...string) (int, string, string)) {
	t.Helper()
	name := dbtest.UniqueName("cgcli_")
	t.Cleanup(func() { dbtest.DropDatabase(t, name) })
	envFile := filepath.Join(t.TempDir(), ".env")
	content := fmt.Sprintf("CREDENTIALS_KEY=%s\nDATABASE_URL=%s\nADMIN_API_TOKEN=%s\nLOG_FORMAT=json\n",
		testKey, dbtest.URLFor(name), strings.Repeat("t", 32))
	if err := os.WriteFile(envFile, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return envFile, func(stdin string, args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := run(context.Background(), append(args, "--env-file", envFile), strings.NewReader(stdin), &out, &errOut)
		return code, out.String(), errOut.String()
	}
}

func TestCLIManagesUsersAndCredentials(t *testing.T) {
	_, cli := cliEnv(t)
	user := dbtest.UniqueName("cli")
	commandstest.DropUserLater(t, user)

	code, out, errOut := cli("", "user", "add", user)
	if code != 0 || !strings.Contains(out, "created user "+user) || !strings.Contains(out, "API key (shown once") {
		t.Fatalf("user add: %d\n%s\n%s", code, out, errOut)
	}
	if code, _, errOut = cli("", "user", "add", "Bad Name"); code != 2 || !strings.Contains(errOut, `use "bad-name"`) {
		t.Fatalf("bad name: %d %s", code, errOut)
	}
	if code, _, errOut = cli("", "user", "add", user); code != 1 || !strings.Contains(errOut, "already exists") {
		t.Fatalf("duplicate: %d %s", code, errOut)
	}
	secret := "xoxb-42-" + strings.Repeat("q", 24)
	if code, out, errOut = cli(secret+"\n", "cred", "set", user, "Slack_Bot_Token"); code != 0 || !strings.Contains(out, "xoxb-********qqqq") {
		t.Fatalf("cred set from stdin: %d %s %s", code, out, errOut)
	}
	code, out, _ = cli("", "cred", "list", user)
	if code != 0 || strings.Contains(out, secret) || !strings.Contains(out, "slack_bot_token") {
		t.Fatalf("cred list: %d\n%s", code, out)
	}
	if code, out, _ = cli("", "cred", "reveal", user, "slack_bot_token"); code != 0 || strings.TrimSpace(out) != secret {
		t.Fatalf("cred reveal: %d %q", code, out)
	}
	if code, out, _ = cli("", "user", "list", "--json"); code != 0 || !strings.Contains(out, `"username": "`+user+`"`) {
		t.Fatalf("user list --json: %d %s", code, out)
	}
	if code, _, errOut = cli("", "user", "remove", user, "--drop-databases"); code != 2 || !strings.Contains(errOut, "--yes") {
		t.Fatalf("remove without --yes: %d %s", code, errOut)
	}
	if code, out, _ = cli("", "user", "remove", user, "--drop-databases", "--yes"); code != 0 || !strings.Contains(out, "dropped") {
		t.Fatalf("remove: %d %s", code, out)
	}
	if code, _, errOut = cli("", "user", "frobnicate"); code != 2 || !strings.Contains(errOut, `unknown command "user frobnicate"`) {
		t.Fatalf("unknown subcommand: %d %s", code, errOut)
	}
	if code, _, errOut = cli("", "user", "list", "--colour"); code != 2 || !strings.Contains(errOut, "unknown flag --colour") {
		t.Fatalf("unknown flag: %d %s", code, errOut)
	}
}

func TestInitWritesEnvWithFreshSecretsOnce(t *testing.T) {
	envFile := filepath.Join(t.TempDir(), ".env")
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"init", "--env-file", envFile}, nil, &out, &errOut); code != 0 {
		t.Fatalf("init: %d %s", code, errOut.String())
	}
	first, _ := os.ReadFile(envFile)
	cfg, err := LoadConfig(envFile)
	if err != nil {
		t.Fatalf("the written .env does not load: %v", err)
	}
	if len(cfg.AdminAPIToken.Reveal()) < 24 || !strings.Contains(out.String(), "cannot be read again") {
		t.Fatalf("init output: %s", out.String())
	}
	run(context.Background(), []string{"init", "--env-file", envFile}, nil, &out, &errOut)
	second, _ := os.ReadFile(envFile)
	if !bytes.Equal(first, second) {
		t.Fatal("init overwrote an existing .env")
	}
}

func TestServeAnswersAndShutsDownWhenCancelled(t *testing.T) {
	envFile, _ := cliEnv(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	mln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	metricsAddr := mln.Addr().String()
	mln.Close()
	t.Setenv("HOST", "127.0.0.1")
	t.Setenv("PORT", fmt.Sprint(port))
	t.Setenv("METRICS_ADDR", metricsAddr)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var errOut bytes.Buffer
	go func() { done <- run(ctx, []string{"serve", "--env-file", envFile}, nil, &bytes.Buffer{}, &errOut) }()
	var resp *http.Response
	for i := 0; i < 100; i++ {
		if resp, err = http.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", port)); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("readyz: %v %v\n%s", resp, err, errOut.String())
	}
	resp.Body.Close()
	// /metrics: open on METRICS_ADDR only; on HOST:PORT it needs the admin token.
	if status, body := httpGet(t, "http://"+metricsAddr+"/metrics", ""); status != 200 || !strings.Contains(body, "go_goroutines") {
		t.Errorf("metrics on METRICS_ADDR: %d", status)
	}
	if status, body := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/metrics", port), ""); status != 401 || strings.Contains(body, "go_goroutines") {
		t.Errorf("metrics on HOST:PORT without a token: %d", status)
	}
	if status, body := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/metrics", port), strings.Repeat("t", 32)); status != 200 || !strings.Contains(body, "go_goroutines") {
		t.Errorf("metrics on HOST:PORT with the admin token: %d", status)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("serve exited %d: %s", code, errOut.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not shut down")
	}
	if !strings.Contains(errOut.String(), "Grafana is off") || !strings.Contains(errOut.String(), "Slack is off") {
		t.Fatalf("serve does not say what is switched off:\n%s", errOut.String())
	}
}

func TestCLIScansOnceAndRecordsADashboardByHand(t *testing.T) {
	_, cli := cliEnv(t)
	user := dbtest.UniqueName("scan")
	commandstest.DropUserLater(t, user)
	if code, _, errOut := cli("", "user", "add", user); code != 0 {
		t.Fatal(errOut)
	}
	dbtest.Exec(t, cg.KindDRC.DatabaseName(user), "CREATE TABLE notes (line text); ALTER TABLE notes OWNER TO "+db.OwnerRole(user))
	code, out, errOut := cli("", "scan", "--once", "--user", user)
	if code != 0 || !strings.Contains(out, "scanned 1 users") || !strings.Contains(out, "incompatible  DRC    table notes is missing") {
		t.Fatalf("scan --once: %d\n%s\n%s", code, out, errOut)
	}
	if code, _, errOut = cli("", "scan"); code != 2 || !strings.Contains(errOut, "scan --once") {
		t.Fatalf("scan without --once: %d %s", code, errOut)
	}
	if code, out, _ = cli("", "dashboards", user); code != 0 || !strings.Contains(out, "incompatible") {
		t.Fatalf("dashboards: %d %s", code, out)
	}
	code, out, _ = cli("", "status")
	for _, want := range []string{"database   ok", "grafana    off: GRAFANA_BASE_URL is not set", "browser    ok", "slack      off: ", "last scan",
		"conns      PG_CONNECTIONS 20 (master pool 12, side 4, scans 4) + Grafana's data sources up to "} {
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("status lacks %q: %d\n%s", want, code, out)
		}
	}

	// capture: a page that behaves like a Grafana dashboard, stepped through by hand.
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/d/blank/") {
			fmt.Fprint(w, `<html><body></body></html>`)
			return
		}
		fmt.Fprintf(w, `<html><body style="background:#111;color:#eee;font:48px sans-serif">
			<script>window.__grafanaRunningQueryCount = 0</script>
			<section data-testid="data-testid Panel header Stage"><h1>stage %s</h1></section></body></html>`, r.URL.Query().Get("var-stage"))
	}))
	defer page.Close()
	target := filepath.Join(t.TempDir(), "out.gif")
	code, out, errOut = cli("", "capture", page.URL+"/d/abc/run?kiosk", "-o", target, "--var", "stage=floorplan,cts,finish")
	if code != 0 || !strings.Contains(out, "3 frames") {
		t.Fatalf("capture: %d\n%s\n%s", code, out, errOut)
	}
	f, err := os.Open(target)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	g, err := gif.DecodeAll(f)
	if err != nil || len(g.Image) != 3 {
		t.Fatalf("the GIF has %v frames (%v), want 3", len(g.Image), err)
	}
	// A page that shows no dashboard is not recorded (it used to be, as a GIF of nothing).
	code, _, errOut = cli("", "capture", page.URL+"/d/blank/run?kiosk", "-o", filepath.Join(t.TempDir(), "blank.gif"))
	if code != 1 || !strings.Contains(errOut, "the page is blank") {
		t.Fatalf("capture of a blank page: %d %s", code, errOut)
	}
	if code, _, errOut = cli("", "capture", page.URL); code != 2 || !strings.Contains(errOut, "-o out.gif") {
		t.Fatalf("capture without -o: %d %s", code, errOut)
	}
}

// httpGet fetches url, with token as the bearer if it is set, and returns the status and body.
func httpGet(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestCLIStatusSaysChromiumRunsWithoutItsSandbox: when Chromium starts only without its
// sandbox (here a wrapper that refuses as Chromium does without user namespaces), `status`
// says so on the browser's line, with Chromium's reason.
func TestCLIStatusSaysChromiumRunsWithoutItsSandbox(t *testing.T) {
	envFile, cli := cliEnv(t)
	dir, err := os.MkdirTemp("", "cg-no-sandbox-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil { // Chromium may run as nobody
		t.Fatal(err)
	}
	wrapper := filepath.Join(dir, "chromium")
	script := "#!/bin/sh\nfor a in \"$@\"; do [ \"$a\" = \"--no-sandbox\" ] && exec /usr/bin/chromium \"$@\"; done\n" +
		"echo '[1:1:0101/000000.000000:FATAL:zygote_host_impl_linux.cc(128)] No usable sandbox!' >&2\nexit 1\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(envFile, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fmt.Fprintf(f, "CHROMIUM_PATH=%s\n", wrapper); err != nil {
		t.Fatal(err)
	}
	f.Close()
	code, out, errOut := cli("", "status")
	if code != 0 || !strings.Contains(out, "browser    ok; Chromium runs without its sandbox") || !strings.Contains(out, "No usable sandbox!") {
		t.Fatalf("status does not say chromium has no sandbox: %d\n%s\n%s", code, out, errOut)
	}
}

// TestCLICaptureChecksThePageAgainstGrafanasDashboard: with GRAFANA_BASE_URL the dashboard's
// Grafana, `capture` records a saved dashboard checked against it (every panel drawn), and
// refuses a UID Grafana does not have with what the page said.
func TestCLICaptureChecksThePageAgainstGrafanasDashboard(t *testing.T) {
	envFile, cli := cliEnv(t)
	ctx := t.Context()
	run := grafanatest.NewTimingRun(t, "gcd_nangate45_cli", "cli")
	g, client, dash, uid := run.Grafana, run.Client, run.Dashboard, run.UID
	saved, err := client.SaveDashboard(ctx, grafana.SaveDashboardRequest{Dashboard: dash, Overwrite: true})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(envFile, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "GRAFANA_BASE_URL=%s\nGRAFANA_API_KEY=%s\n", g.URL, g.Token)
	f.Close()

	target := filepath.Join(t.TempDir(), "timing.gif")
	code, out, errOut := cli("", "capture", grafana.KioskURL(g.URL, uid, saved.Slug, 1, "dark", nil), "-o", target, "--var", "stage=floorplan,finish")
	if code != 0 || !strings.Contains(out, "2 frames") {
		t.Fatalf("capture of a saved dashboard: %d\n%s\n%s", code, out, errOut)
	}
	code, _, errOut = cli("", "capture", grafana.KioskURL(g.URL, "no-such-uid", "x", 1, "dark", nil), "-o", filepath.Join(t.TempDir(), "x.gif"))
	if code == 0 || !strings.Contains(errOut, "Grafana answered 'Dashboard not found'") {
		t.Fatalf("capture of an unknown dashboard: %d %s", code, errOut)
	}
}

// Issue 9: the CLI is an administrator, yet it sets no system key and no connection key
// outside the allow-lists; the values stay as they were.
func TestCLIRefusesSystemKeysAndHostsNotAllowed(t *testing.T) {
	_, cli := cliEnv(t)
	user := dbtest.UniqueName("clik")
	commandstest.DropUserLater(t, user)
	if code, out, errOut := cli("", "user", "add", user); code != 0 {
		t.Fatalf("user add: %d\n%s\n%s", code, out, errOut)
	}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"cred", "set", user, "grafana_uid_timing", "cg-bob-timing"}, "grafana_uid_timing is set by the service"},
		{[]string{"cred", "set", user, "db_user", "postgres"}, "`user retry " + user + "`"},
		{[]string{"cred", "delete", user, "db_viewer_pass"}, "db_viewer_pass is set by the service"},
		{[]string{"cred", "set", user, "db_host", "169.254.169.254"}, "169.254.169.254 is not in USER_DB_ALLOWED_HOSTS"},
		{[]string{"cred", "set", user, "grafana_url", "http://127.0.0.1:9/"}, "not in GRAFANA_ALLOWED_URLS"},
	}
	_, before, _ := cli("", "cred", "list", user)
	for _, c := range cases {
		if code, _, errOut := cli("", c.args...); code != 1 || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: %d %s; want 1 and %q", c.args, code, errOut, c.want)
		}
	}
	if _, after, _ := cli("", "cred", "list", user); after != before {
		t.Fatalf("refused commands changed the credentials:\n%s\n->\n%s", before, after)
	}
}
