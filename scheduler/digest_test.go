package scheduler_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"credential-grafana/bot"
	"credential-grafana/bot/slacktest"
	"credential-grafana/cg"
	"credential-grafana/commands"
	"credential-grafana/commands/commandstest"
	"credential-grafana/db"
	"credential-grafana/grafana/grafanatest"
	"credential-grafana/scheduler"
)

// digestWorld is a master database with one user, its QoR database, a Slack fake and a
// digest clock the test moves.
type digestWorld struct {
	env   *commandstest.Env
	slack *slacktest.Server
	user  string
	uid   int64
	now   time.Time
	mu    sync.Mutex
	qor   *pgx.Conn // the owner's connection to the QoR database, made once
}

func newDigestWorld(t *testing.T) *digestWorld {
	t.Helper()
	w := &digestWorld{slack: slacktest.New(t), env: commandstest.New(t)}
	w.slack.AddChannel(channel, "eda-results", slacktest.BotMember())
	w.user = w.env.UniqueUser(t, "dig")
	w.env.CreateUser(t, w.user)
	if _, err := w.env.Service.SetCredential(context.Background(), commands.CLI, w.user, "slack_channel_id", channel, commands.Upsert); err != nil {
		t.Fatal(err)
	}
	u, err := w.env.DB.Users().ByName(context.Background(), w.user)
	if err != nil {
		t.Fatal(err)
	}
	w.uid = u.ID
	return w
}

func (w *digestWorld) clock() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.now
}

func (w *digestWorld) setNow(t time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.now = t
}

func (w *digestWorld) scheduler() *scheduler.DigestScheduler {
	return scheduler.NewDigestScheduler(scheduler.DigestConfig{
		DB: w.env.DB, Cipher: w.env.Cipher, SlackToken: cg.Secret(w.slack.BotToken()),
		Notifier: bot.NewNotifier(bot.NotifierConfig{APIURL: w.slack.APIURL(), MinPostInterval: time.Millisecond}),
		Now:      w.clock, Logger: w.env.Logger,
	})
}

// scaled is an ORFS reference run whose area (every stage) is scaled by factor, with
// its own run id.
func scaled(run grafanatest.ORFSRun, i int, factor float64) grafanatest.ORFSRun {
	out := run
	out.Name = fmt.Sprintf("%s-r%d", run.Name, i)
	out.Metrics = map[string]any{}
	for k, v := range run.Metrics {
		if f, ok := v.(float64); ok && strings.HasSuffix(k, "__design__instance__area") {
			v = f * factor
		}
		out.Metrics[k] = v
	}
	return out
}

// addRun writes run as a QoR table, records it as the pipeline does (its facts read
// from the table) and stamps it as found at at, with the rules it broke.
func (w *digestWorld) addRun(t *testing.T, table string, run grafanatest.ORFSRun, at time.Time, broken ...cg.BrokenRule) db.RunFacts {
	t.Helper()
	ctx := context.Background()
	if w.qor == nil {
		w.qor = ownerConn(t, w.user, cg.KindQOR)
	}
	conn := w.qor
	if err := grafanatest.CreateORFSRunTable(ctx, conn, cg.KindQOR, table, run); err != nil {
		t.Fatal(err)
	}
	facts, err := scheduler.ReadRunFacts(ctx, conn, cg.KindQOR, table)
	if err != nil {
		t.Fatal(err)
	}
	uid := "dig-" + table
	var id int64
	if err := w.env.DB.Pool.QueryRow(ctx, `INSERT INTO dashboards (user_id, kind, table_name, dashboard_uid, state)
		VALUES ($1, 'QOR', $2, $3, 'posted') RETURNING id`, w.uid, table, uid+fmt.Sprint(w.uid)).Scan(&id); err != nil {
		t.Fatal(err)
	}
	if err := w.env.DB.Dashboards().MarkCreated(ctx, w.env.DB.Pool, id, "https://grafana.example/d/"+table, uid+fmt.Sprint(w.uid), facts.RunFacts); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(append([]cg.BrokenRule{}, broken...))
	if _, err := w.env.DB.Pool.Exec(ctx, "UPDATE dashboards SET created_at = $2, rules_broken = $3 WHERE id = $1", id, at, b); err != nil {
		t.Fatal(err)
	}
	return facts.RunFacts
}

