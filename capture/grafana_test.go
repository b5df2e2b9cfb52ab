package capture

import (
	"testing"

	"credential-grafana/cg"
	"credential-grafana/grafana"
	"credential-grafana/grafana/grafanatest"
)

// TestRecordGIF_FakeGrafanaDashboardSweepsTheStages records a dashboard made from the
// real TIMING template, served by the Grafana fake, whose panels run their SQL against
// a real run table: the page is checked against the saved dashboard (UID, title, every
// panel drawn), one frame per stage, each different from the one before, each within
// 45 dB of its lossless screenshot; the page is loaded once and stepped in place.
func TestRecordGIF_FakeGrafanaDashboardSweepsTheStages(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	run := grafanatest.NewTimingRun(t, "gcd_nangate45_r1", "r1")
	g, client, dash, uid := run.Grafana, run.Client, run.Dashboard, run.UID
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
	// As in Grafana, the stages after the first are stepped in the page (the URL changed by
	// history.pushState and a popstate event, which Grafana's router follows), not reloaded.
	if loads := g.Requests("GET", "/d/"+uid); loads != 1 {
		t.Errorf("the dashboard page was loaded %d times for %d stages, want once", loads, len(steps))
	}
	if res.Timings.StepReloads != 0 {
		t.Errorf("%d of %d steps reloaded the page, want none", res.Timings.StepReloads, len(steps)-1)
	}
	t.Logf("step ready: %v", res.Timings.StepReady)
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
