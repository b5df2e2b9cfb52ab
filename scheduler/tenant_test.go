package scheduler_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"credential-grafana/bot/slacktest"
	"credential-grafana/cg"
	"credential-grafana/commands"
	"credential-grafana/grafana"
	"credential-grafana/grafana/grafanatest"
	"credential-grafana/scheduler"
)

const globalChannel = "C0GLOBAL001"

// queryGate holds every POST /api/ds/query of the Grafana fake until it is released or
// its client goes away, so a test can act while a dashboard job is running.
type queryGate struct {
	entered, aborted chan struct{}
	release          chan struct{}
	enterOnce, abort sync.Once
	releaseOnce      sync.Once
}

// open lets the held queries and every later one through.
func (q *queryGate) open() { q.releaseOnce.Do(func() { close(q.release) }) }

func holdQueries(t *testing.T, g *grafanatest.Server) *queryGate {
	q := &queryGate{entered: make(chan struct{}), aborted: make(chan struct{}), release: make(chan struct{})}
	t.Cleanup(q.open) // a failed test must not leave the fake's handlers blocked
	g.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/api/ds/query" {
			return false
		}
		// net/http notices that the client went away only once the body is read.
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return false
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		q.enterOnce.Do(func() { close(q.entered) })
		select {
		case <-q.release:
			return false // answer as usual
		case <-r.Context().Done(): // the job's context was cancelled
			q.abort.Do(func() { close(q.aborted) })
			return true
		}
	})
	return q
}

// waitClosed waits for ch, failing with what if it is not closed within two minutes
// (a deadline to end a stuck test, not a measure of speed).
func waitClosed(t *testing.T, ch chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(2 * time.Minute):
		t.Fatal(what)
	}
}

