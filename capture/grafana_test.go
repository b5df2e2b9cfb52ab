package capture

import (
	"testing"

	"credential-grafana/cg"
	"credential-grafana/db/dbtest"
	"credential-grafana/grafana"
	"credential-grafana/grafana/grafanatest"
)

// TestRecordGIF_FakeGrafanaDashboardSweepsTheStages records a dashboard made from the
// real TIMING template, served by the Grafana fake, whose panels run their SQL against
// a real run table: the page is checked against the saved dashboard (UID, title, every
// panel drawn), one frame per stage, each different from the one before, each within
// 45 dB of its lossless screenshot.
func TestRecordGIF_FakeGrafanaDashboardSweepsTheStages(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	database, _ := dbtest.NewDatabase(t)
	if err := grafanatest.CreateRunTable(ctx, dbtest.Connect(t, database), cg.KindTiming, "gcd_nangate45_r1", grafanatest.SampleRun{}); err != nil {
		t.Fatal(err)
	}
	g := grafanatest.New(t)
	ds := g.AddDataSource(grafanatest.DataSource{Name: "timing", Type: grafana.PostgresType, URL: "127.0.0.1:5432", User: "postgres",
		JSONData: map[string]any{"database": database, "sslmode": "disable"}})
	client, err := grafana.New(grafana.Config{BaseURL: g.URL, Token: cg.Secret(g.Token)})
	if err != nil {
		t.Fatal(err)
	}
	templates, err := grafana.LoadTemplates("")
	if err != nil {
		t.Fatal(err)
	}
	dash, uid, err := templates.Render(grafana.RenderRequest{User: "alice", Kind: cg.KindTiming, Table: "gcd_nangate45_r1", DataSourceUID: ds.UID,
		Run: grafana.RunInfo{Design: "gcd", Platform: "nangate45", RunID: "r1"}})
	if err != nil {
		t.Fatal(err)
	}
	steps, err := client.CheckDashboard(ctx, dash, cg.KindTiming)
	if err != nil || len(steps) < 3 {
		t.Fatalf("steps %v: %v", steps, err)
	}
	saved, err := client.SaveDashboard(ctx, grafana.SaveDashboardRequest{Dashboard: dash, Overwrite: true})
	if err != nil {
		t.Fatal(err)
	}
	slug := saved.Slug
	stored, err := client.GetDashboard(ctx, uid)
	if err != nil {
		t.Fatal(err)
	}
	expect := ExpectDashboard(stored.Dashboard)
	if expect.UID != uid || expect.Title == "" || len(expect.Panels) != len(dash.Panels()) {
		t.Fatalf("expected dashboard %+v, want uid %s, a title and %d panels", expect, uid, len(dash.Panels()))
	}
	res, err := sharedBrowser(t).RecordGIF(ctx, Recording{
		URL:          grafana.KioskURL(g.URL, uid, slug, 1, "dark", nil),
		Token:        cg.Secret(g.Token),
		StepVariable: "stage",
		StepValues:   steps,
		KeepFrames:   true,
		Expect:       expect,
	})
	if err != nil {
		t.Fatal(err)
	}
	gifImg, frames := decodeGIFFile(t, res.Path)
	if len(gifImg.Image) != len(steps) || gifImg.Config.Width != testW || gifImg.Config.Height != testH {
		t.Fatalf("GIF: %d frames of %dx%d, want %d of %dx%d", len(gifImg.Image), gifImg.Config.Width, gifImg.Config.Height, len(steps), testW, testH)
	}
	for i := 1; i < len(frames); i++ {
		if diffRect(frames[i-1], frames[i]).Empty() {
			t.Errorf("frame %d (%s) is identical to frame %d (%s)", i, steps[i], i-1, steps[i-1])
		}
	}
	for i, p := range res.PNGFrames {
		if db := psnrOf(frames[i], decodePNG(t, p)); db < 45 {
			t.Errorf("frame %d (%s) PSNR = %.1f dB, want >= 45", i, steps[i], db)
		}
	}
}