func (w *digestWorld) addDigest(t *testing.T, s cg.DigestSchedule, lastEnd time.Time) db.DigestRecord {
	t.Helper()
	d, _, err := w.env.DB.Digests().Add(context.Background(), w.uid, s, lastEnd, "test")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func orfsRun(t *testing.T, name string) grafanatest.ORFSRun {
	t.Helper()
	runs, err := grafanatest.ORFSRuns()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range runs {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no ORFS run %s", name)
	return grafanatest.ORFSRun{}
}

func figure(facts db.RunFacts, name string) float64 {
	for _, f := range facts.Figures {
		if f.Name == name {
			return f.Value
		}
	}
	return 0
}

// digestMessages are the messages in the channel (every one a digest here).
func digestMessages(w *digestWorld) []slacktest.Message { return w.slack.Messages(channel) }

func TestADigestCoversExactlyItsPeriodWithTheLatestFiguresAndSparklines(t *testing.T) {
	t.Parallel()
	w := newDigestWorld(t)
	gcd, aes := orfsRun(t, "nangate45_gcd"), orfsRun(t, "nangate45_aes")
	end := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	start := end.Add(-24 * time.Hour)
	rule := cg.BrokenRule{RuleID: 1, Rule: "area > +5%", Detail: "Area +10% <b>"}
	early := cg.BrokenRule{RuleID: 2, Rule: "drc > 0", Detail: "before the period"}
	var facts []db.RunFacts
	for i, at := range []time.Time{start.Add(-time.Second), start, start.Add(time.Second), start.Add(3 * time.Hour), end} {
		var br []cg.BrokenRule
		switch i {
		case 0:
			br = []cg.BrokenRule{early}
		case 2:
			br = []cg.BrokenRule{rule}
		}
		facts = append(facts, w.addRun(t, fmt.Sprintf("gcd_r%d", i), scaled(gcd, i, 1+0.1*float64(i)), at, br...))
	}
	aesFacts := w.addRun(t, "aes_r0", aes, start.Add(11*time.Hour))
	// aes has a trend dashboard (the pipeline recorded its link with the run): the digest
	// links it rather than the run's dashboard.
	aesTrend := "https://grafana.example/d/trend-aes?orgId=1"
	if _, err := w.env.DB.Pool.Exec(context.Background(), "UPDATE dashboards SET trend_url = $2 WHERE user_id = $1 AND table_name = 'aes_r0'", w.uid, aesTrend); err != nil {
		t.Fatal(err)
	}
	w.addDigest(t, cg.DigestSchedule{Every: cg.DigestDaily, Minute: 9 * 60}, start)

	w.setNow(end.Add(30 * time.Second))
	res, err := w.scheduler().RunOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	msgs := digestMessages(w)
	if res.Posted != 1 || len(msgs) != 1 {
		t.Fatalf("result %+v, %d messages; want one digest", res, len(msgs))
	}
	blocks := string(msgs[0].Blocks)
	// The design's latest run in the period is gcd_r3; its area against gcd_r2, and the
	// sparkline over every run before the end (gcd_r0 … gcd_r3), not gcd_r4 at the end.
	area := func(i int) float64 { return figure(facts[i], "Area") }
	if area(3) == area(0) || area(3) == 0 {
		t.Fatalf("the runs' areas are not scaled: %v", []float64{area(0), area(3)})
	}
	want := []string{
		"Daily digest for " + w.user,
		"3 runs", "gcd_r3", fmt.Sprintf("%.1f µm²", area(3)),
		fmt.Sprintf("+%.1f µm²", area(3)-area(2)),
		cg.Sparkline([]float64{area(0), area(1), area(2), area(3)}),
		"aes", "1 run", "aes_r0", fmt.Sprintf("%.1f µm²", figure(aesFacts, "Area")),
		"area &gt; +5%", "Area +10% &lt;b&gt;", // data escaped
		"https://grafana.example/d/gcd_r3", "latest run's dashboard", aesTrend,
		"Mon 9 Mar 2026 09:00 – Tue 10 Mar 2026 09:00 (UTC)",
	}
	var text strings.Builder
	var decoded []map[string]any
	if err := json.Unmarshal(msgs[0].Blocks, &decoded); err != nil {
		t.Fatal(err)
	}
	collectText(decoded, &text)
	for _, s := range want {
		if !strings.Contains(text.String(), s) {
			t.Errorf("digest lacks %q:\n%s", s, text.String())
		}
	}
	for _, s := range []string{"gcd_r4", "before the period", fmt.Sprintf("%.1f µm²", area(4))} {
		if strings.Contains(blocks, s) {
			t.Errorf("digest shows %q, which is outside its period:\n%s", s, text.String())
		}
	}
	if strings.Index(text.String(), "gcd_r3") > strings.Index(text.String(), "aes_r0") {
		t.Errorf("designs are not in the order of their first run in the period:\n%s", text.String())
	}

	// The next pass, and a pass later that day, post nothing more.
	w.setNow(end.Add(5 * time.Hour))
	if res, err := w.scheduler().RunOnce(context.Background()); err != nil || res.Posted != 0 {
		t.Fatalf("a second pass: %+v, %v", res, err)
	}
	if n := len(digestMessages(w)); n != 1 {
		t.Fatalf("%d messages after a second pass, want 1", n)
	}
}

// collectText gathers every "text" string of decoded Block Kit.
func collectText(v any, b *strings.Builder) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if s, ok := e.(string); ok && (k == "text" || k == "url") {
				b.WriteString(s + "\n")
			} else {
				collectText(e, b)
			}
		}
	case []any:
		for _, e := range x {
			collectText(e, b)
		}
	case []map[string]any:
		for _, e := range x {
			collectText(e, b)
		}
	}
}

