package commands_test

import (
	"context"
	"math"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"credential-grafana/cg"
	"credential-grafana/commands"
	"credential-grafana/commands/commandstest"
	"credential-grafana/db"
	"credential-grafana/db/dbtest"
	"credential-grafana/grafana"
	"credential-grafana/grafana/grafanatest"
	"credential-grafana/scheduler"
)

// oddTable is a run table whose name has what breaks naive SQL and URLs: quotes, a
// space, a semicolon, a Grafana variable and a percent sign.
const oddTable = `gcd run '3"; $b 100%`

// compareWorld is two tenants with real OpenROAD timing runs recorded: alice has three
// runs of one design, scaled per run (1, 1.25, and 0.8 written in the other time unit),
// bob has a run of alice's first run's name and one of his own.
type compareWorld struct {
	env          *commandstest.Env
	g            *grafanatest.Server
	alice, bob   string
	aliceActor   commands.Actor
	bobActor     commands.Actor
	run          grafanatest.ORFSRun
	last         grafanatest.TimingStage
	unit, other  string // the run's time unit and the other one
	wantScale    map[string]float64
	wantInOther  map[string]bool
	aliceRecords map[string]int64
}

func newCompareWorld(t *testing.T) *compareWorld {
	t.Helper()
	runs, err := grafanatest.ORFSRuns()
	if err != nil {
		t.Fatal(err)
	}
	w := &compareWorld{wantScale: map[string]float64{"gcd_run_1": 1, "gcd_run_2": 1.25, oddTable: 0.8},
		wantInOther: map[string]bool{oddTable: true}, aliceRecords: map[string]int64{}}
	// A run whose last stage misses timing, so that every difference is non-zero.
	i := slices.IndexFunc(runs, func(r grafanatest.ORFSRun) bool {
		st := r.Timing()
		return len(st) > 0 && st[len(st)-1].WS < 0 && st[len(st)-1].Violations > 1
	})
	if i < 0 {
		t.Fatal("no OpenROAD run with failing setup timing")
	}
	w.run = runs[i]
	st := w.run.Timing()
	w.last = st[len(st)-1]
	w.unit, w.other = w.run.TimeUnit(), "ps"
	if w.unit == "ps" {
		w.other = "ns"
	}
	w.g = grafanatest.New(t)
	w.env = commandstest.New(t, withGrafana(w.g))
	ctx := context.Background()
	w.alice, w.bob = w.env.UniqueUser(t, "cmpa"), w.env.UniqueUser(t, "cmpb")
	for name, slackID := range map[string]string{w.alice: "U0CMPALICE", w.bob: "U0CMPBOBBY"} {
		if _, err := w.env.Service.CreateUser(ctx, commands.CLI, commands.CreateUserInput{Username: name, SlackUserID: slackID}); err != nil {
			t.Fatal(err)
		}
	}
	w.aliceActor = commands.Actor{Name: "slack:U0CMPALICE", SlackUserID: "U0CMPALICE"}
	w.bobActor = commands.Actor{Name: "slack:U0CMPBOBBY", SlackUserID: "U0CMPBOBBY"}
	for table, scale := range w.wantScale {
		w.aliceRecords[table] = w.recordTiming(t, w.alice, table, scale, w.wantInOther[table])
	}
	w.recordTiming(t, w.bob, "gcd_run_1", 2, false)
	w.recordTiming(t, w.bob, "bob_only", 3, false)
	// A QoR run of alice's named like one of her timing runs, and one of its own name.
	qor := db.RunFacts{Design: w.run.Design, Platform: w.run.Platform, RunID: "q1", Stage: "finish",
		Figures: []cg.Figure{{Name: "Area", Value: 100, Unit: "µm²", Decimals: 1}}}
	w.env.RecordRun(t, w.alice, cg.KindQOR, "gcd_run_2", qor)
	w.env.RecordRun(t, w.alice, cg.KindQOR, "gcd_qor_1", qor)
	return w
}

