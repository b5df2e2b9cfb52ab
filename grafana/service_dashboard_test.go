package grafana_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"credential-grafana/grafana"
)

// TestServiceTemplateIsValidatedLikeTheOthers: the embedded service template loads,
// and one that Grafana would migrate, or that is not bound to the data source, is
// refused naming the panel.
func TestServiceTemplateIsValidatedLikeTheOthers(t *testing.T) {
	t.Parallel()
	if _, err := grafana.LoadServiceTemplate(); err != nil {
		t.Fatalf("embedded service template: %v", err)
	}
	good, err := os.ReadFile(filepath.Join("templates", grafana.ServiceTemplateFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := grafana.ValidateServiceTemplate("service.json", good); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		change func(d map[string]any)
		want   string
	}{
		{"no pluginVersion", func(d map[string]any) { delete(servicePanel(d, 0), "pluginVersion") }, `panel "Runs found (30 days)": no "pluginVersion"`},
		{"old pluginVersion", func(d map[string]any) { servicePanel(d, 1)["pluginVersion"] = "10.4.0" }, `panel "Posted (30 days)": "pluginVersion" "10.4.0" is older than 11.0`},
		{"old schema", func(d map[string]any) { d["schemaVersion"] = 39 }, `"schemaVersion" must be 42`},
		{"other data source", func(d map[string]any) {
			servicePanel(d, 2)["datasource"] = map[string]any{"type": "grafana-postgresql-datasource", "uid": "somewhere"}
		}, `panel "Failed now": not bound to the data source`},
		{"time series", func(d map[string]any) {
			servicePanel(d, 3)["targets"].([]any)[0].(map[string]any)["format"] = "time_series"
		}, `panel "Queue depth": query 1 must have format "table"`},
		{"table placeholder", func(d map[string]any) {
			servicePanel(d, 3)["targets"].([]any)[0].(map[string]any)["rawSql"] = "SELECT 1 FROM ${__cg.table}"
		}, "has no meaning here"},
	} {
		var d map[string]any
		if err := json.Unmarshal(good, &d); err != nil {
			t.Fatal(err)
		}
		tc.change(d)
		b, _ := json.Marshal(d)
		err := grafana.ValidateServiceTemplate("service.json", b)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}

func servicePanel(d map[string]any, i int) map[string]any {
	return d["panels"].([]any)[i].(map[string]any)
}
