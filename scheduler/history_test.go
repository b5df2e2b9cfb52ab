package scheduler_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"credential-grafana/cg"
	"credential-grafana/db"
	"credential-grafana/db/dbtest"
	"credential-grafana/grafana/grafanatest"
	"credential-grafana/scheduler"
)

// expectedRun is what a test's own SQL reads from a run table: the figures its history
// row and its post must carry.
type expectedRun struct {
	table, runID string
	// TIMING, in the table's unit (ps for asap7) and in ns
	wns, tns, wnsNS, tnsNS float64
	violating              int64
	// QOR, in the table's units
	area, util, power, cells float64
}

// readExpected reads the key figures of a run table with SQL of its own: TIMING at the
// last flow stage that has setup rows, QOR at the finish stage.
func readExpected(t *testing.T, conn *pgx.Conn, kind cg.Kind, table string, e *expectedRun) {
	t.Helper()
	ctx := context.Background()
	q := pgx.Identifier{table}.Sanitize()
	var err error
	switch kind {
	case cg.KindTiming:
		var unit string
		err = conn.QueryRow(ctx, `WITH last AS (SELECT stage FROM `+q+` WHERE check_type = 'setup'
				GROUP BY stage ORDER BY array_position($1::text[], stage) DESC LIMIT 1)
			SELECT min(slack), coalesce(sum(slack) FILTER (WHERE slack < 0), 0), count(*) FILTER (WHERE slack < 0), min(time_unit)
			FROM `+q+` JOIN last USING (stage) WHERE check_type = 'setup'`, grafanatest.ORFSStages).Scan(&e.wns, &e.tns, &e.violating, &unit)
		e.wnsNS, e.tnsNS = e.wns, e.tns
		if unit == "ps" {
			e.wnsNS, e.tnsNS = e.wns/1000, e.tns/1000
		}
	case cg.KindQOR:
		err = conn.QueryRow(ctx, `SELECT
				max(value) FILTER (WHERE metric = 'design__instance__area'),
				max(value) FILTER (WHERE metric = 'design__instance__utilization') * 100,
				max(value) FILTER (WHERE metric = 'power__total') * 1000,
				max(value) FILTER (WHERE metric = 'design__instance__count')
			FROM `+q+` WHERE stage = 'finish' AND qualifier = ''`).Scan(&e.area, &e.util, &e.power, &e.cells)
	}
	if err != nil {
		t.Fatalf("read the expected figures of %s %s: %v", kind, table, err)
	}
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

// checkHistoryRows compares the rows of cg_history.runs in the user's database of kind
// with the expected runs and the records of the master database.
func checkHistoryRows(t *testing.T, w *world, kind cg.Kind, want []expectedRun) {
	t.Helper()
	ctx := context.Background()
	u, err := w.env.DB.Users().ByName(ctx, w.user)
	if err != nil {
		t.Fatal(err)
	}
	conn := dbtest.Connect(t, kind.DatabaseName(w.user))
	rows, err := conn.Query(ctx, `SELECT table_name, kind, design, platform, run_id, stage, recorded_at, dashboard_uid, dashboard_url,
		wns_ns, tns_ns, violating_endpoints, area_um2, utilisation_pct, cells, power_mw, drc_violations FROM cg_history.runs ORDER BY table_name`)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		table, kind, design, platform, runID, stage, uid, url string
		at                                                    time.Time
		wns, tns, area, util, power                           *float64
		nve, cells, drc                                       *int64
	}
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
		var x row
		err := r.Scan(&x.table, &x.kind, &x.design, &x.platform, &x.runID, &x.stage, &x.at, &x.uid, &x.url,
			&x.wns, &x.tns, &x.nve, &x.area, &x.util, &x.cells, &x.power, &x.drc)
		return x, err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%s: %d history rows, want %d (one per run table)", kind, len(got), len(want))
	}
	for i, e := range want {
		g := got[i]
		var recID int64
		var recAt time.Time
		var recURL, recUID string
		if err := w.env.DB.Pool.QueryRow(ctx, "SELECT id, created_at, dashboard_url, dashboard_uid FROM dashboards WHERE user_id = $1 AND kind = $2 AND table_name = $3",
			u.ID, string(kind), e.table).Scan(&recID, &recAt, &recURL, &recUID); err != nil {
			t.Fatal(err)
		}
		if g.table != e.table || g.kind != string(kind) || g.design != "gcd" || g.platform != "asap7" || g.runID != e.runID ||
			!g.at.Equal(recAt) || g.url != recURL || g.uid != recUID || recURL == "" {
			t.Errorf("%s row %d = %+v; want table %s, run %s, recorded at %s, dashboard %s %s", kind, i, g, e.table, e.runID, recAt, recUID, recURL)
		}
		eq := func(name string, p *float64, v float64) {
			if p == nil || !near(*p, v) {
				t.Errorf("%s %s: %s = %v, want %v", kind, e.table, name, p, v)
			}
		}
		switch kind {
		case cg.KindTiming:
			eq("wns_ns", g.wns, e.wnsNS)
			eq("tns_ns", g.tns, e.tnsNS)
			if g.nve == nil || *g.nve != e.violating {
				t.Errorf("%s: violating_endpoints = %v, want %d", e.table, g.nve, e.violating)
			}
			if g.area != nil || g.drc != nil {
				t.Errorf("%s: a TIMING row carries QoR or DRC figures", e.table)
			}
		case cg.KindQOR:
			eq("area_um2", g.area, e.area)
			eq("utilisation_pct", g.util, e.util)
			eq("power_mw", g.power, e.power)
			if g.cells == nil || float64(*g.cells) != e.cells {
				t.Errorf("%s: cells = %v, want %v", e.table, g.cells, e.cells)
			}
			if g.wns != nil {
				t.Errorf("%s: a QOR row carries timing figures", e.table)
			}
		}
	}
}