// recordTiming writes the run as a table of user's timing database with its slacks
// scaled (and, inOther, in the other time unit), reads its figures as the pipeline does
// and records them.
func (w *compareWorld) recordTiming(t *testing.T, user, table string, scale float64, inOther bool) int64 {
	t.Helper()
	ctx := context.Background()
	conn := dbtest.Connect(t, cg.KindTiming.DatabaseName(user))
	if err := grafanatest.CreateORFSRunTable(ctx, conn, cg.KindTiming, table, w.run); err != nil {
		t.Fatal(err)
	}
	factor, unit := scale, w.unit
	if inOther {
		unit = w.other
		if w.other == "ps" {
			factor *= 1000
		} else {
			factor /= 1000
		}
	}
	if _, err := conn.Exec(ctx, "UPDATE "+pgx.Identifier{table}.Sanitize()+" SET slack = slack * $1, time_unit = $2", factor, unit); err != nil {
		t.Fatal(err)
	}
	facts, err := scheduler.ReadRunFacts(ctx, conn, cg.KindTiming, table)
	if err != nil {
		t.Fatal(err)
	}
	return w.env.RecordRun(t, user, cg.KindTiming, table, facts.RunFacts)
}

// TestCompareRuns compares real OpenROAD runs recorded in one world of two tenants (see
// compareWorld): the differences, the comparison dashboard through Grafana, and the
// refusals. One world keeps the databases made (and dropped) few.
func TestCompareRuns(t *testing.T) {
	t.Parallel()
	w := newCompareWorld(t)
	t.Run("differences", func(t *testing.T) { testCompareDifferences(t, w) })
	t.Run("dashboard", func(t *testing.T) { testComparisonDashboard(t, w) })
	t.Run("refusals", func(t *testing.T) { testCompareRefusals(t, w) })
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

func figure(t *testing.T, c commands.Comparison, name string) commands.FigureChange {
	t.Helper()
	i := slices.IndexFunc(c.Figures, func(f commands.FigureChange) bool { return f.Name == name })
	if i < 0 {
		t.Fatalf("no %s in the comparison: %+v", name, c.Figures)
	}
	return c.Figures[i]
}

// testCompareDifferences compares real OpenROAD runs
// recorded with scaled slacks: WNS and TNS differ by the scale (in A's unit, whatever
// unit B was written in), better or worse as slack goes, and the violating endpoints do
// not change. The figures are the recorded ones: changing a table afterwards changes
// nothing.
func testCompareDifferences(t *testing.T, w *compareWorld) {
	ctx := context.Background()
	for _, tc := range []struct{ a, b string }{{"gcd_run_1", "gcd_run_2"}, {"gcd_run_2", oddTable}, {oddTable, "gcd_run_1"}} {
		c, err := w.env.Service.CompareRuns(ctx, w.aliceActor, "TIMING/"+tc.a, w.alice+"/TIMING/"+tc.b)
		if err != nil {
			t.Fatalf("compare %s %s: %v", tc.a, tc.b, err)
		}
		if c.A.Table != tc.a || c.B.Table != tc.b || c.A.User != w.alice || c.A.Kind != cg.KindTiming {
			t.Fatalf("compared %+v with %+v", c.A, c.B)
		}
		// Expected, from the run's METRICS2.1 numbers: A's unit is the one its table was
		// written in.
		unitA, toA := w.unit, 1.0
		if w.wantInOther[tc.a] {
			unitA = w.other
			toA = 1000
			if w.other == "ns" {
				toA = 0.001
			}
		}
		sa, sb := w.wantScale[tc.a], w.wantScale[tc.b]
		for _, f := range []struct {
			name string
			real float64
		}{{"WNS", w.last.WS}, {"TNS", w.last.TNS}} {
			got := figure(t, c, f.name)
			va, vb := f.real*sa*toA, f.real*sb*toA
			if got.Unit != unitA || got.A == nil || got.B == nil || !near(*got.A, va) || !near(*got.B, vb) {
				t.Errorf("%s vs %s, %s = %+v (a %v, b %v); want %v and %v %s", tc.a, tc.b, f.name, got, deref(got.A), deref(got.B), va, vb, unitA)
				continue
			}
			if !near(*got.Difference, vb-va) || got.Percent == nil || !near(*got.Percent, 100*(sb-sa)/sa*math.Copysign(1, f.real)) {
				t.Errorf("%s vs %s, %s: difference %v (%v%%), want %v (%v%%)", tc.a, tc.b, f.name, *got.Difference, deref(got.Percent), vb-va, 100*(sb-sa)/sa*math.Copysign(1, f.real))
			}
			// Slack is negative here: a larger scale is more negative, which is worse.
			want := commands.VerdictBetter
			if sb > sa {
				want = commands.VerdictWorse
			}
			if got.Verdict != want {
				t.Errorf("%s vs %s, %s is %s, want %s", tc.a, tc.b, f.name, got.Verdict, want)
			}
		}
		if nve := figure(t, c, "Violating endpoints"); nve.Verdict != commands.VerdictSame || *nve.A != float64(w.last.Violations) || *nve.Difference != 0 {
			t.Errorf("violating endpoints: %+v, want %d twice", nve, w.last.Violations)
		}
		// The link opens alice's comparison dashboard at the two tables.
		u, err := url.Parse(c.DashboardURL)
		if err != nil || c.DashboardNote != "" {
			t.Fatalf("dashboard link %q (%v), note %q", c.DashboardURL, err, c.DashboardNote)
		}
		if q := u.Query(); q.Get("var-a") != tc.a || q.Get("var-b") != tc.b || q.Get("orgId") != "1" ||
			!strings.HasPrefix(u.Path, "/d/"+grafana.CompareDashboardUID(w.alice, cg.KindTiming)+"/") {
			t.Errorf("dashboard link %s", c.DashboardURL)
		}
	}
	// One dashboard per user and kind, in the user's folder, serves every pair.
	var compares []grafanatest.Dashboard
	for _, d := range w.g.Dashboards() {
		if strings.HasSuffix(d.UID, "-compare") {
			compares = append(compares, d)
		}
	}
	if len(compares) != 1 || compares[0].UID != grafana.CompareDashboardUID(w.alice, cg.KindTiming) || compares[0].FolderUID != grafana.FolderUID(w.alice) || compares[0].Version != 1 {
		t.Fatalf("comparison dashboards: %+v", compares)
	}
	// The figures come from the record: emptying the table changes nothing.
	conn := dbtest.Connect(t, cg.KindTiming.DatabaseName(w.alice))
	if _, err := conn.Exec(ctx, "DELETE FROM gcd_run_1"); err != nil {
		t.Fatal(err)
	}
	c, err := w.env.Service.CompareRuns(ctx, w.aliceActor, "gcd_run_1", "TIMING/gcd_run_2")
	if err != nil {
		t.Fatal(err)
	}
	if wns := figure(t, c, "WNS"); !near(*wns.A, w.last.WS) {
		t.Errorf("WNS of an emptied table = %v, want the recorded %v", *wns.A, w.last.WS)
	}
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

// testComparisonDashboard runs every panel of the saved
// comparison dashboard through the fake Grafana, as alice's viewer role over her data
// source, with var-a and var-b interpolated as Grafana's PostgreSQL data source does: each
// panel has rows of both runs, a table name with quotes and a "$b" among them.
func testComparisonDashboard(t *testing.T, w *compareWorld) {
	ctx := context.Background()
	c, err := w.env.Service.CompareRuns(ctx, w.aliceActor, "gcd_run_1", oddTable)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(c.DashboardURL)
	vars := map[string]string{"a": u.Query().Get("var-a"), "b": u.Query().Get("var-b")}
	if vars["b"] != oddTable {
		t.Fatalf("var-b = %q, want %q", vars["b"], oddTable)
	}
	saved, ok := w.g.Dashboard(grafana.CompareDashboardUID(w.alice, cg.KindTiming))
	if !ok {
		t.Fatal("the comparison dashboard was not saved")
	}
	dash := grafana.Dashboard(saved.Model)
	if err := dash.CheckBoundTo(grafana.DataSourceUID(w.alice, cg.KindTiming)); err != nil {
		t.Fatal(err)
	}
	client, err := grafana.New(grafana.Config{BaseURL: w.g.URL, Token: cg.Secret(w.g.Token)})
	if err != nil {
		t.Fatal(err)
	}
	// The variables' own query lists alice's timing runs, both of them among them.
	for _, v := range dash.Variables() {
		res, err := client.Query(ctx, grafana.QueryRequest{Queries: []grafana.Query{{RefID: "A",
			DataSource: grafana.DataSourceRef{Type: grafana.PostgresType, UID: v.DataSourceUID}, RawSQL: v.Query}}})
		if err != nil || res.Err() != nil {
			t.Fatalf("variable $%s: %v %v", v.Name, err, res.Err())
		}
		if got := columnOf(res.Results["A"], "table_name"); !slices.Contains(got, "gcd_run_1") || !slices.Contains(got, oddTable) {
			t.Errorf("variable $%s lists %q", v.Name, got)
		}
	}
	panels := dash.Panels()
	if len(panels) < 3 {
		t.Fatalf("%d panels", len(panels))
	}
	for _, p := range panels {
		for _, q := range p.Queries {
			sql := grafana.InterpolateSQL(q.RawSQL, vars)
			res, err := client.Query(ctx, grafana.QueryRequest{Queries: []grafana.Query{{RefID: q.RefID,
				DataSource: grafana.DataSourceRef{Type: grafana.PostgresType, UID: q.DataSourceUID}, RawSQL: sql, Format: q.Format}}})
			if err != nil || res.Err() != nil {
				t.Fatalf("panel %q: %v %v\n%s", p.Title, err, res.Err(), sql)
			}
			r := res.Results[q.RefID]
			switch p.Title {
			case "Runs side by side":
				if got := columnOf(r, "Table"); !slices.Equal(got, []string{"gcd_run_1", oddTable}) {
					t.Errorf("%s: tables %q", p.Title, got)
				}
			case "Key figures side by side":
				figs := columnOf(r, "Figure")
				if !slices.Equal(figs, []string{"WNS (ns)", "TNS (ns)", "Violating endpoints"}) {
					t.Errorf("%s: figures %q", p.Title, figs)
				}
				a, b := numbersOf(r, "A"), numbersOf(r, "B")
				wantNS := w.last.WS
				if w.unit == "ps" {
					wantNS /= 1000
				}
				if len(a) != 3 || len(b) != 3 || !near(a[0], wantNS) || !near(b[0], wantNS*0.8) {
					t.Errorf("%s: A %v, B %v; want WNS %v and %v ns", p.Title, a, b, wantNS, wantNS*0.8)
				}
			default:
				if r.Rows() < 2 {
					t.Errorf("panel %q: %d rows, want a row per figure", p.Title, r.Rows())
				}
			}
		}
	}
}

func columnOf(r grafana.QueryResult, name string) []string {
	var out []string
	for _, f := range r.Frames {
		for i, fd := range f.Schema.Fields {
			if fd.Name == name {
				for _, v := range f.Data.Values[i] {
					s, _ := v.(string)
					out = append(out, s)
				}
			}
		}
	}
	return out
}

func numbersOf(r grafana.QueryResult, name string) []float64 {
	var out []float64
	for _, f := range r.Frames {
		for i, fd := range f.Schema.Fields {
			if fd.Name == name {
				for _, v := range f.Data.Values[i] {
					n, _ := v.(float64)
					out = append(out, n)
				}
			}
		}
	}
	return out
}

// testCompareRefusals: one table, the same run twice, an unknown
// table, another tenant's table (answered exactly as an unknown one, also when qualified
// with the other tenant's name), an ambiguous name (and the qualified forms that settle
// it), and runs of two kinds.
func testCompareRefusals(t *testing.T, w *compareWorld) {
	ctx := context.Background()
	fails := func(actor commands.Actor, a, b, code string, want ...string) string {
		t.Helper()
		_, err := w.env.Service.CompareRuns(ctx, actor, a, b)
		if cg.ErrorCode(err) != code {
			t.Fatalf("compare %q %q: %v (code %s), want %s", a, b, err, cg.ErrorCode(err), code)
		}
		msg := cg.ErrorMessage(err)
		for _, s := range want {
			if !strings.Contains(msg, s) {
				t.Errorf("compare %q %q: %q does not say %q", a, b, msg, s)
			}
		}
		return msg
	}
	fails(w.aliceActor, "gcd_run_1", "", cg.EINVALID, "two run tables are needed")
	fails(w.aliceActor, "gcd_run_1", w.alice+"/TIMING/gcd_run_1", cg.EINVALID, "compare two different runs")
	unknown := fails(w.aliceActor, "gcd_run_1", "no_such_run", cg.ENOTFOUND, "no run table `no_such_run` among your users")
	others := fails(w.aliceActor, "gcd_run_1", "bob_only", cg.ENOTFOUND)
	if strings.ReplaceAll(others, "bob_only", "no_such_run") != unknown {
		t.Errorf("another tenant's table answers %q, an unknown one %q", others, unknown)
	}
	qualified := fails(w.aliceActor, "gcd_run_1", w.bob+"/bob_only", cg.ENOTFOUND)
	if strings.ReplaceAll(qualified, w.bob+"/bob_only", "no_such_run") != unknown {
		t.Errorf("another tenant's qualified table answers %q", qualified)
	}
	// alice has gcd_run_2 in TIMING and QOR: ambiguous, and the kind settles it.
	fails(w.aliceActor, "gcd_run_1", "gcd_run_2", cg.EINVALID, "`gcd_run_2` is ambiguous",
		"`"+w.alice+"/TIMING/gcd_run_2`", "`"+w.alice+"/QOR/gcd_run_2`")
	// For bob, alice's gcd_run_1 is invisible: his own is not ambiguous. For an
	// administrator it is, and the user settles it.
	if _, err := w.env.Service.CompareRuns(ctx, w.bobActor, "gcd_run_1", "bob_only"); err != nil {
		t.Fatalf("bob compares his runs: %v", err)
	}
	msg := fails(commands.CLI, "gcd_run_1", "bob_only", cg.EINVALID, "ambiguous", "`"+w.alice+"/TIMING/gcd_run_1`", "`"+w.bob+"/TIMING/gcd_run_1`")
	if strings.Contains(msg, "bob_only") {
		t.Errorf("the ambiguity is about the other table: %q", msg)
	}
	if _, err := w.env.Service.CompareRuns(ctx, commands.CLI, w.bob+"/gcd_run_1", "bob_only"); err != nil {
		t.Fatalf("an administrator compares bob's runs, qualified: %v", err)
	}
	fails(w.aliceActor, "gcd_run_1", "gcd_qor_1", cg.EINVALID, "is a TIMING run", "a QOR run", "only runs of one kind can be compared")
	fails(w.aliceActor, "TIMING/gcd_run_1", "QOR/gcd_run_2", cg.EINVALID, "only runs of one kind")
	// Refusals made no dashboard; alice's and bob's comparisons made one each.
	var made []string
	for _, d := range w.g.Dashboards() {
		made = append(made, d.UID)
	}
	if want := []string{grafana.CompareDashboardUID(w.alice, cg.KindTiming), grafana.CompareDashboardUID(w.bob, cg.KindTiming)}; !slices.Equal(made, want) {
		t.Errorf("dashboards after the refusals: %q, want only %q", made, want)
	}
}
