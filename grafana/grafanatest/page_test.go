package grafanatest_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/go-rod/rod"
	"github.com/go-rod/rod/lib/launcher"
	"github.com/jackc/pgx/v5"

	"credential-grafana/cg"
	"credential-grafana/db/dbtest"
	"credential-grafana/grafana"
	"credential-grafana/grafana/grafanatest"
)

func TestPageRequiresAuth(t *testing.T) {
	t.Parallel()
	fake := grafanatest.New(t)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(fake.URL + "/d/x/y?kiosk")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/login" {
		t.Errorf("unauthenticated page load: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, err = client.Get(fake.URL + "/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/login: %d", resp.StatusCode)
	}
}

func chromium(t *testing.T) *rod.Browser {
	t.Helper()
	bin := os.Getenv("CHROMIUM")
	if bin == "" {
		for _, c := range []string{"chromium", "chromium-browser", "google-chrome"} {
			if p, err := exec.LookPath(c); err == nil {
				bin = p
				break
			}
		}
	}
	if bin == "" {
		t.Skip("no Chromium on this machine (set CHROMIUM)")
	}
	l := launcher.New().Bin(bin).Headless(true).NoSandbox(true).Leakless(false)
	u, err := l.Launch()
	if err != nil {
		t.Fatalf("launch %s: %v", bin, err)
	}
	t.Cleanup(l.Kill)
	b := rod.New().ControlURL(u)
	if err := b.Connect(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

type panelState struct {
	Title string `json:"title"`
	Error string `json:"error"`
	Text  string `json:"text"`
}

// TestPageRunsPanelsLikeGrafana opens each kind's dashboard in Chromium at two steps:
// every panel is drawn without error, the running-query count returns to 0, the
// numbers change with the step, and a broken panel shows Grafana's error element.
func TestPageRunsPanelsLikeGrafana(t *testing.T) {
	t.Parallel()
	browser := chromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	viewer := dbtest.UniqueName("cgview_")
	dbtest.Exec(t, "postgres", "CREATE ROLE "+viewer+" LOGIN PASSWORD 'pw'")
	t.Cleanup(func() { dbtest.DropRole(t, viewer) })
	dbName, _ := dbtest.NewDatabase(t)
	conn := dbtest.Connect(t, dbName)
	tables := map[cg.Kind]string{cg.KindTiming: "gcd $stage run", cg.KindQOR: "qor [[stage]]", cg.KindDRC: "drc ${iteration}"}
	for kind, table := range tables {
		if err := grafanatest.CreateRunTable(ctx, conn, kind, table, grafanatest.SampleRun{}); err != nil {
			t.Fatal(err)
		}
	}
	dbtest.Exec(t, dbName, "GRANT CONNECT ON DATABASE "+pgx.Identifier{dbName}.Sanitize()+" TO "+viewer+"; GRANT USAGE ON SCHEMA public TO "+viewer+"; GRANT SELECT ON ALL TABLES IN SCHEMA public TO "+viewer)

	fake := grafanatest.New(t)
	client, err := grafana.New(grafana.Config{BaseURL: fake.URL, Token: cg.Secret(fake.Token)})
	if err != nil {
		t.Fatal(err)
	}
	res, err := client.ProvisionUser(ctx, grafana.ProvisionRequest{User: "alice", Host: "127.0.0.1", Port: 5432, SSLMode: "disable", Viewer: viewer, ViewerPassword: "pw",
		Databases: map[cg.Kind]string{cg.KindTiming: dbName, cg.KindQOR: dbName, cg.KindDRC: dbName}})
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := grafana.LoadTemplates("")
	if err != nil {
		t.Fatal(err)
	}

	// Only page loads carry the token, as the capture's interception does; the page's
	// own requests use the session cookie it sets.
	page := browser.MustPage("").Context(ctx)
	router := page.HijackRequests()
	router.MustAdd(fake.URL+"/d/*", func(h *rod.Hijack) {
		h.Request.Req().Header.Set("Authorization", "Bearer "+fake.Token)
		_ = h.LoadResponse(http.DefaultClient, true)
	})
	go router.Run()
	t.Cleanup(func() { _ = router.Stop() })

	for _, tc := range []struct {
		kind      cg.Kind
		steps     []string // data in every panel at the first step
		statTitle string   // a stat that changes between the steps
	}{
		{cg.KindTiming, []string{"cts", "finish"}, "WNS (setup)"},
		{cg.KindQOR, []string{"finish", "floorplan"}, "Instance area"},
		{cg.KindDRC, []string{"0", "3"}, "Violations"},
	} {
		dash, _, err := tpl.Render(grafana.RenderRequest{User: "alice", Kind: tc.kind, Table: tables[tc.kind], DataSourceUID: res.DataSourceUIDs[tc.kind]})
		if err != nil {
			t.Fatal(err)
		}
		// A broken panel next to the good ones.
		dash["panels"] = append(dash["panels"].([]any), map[string]any{"id": 99, "type": "table", "pluginVersion": grafana.PluginVersion, "title": "Broken", "gridPos": map[string]any{"x": 0, "y": 40, "w": 24, "h": 4},
			"datasource": map[string]any{"type": grafana.PostgresType, "uid": res.DataSourceUIDs[tc.kind]},
			"targets":    []any{map[string]any{"refId": "A", "rawSql": "SELECT * FROM missing_table", "format": "table"}}})
		saved, err := client.SaveDashboard(ctx, grafana.SaveDashboardRequest{Dashboard: dash, FolderUID: res.FolderUID, Overwrite: true})
		if err != nil {
			t.Fatal(err)
		}
		shown := map[string]string{}
		for i, step := range tc.steps {
			url := grafana.KioskURL(fake.URL, saved.UID, saved.Slug, 1, "dark", map[string]string{tc.kind.StepVariable(): step})
			if err := page.Navigate(url); err != nil {
				t.Fatal(err)
			}
			page.MustElement(`body[data-cg-done="true"]`)
			if dir := os.Getenv("CG_SCREENSHOT_DIR"); dir != "" { // to look at the page: CG_SCREENSHOT_DIR=/tmp go test …
				page.MustSetViewport(1600, 1300, 1, false)
				page.MustScreenshot(fmt.Sprintf("%s/grafanatest-%s-%s.png", dir, tc.kind.Slug(), step))
			}
			if n := page.MustEval(`() => window.__grafanaRunningQueryCount`).Int(); n != 0 {
				t.Errorf("%s: running query count %d after drawing", tc.kind, n)
			}
			var panels []panelState
			err := page.MustEval(`() => [...document.querySelectorAll('section[data-testid^="data-testid Panel header "]')].map(s => {
				const e = s.querySelector('[data-testid="data-testid Panel status error"]');
				return {title: s.getAttribute('data-testid').slice('data-testid Panel header '.length), error: e ? 'error' : '', text: s.innerText};
			})`).Unmarshal(&panels)
			if err != nil {
				t.Fatal(err)
			}
			// As in Grafana 13.2 the message is only in the status button's tooltip, there
			// while the button is hovered.
			for i, p := range panels {
				if p.Error == "" {
					continue
				}
				if strings.Contains(p.Text, "missing_table") {
					t.Errorf("%s: panel %q shows its error outside the tooltip: %q", tc.kind, p.Title, p.Text)
				}
				btn := page.MustElement(`section[data-testid="data-testid Panel header ` + p.Title + `"] [data-testid="data-testid Panel status error"]`)
				if btn.MustAttribute("title") != nil {
					t.Errorf("%s: panel %q's status button has a title attribute; Grafana's has none", tc.kind, p.Title)
				}
				btn.MustHover()
				panels[i].Error = page.MustElement(`[role="tooltip"][data-testid="data-testid tooltip"]`).MustText()
				if id := btn.MustAttribute("aria-describedby"); id == nil || page.MustElement("#"+*id).MustText() != panels[i].Error {
					t.Errorf("%s: panel %q's status button does not name its tooltip", tc.kind, p.Title)
				}
				page.Mouse.MustMoveTo(0, 0)
			}
			if len(panels) != len(dash.Panels()) {
				t.Fatalf("%s: %d panels drawn, want %d", tc.kind, len(panels), len(dash.Panels()))
			}
			for _, p := range panels {
				switch {
				case p.Title == "Broken":
					if !strings.Contains(p.Error, `relation "missing_table" does not exist`) {
						t.Errorf("%s: broken panel error %q", tc.kind, p.Error)
					}
				case p.Error != "":
					t.Errorf("%s at %s: panel %q failed: %s", tc.kind, step, p.Title, p.Error)
				case i == 0 && strings.Contains(p.Text, "No data"):
					t.Errorf("%s at %s: panel %q has no data", tc.kind, step, p.Title)
				case p.Title == tc.statTitle:
					shown[step] = p.Text
				}
			}
		}
		if shown[tc.steps[0]] == "" || shown[tc.steps[0]] == shown[tc.steps[1]] {
			t.Errorf("%s: %q shows %q at %s and %q at %s; want a change", tc.kind, tc.statTitle, shown[tc.steps[0]], tc.steps[0], shown[tc.steps[1]], tc.steps[1])
		}
		if tc.kind == cg.KindTiming {
			figs := grafanatest.ExpectedFigures(cg.KindTiming, grafanatest.SampleRun{})
			if want := fmt.Sprintf("%.3f ns", figs.Last().WNS); !strings.Contains(shown["finish"], want) {
				t.Errorf("WNS at finish shows %q, want %s", shown["finish"], want)
			}
		}
	}
}

// TestPageOfAnUnknownDashboardIsGrafanasNotFound: like Grafana's single-page app, an unknown
// UID answers 200 and the page then says "Dashboard not found" in EntityNotFound's element.
func TestPageOfAnUnknownDashboardIsGrafanasNotFound(t *testing.T) {
	t.Parallel()
	fake := grafanatest.New(t)
	req, _ := http.NewRequest(http.MethodGet, fake.URL+"/d/no-such-uid/x?kiosk", nil)
	req.Header.Set("Authorization", "Bearer "+fake.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("unknown dashboard page: HTTP %d, want 200 as Grafana's app answers", resp.StatusCode)
	}
	browser := chromium(t)
	page := browser.MustPage("")
	router := page.HijackRequests()
	router.MustAdd(fake.URL+"/d/*", func(h *rod.Hijack) {
		h.Request.Req().Header.Set("Authorization", "Bearer "+fake.Token)
		_ = h.LoadResponse(http.DefaultClient, true)
	})
	go router.Run()
	t.Cleanup(func() { _ = router.Stop() })
	page.MustNavigate(fake.URL + "/d/no-such-uid/x?kiosk")
	if got := page.MustElement(`[data-testid="data-testid entity-not-found"] h4`).MustText(); got != "Dashboard not found" {
		t.Errorf("not-found page says %q", got)
	}
	if title := page.MustInfo().Title; title != "Not found - Dashboards - Grafana" {
		t.Errorf("not-found page title %q", title)
	}
}
