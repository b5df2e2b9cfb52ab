package grafana_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"credential-grafana/cg"
	"credential-grafana/grafana"
)

// The embedded comparison template passes its checks, renders bound to the user's data
// source with a revision tag, and a template that would break (a variable missing, a
// multi-valued variable, $a outside quotes or through ${a:sqlstring}, a panel that does
// not read the run history, an old schemaVersion) is refused naming the problem.
func TestCompareTemplate(t *testing.T) {
	t.Parallel()
	tpl, err := grafana.LoadCompareTemplate()
	if err != nil {
		t.Fatal(err)
	}
	dash, err := tpl.Render("alice", cg.KindQOR, grafana.DataSourceUID("alice", cg.KindQOR))
	if err != nil {
		t.Fatal(err)
	}
	if dash.UID() != "cg-alice-qor-compare" || !strings.Contains(dash.Title(), "QOR") {
		t.Errorf("rendered %s %q", dash.UID(), dash.Title())
	}
	if err := dash.CheckBoundTo("cg-alice-qor"); err != nil {
		t.Error(err)
	}
	if got := grafana.CompareURL("https://g.example.com/", "/d/cg-alice-qor-compare/x", 3, "run 1", `a'b&c=d`); got !=
		"https://g.example.com/d/cg-alice-qor-compare/x?orgId=3&var-a=run+1&var-b=a%27b%26c%3Dd" {
		t.Errorf("CompareURL = %s", got)
	}
	good, err := os.ReadFile(filepath.Join("templates", grafana.CompareTemplateFile))
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct{ old, new, want string }{
		"no $b":            {`"name": "b"`, `"name": "c"`, "no query variable $b"},
		"multi":            {`"multi": false`, `"multi": true`, "single-valued"},
		"unquoted":         {`table_name = '$a') ra`, `table_name = $a) ra`, "outside single quotes"},
		"sqlstring":        {`table_name = '$a') ra`, `table_name = ${a:sqlstring}) ra`, "outside single quotes"},
		"not the history":  {`FROM cg_history.runs\nWHERE table_name IN`, `FROM public.runs\nWHERE table_name IN`, "does not read cg_history.runs"},
		"old schema":       {`"schemaVersion": 42`, `"schemaVersion": 39`, "schemaVersion"},
		"no pluginVersion": {`"pluginVersion": "13.2.0",`, ``, "pluginVersion"},
	} {
		bad := strings.Replace(string(good), tc.old, tc.new, 1)
		if bad == string(good) {
			t.Fatalf("%s: %q is not in the template", name, tc.old)
		}
		err := grafana.ValidateCompareTemplate("compare.json", []byte(bad))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error saying %q", name, err, tc.want)
		}
	}
}

// Grafana's sqlstring format doubles single quotes and turns " into \" (scenes'
// sqlStringFormatter, SQL_ESCAPE_MAP); the plain form of a single-valued variable only
// doubles single quotes (SqlDatasource.interpolateVariable). Go and the fake's page do
// the same.
func TestInterpolateSQLQuotesAsGrafanasPostgresDataSource(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"a": `run '3"; $b`, "b": "x"}
	for in, want := range map[string]string{
		"'$a'":            `'run ''3"; $b'`,
		"${a:sqlstring}":  `'run ''3\"; $b'`,
		"'$a' AND '${b}'": `'run ''3"; $b' AND 'x'`,
	} {
		if got := grafana.InterpolateSQL(in, vars); got != want {
			t.Errorf("InterpolateSQL(%q) = %q, want %q", in, got, want)
		}
	}
}
