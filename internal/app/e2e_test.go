package app

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"credential-grafana/bot/slacktest"
	"credential-grafana/cg"
	"credential-grafana/commands"
	"credential-grafana/commands/commandstest"
	"credential-grafana/db"
	"credential-grafana/db/dbtest"
	"credential-grafana/grafana/grafanatest"
)

// TestMain lets the test binary be the service: the end-to-end tests start it again
// with CG_TEST_SERVE=1 to run `serve` as a real process they can kill.
func TestMain(m *testing.M) {
	if err := loadTestBuild(); err != nil {
		fmt.Fprintln(os.Stderr, "read the module root's files:", err)
		os.Exit(1)
	}
	if os.Getenv("CG_TEST_SERVE") == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := run(ctx, []string{"serve", "--env-file", ""}, os.Stdin, os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

type process struct {
	cmd         *exec.Cmd
	log         *syncBuffer
	port        int
	metricsPort int // METRICS_ADDR's: /metrics without a token
}

// get fetches a path of the service's HTTP API.
func (p *process) get(t testing.TB, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", p.port, path))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func startService(t testing.TB, env []string) *process {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	port, metricsPort := freePort(t), freePort(t)
	cmd.Env = append(os.Environ(), append(env, "CG_TEST_SERVE=1", fmt.Sprintf("PORT=%d", port),
		fmt.Sprintf("METRICS_ADDR=127.0.0.1:%d", metricsPort))...)
	p := &process{cmd: cmd, log: &syncBuffer{}, port: port, metricsPort: metricsPort}
	cmd.Stdout, cmd.Stderr = p.log, p.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
		if t.Failed() {
			t.Logf("service %d log:\n%s", cmd.Process.Pid, p.log.String())
		}
	})
	return p
}

// stop sends SIGTERM and waits for the process to exit, within the 30 s a service
// configured with SHUTDOWN_TIMEOUT=20000 or less has (SHUTDOWN_TIMEOUT + 5 s, with room).
func (p *process) stop(t testing.TB) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.wait(30 * time.Second); err != nil {
		t.Error(err)
	}
}

// wait waits up to d for the process to exit, and says how it did if not cleanly.
func (p *process) wait(d time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("service exited with %v", err)
		}
		return nil
	case <-time.After(d):
		return fmt.Errorf("service still running %s after SIGTERM", d)
	}
}

// children lists the processes whose parent is pid.
func children(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid …; comm may hold spaces, so read after the last ')'.
		fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(fields) > 1 && fields[1] == strconv.Itoa(pid) {
			n, _ := strconv.Atoi(e.Name())
			out = append(out, n)
		}
	}
	return out
}