// postTexts returns the texts of the blocks of the channel's message about table of kind.
func postTexts(t *testing.T, w *world, kind cg.Kind, table string) []string {
	t.Helper()
	for _, m := range w.slack.Messages(channel) {
		var blocks []any
		if err := json.Unmarshal(m.Blocks, &blocks); err != nil {
			continue
		}
		var texts []string
		var walk func(v any)
		walk = func(v any) {
			switch x := v.(type) {
			case map[string]any:
				if s, ok := x["text"].(string); ok {
					texts = append(texts, s)
				}
				for _, c := range x {
					walk(c)
				}
			case []any:
				for _, c := range x {
					walk(c)
				}
			}
		}
		walk(blocks)
		if all := strings.Join(texts, "\n"); strings.Contains(all, "table `"+table+"`") && strings.Contains(all, "· "+string(kind)+" ·") {
			return texts
		}
	}
	t.Fatalf("no post about %s table %s", kind, table)
	return nil
}

// field returns the post's figure field that starts with *name*.
func field(t *testing.T, texts []string, name string) string {
	t.Helper()
	for _, s := range texts {
		if strings.HasPrefix(s, "*"+name+"*\n") {
			return s
		}
	}
	t.Fatalf("no %s field among %q", name, texts)
	return ""
}

// signed formats a change as the post does: a sign (− for a decrease) and the magnitude.
func signed(d float64, decimals int, unit string) string {
	sign := "+"
	if d < 0 {
		sign = "−"
	}
	return sign + strconv.FormatFloat(math.Abs(d), 'f', decimals, 64) + " " + unit
}

