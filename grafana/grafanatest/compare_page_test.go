package grafanatest_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-rod/rod"
	"github.com/jackc/pgx/v5"

	"credential-grafana/cg"
	"credential-grafana/db"
	"credential-grafana/db/dbtest"
	"credential-grafana/grafana"
	"credential-grafana/grafana/grafanatest"
)

// TestPageShowsTheComparisonOfTwoRuns opens a comparison dashboard in Chromium at the
// link the service hands out (var-a, var-b), one table name full of quotes and a "$b":
// every panel draws rows of both runs without error. A panel added with ${b:sqlstring}
// shows what Grafana sends for it — the double quote as \" — so the page interpolates as
// strictly as Grafana (scenes' sqlStringFormatter).
func TestPageShowsTheComparisonOfTwoRuns(t *testing.T) {
	t.Parallel()
	browser := chromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	viewer := dbtest.UniqueName("cgcmpview_")
	dbtest.Exec(t, "postgres", "CREATE ROLE "+viewer+" LOGIN PASSWORD 'pw'")
	t.Cleanup(func() { dbtest.DropRole(t, viewer) })
	dbName, _ := dbtest.NewDatabase(t)
	dbtest.Exec(t, dbName, "GRANT CONNECT ON DATABASE "+pgx.Identifier{dbName}.Sanitize()+" TO "+viewer)
	conn := dbtest.Connect(t, dbName)
	if err := db.EnsureHistory(ctx, conn, "", viewer); err != nil {
		t.Fatal(err)
	}
	odd := `gcd run '2"; $b`
	for table, wns := range map[string]float64{"gcd_run_1": -0.125, odd: -0.25} {
		if err := db.RecordRun(ctx, conn, db.RunSummary{Table: table, Kind: cg.KindTiming, Design: "gcd", RecordedAt: time.Now(),
			Figures: []cg.Figure{{Name: "WNS", Value: wns, Unit: "ns"}, {Name: "Violating endpoints", Value: 7}}}); err != nil {
			t.Fatal(err)
		}
	}
	fake := grafanatest.New(t)
	client, err := grafana.New(grafana.Config{BaseURL: fake.URL, Token: cg.Secret(fake.Token)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.ProvisionUser(ctx, grafana.ProvisionRequest{User: "alice", Host: "127.0.0.1", Port: 5432, SSLMode: "disable", Viewer: viewer, ViewerPassword: "pw",
		Databases: map[cg.Kind]string{cg.KindTiming: dbName, cg.KindQOR: dbName, cg.KindDRC: dbName}}); err != nil {
		t.Fatal(err)
	}
	tpl, err := grafana.LoadCompareTemplate()
	if err != nil {
		t.Fatal(err)
	}
	saved, err := client.EnsureCompareDashboard(ctx, tpl, "alice", cg.KindTiming)
	if err != nil {
		t.Fatal(err)
	}
	// The same dashboard with one more panel, over ${b:sqlstring}.
	stored, _ := fake.Dashboard(saved.UID)
	model := stored.Model
	model["panels"] = append(model["panels"].([]any), map[string]any{"id": 90, "type": "table", "pluginVersion": grafana.PluginVersion, "title": "sqlstring",
		"gridPos": map[string]any{"x": 0, "y": 30, "w": 24, "h": 3}, "datasource": map[string]any{"type": grafana.PostgresType, "uid": grafana.DataSourceUID("alice", cg.KindTiming)},
		"targets": []any{map[string]any{"refId": "A", "rawSql": "SELECT ${b:sqlstring} AS sent", "format": "table"}}})
	delete(model, "version")
	if _, err := client.SaveDashboard(ctx, grafana.SaveDashboardRequest{Dashboard: model, FolderUID: grafana.FolderUID("alice"), Overwrite: true}); err != nil {
		t.Fatal(err)
	}

	page := browser.MustPage("").Context(ctx)
	router := page.HijackRequests()
	router.MustAdd(fake.URL+"/d/*", func(h *rod.Hijack) {
		h.Request.Req().Header.Set("Authorization", "Bearer "+fake.Token)
		_ = h.LoadResponse(http.DefaultClient, true)
	})
	go router.Run()
	t.Cleanup(func() { _ = router.Stop() })
	if err := page.Navigate(grafana.CompareURL(fake.URL, saved.URL, 1, "gcd_run_1", odd)); err != nil {
		t.Fatal(err)
	}
	page.MustElement(`body[data-cg-done="true"]`)
	var panels []panelState
	err = page.MustEval(`() => [...document.querySelectorAll('section[data-testid^="data-testid Panel header "]')].map(s => {
		const e = s.querySelector('[data-testid="data-testid Panel status error"]');
		return {title: s.getAttribute('data-testid').slice('data-testid Panel header '.length), error: e ? 'error' : '', text: s.innerText};
	})`).Unmarshal(&panels)
	if err != nil {
		t.Fatal(err)
	}
	if len(panels) != 4 {
		t.Fatalf("%d panels drawn: %+v", len(panels), panels)
	}
	for _, p := range panels {
		if p.Error != "" || strings.Contains(p.Text, "No data") {
			t.Errorf("panel %q: error %q, text %q", p.Title, p.Error, p.Text)
		}
		switch p.Title {
		case "Runs side by side":
			if !strings.Contains(p.Text, "gcd_run_1") || !strings.Contains(p.Text, odd) {
				t.Errorf("runs panel shows %q, want both tables", p.Text)
			}
		case "Key figures side by side":
			if !strings.Contains(p.Text, "-0.125") || !strings.Contains(p.Text, "-0.25") || !strings.Contains(p.Text, "Violating endpoints") {
				t.Errorf("figures panel shows %q", p.Text)
			}
		case "sqlstring":
			if !strings.Contains(p.Text, `gcd run '2\"; $b`) {
				t.Errorf("${b:sqlstring} sent %q, want the double quote as \\\" (Grafana's sqlStringFormatter)", p.Text)
			}
		}
	}
}