// states returns how many of the user's records are in each state.
func states(t testing.TB, env *commandstest.Env, userID int64) map[cg.DashboardState]int {
	t.Helper()
	list, err := env.DB.Dashboards().List(context.Background(), userID, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	out := map[cg.DashboardState]int{}
	for _, d := range list {
		out[d.State]++
	}
	return out
}

func TestAServiceKilledMidPipelineResumesAndTwoServicesPostEachTableOnce(t *testing.T) {
	g := grafanatest.New(t)
	s := slacktest.New(t)
	const channel = "C0KILLTEST1"
	s.AddChannel(channel, "eda-results", slacktest.BotMember())
	env := commandstest.New(t, commandstest.WithGrafana(g.URL, g.Token))
	t.Cleanup(func() { dropMonitorRole(t, env.Database) }) // the services' own dashboard's role, after they stopped
	ctx := context.Background()
	user := env.UniqueUser(t, "kim")
	u := env.CreateUser(t, user).User
	if _, err := env.Service.SetCredential(ctx, commands.CLI, user, "slack_channel_id", channel, commands.Upsert); err != nil {
		t.Fatal(err)
	}
	serviceEnv := []string{
		"DATABASE_URL=" + dbtest.URLFor(env.Database),
		"CREDENTIALS_KEY=" + base64.StdEncoding.EncodeToString(env.Key),
		"GRAFANA_BASE_URL=" + g.URL, "GRAFANA_API_KEY=" + g.Token,
		"SLACK_BOT_TOKEN=" + s.BotToken(), "SLACK_API_URL=" + s.APIURL(),
		"HOST=127.0.0.1", "DASHBOARD_SCAN_INTERVAL=1000",
		"CAPTURE_WIDTH=800", "CAPTURE_HEIGHT=500", "GIF_CAPTURE_DIR=" + t.TempDir(),
		"LOG_FORMAT=json", "LOG_LEVEL=info", // JOB_TIMEOUT is its default, 10 minutes
	}
	first := startService(t, serviceEnv)
	started := time.Now()

	for _, kind := range cg.Kinds {
		cfg, _ := pgx.ParseConfig(dbtest.URLFor(kind.DatabaseName(user)))
		cfg.User = db.OwnerRole(user)
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		err = grafanatest.CreateRunTable(ctx, conn, kind, "jpeg_asap7_r1", grafanatest.SampleRun{Design: "jpeg", Platform: "asap7", TimeUnit: "ps"})
		conn.Close(ctx)
		if err != nil {
			t.Fatal(err)
		}
	}
	// Kill the service (SIGKILL: no chance to clean up) once the pipeline is under way
	// and its browser is recording.
	deadline := time.Now().Add(90 * time.Second)
	var browsers []int
	for {
		st := states(t, env, u.ID)
		browsers = children(first.cmd.Process.Pid)
		total := 0
		for _, n := range st {
			total += n
		}
		// All three tables in flight: found, none posted, the browser recording.
		if total == 3 && st[cg.DashboardPosted] == 0 && st[cg.DashboardCreated]+st[cg.DashboardCaptured]+st[cg.DashboardPosting] > 0 && len(browsers) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the pipeline did not start: %v\n%s", st, first.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := first.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = first.cmd.Wait()
	killedAt := states(t, env, u.ID)
	// Its Chromium dies with it.
	for _, pid := range browsers {
		for i := 0; syscall.Kill(pid, 0) == nil; i++ {
			if i > 100 {
				t.Fatalf("the killed service's browser (pid %d) is still running", pid)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	killedTime := time.Now()
	// Before anything takes them over, `status` (of any process, the CLI's here) shows
	// the dead process's running jobs as waiting, since its last heartbeat.
	var waiting []commands.WaitingJob
	for deadline := time.Now().Add(30 * time.Second); len(waiting) == 0; time.Sleep(200 * time.Millisecond) {
		st, err := env.Service.Status(ctx, commands.CLI)
		if err != nil {
			t.Fatal(err)
		}
		waiting = st.Waiting
		if time.Now().After(deadline) {
			t.Fatalf("status shows no job waiting to be taken over after the kill: %+v", st)
		}
	}
	for _, j := range waiting {
		if j.Since.After(killedTime) || killedTime.Sub(j.Since) > 10*time.Second || j.DashboardID == 0 || j.Process == "" {
			t.Fatalf("waiting job %+v: want the killed process's job, waiting since its last heartbeat before the kill at %s", j, killedTime)
		}
	}

	// Two services on the same database take over.
	restarted := time.Now()
	second, third := startService(t, serviceEnv), startService(t, serviceEnv)
	// The killed process's running jobs are taken over at once (the new processes see
	// that it died), not after JOB_TIMEOUT: 30 s is the aim, 90 s the bound against a hang.
	deadline = time.Now().Add(90 * time.Second)
	for states(t, env, u.ID)[cg.DashboardPosted] < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("not all posted: %v (killed at %v)", states(t, env, u.ID), killedAt)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("killed %s after the start; status showed %d waiting jobs after %s; all posted %s after the restart",
		killedTime.Sub(started).Round(time.Millisecond), len(waiting), restarted.Sub(killedTime).Round(time.Millisecond), time.Since(restarted).Round(time.Millisecond))
	time.Sleep(2 * time.Second) // let any duplicate arrive
	if n := len(s.CompletedUploads()); n != 3 {
		t.Fatalf("%d uploads in Slack, want exactly 3 (killed at %v)", n, killedAt)
	}
	runDashboards, other := 0, 0
	for _, d := range g.Dashboards() {
		// The service's own dashboard and the designs' trend dashboards are made by UID
		// and saved again in place; only run dashboards could be duplicated.
		if strings.HasPrefix(d.UID, "cg-service-") || strings.HasPrefix(d.UID, "trend-") {
			other++
		} else {
			runDashboards++
		}
	}
	if runDashboards != 3 {
		t.Fatalf("%d run dashboards in Grafana (and %d others), want exactly 3", runDashboards, other)
	}
	// Both report Grafana and the browser in /readyz, and count what they did in /metrics.
	posts := 0
	for _, p := range []*process{second, third} {
		status, body := p.get(t, "/readyz")
		if status != 200 || !strings.Contains(body, `"grafana"`) || !strings.Contains(body, `"browser"`) {
			t.Fatalf("readyz: %d %s", status, body)
		}
		status, body = (&process{port: p.metricsPort}).get(t, "/metrics")
		if status != 200 || !strings.Contains(body, "cg_queue_depth") {
			t.Fatalf("metrics: %d", status)
		}
		for _, line := range strings.Split(body, "\n") {
			if strings.HasPrefix(line, "cg_posts_total{") {
				var n int
				fmt.Sscanf(line[strings.LastIndex(line, " ")+1:], "%d", &n)
				posts += n
			}
		}
	}
	if posts == 0 || posts > 3 {
		t.Fatalf("the two services count %d posts in /metrics, want 1 to 3", posts)
	}
	second.stop(t)
	third.stop(t)
	if !strings.Contains(second.log.String()+third.log.String(), "posted to Slack") {
		t.Fatal("the services that took over did not post")
	}
	if !strings.Contains(second.log.String()+third.log.String(), "took over a job whose process stopped") {
		t.Fatal("the services that took over did not log it")
	}
}
