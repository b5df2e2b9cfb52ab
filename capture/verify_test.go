package capture

import (
	"errors"
	"strings"
	"testing"

	"credential-grafana/cg"
	"credential-grafana/grafana"
	"credential-grafana/grafana/grafanatest"
)

// The seven panels of dashboardServer's page.
var serverPanels = []string{"WNS (ns)", "TNS (ns)", "Failing endpoints", "Slack histogram", "Worst paths", "Slack by path group", "Utilisation"}

// wantRefused checks that a recording was refused as the wrong page, saying want, with no GIF.
func wantRefused(t *testing.T, res Result, err error, want string) *PageError {
	t.Helper()
	var pe *PageError
	if !errors.As(err, &pe) || !errors.Is(err, ErrWrongPage) {
		t.Fatalf("err = %v, want a *PageError", err)
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
	if res.Path != "" || res.Frames != 0 {
		t.Errorf("recorded %d frames to %q of a refused page", res.Frames, res.Path)
	}
	return pe
}

// TestRecordGIF_RefusesGrafanasDashboardNotFoundPage: Grafana answers an unknown UID with its
// app (HTTP 200), which then says "Dashboard not found"; that page is not recorded, with or
// without the expected dashboard.
func TestRecordGIF_RefusesGrafanasDashboardNotFoundPage(t *testing.T) {
	t.Parallel()
	g := grafanatest.New(t)
	u := grafana.KioskURL(g.URL, "no-such-dashboard", "run", 1, "dark", nil)
	for _, expect := range []Expected{{}, {UID: "no-such-dashboard", Title: "gcd run", Panels: []string{"Stage"}}} {
		res, err := sharedBrowser(t).RecordGIF(t.Context(), Recording{URL: u, Token: cg.Secret(g.Token), Frames: 1, Expect: expect})
		wantRefused(t, res, err, "Grafana answered 'Dashboard not found'")
	}
}

// TestRecordGIF_RefusesAPageWithMissingPanels: every panel of the dashboard JSON must have
// drawn its header; the error names the ones that did not.
func TestRecordGIF_RefusesAPageWithMissingPanels(t *testing.T) {
	t.Parallel()
	srv := newDashboardServer(t, "")
	expect := Expected{UID: "partial", Panels: append(append([]string{}, serverPanels...), "Power", "Area", "Clock tree")}
	res, err := sharedBrowser(t).RecordGIF(t.Context(), Recording{URL: srv.dashboardURL("partial"), Frames: 1, Expect: expect})
	wantRefused(t, res, err, "3 of 10 panels never rendered: Power, Area, Clock tree")
}

// TestRecordGIF_RefusesALoginForm: a login form at the dashboard's URL (a proxy in front of
// Grafana) is refused as what it is, and counts as a refused token.
func TestRecordGIF_RefusesALoginForm(t *testing.T) {
	t.Parallel()
	srv := newDashboardServer(t, "")
	res, err := sharedBrowser(t).RecordGIF(t.Context(), Recording{URL: srv.dashboardURL("behind-proxy", "login", "1"), Frames: 1})
	wantRefused(t, res, err, "the page is a login form")
	if !errors.Is(err, ErrTokenRefused) {
		t.Errorf("err = %v, want it to match ErrTokenRefused too", err)
	}
}

// TestRecordGIF_RefusesABlankPage: a page without any panel is not a dashboard.
func TestRecordGIF_RefusesABlankPage(t *testing.T) {
	t.Parallel()
	srv := newDashboardServer(t, "")
	res, err := sharedBrowser(t).RecordGIF(t.Context(), Recording{URL: srv.dashboardURL("blank", "blank", "1"), Frames: 1})
	wantRefused(t, res, err, "the page is blank")
}

// TestRecordGIF_RefusesAnotherDashboard: the page must be the dashboard of the expected UID
// and title.
func TestRecordGIF_RefusesAnotherDashboard(t *testing.T) {
	t.Parallel()
	srv := newDashboardServer(t, "")
	res, err := sharedBrowser(t).RecordGIF(t.Context(), Recording{URL: srv.dashboardURL("other-uid"), Frames: 1,
		Expect: Expected{UID: "timing-alice-run1", Panels: serverPanels}})
	wantRefused(t, res, err, `is /d/other-uid/run-report, not dashboard "timing-alice-run1"`)
	res, err = sharedBrowser(t).RecordGIF(t.Context(), Recording{URL: srv.dashboardURL("titled"), Frames: 1,
		Expect: Expected{UID: "titled", Title: "gcd timing", Panels: serverPanels}})
	wantRefused(t, res, err, `the page is titled "Run report - Grafana", not "gcd timing"`)
}

// TestRecordGIF_RefusesAPanelStillLoading: a panel showing Grafana's loading bar when the page
// has settled is named.
func TestRecordGIF_RefusesAPanelStillLoading(t *testing.T) {
	t.Parallel()
	srv := newDashboardServer(t, "")
	res, err := sharedBrowser(t).RecordGIF(t.Context(), Recording{URL: srv.dashboardURL("slow", "loading", "Worst+paths"), Frames: 1,
		Expect: Expected{UID: "slow", Panels: serverPanels}})
	wantRefused(t, res, err, "1 of 7 panels are still loading: Worst paths")
}

// TestRecordGIF_FakeGrafanaPanelErrorCarriesGrafanasMessage: a panel whose SQL fails, on the
// Grafana fake drawn as Grafana 13.2 does (the message only in the status button's tooltip),
// refuses the recording with the database's message. The panel is below the fold, so its
// tooltip is opened by focus (the dashboardServer tests hover theirs).
func TestRecordGIF_FakeGrafanaPanelErrorCarriesGrafanasMessage(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	run := grafanatest.NewTimingRun(t, "gcd_nangate45_r2", "r2")
	g, client, dash, uid := run.Grafana, run.Client, run.Dashboard, run.UID
	dash["panels"] = append(dash["panels"].([]any), map[string]any{"id": 99, "type": "table", "pluginVersion": grafana.PluginVersion, "title": "Broken", "gridPos": map[string]any{"x": 0, "y": 80, "w": 6, "h": 4},
		"datasource": map[string]any{"type": grafana.PostgresType, "uid": run.DataSourceUID},
		"targets":    []any{map[string]any{"refId": "A", "rawSql": "SELECT * FROM missing_table", "format": "table"}}})
	saved, err := client.SaveDashboard(ctx, grafana.SaveDashboardRequest{Dashboard: dash, Overwrite: true})
	if err != nil {
		t.Fatal(err)
	}
	stored, err := client.GetDashboard(ctx, uid)
	if err != nil {
		t.Fatal(err)
	}
	res, err := sharedBrowser(t).RecordGIF(ctx, Recording{URL: grafana.KioskURL(g.URL, uid, saved.Slug, 1, "dark", map[string]string{"stage": "finish"}),
		Token: cg.Secret(g.Token), Frames: 1, Expect: ExpectDashboard(stored.Dashboard)})
	var pe *PanelErrorsError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v, want *PanelErrorsError", err)
	}
	if len(pe.Panels) != 1 || pe.Panels[0].Title != "Broken" || !strings.Contains(pe.Panels[0].Message, `relation "missing_table" does not exist`) {
		t.Errorf("panel errors = %+v, want Broken with the database's message", pe.Panels)
	}
	if res.Path != "" {
		t.Errorf("a GIF was written: %s", res.Path)
	}
}

func TestExpectDashboard_ReadsUIDTitleAndTheDrawnPanels(t *testing.T) {
	t.Parallel()
	model := map[string]any{"uid": "u1", "title": "gcd timing", "panels": []any{
		map[string]any{"type": "stat", "title": "WNS"},
		map[string]any{"type": "row", "title": "Details", "collapsed": false, "panels": []any{}},
		map[string]any{"type": "table", "title": "Paths"},
		map[string]any{"type": "row", "title": "Hidden", "collapsed": true, "panels": []any{map[string]any{"type": "stat", "title": "Inside"}}},
		map[string]any{"type": "text", "title": ""},
	}}
	got := ExpectDashboard(model)
	if got.UID != "u1" || got.Title != "gcd timing" || strings.Join(got.Panels, "|") != "WNS|Paths" {
		t.Errorf("ExpectDashboard = %+v, want u1, gcd timing, WNS|Paths", got)
	}
}
