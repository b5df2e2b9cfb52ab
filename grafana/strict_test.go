package grafana_test

import (
	"errors"
	"strings"
	"testing"

	"credential-grafana/cg"
	"credential-grafana/grafana"
	"credential-grafana/grafana/grafanatest"
)

// TestFakeRefusesWhatGrafanaWouldMigrate proves the fake Grafana refuses, at save time,
// the dashboards real Grafana 13.2 would silently migrate on load.
func TestFakeRefusesWhatGrafanaWouldMigrate(t *testing.T) {
	t.Parallel()
	fake := grafanatest.New(t)
	client := newClient(t, fake)
	panel := func(extra map[string]any) map[string]any {
		p := map[string]any{"id": 1, "type": "xychart", "title": "Marker locations", "gridPos": map[string]any{"x": 0, "y": 0, "w": 12, "h": 8}}
		for k, v := range extra {
			p[k] = v
		}
		return p
	}
	for _, tc := range []struct {
		name   string
		dash   map[string]any
		reason string
	}{
		{"panel without pluginVersion", map[string]any{"uid": "d1", "title": "a", "schemaVersion": 42, "panels": []any{panel(nil)}}, `panel "Marker locations" (xychart) has no pluginVersion`},
		{"panel of an old version", map[string]any{"uid": "d2", "title": "b", "schemaVersion": 42, "panels": []any{panel(map[string]any{"pluginVersion": "10.3.0"})}}, "pluginVersion 10.3.0"},
		{"panel in a collapsed row", map[string]any{"uid": "d3", "title": "c", "schemaVersion": 42, "panels": []any{
			map[string]any{"id": 2, "type": "row", "title": "r", "collapsed": true, "panels": []any{panel(nil)}}}}, "no pluginVersion"},
		{"old schemaVersion", map[string]any{"uid": "d4", "title": "d", "schemaVersion": 41, "panels": []any{}}, "schemaVersion 41 is older than 42"},
		{"unknown schemaVersion", map[string]any{"uid": "d5", "title": "e", "schemaVersion": 43, "panels": []any{}}, "schemaVersion 43 is unknown"},
		{"no schemaVersion", map[string]any{"uid": "d6", "title": "f", "panels": []any{}}, "no schemaVersion"},
	} {
		_, err := client.SaveDashboard(ctxT(t), grafana.SaveDashboardRequest{Dashboard: tc.dash, Overwrite: true})
		if err == nil || !strings.Contains(err.Error(), tc.reason) {
			t.Errorf("%s: SaveDashboard = %v, want an error containing %q", tc.name, err, tc.reason)
		}
	}
	if n := len(fake.Dashboards()); n != 0 {
		t.Errorf("%d dashboards stored after refusals", n)
	}
	ok := map[string]any{"uid": "d7", "title": "g", "schemaVersion": 42, "panels": []any{panel(map[string]any{"pluginVersion": grafana.PluginVersion})}}
	if _, err := client.SaveDashboard(ctxT(t), grafana.SaveDashboardRequest{Dashboard: ok, Overwrite: true}); err != nil {
		t.Errorf("a current dashboard was refused: %v", err)
	}
}

// TestRenderedDashboardsAcceptedByStrictFake proves every rendered template passes the
// fake's Grafana 13.2 strictness.
func TestRenderedDashboardsAcceptedByStrictFake(t *testing.T) {
	t.Parallel()
	fake := grafanatest.New(t)
	client := newClient(t, fake)
	tpl, err := grafana.LoadTemplates("")
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range cg.Kinds {
		dash, _, err := tpl.Render(grafana.RenderRequest{User: "alice", Kind: kind, Table: "run1", DataSourceUID: grafana.DataSourceUID("alice", kind)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := client.SaveDashboard(ctxT(t), grafana.SaveDashboardRequest{Dashboard: dash, Overwrite: true}); err != nil {
			t.Errorf("%s: %v", kind, err)
		}
	}
}

// TestMissingPostgresPluginIsNamed proves a Grafana build without the PostgreSQL
// plugin is reported as that, with what to do, not as a database error.
func TestMissingPostgresPluginIsNamed(t *testing.T) {
	t.Parallel()
	u := newUserDB(t)
	u.grantViewer(t)
	fake := grafanatest.New(t, grafanatest.WithoutPostgresPlugin())
	client := newClient(t, fake)
	_, err := client.ProvisionUser(ctxT(t), provisionRequest(t, u))
	if !errors.Is(err, grafana.ErrPluginMissing) {
		t.Fatalf("ProvisionUser = %v, want ErrPluginMissing", err)
	}
	for _, want := range []string{"grafana-postgresql-datasource", "not installed", "grafana cli plugins install"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if _, err := client.PostgresPlugin(ctxT(t)); !errors.Is(err, grafana.ErrPluginMissing) {
		t.Errorf("PostgresPlugin = %v, want ErrPluginMissing", err)
	}
	with := newClient(t, grafanatest.New(t))
	if v, err := with.PostgresPlugin(ctxT(t)); err != nil || v == "" {
		t.Errorf("PostgresPlugin on a full Grafana = %q, %v", v, err)
	}
}
