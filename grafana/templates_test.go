package grafana_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"credential-grafana/cg"
	"credential-grafana/grafana"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestRenderGolden pins each kind's rendered dashboard JSON. Run with -update after a
// deliberate template change and review the diff.
func TestRenderGolden(t *testing.T) {
	t.Parallel()
	tpl, err := grafana.LoadTemplates("")
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range cg.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			dash, uid, err := tpl.Render(grafana.RenderRequest{User: "alice", Kind: kind, Table: "gcd_nangate45_20250205t0129",
				DataSourceUID: grafana.DataSourceUID("alice", kind), Run: grafana.RunInfo{Design: "gcd", Platform: "nangate45", RunID: "2025-02-05"}})
			if err != nil {
				t.Fatal(err)
			}
			if uid != "alice-"+kind.Slug()+"-gcd_nangate45_20250205t0129" || dash.UID() != uid {
				t.Fatalf("uid %q, dashboard uid %q", uid, dash.UID())
			}
			got, err := json.MarshalIndent(dash, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			path := filepath.Join("testdata", kind.Slug()+".golden.json")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./grafana -run TestRenderGolden -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("rendered %s dashboard differs from %s; run with -update and review the diff", kind, path)
			}
			if strings.Contains(string(got), "${__cg.") {
				t.Errorf("placeholder left in the rendered dashboard")
			}
		})
	}
}

func TestRenderTitleAndSafety(t *testing.T) {
	t.Parallel()
	tpl, err := grafana.LoadTemplates("")
	if err != nil {
		t.Fatal(err)
	}
	table := `we"ird $stage [[stage]] \ 表`
	dash, _, err := tpl.Render(grafana.RenderRequest{User: "bob", Kind: cg.KindTiming, Table: table, DataSourceUID: "ds1", Run: grafana.RunInfo{TimeUnit: "ps"}, DefaultStep: "finish"})
	if err != nil {
		t.Fatal(err)
	}
	if dash.Title() != table+" — TIMING" {
		t.Errorf("title %q", dash.Title())
	}
	b, err := json.Marshal(dash)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("rendered dashboard is not valid JSON: %v", err)
	}
	for _, p := range dash.Panels() {
		for _, q := range p.Queries {
			if strings.ContainsAny(q.RawSQL[strings.Index(q.RawSQL, "FROM"):], "[") || strings.Contains(q.RawSQL, `"we"ird`) {
				t.Errorf("panel %q: table not safely quoted: %s", p.Title, q.RawSQL)
			}
			if !strings.Contains(q.RawSQL, `U&"we""ird \0024stage \005B\005Bstage\005D\005D \005C 表"`) {
				t.Errorf("panel %q: no escaped identifier in %s", p.Title, q.RawSQL)
			}
		}
	}
	if !strings.Contains(string(b), `"unit":"ps"`) {
		t.Errorf("time unit ps not applied")
	}
	if !strings.Contains(string(b), `"current":{"selected":true,"text":"finish","value":"finish"}`) {
		t.Errorf("default step not applied")
	}
	if _, _, err := tpl.Render(grafana.RenderRequest{User: "bob", Kind: cg.KindTiming, Table: strings.Repeat("a", 64), DataSourceUID: "ds1"}); cg.ErrorCode(err) != cg.EINVALID {
		t.Errorf("64-byte table name: %v", err)
	}
}

func TestDashboardTitle(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		run  grafana.RunInfo
		want string
	}{
		{grafana.RunInfo{Design: "gcd", Platform: "nangate45", RunID: "2025-02-05"}, "gcd · nangate45 · run 2025-02-05 — DRC (t1)"},
		{grafana.RunInfo{Design: "gcd"}, "gcd — DRC (t1)"},
		{grafana.RunInfo{}, "t1 — DRC"},
	} {
		if got := grafana.DashboardTitle(cg.KindDRC, "t1", tc.run); got != tc.want {
			t.Errorf("DashboardTitle(%+v) = %q, want %q", tc.run, got, tc.want)
		}
	}
}

