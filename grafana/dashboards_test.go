package grafana_test

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"credential-grafana/cg"
	"credential-grafana/grafana"
	"credential-grafana/grafana/grafanatest"
)

// hostileTables are table names that break naive quoting: quotes, spaces, Grafana
// variables, backslashes, unicode, SQL and the 63-byte maximum.
func hostileTables(kind cg.Kind) []string {
	step := kind.StepVariable()
	return []string{
		`it's a "quoted" table`,
		"with space ünïcødé 表",
		"x$" + step,
		"run $" + step + " ${" + step + "} [[" + step + "]] ${" + step + ":csv}",
		`back\slash\`,
		"t; DROP TABLE x; --",
		"UPPER_Case",
		strings.Repeat("é", 31) + "x", // 63 bytes
		"$" + step + strings.Repeat("a", 63-len(step)-1), // 63 bytes, starting with a variable
	}
}

// TestDashboardsQueryRealTables renders each kind's dashboard for realistic tables
// (and for hostile table names), saves it in the fake Grafana, and runs every panel's
// SQL and the step variable's query through POST /api/ds/query as the read-only viewer,
// for every step: no query fails, every panel has rows at some step, and the stat
// panels show the sample's key figures.
func TestDashboardsQueryRealTables(t *testing.T) {
	t.Parallel()
	tpl, err := grafana.LoadTemplates("")
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range cg.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			ctx := ctxT(t)
			u := newUserDB(t)
			type table struct {
				name string
				run  grafanatest.SampleRun
			}
			tables := []table{
				{"gcd_nangate45_20250205t0129", grafanatest.SampleRun{}},
				{"minimal_columns", grafanatest.SampleRun{MinimalColumns: true, Seed: 2}},
				{"aes_asap7_ps", grafanatest.SampleRun{Design: "aes", Platform: "asap7", TimeUnit: "ps", Seed: 3}},
			}
			for i, name := range hostileTables(kind) {
				tables = append(tables, table{name, grafanatest.SampleRun{Seed: int64(10 + i)}})
			}
			for _, tb := range tables {
				if len(tb.name) > 63 {
					t.Fatalf("test table name %q is %d bytes", tb.name, len(tb.name))
				}
				if err := grafanatest.CreateRunTable(ctx, u.Conn, kind, tb.name, tb.run); err != nil {
					t.Fatal(err)
				}
			}
			u.grantViewer(t)

			fake := grafanatest.New(t)
			client := newClient(t, fake)
			host, port := pgHostPort(t)
			prov, err := client.ProvisionUser(ctx, grafana.ProvisionRequest{
				User: "alice", Host: host, Port: port, SSLMode: "disable", Viewer: u.Viewer, ViewerPassword: u.Password,
				Databases: map[cg.Kind]string{cg.KindTiming: u.Name, cg.KindQOR: u.Name, cg.KindDRC: u.Name},
			})
			if err != nil {
				t.Fatal(err)
			}
			dsUID := prov.DataSourceUIDs[kind]

			for _, tb := range tables {
				t.Run(tb.name, func(t *testing.T) {
					// The table fits its contract.
					rows, err := u.Conn.Query(ctx, `SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1`, tb.name)
					if err != nil {
						t.Fatal(err)
					}
					var cols []grafana.Column
					for rows.Next() {
						var c grafana.Column
						if err := rows.Scan(&c.Name, &c.DataType); err != nil {
							t.Fatal(err)
						}
						cols = append(cols, c)
					}
					if compat := grafana.CheckColumns(kind, cols); !compat.OK {
						t.Fatalf("sample table %s: %s", tb.name, compat.Message)
					}

					dash, uid, err := tpl.Render(grafana.RenderRequest{User: "alice", Kind: kind, Table: tb.name, DataSourceUID: dsUID,
						Run: grafana.RunInfo{Design: "gcd", Platform: "nangate45", RunID: tb.name, TimeUnit: tb.run.TimeUnit}})
					if err != nil {
						t.Fatal(err)
					}
					saved, err := client.SaveDashboard(ctx, grafana.SaveDashboardRequest{Dashboard: dash, FolderUID: prov.FolderUID, Overwrite: true})
					if err != nil {
						t.Fatal(err)
					}
					if saved.UID != uid || saved.URL != "/d/"+uid+"/"+saved.Slug {
						t.Fatalf("saved %+v, want uid %s", saved, uid)
					}
					// Work from what Grafana stored, as its frontend does.
					stored, err := client.GetDashboard(ctx, uid)
					if err != nil {
						t.Fatal(err)
					}
					d := grafana.Dashboard(stored.Dashboard)
					steps := stepValues(t, client, d, dsUID, kind)
					figs := grafanatest.ExpectedFigures(kind, tb.run)
					if checked, err := client.CheckDashboard(ctx, d, kind); err != nil || strings.Join(checked, ",") != strings.Join(figs.Steps, ",") {
						t.Fatalf("CheckDashboard = %v, %v; want steps %v", checked, err, figs.Steps)
					}
					if strings.Join(steps, ",") != strings.Join(figs.Steps, ",") {
						t.Fatalf("step variable gives %v, want %v", steps, figs.Steps)
					}
					panels := d.Panels()
					hadRows := map[string]bool{}
					for _, step := range steps {
						vars := map[string]string{kind.StepVariable(): step}
						req := grafana.QueryRequest{}
						refPanel := map[string]grafana.Panel{}
						for _, p := range panels {
							for _, q := range p.Queries {
								ref := fmt.Sprintf("p%d_%s", p.ID, q.RefID)
								refPanel[ref] = p
								req.Queries = append(req.Queries, grafana.Query{RefID: ref, DataSource: grafana.DataSourceRef{Type: grafana.PostgresType, UID: dsUID},
									RawSQL: grafana.InterpolateSQL(q.RawSQL, vars), Format: q.Format})
							}
						}
						resp, err := client.Query(ctx, req)
						if err != nil {
							t.Fatal(err)
						}
						for ref, p := range refPanel {
							res, ok := resp.Results[ref]
							if !ok {
								t.Fatalf("step %s: no result for panel %q", step, p.Title)
							}
							if res.Error != "" {
								t.Fatalf("step %s: panel %q failed: %s", step, p.Title, res.Error)
							}
							if res.Rows() > 0 {
								hadRows[p.Title] = true
							}
						}
						checkFigures(t, kind, step, figs, resp, panels)
					}
					for _, p := range panels {
						if !hadRows[p.Title] {
							t.Errorf("panel %q returned no rows at any step", p.Title)
						}
					}
				})
			}
		})
	}
}

// stepValues runs the step variable's query as Grafana does.
func stepValues(t *testing.T, client *grafana.Client, d grafana.Dashboard, dsUID string, kind cg.Kind) []string {
	t.Helper()
	for _, v := range d.Variables() {
		if v.Name != kind.StepVariable() {
			continue
		}
		resp, err := client.Query(ctxT(t), grafana.QueryRequest{Queries: []grafana.Query{{RefID: "A", DataSource: grafana.DataSourceRef{UID: dsUID}, RawSQL: v.Query}}})
		if err != nil {
			t.Fatal(err)
		}
		if err := resp.Err(); err != nil {
			t.Fatalf("step variable query: %v", err)
		}
		var out []string
		for _, val := range resp.Results["A"].Frames[0].Data.Values[0] {
			out = append(out, fmt.Sprint(val))
		}
		return out
	}
	t.Fatalf("no variable %s", kind.StepVariable())
	return nil
}

// statValue is the single value of the stat panel with this title.
func statValue(t *testing.T, resp grafana.QueryResponse, panels []grafana.Panel, title string) any {
	t.Helper()
	for _, p := range panels {
		if p.Title == title {
			res := resp.Results[fmt.Sprintf("p%d_%s", p.ID, p.Queries[0].RefID)]
			if res.Rows() != 1 {
				t.Fatalf("stat %q has %d rows", title, res.Rows())
			}
			return res.Frames[0].Data.Values[0][0]
		}
	}
	t.Fatalf("no panel %q", title)
	return nil
}

func near(got any, want float64) bool {
	f, ok := got.(float64)
	return ok && math.Abs(f-want) <= 1e-6*math.Max(1, math.Abs(want))
}

func checkFigures(t *testing.T, kind cg.Kind, step string, figs grafanatest.Figures, resp grafana.QueryResponse, panels []grafana.Panel) {
	t.Helper()
	switch kind {
	case cg.KindTiming:
		want := figs.Timing[step]
		if got := statValue(t, resp, panels, "WNS (setup)"); !near(got, want.WNS) {
			t.Errorf("stage %s: WNS %v, want %v", step, got, want.WNS)
		}
		if got := statValue(t, resp, panels, "TNS (setup)"); !near(got, want.TNS) {
			t.Errorf("stage %s: TNS %v, want %v", step, got, want.TNS)
		}
		if got := statValue(t, resp, panels, "Violating endpoints (setup)"); !near(got, float64(want.ViolatingEndpoints)) {
			t.Errorf("stage %s: violating endpoints %v, want %v", step, got, want.ViolatingEndpoints)
		}
		if got := statValue(t, resp, panels, "Stage"); got != step {
			t.Errorf("stage panel shows %v, want %s", got, step)
		}
	case cg.KindQOR:
		want := figs.QOR[step]
		if got := statValue(t, resp, panels, "Instance area"); !near(got, want.Area) {
			t.Errorf("stage %s: area %v, want %v", step, got, want.Area)
		}
		if got := statValue(t, resp, panels, "Instances"); !near(got, want.Instances) {
			t.Errorf("stage %s: instances %v, want %v", step, got, want.Instances)
		}
		if !math.IsNaN(want.PowerW) {
			if got := statValue(t, resp, panels, "Total power"); !near(got, want.PowerW) {
				t.Errorf("stage %s: power %v, want %v", step, got, want.PowerW)
			}
		}
	case cg.KindDRC:
		var it int
		fmt.Sscan(step, &it)
		if got := statValue(t, resp, panels, "Violations"); !near(got, float64(figs.DRCByIteration[it])) {
			t.Errorf("iteration %s: violations %v, want %v", step, got, figs.DRCByIteration[it])
		}
		if got := statValue(t, resp, panels, "Final violations"); !near(got, float64(figs.FinalViolations)) {
			t.Errorf("final violations %v, want %v", got, figs.FinalViolations)
		}
	}
}

// TestCheckDashboardNamesTheFailingPanel: a table that lacks a column the SQL needs
// fails in Grafana's query path, and the check says which panel and why.
func TestCheckDashboardNamesTheFailingPanel(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	u := newUserDB(t)
	if _, err := u.Conn.Exec(ctx, `CREATE TABLE run1 (stage text, corner text, check_type text, path_group text, startpoint text, endpoint text, arrival float8, required float8);
		INSERT INTO run1 VALUES ('finish', 'default', 'setup', 'clk', 'a', 'b', 1, 2)`); err != nil {
		t.Fatal(err)
	}
	u.grantViewer(t)
	fake := grafanatest.New(t)
	client := newClient(t, fake)
	host, port := pgHostPort(t)
	ds := fake.AddDataSource(grafanatest.DataSource{Name: "t", Type: grafana.PostgresType, URL: fmt.Sprintf("%s:%d", host, port), User: u.Viewer,
		JSONData: map[string]any{"database": u.Name, "sslmode": "disable"}, SecureJSONData: map[string]string{"password": u.Password.Reveal()}})
	tpl, err := grafana.LoadTemplates("")
	if err != nil {
		t.Fatal(err)
	}
	d, _, err := tpl.Render(grafana.RenderRequest{User: "alice", Kind: cg.KindTiming, Table: "run1", DataSourceUID: ds.UID})
	if err != nil {
		t.Fatal(err)
	}
	steps, err := client.CheckDashboard(ctx, d, cg.KindTiming)
	if !errors.Is(err, grafana.ErrPanelQuery) || !strings.Contains(err.Error(), `panel "WNS (setup)": db query error: ERROR: column "slack" does not exist`) {
		t.Errorf("CheckDashboard = %v", err)
	}
	if len(steps) != 1 || steps[0] != "finish" {
		t.Errorf("steps %v", steps)
	}
}