// Several runs of one design (the real asap7 gcd run, its area scaled and its slack
// shifted per run) go through the pipeline: each has its row in cg_history.runs with the
// figures its table says, readable by the viewer and not writable by the owner; each
// post carries its change against the previous run, the sparkline of the runs so far
// and the best value; the first says it is the first. Then, as if the runs were
// recorded before the service kept a history, the history is dropped and backfilled:
// once.
func TestRunHistoryIsWrittenPostedWithTrendsAndBackfilledOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	runs, err := grafanatest.ORFSRuns()
	if err != nil {
		t.Fatal(err)
	}
	var base grafanatest.ORFSRun
	for _, r := range runs {
		if r.Name == "asap7_gcd" {
			base = r
		}
	}
	if base.Name == "" || base.TimeUnit() != "ps" {
		t.Fatalf("no asap7_gcd run in ps among the ORFS runs")
	}
	w := newWorld(t)
	u, err := w.env.DB.Users().ByName(ctx, w.user)
	if err != nil {
		t.Fatal(err)
	}
	// A new user's databases have the history before any run (Provisioner.EnsureDatabase).
	for _, kind := range []cg.Kind{cg.KindTiming, cg.KindQOR, cg.KindDRC} {
		var reg *string
		if err := dbtest.Connect(t, kind.DatabaseName(w.user)).QueryRow(ctx, "SELECT to_regclass('cg_history.runs')::text").Scan(&reg); err != nil || reg == nil {
			t.Fatalf("new database %s has no cg_history.runs (%v)", kind.DatabaseName(w.user), err)
		}
	}

	scales := []float64{1.00, 1.02, 0.97, 1.05}
	shifts := []float64{0, -10, 15, -5} // ps
	want := map[cg.Kind][]expectedRun{}
	for i := range scales {
		table := fmt.Sprintf("gcd_asap7_r%d", i+1)
		for _, kind := range []cg.Kind{cg.KindTiming, cg.KindQOR} {
			conn := ownerConn(t, w.user, kind)
			if err := grafanatest.CreateORFSRunTable(ctx, conn, kind, table, base); err != nil {
				t.Fatal(err)
			}
			q := pgx.Identifier{table}.Sanitize()
			scale := "UPDATE " + q + " SET value = value * $1 WHERE metric = 'design__instance__area'"
			arg := scales[i]
			if kind == cg.KindTiming {
				scale, arg = "UPDATE "+q+" SET slack = slack + $1", shifts[i]
			}
			if _, err := conn.Exec(ctx, scale, arg); err != nil {
				t.Fatal(err)
			}
			if _, err := conn.Exec(ctx, "UPDATE "+q+" SET run_id = $1", fmt.Sprintf("r%d", i+1)); err != nil {
				t.Fatal(err)
			}
			e := expectedRun{table: table, runID: fmt.Sprintf("r%d", i+1)}
			readExpected(t, conn, kind, table, &e)
			want[kind] = append(want[kind], e)
		}
		// One run at a time, as a flow makes them: each is found after the one before.
		w.scan(t)
		w.waitPosted(t, 2*(i+1), 3*time.Minute)
	}
	for _, kind := range []cg.Kind{cg.KindTiming, cg.KindQOR} {
		checkHistoryRows(t, w, kind, want[kind])
	}

	// The posts.
	for i := range scales {
		table := want[cg.KindQOR][i].table
		area := field(t, postTexts(t, w, cg.KindQOR, table), "Area")
		wns := field(t, postTexts(t, w, cg.KindTiming, table), "WNS")
		comparison := strings.Join(postTexts(t, w, cg.KindQOR, table), "\n") + "\n" + strings.Join(postTexts(t, w, cg.KindTiming, table), "\n")
		if i == 0 {
			if !strings.Contains(comparison, "The first run of gcd") || strings.Contains(area, "best") || strings.ContainsAny(area, "↑↓") {
				t.Errorf("the first run's post does not say it is the first, or shows a trend:\n%s", comparison)
			}
			continue
		}
		if strings.Contains(comparison, "first run") {
			t.Errorf("run %d's post says it is the first:\n%s", i+1, comparison)
		}
		var areas, wnss []float64
		for _, e := range want[cg.KindQOR][:i+1] {
			areas = append(areas, e.area)
		}
		for _, e := range want[cg.KindTiming][:i+1] {
			wnss = append(wnss, e.wns)
		}
		cur, prev := want[cg.KindQOR][i], want[cg.KindQOR][i-1]
		if d := signed(cur.area-prev.area, 1, "µm²"); !strings.Contains(area, d) {
			t.Errorf("run %d: Area field %q lacks the change %s", i+1, area, d)
		}
		if s := "`" + cg.Sparkline(areas) + "`"; !strings.Contains(area, s) {
			t.Errorf("run %d: Area field %q lacks the sparkline %s", i+1, area, s)
		}
		bestArea := areas[0]
		for _, a := range areas {
			bestArea = min(bestArea, a)
		}
		wantBest := "best " + strconv.FormatFloat(bestArea, 'f', 1, 64) + " µm²"
		if bestArea == cur.area {
			wantBest = "best so far"
		}
		if !strings.Contains(area, wantBest) {
			t.Errorf("run %d: Area field %q lacks %q", i+1, area, wantBest)
		}
		tcur, tprev := want[cg.KindTiming][i], want[cg.KindTiming][i-1]
		if d := signed(tcur.wns-tprev.wns, 1, "ps"); !strings.Contains(wns, d) {
			t.Errorf("run %d: WNS field %q lacks the change %s", i+1, wns, d)
		}
		if s := "`" + cg.Sparkline(wnss) + "`"; !strings.Contains(wns, s) {
			t.Errorf("run %d: WNS field %q lacks the sparkline %s", i+1, wns, s)
		}
		bestWNS := wnss[0]
		for _, v := range wnss {
			bestWNS = max(bestWNS, v)
		}
		wantBest = "best " + strconv.FormatFloat(bestWNS, 'f', 1, 64) + " ps"
		if bestWNS == tcur.wns {
			wantBest = "best so far"
		}
		if !strings.Contains(wns, wantBest) {
			t.Errorf("run %d: WNS field %q lacks %q", i+1, wns, wantBest)
		}
	}

	// The viewer reads the history; the tenant's owner role cannot write it.
	for _, kind := range []cg.Kind{cg.KindTiming, cg.KindQOR} {
		viewer := roleConn(t, w.user, kind, db.ViewerRole(w.user))
		var n int
		if err := viewer.QueryRow(ctx, "SELECT count(*) FROM cg_history.runs").Scan(&n); err != nil || n != len(scales) {
			t.Errorf("the viewer reads %d rows of the %s history (%v), want %d", n, kind, err, len(scales))
		}
		owner := ownerConn(t, w.user, kind)
		for _, sql := range []string{
			"UPDATE cg_history.runs SET design = 'forged'",
			"DELETE FROM cg_history.runs",
			"INSERT INTO cg_history.runs (table_name, kind, recorded_at) VALUES ('forged', 'QOR', now())",
			"DROP TABLE cg_history.runs",
		} {
			if _, err := owner.Exec(ctx, sql); err == nil {
				t.Errorf("the owner role could run %q on the service's %s history", sql, kind)
			}
		}
	}

	// Runs recorded before the service kept a history: no history in their databases,
	// nothing marked backfilled.
	for _, kind := range []cg.Kind{cg.KindTiming, cg.KindQOR} {
		dbtest.Exec(t, kind.DatabaseName(w.user), "DROP SCHEMA cg_history CASCADE")
	}
	if _, err := w.env.DB.Pool.Exec(ctx, "DELETE FROM history_backfilled"); err != nil {
		t.Fatal(err)
	}
	res := backfill(t, w.pipeline)
	if res.Databases != 2 || res.Runs != 2*len(scales) || len(res.Failed) != 0 {
		t.Fatalf("backfill = %+v, want 2 databases and %d runs", res, 2*len(scales))
	}
	for _, kind := range []cg.Kind{cg.KindTiming, cg.KindQOR} {
		checkHistoryRows(t, w, kind, want[kind])
	}
	var marked int
	if err := w.env.DB.Pool.QueryRow(ctx, "SELECT count(*) FROM history_backfilled WHERE user_id = $1", u.ID).Scan(&marked); err != nil || marked != 3 {
		t.Fatalf("%d of the user's 3 databases marked backfilled (%v)", marked, err)
	}
	// Once: a second backfill does not write the history again.
	dbtest.Exec(t, cg.KindQOR.DatabaseName(w.user), "DELETE FROM cg_history.runs WHERE table_name = 'gcd_asap7_r1'")
	if res := backfill(t, w.pipeline); res.Databases != 0 || res.Runs != 0 {
		t.Fatalf("a second backfill = %+v, want nothing done", res)
	}
	checkHistoryRows(t, w, cg.KindQOR, want[cg.KindQOR][1:])
}