func TestQuoteIdentifier(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"plain":         `"plain"`,
		`a"b`:           `"a""b"`,
		"x$stage":       `U&"x\0024stage"`,
		`a\b"c`:         `U&"a\005Cb""c"`,
		"[[iteration]]": `U&"\005B\005Biteration\005D\005D"`,
	} {
		if got := grafana.QuoteIdentifier(in); got != want {
			t.Errorf("QuoteIdentifier(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestInterpolateSQL(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"stage": "it's", "iteration": "3"}
	for in, want := range map[string]string{
		"WHERE stage = '$stage'":                    "WHERE stage = 'it''s'",
		"WHERE stage = '${stage}'":                  "WHERE stage = 'it''s'",
		"WHERE stage = [[stage]]":                   "WHERE stage = it''s",
		"WHERE stage = ${stage:sqlstring}":          "WHERE stage = 'it''s'",
		"WHERE i = ${iteration:raw}":                "WHERE i = 3",
		"WHERE x = '$unknown' AND $__timeFilter(t)": "WHERE x = '$unknown' AND $__timeFilter(t)",
		`FROM U&"x\0024stage"`:                      `FROM U&"x\0024stage"`,
	} {
		if got := grafana.InterpolateSQL(in, vars); got != want {
			t.Errorf("InterpolateSQL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestKioskURL(t *testing.T) {
	t.Parallel()
	got := grafana.KioskURL("https://g.example.com/", "alice-timing-x", "gcd-timing", 3, "dark", map[string]string{"stage": "cts", "a": "b c"})
	want := "https://g.example.com/d/alice-timing-x/gcd-timing?orgId=3&kiosk&_dash.hideTimePicker&_dash.hideVariables&_dash.hideLinks&theme=dark&var-a=b+c&var-stage=cts"
	if got != want {
		t.Errorf("KioskURL = %s\nwant       %s", got, want)
	}
	if strings.Contains(got, "refresh") {
		t.Error("kiosk URL has refresh")
	}
}

// TestLoadTemplatesRefusesBadOnes overrides one template from a directory and checks
// that each kind of mistake is refused with the file, the panel and the problem.
func TestLoadTemplatesRefusesBadOnes(t *testing.T) {
	t.Parallel()
	good, err := os.ReadFile(filepath.Join("templates", "timing.json"))
	if err != nil {
		t.Fatal(err)
	}
	edit := func(f func(d map[string]any)) []byte {
		var d map[string]any
		if err := json.Unmarshal(good, &d); err != nil {
			t.Fatal(err)
		}
		f(d)
		b, _ := json.Marshal(d)
		return b
	}
	panel := func(d map[string]any, i int) map[string]any { return d["panels"].([]any)[i].(map[string]any) }
	target := func(d map[string]any, i int) map[string]any {
		return panel(d, i)["targets"].([]any)[0].(map[string]any)
	}
	for _, tc := range []struct {
		name   string
		data   []byte
		panel  string
		reason string
	}{
		{"bad JSON", []byte(`{"uid": "${__cg.uid}",` + "\n" + `"title": }`), "", "not valid JSON at line 2"},
		{"unknown placeholder", edit(func(d map[string]any) { target(d, 1)["rawSql"] = "SELECT ${__cg.tabel} FROM ${__cg.table}" }), "WNS (setup)", "unknown placeholder ${__cg.tabel}"},
		{"malformed placeholder", edit(func(d map[string]any) { target(d, 1)["rawSql"] = "SELECT 1 FROM $__cg.table, ${__cg.table}" }), "WNS (setup)", "malformed placeholder"},
		{"panel not bound", edit(func(d map[string]any) {
			panel(d, 2)["datasource"] = map[string]any{"type": "grafana-postgresql-datasource", "uid": "P1234"}
		}), "TNS (setup)", "not bound to the data source"},
		{"target not bound", edit(func(d map[string]any) { target(d, 2)["datasource"] = map[string]any{"uid": "P1234"} }), "TNS (setup)", "query A is not bound"},
		{"query without table", edit(func(d map[string]any) { target(d, 3)["rawSql"] = "SELECT count(*) FROM gcd_run" }), "Violating endpoints (setup)", "does not name the table through ${__cg.table}"},
		{"table outside SQL", edit(func(d map[string]any) { panel(d, 3)["title"] = "Endpoints of ${__cg.table}" }), "Endpoints of ${__cg.table}", "use it only in SQL"},
		{"no step variable", edit(func(d map[string]any) { d["templating"] = map[string]any{"list": []any{}} }), "", "no variable $stage"},
		{"variable without table", edit(func(d map[string]any) {
			d["templating"].(map[string]any)["list"].([]any)[0].(map[string]any)["query"] = "SELECT 'finish'"
		}), "variable $stage", "does not name the table"},
		{"uid not placeholder", edit(func(d map[string]any) { d["uid"] = "fixed" }), "", `"uid" must be`},
		{"time series", edit(func(d map[string]any) { target(d, 1)["format"] = "time_series" }), "WNS (setup)", "no time column"},
		{"no pluginVersion", edit(func(d map[string]any) { delete(panel(d, 5), "pluginVersion") }), "Setup slack distribution", `no "pluginVersion"`},
		{"old pluginVersion", edit(func(d map[string]any) { panel(d, 5)["pluginVersion"] = "10.3.1" }), "Setup slack distribution", "older than 11.0"},
		{"old schemaVersion", edit(func(d map[string]any) { d["schemaVersion"] = 39 }), "", `"schemaVersion" is 39`},
		{"no schemaVersion", edit(func(d map[string]any) { delete(d, "schemaVersion") }), "", `"schemaVersion" is missing`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			file := filepath.Join(dir, "timing.json")
			if err := os.WriteFile(file, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := grafana.LoadTemplates(dir)
			var te *grafana.TemplateError
			if !errors.As(err, &te) {
				t.Fatalf("LoadTemplates = %v, want a *TemplateError", err)
			}
			if te.File != file || te.Panel != tc.panel || !strings.Contains(te.Problem, tc.reason) {
				t.Errorf("got file %q panel %q problem %q;\nwant file %q panel %q problem containing %q", te.File, te.Panel, te.Problem, file, tc.panel, tc.reason)
			}
			if !strings.Contains(err.Error(), file) {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}

// TestTemplatesInCurrentGrafanaShape proves the embedded templates are in the shape
// Grafana 11.x-13.x loads without migrating: schemaVersion 42, and every panel declares
// its pluginVersion (without it Grafana runs each panel type's migrations as if the
// options were older than 10.4: an xychart's "auto" mapping becomes "manual" with
// matchers that fit no field).
func TestTemplatesInCurrentGrafanaShape(t *testing.T) {
	t.Parallel()
	for _, kind := range cg.Kinds {
		data, err := os.ReadFile(filepath.Join("templates", grafana.TemplateFile(kind)))
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			SchemaVersion int              `json:"schemaVersion"`
			Preload       bool             `json:"preload"`
			Panels        []map[string]any `json:"panels"`
		}
		if err := json.Unmarshal(data, &d); err != nil {
			t.Fatal(err)
		}
		if d.SchemaVersion != grafana.SchemaVersion || grafana.SchemaVersion != 42 {
			t.Errorf("%s: schemaVersion %d, want 42 (Grafana 13.2)", kind, d.SchemaVersion)
		}
		if !d.Preload {
			t.Errorf("%s: no \"preload\": true; Grafana would not render panels below the fold, and the recording would refuse them", kind)
		}
		for _, p := range d.Panels {
			if v, _ := p["pluginVersion"].(string); v != grafana.PluginVersion {
				t.Errorf("%s panel %q (%v): pluginVersion %q, want %q", kind, p["title"], p["type"], v, grafana.PluginVersion)
			}
			if p["type"] == "table" {
				if opts, _ := p["options"].(map[string]any); opts["footer"] != nil {
					t.Errorf("%s panel %q: options.footer is the pre-12 table footer shape", kind, p["title"])
				}
			}
		}
	}
}

func TestLoadTemplatesRefusesMissingDirAndUnknownFiles(t *testing.T) {
	t.Parallel()
	if _, err := grafana.LoadTemplates(filepath.Join(t.TempDir(), "nope")); err == nil {
		t.Error("a missing templates directory was accepted")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "timming.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := grafana.LoadTemplates(dir); err == nil || !strings.Contains(err.Error(), "timming.json: not a template name") {
		t.Errorf("unknown file: %v", err)
	}
}

func TestLoadTemplatesOverride(t *testing.T) {
	t.Parallel()
	good, err := os.ReadFile(filepath.Join("templates", "qor.json"))
	if err != nil {
		t.Fatal(err)
	}
	custom := bytes.Replace(good, []byte(`"Instance area"`), []byte(`"Cell area"`), 1)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "qor.json"), custom, 0o644); err != nil {
		t.Fatal(err)
	}
	tpl, err := grafana.LoadTemplates(dir)
	if err != nil {
		t.Fatal(err)
	}
	if tpl.Source(cg.KindQOR) != filepath.Join(dir, "qor.json") || tpl.Source(cg.KindTiming) != "embedded timing.json" {
		t.Errorf("sources %q, %q", tpl.Source(cg.KindQOR), tpl.Source(cg.KindTiming))
	}
	dash, _, err := tpl.Render(grafana.RenderRequest{User: "a", Kind: cg.KindQOR, Table: "t", DataSourceUID: "d"})
	if err != nil {
		t.Fatal(err)
	}
	if dash.Panels()[1].Title != "Cell area" {
		t.Errorf("override not used: %q", dash.Panels()[1].Title)
	}
}

func BenchmarkRender(b *testing.B) {
	tpl, err := grafana.LoadTemplates("")
	if err != nil {
		b.Fatal(err)
	}
	for _, kind := range cg.Kinds {
		b.Run(string(kind), func(b *testing.B) {
			req := grafana.RenderRequest{User: "alice", Kind: kind, Table: "gcd $stage run", DataSourceUID: "cg-alice-" + kind.Slug(),
				Run: grafana.RunInfo{Design: "gcd", Platform: "nangate45", RunID: "r1"}}
			b.ReportAllocs()
			for b.Loop() {
				d, _, err := tpl.Render(req)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := json.Marshal(d); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