// jobStates is the states of the pipeline jobs of user's dashboards, once none of them
// is waiting or running any more.
func (w *world) settledJobStates(t *testing.T, user string) map[string]string {
	t.Helper()
	u, err := w.env.DB.Users().ByName(context.Background(), user)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		states := map[string]string{}
		active := 0
		rows, err := w.env.DB.Pool.Query(context.Background(), `SELECT kind, state::text FROM river_job
			WHERE (args->>'dashboard_id')::bigint IN (SELECT id FROM dashboards WHERE user_id = $1) ORDER BY id`, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var kind, state string
			if err := rows.Scan(&kind, &state); err != nil {
				t.Fatal(err)
			}
			states[kind] = state
			if state != "completed" && state != "cancelled" && state != "discarded" {
				active++
			}
		}
		rows.Close()
		if active == 0 {
			return states
		}
		if time.Now().After(deadline) {
			t.Fatalf("jobs still waiting or running: %v", states)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func uploadsAnywhere(w *world) int { return len(w.slack.Uploads()) }

// Issue 9: a dashboard is bound to the data source the service provisioned for its user
// and kind, whatever grafana_uid_* says (here bob's, written around the commands).
func TestADashboardIsBoundToItsUsersOwnDataSourceWhateverTheCredentialSays(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	bob := w.env.UniqueUser(t, "bob")
	w.env.CreateUser(t, bob)
	bobUID := grafana.DataSourceUID(bob, cg.KindTiming)
	if _, ok := w.grafana.DataSource(bobUID); !ok {
		t.Fatalf("bob has no data source %s", bobUID)
	}
	u, err := w.env.DB.Users().ByName(ctx, w.user)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.env.DB.Credentials(w.env.Cipher).Set(ctx, u.ID, "grafana_uid_timing", bobUID, false); err != nil {
		t.Fatal(err)
	}
	w.createTable(t, cg.KindTiming, "gcd_nangate45_own", grafanatest.SampleRun{Design: "gcd"})
	w.scan(t)
	list := w.waitPosted(t, 1, 3*time.Minute)
	saved, ok := w.grafana.Dashboard(list[0].UID)
	if !ok {
		t.Fatalf("no dashboard %s in Grafana", list[0].UID)
	}
	if err := grafana.Dashboard(saved.Model).CheckBoundTo(grafana.DataSourceUID(w.user, cg.KindTiming)); err != nil {
		t.Fatal(err)
	}
}

// Issue 9 item 7: disabling a user cancels its running job (River's JobCancel reaches the
// job's context) and its queued ones; nothing is saved in Grafana or posted.
func TestDisablingAUserCancelsItsRunningJobAndNothingIsPosted(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	svc := commands.New(commands.Config{DB: w.env.DB, Cipher: w.env.Cipher, Pipeline: w.pipeline, Logger: w.env.Logger})
	gate := holdQueries(t, w.grafana)
	w.createTable(t, cg.KindTiming, "gcd_nangate45_off", grafanatest.SampleRun{Design: "gcd"})
	w.scan(t)
	waitClosed(t, gate.entered, "the dashboard job never asked Grafana")
	if _, err := svc.DisableUser(context.Background(), commands.CLI, w.user); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, gate.aborted, "disabling the user did not cancel its running dashboard job")
	gate.open()
	states := w.settledJobStates(t, w.user)
	if states["build_dashboard"] != "cancelled" {
		t.Fatalf("jobs: %v; want build_dashboard cancelled", states)
	}
	if n := len(w.grafana.Dashboards()); n != 0 {
		t.Fatalf("%d dashboards saved for a disabled user", n)
	}
	if n := uploadsAnywhere(w); n != 0 {
		t.Fatalf("%d uploads for a disabled user", n)
	}
}

// Issue 9 item 7: "A removed user's jobs still run, and with its credentials gone its GIF
// goes to SLACK_CHANNEL_ID". The user is removed while its post waits out a Slack rate
// limit, through commands that have no pipeline to cancel with (as in a process that does
// not run one), so the post step itself must see that the user is removed.
func TestARemovedUsersJobsPostNothingAndNeverToTheGlobalChannel(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.slack.AddChannel(globalChannel, "everyone", slacktest.BotMember())
	// Long enough for the removal below to happen while the post waits; the test does
	// not depend on how long either takes beyond that.
	w.slack.RateLimit("files.getUploadURLExternal", 1, 20*time.Second)
	w.createTable(t, cg.KindQOR, "aes_asap7_gone", grafanatest.SampleRun{Design: "aes"})
	res := w.scan(t)
	deadline := time.Now().Add(3 * time.Minute)
	for w.slack.Calls("files.getUploadURLExternal") == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the post never started")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := w.env.Service.RemoveUser(context.Background(), commands.CLI, w.user, commands.RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	w.settledJobStates(t, w.user)
	if n := uploadsAnywhere(w); n != 0 {
		t.Fatalf("%d uploads for a removed user", n)
	}
	if n := len(w.slack.Messages(globalChannel)) + len(w.slack.Messages(channel)); n != 0 {
		t.Fatalf("%d messages for a removed user", n)
	}
	d, err := w.env.DB.Dashboards().Get(context.Background(), res.New[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if d.State != cg.DashboardFailed || !strings.Contains(d.LastError, "is removed") {
		t.Fatalf("record: state %s error %q", d.State, d.LastError)
	}
}

// A user without its own channel is not posted anywhere else, and the record says what
// to do.
func TestAUserWithoutAChannelIsNotPostedElsewhere(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.slack.AddChannel(globalChannel, "everyone", slacktest.BotMember())
	if err := w.env.Service.DeleteCredential(context.Background(), commands.CLI, w.user, "slack_channel_id"); err != nil {
		t.Fatal(err)
	}
	w.createTable(t, cg.KindDRC, "gcd_asap7_nochan", grafanatest.SampleRun{Platform: "asap7"})
	res := w.scan(t)
	d := w.waitFor(t, res.New[0].ID, func(d cg.Dashboard) bool { return strings.Contains(d.LastError, "no slack_channel_id") })
	if !strings.Contains(d.LastError, "never goes to another channel") {
		t.Fatalf("record error %q", d.LastError)
	}
	if n := uploadsAnywhere(w); n != 0 {
		t.Fatalf("%d uploads for a user without a channel", n)
	}
	if d.Step != scheduler.StepPost {
		t.Fatalf("record step %s", d.Step)
	}
}

// Issue 9: a grafana_url already in the database (stored before the allow-list, or
// written around the commands) must not make the pipeline call that Grafana, nor
// Chromium open it.
func TestThePipelineNeverOpensAGrafanaNotAllowedEvenIfStored(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	other := grafanatest.New(t)
	ctx := context.Background()
	u, err := w.env.DB.Users().ByName(ctx, w.user)
	if err != nil {
		t.Fatal(err)
	}
	creds := w.env.DB.Credentials(w.env.Cipher)
	if _, err := creds.Set(ctx, u.ID, "grafana_url", other.URL, false); err != nil {
		t.Fatal(err)
	}
	if _, err := creds.Set(ctx, u.ID, "grafana_api_key", other.Token, true); err != nil {
		t.Fatal(err)
	}
	w.createTable(t, cg.KindTiming, "gcd_asap7_elsewhere", grafanatest.SampleRun{Platform: "asap7"})
	res := w.scan(t)
	d := w.waitFor(t, res.New[0].ID, func(d cg.Dashboard) bool { return d.State == cg.DashboardFailed })
	if d.Step != scheduler.StepDashboard || !strings.Contains(d.LastError, "not in GRAFANA_ALLOWED_URLS") {
		t.Fatalf("record: step %s error %q", d.Step, d.LastError)
	}
	if n := other.Requests("", "/"); n != 0 {
		t.Fatalf("%d requests to a Grafana that is not allowed", n)
	}
	if n := uploadsAnywhere(w); n != 0 {
		t.Fatalf("%d uploads", n)
	}
}
