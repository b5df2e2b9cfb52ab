package grafana_test

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"credential-grafana/cg"
	"credential-grafana/db"
	"credential-grafana/db/dbtest"
	"credential-grafana/grafana"
	"credential-grafana/grafana/grafanatest"
	"credential-grafana/scheduler"
)

// scaledRun is run with every number scaled by f (counts stay whole), named name: one
// more run of the same design.
func scaledRun(run grafanatest.ORFSRun, name string, f float64) grafanatest.ORFSRun {
	m := maps.Clone(run.Metrics)
	for k, v := range m {
		if x, ok := v.(float64); ok {
			if x == math.Trunc(x) {
				m[k] = math.Round(x * f)
			} else {
				m[k] = x * f
			}
		}
	}
	run.Metrics, run.Name = m, name
	return run
}

// trendWorld is a user "alice" with three run databases (one viewer role), provisioned
// in a fake Grafana, and runs of one design written into each as a flow would, with
// their summary rows in cg_history.runs.
type trendWorld struct {
	fake    *grafanatest.Server
	client  *grafana.Client
	tpl     *grafana.Templates
	prov    grafana.ProvisionResult
	design  string
	runs    int
	figures map[cg.Kind][][]cg.Figure // per kind, per run in order
	urls    map[cg.Kind][]string      // each run's dashboard URL
	tables  map[cg.Kind][]string
}

func newTrendWorld(t *testing.T, design string, runs int) *trendWorld {
	t.Helper()
	ctx := ctxT(t)
	all, err := grafanatest.ORFSRuns()
	if err != nil {
		t.Fatal(err)
	}
	var base grafanatest.ORFSRun
	for _, r := range all {
		if r.Name == "nangate45_gcd" {
			base = r
		}
	}
	base.Design = design
	u := newUserDB(t)
	dbs := map[cg.Kind]string{cg.KindTiming: u.Name}
	conns := map[cg.Kind]*pgx.Conn{cg.KindTiming: u.Conn}
	for _, k := range []cg.Kind{cg.KindQOR, cg.KindDRC} {
		name, _ := dbtest.NewDatabase(t)
		dbs[k], conns[k] = name, dbtest.Connect(t, name)
	}
	w := &trendWorld{design: design, runs: runs, figures: map[cg.Kind][][]cg.Figure{}, urls: map[cg.Kind][]string{}, tables: map[cg.Kind][]string{}}
	start := time.Now().Add(-time.Duration(runs+1) * 24 * time.Hour).Truncate(time.Second)
	for _, k := range cg.Kinds {
		conn := conns[k]
		if err := db.EnsureHistory(ctx, conn, "", u.Viewer); err != nil {
			t.Fatal(err)
		}
		for i := range runs {
			run := scaledRun(base, fmt.Sprintf("nangate45_gcd_r%d", i+1), 1+0.1*float64(i))
			table := fmt.Sprintf("%s_gcd_r%d", k.Slug(), i+1)
			if err := grafanatest.CreateORFSRunTable(ctx, conn, k, table, run); err != nil {
				t.Fatal(err)
			}
			facts, err := scheduler.ReadRunFacts(ctx, conn, k, table)
			if err != nil {
				t.Fatal(err)
			}
			uid := grafana.DashboardUID("alice", k, table)
			url := "http://grafana.example/d/" + uid + "/run?orgId=1"
			if err := db.RecordRun(ctx, conn, db.RunSummary{Table: table, Kind: k, Design: facts.Design, Platform: facts.Platform,
				RunID: facts.RunID, Stage: facts.Stage, RecordedAt: start.Add(time.Duration(i) * 24 * time.Hour),
				DashboardUID: uid, DashboardURL: url, Figures: facts.Figures}); err != nil {
				t.Fatal(err)
			}
			w.figures[k] = append(w.figures[k], facts.Figures)
			w.urls[k] = append(w.urls[k], url)
			w.tables[k] = append(w.tables[k], table)
		}
	}
	// Another design's runs, which the trend must leave out.
	if err := db.RecordRun(ctx, conns[cg.KindTiming], db.RunSummary{Table: "timing_aes_1", Kind: cg.KindTiming, Design: "aes", Platform: "nangate45",
		RecordedAt: time.Now(), Figures: []cg.Figure{{Name: "WNS", Value: -99, Unit: "ns"}}}); err != nil {
		t.Fatal(err)
	}
	for _, name := range dbs {
		dbtest.Exec(t, name, "GRANT CONNECT ON DATABASE "+pgx.Identifier{name}.Sanitize()+" TO "+pgx.Identifier{u.Viewer}.Sanitize())
	}
	w.fake = grafanatest.New(t)
	w.client = newClient(t, w.fake)
	host, port := pgHostPort(t)
	if w.prov, err = w.client.ProvisionUser(ctx, grafana.ProvisionRequest{User: "alice", Host: host, Port: port, SSLMode: "disable",
		Viewer: u.Viewer, ViewerPassword: u.Password, Databases: dbs}); err != nil {
		t.Fatal(err)
	}
	if w.tpl, err = grafana.LoadTemplates(""); err != nil {
		t.Fatal(err)
	}
	return w
}

