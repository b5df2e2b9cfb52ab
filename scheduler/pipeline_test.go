package scheduler_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image/gif"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"credential-grafana/bot"
	"credential-grafana/bot/slacktest"
	"credential-grafana/capture"
	"credential-grafana/cg"
	"credential-grafana/commands"
	"credential-grafana/commands/commandstest"
	"credential-grafana/grafana"
	"credential-grafana/grafana/grafanatest"
	"credential-grafana/scheduler"
)

const channel = "C0RESULTS01"

// world is a whole service in one test: real PostgreSQL and Chromium, the Grafana and
// Slack fakes, the real clients.
type world struct {
	env      *commandstest.Env
	grafana  *grafanatest.Server
	slack    *slacktest.Server
	browser  *capture.Browser
	scanner  *scheduler.Scanner
	pipeline *scheduler.Pipeline
	user     string
}

var sharedBrowser *capture.Browser

func browser(t testing.TB) *capture.Browser {
	t.Helper()
	if sharedBrowser == nil {
		b, err := capture.New(capture.Config{Width: 960, Height: 600, Concurrency: 2, Timeout: 30 * time.Second, Dir: os.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		sharedBrowser = b
	}
	return sharedBrowser
}

func TestMain(m *testing.M) {
	code := m.Run()
	if sharedBrowser != nil {
		_ = sharedBrowser.Close()
	}
	os.Exit(code)
}

func newWorld(t testing.TB, change ...func(*scheduler.PipelineConfig)) *world {
	t.Helper()
	return newWorldWithSlack(t, nil, change...)
}

// newWorldWithSlack is newWorld with options for the Slack fake (its share delay, …).
func newWorldWithSlack(t testing.TB, slackOpts []slacktest.Option, change ...func(*scheduler.PipelineConfig)) *world {
	t.Helper()
	w := &world{grafana: grafanatest.New(t), slack: slacktest.New(t, slackOpts...)}
	w.slack.AddChannel(channel, "eda-results", slacktest.BotMember())
	w.env = commandstest.New(t, commandstest.WithGrafana(w.grafana.URL, w.grafana.Token))
	w.browser = browser(t)
	w.user = w.env.UniqueUser(t, "alice")
	w.env.CreateUser(t, w.user)
	if _, err := w.env.Service.SetCredential(context.Background(), commands.CLI, w.user, "slack_channel_id", channel, commands.Upsert); err != nil {
		t.Fatal(err)
	}
	w.pipeline = w.newPipelineWith(t, func(c *scheduler.PipelineConfig) {
		for _, f := range change {
			f(c)
		}
	})
	w.scanner = scheduler.NewScanner(scheduler.ScannerConfig{DB: w.env.DB, Cipher: w.env.Cipher, Enqueue: w.pipeline.Enqueue, Logger: w.env.Logger})
	t.Cleanup(w.scanner.Close)
	return w
}

// newPipeline makes and starts a pipeline (a replica) on the world's database.
func (w *world) newPipeline(t testing.TB) *scheduler.Pipeline {
	return w.newPipelineWith(t, func(*scheduler.PipelineConfig) {})
}

func (w *world) newPipelineWith(t testing.TB, change func(*scheduler.PipelineConfig)) *scheduler.Pipeline {
	t.Helper()
	cfg := scheduler.PipelineConfig{
		DB: w.env.DB, Cipher: w.env.Cipher,
		Grafana: grafana.Config{BaseURL: w.grafana.URL, Token: cg.Secret(w.grafana.Token), RetryBackoff: time.Millisecond, MaxRetries: 1},
		Browser: w.browser, Notifier: bot.NewNotifier(bot.NotifierConfig{APIURL: w.slack.APIURL(), MinPostInterval: 20 * time.Millisecond}),
		SlackToken: cg.Secret(w.slack.BotToken()), RetryBase: 200 * time.Millisecond, PollInterval: 200 * time.Millisecond,
		Logger: w.env.Logger,
	}
	change(&cfg)
	p, err := scheduler.NewPipeline(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer scancel()
		_ = p.Stop(sctx)
		cancel()
	})
	return p
}

func (w *world) createTable(t *testing.T, kind cg.Kind, table string, run grafanatest.SampleRun) {
	t.Helper()
	if err := grafanatest.CreateRunTable(context.Background(), ownerConn(t, w.user, kind), kind, table, run); err != nil {
		t.Fatal(err)
	}
}

func (w *world) scan(t *testing.T) *scheduler.ScanResult {
	t.Helper()
	// A full sweep: these tests are about the pipeline, and a table made a moment ago may
	// not show in pg_stat_database yet (the changed-only scan finds it a scan later).
	res, err := w.scanner.ScanOnce(context.Background(), scheduler.ScanOptions{Full: true})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// waitPosted waits until n records are posted (or fails with where they are).
func (w *world) waitPosted(t *testing.T, n int, within time.Duration) []cg.Dashboard {
	t.Helper()
	u, err := w.env.DB.Users().ByName(context.Background(), w.user)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(within)
	for {
		list, err := w.env.DB.Dashboards().List(context.Background(), u.ID, "", 100)
		if err != nil {
			t.Fatal(err)
		}
		posted := 0
		for _, d := range list {
			if d.State == cg.DashboardPosted {
				posted++
			}
		}
		if posted >= n {
			return list
		}
		if time.Now().After(deadline) {
			for _, d := range list {
				t.Logf("%s %s: state %s step %s error %q", d.Kind, d.TableName, d.State, d.Step, d.LastError)
			}
			t.Fatalf("%d of %d posted after %s", posted, n, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestANewTableOfEachKindEndsAsOneDashboardOneGIFAndOnePost(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	run := grafanatest.SampleRun{Design: "gcd", Platform: "nangate45", RunID: "r1"}
	w.createTable(t, cg.KindTiming, "gcd_nangate45_r1", run)
	w.createTable(t, cg.KindQOR, "gcd_nangate45_r1", run)
	w.createTable(t, cg.KindDRC, "gcd_nangate45_r1", run)
	if _, err := ownerConn(t, w.user, cg.KindTiming).Exec(context.Background(), "CREATE TABLE scratch (x int)"); err != nil {
		t.Fatal(err)
	}
	if res := w.scan(t); len(res.New) != 3 || len(res.Incompatible) != 1 {
		t.Fatalf("scan: %d new, %d incompatible", len(res.New), len(res.Incompatible))
	}
	list := w.waitPosted(t, 3, 3*time.Minute)

	if n := len(runDashboards(w)); n != 3 {
		t.Fatalf("%d dashboards in Grafana, want 3", n)
	}
	uploads := w.slack.CompletedUploads()
	if len(uploads) != 3 {
		t.Fatalf("%d uploads in Slack, want 3", len(uploads))
	}
	messages, _ := json.Marshal(w.slack.Messages(channel))
	want := grafanatest.ExpectedFigures(cg.KindTiming, run).Last()
	if !strings.Contains(string(messages), strconv.FormatFloat(want.WNS, 'f', 3, 64)) {
		t.Fatalf("no message shows the WNS %.3f:\n%s", want.WNS, messages)
	}
	if stage := "stage `" + grafanatest.ExpectedFigures(cg.KindTiming, run).LastStage + "`"; !strings.Contains(string(messages), stage) {
		t.Fatalf("no message names the stage of its figures (%s):\n%s", stage, messages)
	}
	for _, d := range list {
		if d.State == cg.DashboardIncompatible {
			continue
		}
		if !strings.Contains(string(messages), d.URL) {
			t.Fatalf("no message links the %s dashboard %s", d.Kind, d.URL)
		}
		b, err := os.ReadFile(d.LocalSnapshotURL)
		if err != nil {
			t.Fatalf("%s GIF: %v", d.Kind, err)
		}
		g, err := gif.DecodeAll(bytes.NewReader(b))
		if err != nil || len(g.Image) < 2 {
			t.Fatalf("%s GIF does not decode to an animation: %v", d.Kind, err)
		}
		if d.SlackSentAt == nil {
			t.Fatalf("%s posted without slack_sent_at", d.Kind)
		}
	}
	// Nothing new: a second scan calls neither Grafana nor Slack, and the incompatible
	// table stays quiet.
	grafanaCalls, slackCalls := w.grafana.Requests("", "/"), len(w.slack.CallCounts())
	slackTotal := func() int {
		n := 0
		for _, c := range w.slack.CallCounts() {
			n += c
		}
		return n
	}
	slackBefore := slackTotal()
	if res := w.scan(t); len(res.New) != 0 || len(res.Incompatible) != 0 {
		t.Fatalf("second scan: %+v", res)
	}
	time.Sleep(500 * time.Millisecond)
	if n := len(w.slack.CompletedUploads()); n != 3 {
		t.Fatalf("%d uploads after a second scan, want still 3", n)
	}
	if g := w.grafana.Requests("", "/"); g != grafanaCalls {
		t.Fatalf("a scan that found nothing new made %d Grafana calls", g-grafanaCalls)
	}
	if n := slackTotal(); n != slackBefore || len(w.slack.CallCounts()) != slackCalls {
		t.Fatalf("a scan that found nothing new made %d Slack calls", n-slackBefore)
	}
}

func TestGrafanaErrorsAndSlackRateLimitsAreWaitedOut(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.createTable(t, cg.KindTiming, "gcd_sky130hd_r2", grafanatest.SampleRun{Platform: "sky130hd", TimeUnit: "ns"})
	w.createTable(t, cg.KindDRC, "gcd_sky130hd_r2", grafanatest.SampleRun{Platform: "sky130hd"})
	w.grafana.FailNext("/api/dashboards/db", 500, 6) // more than the client's own retries
	w.slack.RateLimit("files.getUploadURLExternal", 2, time.Second)
	w.scan(t)
	list := w.waitPosted(t, 2, 3*time.Minute)
	if n := len(w.slack.CompletedUploads()); n != 2 {
		t.Fatalf("%d uploads, want 2", n)
	}
	if n := len(runDashboards(w)); n != 2 {
		t.Fatalf("%d dashboards, want 2", n)
	}
	for _, d := range list {
		if d.LastError != "" {
			t.Fatalf("%s kept an error after delivery: %q", d.Kind, d.LastError)
		}
	}
}

func TestTwoReplicasPostEachTableOnce(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	second := w.newPipeline(t)
	secondScanner := scheduler.NewScanner(scheduler.ScannerConfig{DB: w.env.DB, Cipher: w.env.Cipher, Enqueue: second.Enqueue})
	defer secondScanner.Close()
	for i := range 4 {
		w.createTable(t, cg.KindQOR, "aes_asap7_r"+strconv.Itoa(i), grafanatest.SampleRun{Design: "aes", Platform: "asap7", Seed: int64(i + 1)})
	}
	done := make(chan error, 2)
	for _, s := range []*scheduler.Scanner{w.scanner, secondScanner} {
		go func() {
			_, err := s.ScanOnce(context.Background(), scheduler.ScanOptions{})
			if err == scheduler.ErrScanRunning {
				err = nil
			}
			done <- err
		}()
	}
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	w.scan(t) // whichever lost the race
	w.waitPosted(t, 4, 3*time.Minute)
	time.Sleep(500 * time.Millisecond)
	uploads := w.slack.CompletedUploads()
	if len(uploads) != 4 {
		t.Fatalf("%d uploads, want 4 (one per table)", len(uploads))
	}
}

func TestACrashBetweenPostingAndRecordingDoesNotPostTwice(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.createTable(t, cg.KindDRC, "ibex_nangate45_r1", grafanatest.SampleRun{Design: "ibex"})
	w.scan(t)
	list := w.waitPosted(t, 1, 3*time.Minute)
	d := list[0]
	// As if the process died after Slack accepted the completion and before it was
	// recorded: the record is back in "posting" with its file ID only, and its post job
	// runs again. files.info on that ID finds the share.
	if _, err := w.env.DB.Pool.Exec(context.Background(), `UPDATE dashboards SET state = 'posting', slack_sent_at = NULL,
		slack_completed_at = NULL WHERE id = $1`, d.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := w.env.DB.Pool.Exec(context.Background(), `UPDATE river_job SET state = 'available', finalized_at = NULL, attempt = 0, scheduled_at = now()
		WHERE kind = 'post_slack' AND (args->>'dashboard_id')::bigint = $1`, d.ID); err != nil {
		t.Fatal(err)
	}
	w.waitPosted(t, 1, time.Minute)
	time.Sleep(time.Second)
	if n := len(w.slack.CompletedUploads()); n != 1 {
		t.Fatalf("%d uploads after the crash guard, want 1", n)
	}
	if n := postMessages(w, d.UID); n != 1 {
		t.Fatalf("%d figure messages after the crash guard, want 1", n)
	}
	var state string
	if err := w.env.DB.Pool.QueryRow(context.Background(), "SELECT state FROM dashboards WHERE id = $1", d.ID).Scan(&state); err != nil || state != "posted" {
		t.Fatalf("state %q %v", state, err)
	}
}

func TestADashboardWithAFailingPanelIsNotPostedAndTheUserIsToldOnce(t *testing.T) {
	t.Parallel()
	// A team's own TIMING template whose TNS panel asks for a column run tables do not have.
	raw, err := os.ReadFile("../grafana/templates/timing.json")
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(string(raw), `coalesce(sum(least(slack, 0)), 0) AS \"TNS\"`, `sum(total_negative_slack) AS \"TNS\"`, 1)
	if broken == string(raw) {
		t.Fatal("the TNS query was not found in the template")
	}
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/timing.json", []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	templates, err := grafana.LoadTemplates(dir)
	if err != nil {
		t.Fatalf("the template is well formed and must load: %v", err)
	}
	w := newWorld(t, func(c *scheduler.PipelineConfig) { c.Templates = templates })
	w.createTable(t, cg.KindTiming, "gcd_nangate45_broken", grafanatest.SampleRun{})
	w.scan(t)

	u, _ := w.env.DB.Users().ByName(context.Background(), w.user)
	deadline := time.Now().Add(time.Minute)
	var d cg.Dashboard
	for {
		list, err := w.env.DB.Dashboards().List(context.Background(), u.ID, cg.KindTiming, 1)
		if err != nil || len(list) != 1 {
			t.Fatalf("records: %v %v", list, err)
		}
		if d = list[0]; d.State == cg.DashboardFailed || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if d.State != cg.DashboardFailed || d.Step != scheduler.StepDashboard ||
		!strings.Contains(d.LastError, "TNS (setup)") || !strings.Contains(d.LastError, "total_negative_slack") {
		t.Fatalf("record: state %s step %s error %q", d.State, d.Step, d.LastError)
	}
	if n := len(w.grafana.Dashboards()); n != 0 {
		t.Fatalf("%d dashboards published, want none", n)
	}
	// Scanning again does not make it try (and tell) again.
	w.scan(t)
	time.Sleep(time.Second)
	if n := len(w.slack.CompletedUploads()); n != 0 {
		t.Fatalf("%d uploads, want none", n)
	}
	told := 0
	for _, m := range w.slack.Messages(channel) {
		if strings.Contains(m.Text, "gcd_nangate45_broken") && strings.Contains(m.Text, "TNS (setup)") {
			told++
		}
	}
	if told != 1 {
		t.Fatalf("the user was told %d times, want once: %+v", told, w.slack.Messages(channel))
	}
}

// BenchmarkEndToEnd measures, with a 5 s scan interval, the time from a run table's
// commit to the Slack fake receiving its upload (dashboard, checks, recording of every
// stage at 960×600, upload).
func BenchmarkEndToEnd(b *testing.B) {
	w := newWorld(b)
	schedule, err := scheduler.ParseSchedule("", 5*time.Second)
	if err != nil {
		b.Fatal(err)
	}
	trigger := scheduler.NewTrigger(schedule, w.scanner, w.env.Logger)
	trigger.Start(context.Background())
	defer trigger.Stop()
	var total time.Duration
	i := 0
	for b.Loop() {
		before := len(w.slack.CompletedUploads())
		start := time.Now()
		if err := grafanatest.CreateRunTable(context.Background(), ownerConn(b, w.user, cg.KindTiming), cg.KindTiming,
			"bench_run_"+strconv.Itoa(i), grafanatest.SampleRun{Seed: int64(i + 1)}); err != nil {
			b.Fatal(err)
		}
		for len(w.slack.CompletedUploads()) == before {
			if time.Since(start) > 3*time.Minute {
				b.Fatal("no upload within 3 minutes")
			}
			time.Sleep(20 * time.Millisecond)
		}
		total += time.Since(start)
		i++
	}
	b.ReportMetric(total.Seconds()/float64(i), "s/table")
}

func TestRecaptureRecordsAndPostsAgainAndAMutedDesignIsNotPosted(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	w.createTable(t, cg.KindQOR, "ibex_sky130hd_r1", grafanatest.SampleRun{Design: "ibex", Platform: "sky130hd"})
	w.scan(t)
	d := w.waitPosted(t, 1, 3*time.Minute)[0]
	if err := w.pipeline.Recapture(ctx, d.ID); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for len(w.slack.CompletedUploads()) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the recapture was not posted")
		}
		time.Sleep(100 * time.Millisecond)
	}
	w.waitPosted(t, 1, time.Minute)

	// Mute the design: its next run is recorded, but not posted.
	if _, err := w.env.Service.MuteDesign(ctx, commands.CLI, d.UID); err != nil {
		t.Fatal(err)
	}
	w.createTable(t, cg.KindQOR, "ibex_sky130hd_r2", grafanatest.SampleRun{Design: "ibex", Platform: "sky130hd", Seed: 2})
	res := w.scan(t)
	if len(res.New) != 1 {
		t.Fatalf("scan found %d new tables", len(res.New))
	}
	deadline = time.Now().Add(2 * time.Minute)
	for {
		got, err := w.env.DB.Dashboards().Get(ctx, res.New[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State == cg.DashboardMuted {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the muted design's run ended %s (%s)", got.State, got.LastError)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n := len(w.slack.CompletedUploads()); n != 2 {
		t.Fatalf("%d uploads, want 2 (the first post and its recapture)", n)
	}
}

// postMessages counts the channel's pipeline posts about one dashboard: file shares
// whose card carries its UID.
func postMessages(w *world, uid string) int {
	n := 0
	for _, m := range w.slack.Messages(channel) {
		if len(m.Files) > 0 && strings.Contains(string(m.Blocks), `"value":"`+uid+`"`) {
			n++
		}
	}
	return n
}

func TestWithoutSlackThePipelineStopsAfterTheGIFAndSaysWhy(t *testing.T) {
	t.Parallel()
	w := newWorld(t, func(c *scheduler.PipelineConfig) { c.SlackToken = "" })
	w.createTable(t, cg.KindDRC, "gcd_asap7_r1", grafanatest.SampleRun{Platform: "asap7"})
	res := w.scan(t)
	d := w.waitFor(t, res.New[0].ID, func(d cg.Dashboard) bool { return strings.Contains(d.LastError, "Slack is not configured") })
	if d.State != cg.DashboardCaptured || d.LocalSnapshotURL == "" {
		t.Fatalf("record: %s, GIF %q", d.State, d.LocalSnapshotURL)
	}
	if _, err := os.Stat(d.LocalSnapshotURL); err != nil {
		t.Fatal(err)
	}
	if n := w.slack.Calls("files.getUploadURLExternal"); n != 0 {
		t.Fatalf("%d uploads tried without a token", n)
	}
}

func TestAChannelThatDoesNotExistIsReportedOnTheRecord(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	if _, err := w.env.Service.SetCredential(context.Background(), commands.CLI, w.user, "slack_channel_id", "C0NOSUCHCH1", commands.Upsert); err != nil {
		t.Fatal(err)
	}
	w.createTable(t, cg.KindTiming, "gcd_asap7_r2", grafanatest.SampleRun{Platform: "asap7", TimeUnit: "ps"})
	res := w.scan(t)
	d := w.waitFor(t, res.New[0].ID, func(d cg.Dashboard) bool { return d.State == cg.DashboardFailed })
	if d.Step != scheduler.StepPost || !strings.Contains(d.LastError, "C0NOSUCHCH1 does not exist") || !strings.Contains(d.LastError, "slack_channel_id") {
		t.Fatalf("record: step %s error %q", d.Step, d.LastError)
	}
}

// waitFor waits until the record satisfies ok, or fails with where it is.
func (w *world) waitFor(t *testing.T, id int64, ok func(cg.Dashboard) bool) cg.Dashboard {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		d, err := w.env.DB.Dashboards().Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if ok(d) {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("record stuck: state %s step %s error %q", d.State, d.Step, d.LastError)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
