package grafana_test

import (
	"fmt"
	"strings"
	"testing"

	"credential-grafana/cg"
	"credential-grafana/grafana"
	"credential-grafana/grafana/grafanatest"
)

// absentOnORFS says whether the real run lacks what a panel shows at a step value, read
// from the run's METRICS2.1 file rather than from the table: those panels must say so
// in words (fieldConfig.defaults.noValue), every other panel must show a value.
func absentOnORFS(run grafanatest.ORFSRun, kind cg.Kind, panel, step string) bool {
	hasAny := func(metrics ...string) bool {
		for _, m := range metrics {
			if run.HasQOR(step, m) {
				return true
			}
		}
		return false
	}
	switch kind {
	case cg.KindTiming:
		return panel == "WNS (hold)" // the reference runs report setup timing only
	case cg.KindQOR:
		switch panel {
		case "Instance area":
			return !hasAny("design__instance__area", "design__instance__area__stdcell")
		case "Utilisation":
			return !hasAny("design__instance__utilization", "design__instance__utilization__stdcell")
		case "Instances":
			return !hasAny("design__instance__count", "design__instance__count__stdcell")
		case "Total power":
			return !hasAny("power__total")
		case "Power breakdown":
			return !hasAny("power__internal__total", "power__switching__total", "power__leakage__total")
		}
	case cg.KindDRC:
		switch panel {
		case "Violations by rule and layer", "Marker locations", "Markers":
			for _, it := range run.DRC() {
				if fmt.Sprint(it.Iteration) == step {
					return it.Violations == 0
				}
			}
		}
	}
	return false
}

// hasValue reports whether a query result holds at least one non-null value.
func hasValue(res grafana.QueryResult) bool {
	for _, f := range res.Frames {
		for _, col := range f.Data.Values {
			for _, v := range col {
				if v != nil {
					return true
				}
			}
		}
	}
	return false
}

// TestTemplatesOnOpenROADRuns loads the 12 real OpenROAD-flow-scripts runs as a flow
// would, renders each kind's dashboard, and runs every panel at every step value through
// the fake Grafana as the read-only viewer: a panel shows a value wherever the run has
// the data (falling back to the metric names the run does have), and where the run lacks
// it the panel says so in words instead of "No data".
func TestTemplatesOnOpenROADRuns(t *testing.T) {
	t.Parallel()
	runs, err := grafanatest.ORFSRuns()
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 12 {
		t.Fatalf("%d ORFS runs, want 12", len(runs))
	}
	tpl, err := grafana.LoadTemplates("")
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	u := newUserDB(t)
	for _, run := range runs {
		for _, kind := range cg.Kinds {
			if err := grafanatest.CreateORFSRunTable(ctx, u.Conn, kind, kind.Slug()+"_"+run.Name, run); err != nil {
				t.Fatal(err)
			}
		}
	}
	u.grantViewer(t)
	fake := grafanatest.New(t)
	client := newClient(t, fake)
	host, port := pgHostPort(t)
	prov, err := client.ProvisionUser(ctx, grafana.ProvisionRequest{User: "alice", Host: host, Port: port, SSLMode: "disable",
		Viewer: u.Viewer, ViewerPassword: u.Password, Databases: map[cg.Kind]string{cg.KindTiming: u.Name, cg.KindQOR: u.Name, cg.KindDRC: u.Name}})
	if err != nil {
		t.Fatal(err)
	}
	words := 0
	for _, kind := range cg.Kinds {
		for _, run := range runs {
			table := kind.Slug() + "_" + run.Name
			t.Run(table, func(t *testing.T) {
				dsUID := prov.DataSourceUIDs[kind]
				dash, uid, err := tpl.Render(grafana.RenderRequest{User: "alice", Kind: kind, Table: table, DataSourceUID: dsUID,
					Run: grafana.RunInfo{Design: run.Design, Platform: run.Platform, RunID: run.RunID(), TimeUnit: run.TimeUnit()}})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := client.SaveDashboard(ctx, grafana.SaveDashboardRequest{Dashboard: dash, FolderUID: prov.FolderUID, Overwrite: true}); err != nil {
					t.Fatal(err)
				}
				stored, err := client.GetDashboard(ctx, uid)
				if err != nil {
					t.Fatal(err)
				}
				d := grafana.Dashboard(stored.Dashboard)
				noValue := panelNoValues(d)
				steps := stepValues(t, client, d, dsUID, kind)
				if len(steps) < 2 {
					t.Fatalf("step values %v: the run has more stages or iterations", steps)
				}
				for _, step := range steps {
					vars := map[string]string{kind.StepVariable(): step}
					req := grafana.QueryRequest{}
					for _, p := range d.Panels() {
						for _, q := range p.Queries {
							req.Queries = append(req.Queries, grafana.Query{RefID: fmt.Sprintf("p%d_%s", p.ID, q.RefID), DataSource: grafana.DataSourceRef{Type: grafana.PostgresType, UID: dsUID},
								RawSQL: grafana.InterpolateSQL(q.RawSQL, vars), Format: q.Format})
						}
					}
					resp, err := client.Query(ctx, req)
					if err != nil {
						t.Fatalf("%s %s: %v", kind.StepVariable(), step, err)
					}
					for _, p := range d.Panels() {
						shown := false
						for _, q := range p.Queries {
							res := resp.Results[fmt.Sprintf("p%d_%s", p.ID, q.RefID)]
							if res.Error != "" {
								t.Fatalf("%s %s: panel %q failed: %s", kind.StepVariable(), step, p.Title, res.Error)
							}
							shown = shown || hasValue(res)
						}
						absent := absentOnORFS(run, kind, p.Title, step)
						switch {
						case shown:
						case !absent:
							t.Errorf("%s %s: panel %q shows nothing, but the run has its data", kind.StepVariable(), step, p.Title)
						case noValue[p.Title] == "" || strings.EqualFold(noValue[p.Title], "No data"):
							t.Errorf("%s %s: panel %q is empty and says \"No data\": give it fieldConfig.defaults.noValue in words", kind.StepVariable(), step, p.Title)
						default:
							words++
						}
					}
				}
			})
		}
	}
	if words == 0 {
		t.Errorf("no panel fell back to words: the runs lack some data (hold timing, power at synth), so this test checked nothing")
	}
}

// panelNoValues maps each panel's title to its fieldConfig.defaults.noValue.
func panelNoValues(d grafana.Dashboard) map[string]string {
	out := map[string]string{}
	ps, _ := d["panels"].([]any)
	for _, p := range ps {
		pm, _ := p.(map[string]any)
		title, _ := pm["title"].(string)
		fc, _ := pm["fieldConfig"].(map[string]any)
		def, _ := fc["defaults"].(map[string]any)
		out[title], _ = def["noValue"].(string)
	}
	return out
}
