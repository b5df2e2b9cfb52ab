package grafana_test

import (
	"strings"
	"testing"

	"credential-grafana/cg"
	"credential-grafana/grafana"
)

func TestARenderedDashboardIsBoundToItsDataSourceOnly(t *testing.T) {
	tpl, err := grafana.LoadTemplates("")
	if err != nil {
		t.Fatal(err)
	}
	own := grafana.DataSourceUID("alice", cg.KindTiming)
	for _, kind := range cg.Kinds {
		dash, _, err := tpl.Render(grafana.RenderRequest{User: "alice", Kind: kind, Table: "t1", DataSourceUID: grafana.DataSourceUID("alice", kind)})
		if err != nil {
			t.Fatal(err)
		}
		if err := dash.CheckBoundTo(grafana.DataSourceUID("alice", kind)); err != nil {
			t.Errorf("%s: %v", kind, err)
		}
	}
	dash, _, err := tpl.Render(grafana.RenderRequest{User: "alice", Kind: cg.KindTiming, Table: "t1", DataSourceUID: own})
	if err != nil {
		t.Fatal(err)
	}
	// One panel's query moved to bob's data source, as a template or a bug could.
	panels := dash["panels"].([]any)
	target := panels[len(panels)-1].(map[string]any)["targets"].([]any)[0].(map[string]any)
	target["datasource"] = map[string]any{"type": grafana.PostgresType, "uid": "cg-bob-timing"}
	err = dash.CheckBoundTo(own)
	if cg.ErrorCode(err) != cg.EFORBIDDEN || !strings.Contains(cg.ErrorMessage(err), "cg-bob-timing") {
		t.Fatalf("a foreign data source: %v", err)
	}
	target["datasource"] = "bob-timing_report" // a legacy reference by name
	if err := dash.CheckBoundTo(own); err == nil {
		t.Fatal("a data source named by name passed")
	}
}