// figure returns the named figure of run i of kind.
func (w *trendWorld) figure(t *testing.T, k cg.Kind, i int, name string) (cg.Figure, bool) {
	for _, f := range w.figures[k][i] {
		if f.Name == name {
			return f, true
		}
	}
	return cg.Figure{}, false
}

// panelFigures maps the trend panels to the figure (and kind) they show.
var panelFigures = map[string]struct {
	kind cg.Kind
	name string
}{
	"WNS": {cg.KindTiming, "WNS"}, "TNS": {cg.KindTiming, "TNS"}, "Violating endpoints": {cg.KindTiming, "Violating endpoints"},
	"Area": {cg.KindQOR, "Area"}, "Utilisation": {cg.KindQOR, "Utilisation"}, "Cells": {cg.KindQOR, "Cells"}, "Power": {cg.KindQOR, "Power"},
	"DRC violations": {cg.KindDRC, "DRC violations"},
}

// TestTrendDashboardOnOpenROADRuns: four runs of gcd on nangate45 (the real OpenROAD
// run, scaled per run) in the user's three databases; the trend dashboard, saved in the
// strict fake, has every panel return rows through Grafana, each series' latest point
// and each "Latest" stat is the last run's figure, the series have one point per run,
// and the run tables link every row to that run's dashboard.
func TestTrendDashboardOnOpenROADRuns(t *testing.T) {
	t.Parallel()
	w := newTrendWorld(t, "gcd", 4)
	ctx := ctxT(t)
	dash, uid, err := w.tpl.RenderTrend(grafana.TrendRequest{User: "alice", Design: "gcd", Platform: "nangate45"})
	if err != nil {
		t.Fatal(err)
	}
	if dash.Title() != "Trend · gcd · nangate45" || len(uid) > grafana.MaxUIDLength || uid != grafana.TrendUID("alice", "gcd", "nangate45") {
		t.Fatalf("title %q, uid %q", dash.Title(), uid)
	}
	if _, err := w.client.SaveDashboard(ctx, grafana.SaveDashboardRequest{Dashboard: dash, FolderUID: w.prov.FolderUID, Overwrite: true}); err != nil {
		t.Fatal(err)
	}
	stored, err := w.client.GetDashboard(ctx, uid)
	if err != nil {
		t.Fatal(err)
	}
	d := grafana.Dashboard(stored.Dashboard)
	if err := d.CheckBoundToAny(grafana.TrendDataSources("alice")...); err != nil {
		t.Fatal(err)
	}
	rows, err := w.client.CheckTrend(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, p := range d.Panels() {
		kinds[p.DataSourceUID] = true
		if rows[p.Title] == 0 {
			t.Errorf("panel %q returned no rows", p.Title)
		}
	}
	if len(kinds) != 3 {
		t.Errorf("the panels read %d data sources, want the user's 3", len(kinds))
	}
	from, to := d.TimeRange()
	checked := 0
	for _, p := range d.Panels() {
		q := p.Queries[0]
		resp, err := w.client.Query(ctx, grafana.QueryRequest{From: from, To: to, Queries: []grafana.Query{{RefID: "A", DataSource: grafana.DataSourceRef{Type: grafana.PostgresType, UID: q.DataSourceUID}, RawSQL: q.RawSQL, Format: q.Format}}})
		if err != nil {
			t.Fatal(err)
		}
		res := resp.Results["A"]
		if res.Error != "" || len(res.Frames) != 1 {
			t.Fatalf("panel %q: %s (%d frames)", p.Title, res.Error, len(res.Frames))
		}
		f := res.Frames[0]
		col := func(name string) []any {
			for i, fl := range f.Schema.Fields {
				if fl.Name == name {
					return f.Data.Values[i]
				}
			}
			t.Fatalf("panel %q has no column %q", p.Title, name)
			return nil
		}
		name := strings.TrimSuffix(strings.TrimPrefix(p.Title, "Latest "), " across runs")
		if pf, ok := panelFigures[name]; ok {
			last, ok := w.figure(t, pf.kind, w.runs-1, pf.name)
			if !ok {
				t.Fatalf("the last run has no %s", pf.name)
			}
			want := last.Value
			if last.Unit == "ps" {
				want /= 1000
			}
			values := col(name)
			if p.Type == "timeseries" && len(values) != w.runs {
				t.Errorf("panel %q: %d points, want one per run (%d)", p.Title, len(values), w.runs)
			}
			got, _ := values[len(values)-1].(float64)
			if math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
				t.Errorf("panel %q: latest %v, want the last run's %v", p.Title, got, want)
			}
			if p.Type == "timeseries" {
				first, _ := values[0].(float64)
				if first0, _ := w.figure(t, pf.kind, 0, pf.name); first == got && first0.Value != last.Value {
					t.Errorf("panel %q: the first and last points are equal, but the runs differ", p.Title)
				}
			}
			checked++
			continue
		}
		// A table of runs: every run, the latest first, each linking to its dashboard.
		var kind cg.Kind
		for _, k := range cg.Kinds {
			if grafana.DataSourceUID("alice", k) == p.DataSourceUID {
				kind = k
			}
		}
		urls, tables := col("dashboard_url"), col("Table")
		if len(urls) != w.runs {
			t.Fatalf("panel %q: %d rows, want %d runs", p.Title, len(urls), w.runs)
		}
		for i := range urls {
			j := w.runs - 1 - i
			if urls[i] != w.urls[kind][j] || tables[i] != w.tables[kind][j] {
				t.Errorf("panel %q row %d: %v → %v, want %s → %s", p.Title, i, tables[i], urls[i], w.tables[kind][j], w.urls[kind][j])
			}
		}
		if link := tableLink(t, d, p.Title); link != "${__data.fields.dashboard_url}" {
			t.Errorf("panel %q: the Table column links to %q", p.Title, link)
		}
		checked++
	}
	if checked != 8*2+3 {
		t.Errorf("%d panels checked, want 19 (a series and a stat per figure, a table per kind)", checked)
	}
}