func TestNoDigestIsPostedForAPeriodWithoutRuns(t *testing.T) {
	t.Parallel()
	w := newDigestWorld(t)
	end := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	// Runs before and at the edges of the period only.
	gcd := orfsRun(t, "nangate45_gcd")
	w.addRun(t, "gcd_before", gcd, end.Add(-24*time.Hour-time.Minute))
	w.addRun(t, "gcd_at_end", gcd, end)
	d := w.addDigest(t, cg.DigestSchedule{Every: cg.DigestDaily, Minute: 9 * 60}, end.Add(-24*time.Hour))
	w.setNow(end.Add(time.Minute))
	res, err := w.scheduler().RunOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Posted != 0 || res.Empty != 1 || len(digestMessages(w)) != 0 {
		t.Fatalf("result %+v, messages %v; want an empty period and no post", res, digestMessages(w))
	}
	got, err := w.env.DB.Digests().Get(context.Background(), d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.LastPeriodEnd.Equal(end) {
		t.Fatalf("last period end %s, want %s (done)", got.LastPeriodEnd, end)
	}
}

func TestTwoReplicasPostADigestOnce(t *testing.T) {
	t.Parallel()
	w := newDigestWorld(t)
	end := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	w.addRun(t, "gcd_r0", orfsRun(t, "nangate45_gcd"), end.Add(-time.Hour))
	w.addDigest(t, cg.DigestSchedule{Every: cg.DigestDaily, Minute: 9 * 60}, end.Add(-24*time.Hour))
	w.setNow(end.Add(time.Second))
	a, b := w.scheduler(), w.scheduler()
	for range 3 {
		var wg sync.WaitGroup
		results := make([]scheduler.DigestResult, 2)
		for i, s := range []*scheduler.DigestScheduler{a, b} {
			wg.Go(func() {
				r, err := s.RunOnce(context.Background())
				if err != nil {
					t.Error(err)
				}
				results[i] = r
			})
		}
		wg.Wait()
	}
	if n := len(digestMessages(w)); n != 1 {
		t.Fatalf("%d digests posted by two replicas, want 1", n)
	}
}

func TestADigestClaimedByAReplicaThatDiedIsPostedOnceAfterTheLease(t *testing.T) {
	t.Parallel()
	w := newDigestWorld(t)
	end := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	w.addRun(t, "gcd_r0", orfsRun(t, "nangate45_gcd"), end.Add(-time.Hour))
	d := w.addDigest(t, cg.DigestSchedule{Every: cg.DigestDaily, Minute: 9 * 60}, end.Add(-24*time.Hour))
	now := end.Add(time.Second)
	// A replica claims the period and dies before posting.
	if ok, err := w.env.DB.Digests().Claim(context.Background(), d.ID, end, now, now.Add(-10*time.Minute)); err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	w.setNow(now.Add(time.Minute))
	s := w.scheduler()
	if res, err := s.RunOnce(context.Background()); err != nil || res.Posted != 0 || len(digestMessages(w)) != 0 {
		t.Fatalf("within the lease another replica posted: %+v %v", res, err)
	}
	w.setNow(now.Add(11 * time.Minute))
	for range 2 {
		if _, err := s.RunOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(digestMessages(w)); n != 1 {
		t.Fatalf("%d digests after the lease, want 1", n)
	}
}

func TestADigestMissedWhileDownIsPostedOnceForTheLatestPeriod(t *testing.T) {
	t.Parallel()
	w := newDigestWorld(t)
	end := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	gcd := orfsRun(t, "nangate45_gcd")
	w.addRun(t, "gcd_old", gcd, end.Add(-50*time.Hour))
	w.addRun(t, "gcd_new", scaled(gcd, 1, 1.2), end.Add(-2*time.Hour))
	w.addDigest(t, cg.DigestSchedule{Every: cg.DigestDaily, Minute: 9 * 60}, end.Add(-72*time.Hour))
	w.setNow(end.Add(50 * time.Minute)) // the service was down for three digest times
	s := w.scheduler()
	for range 2 {
		if _, err := s.RunOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	msgs := digestMessages(w)
	if len(msgs) != 1 {
		t.Fatalf("%d digests after the downtime, want 1", len(msgs))
	}
	if b := string(msgs[0].Blocks); !strings.Contains(b, "gcd_new") || strings.Contains(b, "gcd_old`") {
		t.Fatalf("the digest is not the latest period's: %s", b)
	}
}

func TestADigestOnADSTDayCoversTheCalendarDayInItsZone(t *testing.T) {
	t.Parallel()
	w := newDigestWorld(t)
	berlin, err := cg.LoadTimeZone("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.env.DB.Pool.Exec(context.Background(), "UPDATE users SET time_zone = 'Europe/Berlin' WHERE id = $1", w.uid); err != nil {
		t.Fatal(err)
	}
	// Clocks go forward at 02:00 on 29 March 2026 in Berlin: the day from 28 March 09:00
	// CET to 29 March 09:00 CEST is 23 hours long.
	end := time.Date(2026, 3, 29, 9, 0, 0, 0, berlin)
	start := time.Date(2026, 3, 28, 9, 0, 0, 0, berlin)
	if end.Sub(start) != 23*time.Hour {
		t.Fatalf("period is %s", end.Sub(start))
	}
	gcd := orfsRun(t, "nangate45_gcd")
	w.addRun(t, "gcd_24h_before", gcd, end.Add(-23*time.Hour-30*time.Minute)) // within 24 h, before the day's start
	w.addRun(t, "gcd_in_day", gcd, start.Add(30*time.Minute))
	w.addDigest(t, cg.DigestSchedule{Every: cg.DigestDaily, Minute: 9 * 60}, start)
	w.setNow(end.Add(time.Minute))
	if _, err := w.scheduler().RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	msgs := digestMessages(w)
	if len(msgs) != 1 {
		t.Fatalf("%d digests, want 1", len(msgs))
	}
	b := string(msgs[0].Blocks)
	if !strings.Contains(b, "1 run") || !strings.Contains(b, "gcd_in_day") || strings.Contains(b, "gcd_24h_before") ||
		!strings.Contains(b, "Sat 28 Mar 2026 09:00 – Sun 29 Mar 2026 09:00 (Europe/Berlin)") {
		t.Fatalf("the DST day's digest is wrong: %s", b)
	}
}

func TestADigestIsNeverPostedWithTheServicesTokenWhenTheUsersOwnDoesNotDecrypt(t *testing.T) {
	t.Parallel()
	w := newDigestWorld(t)
	ctx := context.Background()
	if _, err := w.env.Service.SetCredential(ctx, commands.CLI, w.user, "slack_bot_token", "xoxb-users-own-0123456789", commands.Upsert); err != nil {
		t.Fatal(err)
	}
	foreign, _ := db.NewCipher(bytesOf(6, 32)) // a key this installation does not have
	sealed, _ := foreign.Seal("xoxb-users-own-0123456789", fmt.Sprintf("%d/slack_bot_token", w.uid))
	if _, err := w.env.DB.Pool.Exec(ctx, "UPDATE credentials SET value_cipher = $2 WHERE user_id = $1 AND key_name = 'slack_bot_token'", w.uid, sealed); err != nil {
		t.Fatal(err)
	}
	end := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	w.addRun(t, "gcd_r0", orfsRun(t, "nangate45_gcd"), end.Add(-time.Hour))
	w.addDigest(t, cg.DigestSchedule{Every: cg.DigestDaily, Minute: 9 * 60}, end.Add(-24*time.Hour))
	w.setNow(end.Add(time.Minute))
	res, err := w.scheduler().RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed != 1 || len(digestMessages(w)) != 0 {
		t.Fatalf("result %+v, messages %v: want no post", res, digestMessages(w))
	}
	if !strings.Contains(w.env.Log.String(), "slack_bot_token does not decrypt") {
		t.Fatalf("the log does not say why: %s", w.env.Log.String())
	}
}

func bytesOf(b byte, n int) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = b
	}
	return out
}