// backfill runs the history backfill, waiting out the one the pipeline runs at Start.
func backfill(t *testing.T, p *scheduler.Pipeline) scheduler.BackfillResult {
	t.Helper()
	for {
		res, err := p.BackfillHistory(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !res.Skipped {
			return res
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// roleConn connects to the user's database of kind as role.
func roleConn(t *testing.T, user string, kind cg.Kind, role string) *pgx.Conn {
	t.Helper()
	cfg, err := pgx.ParseConfig(dbtest.URLFor(kind.DatabaseName(user)))
	if err != nil {
		t.Fatal(err)
	}
	cfg.User = role
	conn, err := pgx.ConnectConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// A run whose history row cannot be written (a broken cg_history.runs in its database)
// is not lost: its build step says why and retries, and once the history takes rows it
// is posted, with one dashboard in Grafana and one post.
func TestAFailedHistoryWriteIsRetriedWithoutASecondDashboardOrPost(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	dbname := cg.KindQOR.DatabaseName(w.user)
	dbtest.Exec(t, dbname, "DROP TABLE cg_history.runs; CREATE TABLE cg_history.runs (table_name text PRIMARY KEY)")
	w.createTable(t, cg.KindQOR, "aes_nangate45_r1", grafanatest.SampleRun{Design: "aes", Platform: "nangate45", RunID: "r1"})
	res := w.scan(t)
	if len(res.New) != 1 {
		t.Fatalf("scan found %d new tables, want 1", len(res.New))
	}
	id := res.New[0].ID
	d := w.waitFor(t, id, func(d cg.Dashboard) bool { return strings.Contains(d.LastError, "run history") })
	if d.State != cg.DashboardPending || d.Step != scheduler.StepDashboard {
		t.Fatalf("a failed history write left the record %s at step %s, want pending at the dashboard step", d.State, d.Step)
	}
	dbtest.Exec(t, dbname, "DROP TABLE cg_history.runs")
	w.waitPosted(t, 1, 3*time.Minute)
	if n := len(runDashboards(w)); n != 1 {
		t.Errorf("%d run dashboards in Grafana, want 1", n)
	}
	if n := len(w.slack.CompletedUploads()); n != 1 {
		t.Errorf("%d posts, want 1", n)
	}
	var n int
	if err := dbtest.Connect(t, dbname).QueryRow(ctx, "SELECT count(*) FROM cg_history.runs WHERE table_name = 'aes_nangate45_r1'").Scan(&n); err != nil || n != 1 {
		t.Errorf("%d history rows of the run (%v), want 1", n, err)
	}
}

// A user whose db_host is another server (here the same server under another name,
// where its database has no history yet) has its history written with its owner
// credentials: the owner role makes it, and the viewer reads it.
func TestOnAnotherServerTheHistoryIsWrittenWithTheOwnerCredentials(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	hosts := []string{"127.0.0.1", "localhost"}
	w := newWorld(t, func(c *scheduler.PipelineConfig) { c.AllowedDBHosts = hosts })
	w.scanner.Close()
	w.scanner = scheduler.NewScanner(scheduler.ScannerConfig{DB: w.env.DB, Cipher: w.env.Cipher, Enqueue: w.pipeline.Enqueue,
		AllowedDBHosts: hosts, Logger: w.env.Logger})
	t.Cleanup(w.scanner.Close)
	u, err := w.env.DB.Users().ByName(ctx, w.user)
	if err != nil {
		t.Fatal(err)
	}
	if w.env.DB.Host() == "localhost" {
		t.Skip("the master database is reached as localhost: no second name for the server")
	}
	if _, err := w.env.DB.Credentials(w.env.Cipher).Set(ctx, u.ID, "db_host", "localhost", false); err != nil {
		t.Fatal(err)
	}
	dbname := cg.KindQOR.DatabaseName(w.user)
	dbtest.Exec(t, dbname, "DROP SCHEMA cg_history CASCADE") // as on a server the service did not provision
	w.createTable(t, cg.KindQOR, "aes_nangate45_r1", grafanatest.SampleRun{Design: "aes", Platform: "nangate45", RunID: "r1"})
	w.scan(t)
	w.waitPosted(t, 1, 3*time.Minute)
	var owner string
	if err := dbtest.Connect(t, dbname).QueryRow(ctx, "SELECT tableowner FROM pg_tables WHERE schemaname = 'cg_history' AND tablename = 'runs'").Scan(&owner); err != nil {
		t.Fatalf("no history table: %v", err)
	}
	if owner != db.OwnerRole(w.user) {
		t.Errorf("the history on another server is owned by %s, want the user's owner role %s", owner, db.OwnerRole(w.user))
	}
	var design string
	if err := roleConn(t, w.user, cg.KindQOR, db.ViewerRole(w.user)).QueryRow(ctx, "SELECT design FROM cg_history.runs WHERE table_name = 'aes_nangate45_r1'").Scan(&design); err != nil || design != "aes" {
		t.Errorf("the viewer reads design %q (%v), want aes", design, err)
	}
}