// tableLink returns the data link URL of the "Table" column of the panel titled title.
func tableLink(t *testing.T, d grafana.Dashboard, title string) string {
	ps, _ := d["panels"].([]any)
	for _, p := range ps {
		pm := p.(map[string]any)
		if pm["title"] != title {
			continue
		}
		fc := pm["fieldConfig"].(map[string]any)
		for _, o := range fc["overrides"].([]any) {
			om := o.(map[string]any)
			if m := om["matcher"].(map[string]any); m["id"] != "byName" || m["options"] != "Table" {
				continue
			}
			for _, pr := range om["properties"].([]any) {
				prm := pr.(map[string]any)
				if prm["id"] == "links" {
					return prm["value"].([]any)[0].(map[string]any)["url"].(string)
				}
			}
		}
	}
	return ""
}

// TestTrendDashboardOfAnOddDesignName: a design name from a tenant's table with quotes,
// a Grafana variable, a macro call, brackets and a backslash is bound as a literal:
// the panels return exactly that design's runs and Grafana expands nothing in it.
func TestTrendDashboardOfAnOddDesignName(t *testing.T) {
	t.Parallel()
	design := `it's "x" $__timeFilter(y) ${stage} [[v]] \ ' OR '1'='1`
	w := newTrendWorld(t, design, 2)
	ctx := ctxT(t)
	dash, uid, err := w.tpl.RenderTrend(grafana.TrendRequest{User: "alice", Design: design, Platform: "nangate45"})
	if err != nil {
		t.Fatal(err)
	}
	if len(uid) > grafana.MaxUIDLength || strings.ContainsAny(uid, ` '"$[]\`) {
		t.Fatalf("uid %q", uid)
	}
	if _, err := w.client.SaveDashboard(ctx, grafana.SaveDashboardRequest{Dashboard: dash, FolderUID: w.prov.FolderUID, Overwrite: true}); err != nil {
		t.Fatal(err)
	}
	for _, p := range dash.Panels() {
		// What Grafana's frontend sends: variables interpolated (none must match).
		if got := grafana.InterpolateSQL(p.Queries[0].RawSQL, map[string]string{"stage": "X", "v": "X"}); got != p.Queries[0].RawSQL {
			t.Errorf("panel %q: Grafana would interpolate a variable in the design name", p.Title)
		}
	}
	rows, err := w.client.CheckTrend(ctx, dash)
	if err != nil {
		t.Fatal(err)
	}
	if rows["Timing runs"] != 2 || rows["WNS across runs"] != 2 {
		t.Errorf("rows %v: want the design's 2 runs", rows)
	}
}

// TestTrendDashboardIsBoundToTheUsersOwnDataSources: the rendered dashboard names only
// alice's three data sources, and one that names another's is refused.
func TestTrendDashboardIsBoundToTheUsersOwnDataSources(t *testing.T) {
	tpl, err := grafana.LoadTemplates("")
	if err != nil {
		t.Fatal(err)
	}
	dash, _, err := tpl.RenderTrend(grafana.TrendRequest{User: "alice", Design: "gcd", Platform: "nangate45"})
	if err != nil {
		t.Fatal(err)
	}
	if err := dash.CheckBoundToAny(grafana.TrendDataSources("alice")...); err != nil {
		t.Fatal(err)
	}
	if err := dash.CheckBoundToAny(grafana.TrendDataSources("bob")...); cg.ErrorCode(err) != cg.EFORBIDDEN {
		t.Fatalf("bound to bob's: %v", err)
	}
	ps := dash["panels"].([]any)
	ps[len(ps)-1].(map[string]any)["targets"].([]any)[0].(map[string]any)["datasource"] = map[string]any{"type": grafana.PostgresType, "uid": grafana.DataSourceUID("bob", cg.KindDRC)}
	err = dash.CheckBoundToAny(grafana.TrendDataSources("alice")...)
	if cg.ErrorCode(err) != cg.EFORBIDDEN || !strings.Contains(err.Error(), grafana.DataSourceUID("bob", cg.KindDRC)) {
		t.Fatalf("a query through bob's DRC data source: %v", err)
	}
	if _, _, err := tpl.RenderTrend(grafana.TrendRequest{User: "alice", Design: " ", Platform: "nangate45"}); cg.ErrorCode(err) != cg.EINVALID {
		t.Fatalf("a design without a name: %v", err)
	}
}

// TestTrendTemplateIsValidated: the trend template is refused when a panel reads
// through something other than the user's data sources, or without the design filter.
func TestTrendTemplateIsValidated(t *testing.T) {
	good := `{"uid": "${__cg.uid}", "title": "${__cg.title}", "schemaVersion": 42, "panels": [{"id": 1, "type": "stat", "title": "P", "pluginVersion": "13.2.0",
		"datasource": {"type": "grafana-postgresql-datasource", "uid": "${__cg.datasource_qor}"},
		"targets": [{"refId": "A", "rawSql": "SELECT 1 FROM cg_history.runs WHERE design = ${__cg.design} AND platform = ${__cg.platform}"}]}]}`
	if err := grafana.ValidateTrendTemplate("trend.json", []byte(good)); err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string]string{
		"another data source": strings.Replace(good, "${__cg.datasource_qor}", "${__cg.datasource}", 1),
		"no design filter":    strings.Replace(good, "design = ${__cg.design} AND ", "", 1),
		"design out of SQL":   strings.Replace(good, `"title": "P"`, `"title": "P ${__cg.design}"`, 1),
		"run table":           strings.Replace(good, "SELECT 1", "SELECT ${__cg.table}", 1),
		"old schema":          strings.Replace(good, "42", "41", 1),
	} {
		var te *grafana.TemplateError
		if err := grafana.ValidateTrendTemplate("trend.json", []byte(bad)); !errors.As(err, &te) {
			t.Errorf("%s: accepted (%v)", name, err)
		}
	}
}

// TestQuoteLiteral: a value becomes one PostgreSQL string literal holding exactly it.
func TestQuoteLiteral(t *testing.T) {
	conn := dbtest.Connect(t, "postgres")
	for _, s := range []string{"gcd", "it's", `a\b`, "$__timeFilter(x)", "${v} [[w]] $x", "é ' \" ;--", ""} {
		var got string
		if err := conn.QueryRow(ctxT(t), "SELECT "+grafana.QuoteLiteral(s)).Scan(&got); err != nil || got != s {
			t.Errorf("%q → %s → %q, %v", s, grafana.QuoteLiteral(s), got, err)
		}
		if strings.Contains(grafana.QuoteLiteral(s), "$") {
			t.Errorf("%q → %s: Grafana would see a variable or macro", s, grafana.QuoteLiteral(s))
		}
	}
}
