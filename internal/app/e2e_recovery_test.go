package app

import (
	"context"
	"encoding/base64"
	"strings"
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

// pipelineFixture is a user whose run tables real `serve` processes take through the
// pipeline, against the Grafana and Slack fakes.
type pipelineFixture struct {
	g          *grafanatest.Server
	s          *slacktest.Server
	env        *commandstest.Env
	user       string
	u          cg.User
	serviceEnv []string
}

func newPipelineFixture(t testing.TB, extraEnv ...string) *pipelineFixture {
	t.Helper()
	f := &pipelineFixture{g: grafanatest.New(t), s: slacktest.New(t)}
	const channel = "C0RECOVERY1"
	f.s.AddChannel(channel, "eda-results", slacktest.BotMember())
	f.env = commandstest.New(t, commandstest.WithGrafana(f.g.URL, f.g.Token))
	f.user = f.env.UniqueUser(t, "rec")
	f.u = f.env.CreateUser(t, f.user).User
	if _, err := f.env.Service.SetCredential(context.Background(), commands.CLI, f.user, "slack_channel_id", channel, commands.Upsert); err != nil {
		t.Fatal(err)
	}
	f.serviceEnv = append([]string{
		"DATABASE_URL=" + dbtest.URLFor(f.env.Database),
		"CREDENTIALS_KEY=" + base64.StdEncoding.EncodeToString(f.env.Key),
		"GRAFANA_BASE_URL=" + f.g.URL, "GRAFANA_API_KEY=" + f.g.Token,
		"SLACK_BOT_TOKEN=" + f.s.BotToken(), "SLACK_API_URL=" + f.s.APIURL(),
		"HOST=127.0.0.1", "DASHBOARD_SCAN_INTERVAL=1000",
		"CAPTURE_WIDTH=800", "CAPTURE_HEIGHT=500", "GIF_CAPTURE_DIR=" + t.TempDir(),
		"LOG_FORMAT=json", "LOG_LEVEL=info",
	}, extraEnv...)
	return f
}

// createRunTable creates a run table of kind in the user's database.
func (f *pipelineFixture) createRunTable(t testing.TB, kind cg.Kind, table string) {
	t.Helper()
	ctx := context.Background()
	cfg, _ := pgx.ParseConfig(dbtest.URLFor(kind.DatabaseName(f.user)))
	cfg.User = db.OwnerRole(f.user)
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := grafanatest.CreateRunTable(ctx, conn, kind, table, grafanatest.SampleRun{Design: "jpeg", Platform: "asap7", TimeUnit: "ps"}); err != nil {
		t.Fatal(err)
	}
}

// waitUntil polls cond every 50 ms until it holds, failing the test with what(), after
// d. Deadlines here are generous bounds against a hang, not measurements.
func waitUntil(t testing.TB, d time.Duration, cond func() bool, what func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", d, what())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// recording reports whether p's browser is recording the user's dashboard: a record
// is created (its GIF not yet recorded) and the process has a Chromium child.
func (f *pipelineFixture) recording(t testing.TB, p *process) bool {
	return states(t, f.env, f.u.ID)[cg.DashboardCreated] > 0 && len(children(p.cmd.Process.Pid)) > 0
}

func TestSIGTERMLetsARecordingFinishWithinShutdownTimeoutOrHandsItOverAndExitsInTime(t *testing.T) {
	for _, tc := range []struct {
		name string
		// SHUTDOWN_TIMEOUT, and how long each query of the recording waits in Grafana.
		shutdownTimeout string
		queryDelay      time.Duration
		// Whether the stopping process itself finishes the recording.
		finishes bool
	}{
		{name: "finishes", shutdownTimeout: "60000", queryDelay: 300 * time.Millisecond, finishes: true},
		{name: "handed over", shutdownTimeout: "1500", queryDelay: 3 * time.Second, finishes: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newPipelineFixture(t, "SHUTDOWN_TIMEOUT="+tc.shutdownTimeout, "CAPTURE_FRAMES=4", "CAPTURE_FRAME_DELAY=200")
			first := startService(t, f.serviceEnv)
			f.createRunTable(t, cg.KindQOR, "jpeg_asap7_term")
			waitUntil(t, 90*time.Second, func() bool { return states(t, f.env, f.u.ID)[cg.DashboardCreated] > 0 },
				func() string { return "no dashboard was created\n" + first.log.String() })
			f.g.SetQueryDelay(tc.queryDelay) // the recording's panels now load slowly
			waitUntil(t, 30*time.Second, func() bool { return f.recording(t, first) },
				func() string { return "the recording did not start\n" + first.log.String() })
			time.Sleep(200 * time.Millisecond) // well inside the recording
			if err := first.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			// SHUTDOWN_TIMEOUT + 5 s is the bound; 30 s more is room for a loaded machine.
			bound := 35 * time.Second
			if tc.finishes {
				bound = 95 * time.Second
			}
			if err := first.wait(bound); err != nil {
				t.Fatalf("%v\n%s", err, first.log.String())
			}
			log := first.log.String()
			stopAt := strings.Index(log, "shutting down")
			if stopAt < 0 {
				t.Fatalf("no shutdown in the log:\n%s", log)
			}
			recordedAfterStop := strings.Contains(log[stopAt:], "GIF recorded")
			if recordedAfterStop != tc.finishes {
				t.Fatalf("GIF recorded after SIGTERM by the stopping process: %v, want %v\n%s", recordedAfterStop, tc.finishes, log)
			}
			if !tc.finishes && !strings.Contains(log[stopAt:], "interrupted by shutdown") {
				t.Fatalf("the stopping process did not say it handed the recording over:\n%s", log)
			}
			if strings.Contains(log, "pipeline step failed") {
				t.Fatalf("the shutdown was taken for a failure:\n%s", log)
			}
			f.g.SetQueryDelay(0)
			second := startService(t, f.serviceEnv)
			waitUntil(t, 90*time.Second, func() bool { return states(t, f.env, f.u.ID)[cg.DashboardPosted] == 1 },
				func() string {
					return "not posted after the restart\n" + second.log.String()
				})
			time.Sleep(2 * time.Second) // let any duplicate arrive
			if n := len(f.s.CompletedUploads()); n != 1 {
				t.Fatalf("%d uploads in Slack, want exactly 1", n)
			}
			second.stop(t)
		})
	}
}

func TestSIGTERMExitsWithinShutdownTimeoutEvenWhenTheBrowserHangs(t *testing.T) {
	f := newPipelineFixture(t, "SHUTDOWN_TIMEOUT=2000", "CAPTURE_FRAMES=4", "CAPTURE_FRAME_DELAY=200")
	first := startService(t, f.serviceEnv)
	f.createRunTable(t, cg.KindQOR, "jpeg_asap7_hang")
	waitUntil(t, 90*time.Second, func() bool { return f.recording(t, first) },
		func() string { return "the recording did not start\n" + first.log.String() })
	// Freeze Chromium mid-recording: it answers nothing, to cancellation or to Close.
	browsers := children(first.cmd.Process.Pid)
	for _, pid := range browsers {
		_ = syscall.Kill(pid, syscall.SIGSTOP)
	}
	t.Cleanup(func() {
		for _, pid := range browsers {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			_ = syscall.Kill(pid, syscall.SIGCONT)
		}
	})
	termAt := time.Now()
	if err := first.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// SHUTDOWN_TIMEOUT + 5 s is the bound; 20 s more is room for a loaded machine.
	err := first.wait(27 * time.Second)
	if err != nil && first.cmd.ProcessState == nil {
		t.Fatalf("%v\n%s", err, first.log.String())
	}
	t.Logf("exited %s after SIGTERM: %v", time.Since(termAt).Round(time.Millisecond), err)
	for _, pid := range browsers {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	// The job it could not finish is taken over by the next process and posted once.
	second := startService(t, f.serviceEnv)
	waitUntil(t, 90*time.Second, func() bool { return states(t, f.env, f.u.ID)[cg.DashboardPosted] == 1 },
		func() string { return "not posted after the restart\n" + second.log.String() })
	time.Sleep(2 * time.Second) // let any duplicate arrive
	if n := len(f.s.CompletedUploads()); n != 1 {
		t.Fatalf("%d uploads in Slack, want exactly 1", n)
	}
	second.stop(t)
}
