package capture

import (
	"context"
	"errors"
	"fmt"
	"image"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"credential-grafana/cg"
)

var stages = []string{"floorplan", "place", "cts", "route", "finish"}

func TestRecordGIF_StepSweepDecodesWithOneFramePerStage(t *testing.T) {
	t.Parallel()
	b := sharedBrowser(t)
	srv := newDashboardServer(t, "")
	res, err := b.RecordGIF(t.Context(), Recording{
		URL:          srv.dashboardURL("timing-alice-run1"),
		StepVariable: "stage",
		StepValues:   stages,
		FrameDelay:   time.Second,
		KeepFrames:   true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(res.Path) != b.cfg.Dir || filepath.Base(res.Path) != "timing-alice-run1-run-report.gif" {
		t.Errorf("path = %s, want timing-alice-run1-run-report.gif under %s", res.Path, b.cfg.Dir)
	}
	g, frames := decodeGIFFile(t, res.Path)
	if len(g.Image) != len(stages) || res.Frames != len(stages) {
		t.Fatalf("GIF has %d frames (result says %d), want %d", len(g.Image), res.Frames, len(stages))
	}
	if g.Config.Width != testW || g.Config.Height != testH || res.Width != testW || res.Height != testH {
		t.Errorf("GIF is %dx%d (result %dx%d), want %dx%d", g.Config.Width, g.Config.Height, res.Width, res.Height, testW, testH)
	}
	for i, d := range g.Delay {
		if d != 100 {
			t.Errorf("frame %d delay = %d cs, want 100", i, d)
		}
	}
	if g.LoopCount != 0 {
		t.Errorf("loop count = %d, want 0 (forever)", g.LoopCount)
	}

	// Each stage changes the numbers, and nothing outside the panels' bodies.
	header := image.Rect(0, 0, testW, 8) // the page margin above the grid
	for i := 1; i < len(frames); i++ {
		r := diffRect(frames[i-1], frames[i])
		if r.Empty() {
			t.Errorf("frame %d (%s) is identical to frame %d", i, stages[i], i-1)
		}
		if r.Overlaps(header) {
			t.Errorf("frame %d changed outside the panels: %v", i, r)
		}
	}

	// Every frame is within 45 dB of its lossless screenshot.
	if len(res.PNGFrames) != len(stages) {
		t.Fatalf("kept %d PNG frames, want %d", len(res.PNGFrames), len(stages))
	}
	for i, p := range res.PNGFrames {
		if db := psnrOf(frames[i], decodePNG(t, p)); db < 45 {
			t.Errorf("frame %d PSNR = %.1f dB, want >= 45", i, db)
		} else {
			t.Logf("frame %d PSNR %.1f dB", i, db)
		}
	}
	if len(res.Timings.StepReady) != len(stages) || res.Timings.PageReady <= 0 {
		t.Errorf("timings not filled: %+v", res.Timings)
	}
}

func TestRecordGIF_TimedFramesCountAndChangeOnALiveDashboard(t *testing.T) {
	t.Parallel()
	b := sharedBrowser(t)
	srv := newDashboardServer(t, "")
	res, err := b.RecordGIF(t.Context(), Recording{
		URL:        srv.dashboardURL("qor-live", "mode", "numbers"),
		Frames:     4,
		FrameDelay: 600 * time.Millisecond,
		Name:       "QoR live/../../etc",
	})
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(res.Path) != "QoR-live-..-..-etc.gif" || filepath.Dir(res.Path) != b.cfg.Dir {
		t.Errorf("path = %s, want a sanitised name under %s", res.Path, b.cfg.Dir)
	}
	g, frames := decodeGIFFile(t, res.Path)
	if len(g.Image) != 4 {
		t.Fatalf("GIF has %d frames, want 4", len(g.Image))
	}
	changed := 0
	for i := 1; i < len(frames); i++ {
		if !diffRect(frames[i-1], frames[i]).Empty() {
			changed++
		}
	}
	if changed == 0 {
		t.Error("no frame differs from the one before on a dashboard whose numbers change every 500 ms")
	}
	// Later frames carry only the changed rectangle.
	for i := 1; i < len(g.Image); i++ {
		if b := g.Image[i].Bounds(); b.Dx() == testW && b.Dy() == testH {
			t.Errorf("frame %d is encoded whole (%v), want only the changed rectangle", i, b)
		}
	}
	if len(res.Timings.FrameAt) != 4 || len(res.Timings.PerFrame) != 4 {
		t.Errorf("frame timings not filled: %+v", res.Timings)
	}
}

func TestRecordGIF_TokenReachesOnlyTheDashboardOrigin(t *testing.T) {
	t.Parallel()
	b := sharedBrowser(t)
	srv := newDashboardServer(t, "glsa_test_token")
	other, otherSeen := newSecondOrigin(t)
	_, err := b.RecordGIF(t.Context(), Recording{
		URL:    srv.dashboardURL("tokens", "extra", other.URL),
		Token:  "glsa_test_token",
		Frames: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/d/tokens/run-report", "/public/dashboard.js", "/api/ds/query"} {
		got := srv.authorizations(path)
		if len(got) == 0 {
			t.Errorf("%s was never requested", path)
		}
		for _, h := range got {
			if h != "Bearer glsa_test_token" {
				t.Errorf("%s got Authorization %q, want the bearer token", path, h)
			}
		}
	}
	if seen := otherSeen(); len(seen) > 0 {
		t.Errorf("second origin was reached: %v", seen)
	}
}

// TestRecordGIF_OtherOriginsAreBlocked: a dashboard page that reaches another origin every
// way a page can (an image, a script, fetch, a WebSocket, a worker, an iframe, a beacon, a
// redirect from Grafana itself) records, and the other origin sees no request at all.
func TestRecordGIF_OtherOriginsAreBlocked(t *testing.T) {
	t.Parallel()
	b := sharedBrowser(t)
	srv := newDashboardServer(t, "glsa_block_token")
	other, otherSeen := newSecondOrigin(t)
	for _, token := range []cg.Secret{"glsa_block_token", ""} {
		if token == "" {
			srv = newDashboardServer(t, "")
		}
		_, err := b.RecordGIF(t.Context(), Recording{
			URL:    srv.dashboardURL("probe", "extra", other.URL, "probe", other.URL),
			Token:  token,
			Frames: 1,
		})
		if err != nil {
			t.Fatalf("token %q: %v", token, err)
		}
		if got := srv.authorizations("/redirect"); len(got) == 0 {
			t.Errorf("token %q: the page's own origin was not reached (no /redirect)", token)
		}
	}
	if seen := otherSeen(); len(seen) > 0 {
		t.Errorf("another origin was reached from the dashboard page: %v", seen)
	}
}

func TestRecordGIF_NoTokenSendsNoAuthorization(t *testing.T) {
	t.Parallel()
	b := sharedBrowser(t)
	srv := newDashboardServer(t, "")
	if _, err := b.RecordGIF(t.Context(), Recording{URL: srv.dashboardURL("anonymous"), Frames: 1}); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/d/anonymous/run-report", "/api/ds/query"} {
		got := srv.authorizations(path)
		if len(got) == 0 {
			t.Errorf("%s was never requested", path)
		}
		for _, h := range got {
			if h != "" {
				t.Errorf("%s got Authorization %q without a token", path, h)
			}
		}
	}
}

func TestRecordGIF_LoginRedirectIsTokenRefused(t *testing.T) {
	t.Parallel()
	b := sharedBrowser(t)
	srv := newDashboardServer(t, "the-right-token")
	_, err := b.RecordGIF(t.Context(), Recording{URL: srv.dashboardURL("denied"), Token: "a-wrong-token", Frames: 1})
	if !errors.Is(err, ErrTokenRefused) {
		t.Fatalf("err = %v, want ErrTokenRefused", err)
	}
	if !strings.Contains(err.Error(), "Grafana refused the token") {
		t.Errorf("error %q does not say Grafana refused the token", err)
	}
	if strings.Contains(err.Error(), "a-wrong-token") {
		t.Errorf("error %q shows the token", err)
	}
}

// TestRecordGIF_PanelErrorsRefuseTheRecordingWithGrafanasMessages: a panel showing an error
// refuses the recording; each failed panel is named with the message Grafana 13.2 shows only
// in its status button's tooltip.
func TestRecordGIF_PanelErrorsRefuseTheRecordingWithGrafanasMessages(t *testing.T) {
	t.Parallel()
	b := sharedBrowser(t)
	srv := newDashboardServer(t, "")
	res, err := b.RecordGIF(t.Context(), Recording{
		URL:    srv.dashboardURL("some-fail", "fail", "TNS+(ns),Worst+paths"),
		Frames: 1,
	})
	var pe *PanelErrorsError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v, want *PanelErrorsError", err)
	}
	var titles []string
	for _, p := range pe.Panels {
		titles = append(titles, p.Title)
		if want := `db query error: relation "` + p.Title + `" does not exist`; p.Message != want {
			t.Errorf("panel %q message = %q, want %q (the tooltip's text)", p.Title, p.Message, want)
		}
	}
	if strings.Join(titles, "|") != "TNS (ns)|Worst paths" || pe.Of != 7 {
		t.Errorf("panel errors = %v of %d, want TNS (ns) and Worst paths of 7", titles, pe.Of)
	}
	if want := `2 of 7 panels show errors: "TNS (ns)": db query error`; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
	if res.Path != "" {
		t.Errorf("a GIF was written (%s) of a dashboard with failing panels", res.Path)
	}
}

func TestRecordGIF_AllPanelsFailingFailsTheRecording(t *testing.T) {
	t.Parallel()
	b := sharedBrowser(t)
	srv := newDashboardServer(t, "")
	all := "WNS+(ns),TNS+(ns),Failing+endpoints,Slack+histogram,Worst+paths,Slack+by+path+group,Utilisation"
	res, err := b.RecordGIF(t.Context(), Recording{URL: srv.dashboardURL("all-fail", "fail", all), Frames: 1})
	var pe *PanelErrorsError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v, want *PanelErrorsError", err)
	}
	if len(pe.Panels) != 7 || res.Path != "" {
		t.Errorf("got %d panel errors and path %q, want 7 and no GIF", len(pe.Panels), res.Path)
	}
}

func TestRecordGIF_ConcurrencyIsLimited(t *testing.T) {
	t.Parallel()
	b := sharedBrowser(t) // Concurrency 2
	srv := newDashboardServer(t, "")
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = b.RecordGIF(t.Context(), Recording{
				URL:          srv.dashboardURL(fmt.Sprintf("conc-%d", i), "delay", "150ms"),
				StepVariable: "stage",
				StepValues:   stages[:2],
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("recording %d: %v", i, err)
		}
	}
	if got := srv.maxPagesQuerying(); got > 2 {
		t.Errorf("%d dashboard pages were querying at once, want at most 2", got)
	} else {
		t.Logf("at most %d pages at once", got)
	}
}

func TestRecordGIF_PageThatNeverFinishesTimesOutNamingTheRequest(t *testing.T) {
	t.Parallel()
	b, err := New(Config{Width: 640, Height: 360, Timeout: 5 * time.Second, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	srv := newDashboardServer(t, "")
	_, err = b.RecordGIF(t.Context(), Recording{URL: srv.dashboardURL("hangs", "hang", "1"), Frames: 1})
	var nr *NotReadyError
	if !errors.As(err, &nr) || !errors.Is(err, ErrNotReady) {
		t.Fatalf("err = %v, want *NotReadyError", err)
	}
	if !strings.Contains(err.Error(), srv.URL+"/api/hang") {
		t.Errorf("error %q does not name the pending request", err)
	}
	if len(nr.Pending) != 1 {
		t.Errorf("pending = %v, want only /api/hang", nr.Pending)
	}
}

func TestRecordGIF_ScalesDownAboveTheSizeCeiling(t *testing.T) {
	t.Parallel()
	const ceiling = 64 << 10
	b, err := New(Config{Width: 800, Height: 600, MaxGIFBytes: ceiling, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	srv := newDashboardServer(t, "")
	res, err := b.RecordGIF(t.Context(), Recording{URL: srv.dashboardURL("big"), StepVariable: "stage", StepValues: stages})
	if err != nil {
		t.Fatal(err)
	}
	g, _ := decodeGIFFile(t, res.Path)
	if !res.Scaled || res.Bytes > ceiling || len(g.Image) != len(stages) {
		t.Fatalf("scaled=%v, %d bytes, %d frames; want scaled under %d bytes with %d frames", res.Scaled, res.Bytes, len(g.Image), ceiling, len(stages))
	}
	if g.Config.Width >= 800 || g.Config.Width != res.Width || g.Config.Height != res.Height {
		t.Errorf("GIF is %dx%d (result %dx%d), want smaller than 800x600", g.Config.Width, g.Config.Height, res.Width, res.Height)
	}
}

func TestNew_MissingChromiumSaysWhatToInstall(t *testing.T) {
	t.Parallel()
	_, err := New(Config{ChromiumPath: filepath.Join(t.TempDir(), "no-chromium-here"), Dir: t.TempDir()})
	if !errors.Is(err, ErrChromiumMissing) {
		t.Fatalf("err = %v, want ErrChromiumMissing", err)
	}
	for _, want := range []string{"apt-get install chromium", "CHROMIUM_PATH"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestBrowser_SurvivesChromiumBeingKilled(t *testing.T) {
	t.Parallel()
	b, err := New(Config{Width: 640, Height: 360, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	srv := newDashboardServer(t, "")
	rec := Recording{URL: srv.dashboardURL("survivor"), Frames: 1}
	if _, err := b.RecordGIF(t.Context(), rec); err != nil {
		t.Fatal(err)
	}
	pid := b.pid()
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill chromium: %v", err)
	}
	for syscall.Kill(pid, 0) == nil { // wait until it is gone (reaped by the launcher)
		time.Sleep(20 * time.Millisecond)
	}
	res, err := b.RecordGIF(t.Context(), rec)
	if err != nil {
		t.Fatalf("recording after chromium was killed: %v", err)
	}
	if b.pid() == pid || res.Timings.BrowserStart == 0 {
		t.Errorf("chromium was not restarted (pid %d -> %d)", pid, b.pid())
	}
	if err := b.Check(t.Context()); err != nil {
		t.Errorf("check after restart: %v", err)
	}
}

func TestBrowser_CheckStartsChromium(t *testing.T) {
	t.Parallel()
	b := sharedBrowser(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := b.Check(ctx); err != nil {
		t.Fatal(err)
	}
	if b.pid() == 0 {
		t.Error("no chromium running after Check")
	}
}

func TestRecordGIF_RejectsBadInput(t *testing.T) {
	t.Parallel()
	b := sharedBrowser(t)
	for _, u := range []string{"", "/d/x/y", "ftp://grafana/d/x", "http://"} {
		if _, err := b.RecordGIF(t.Context(), Recording{URL: u}); cg.ErrorCode(err) != cg.EINVALID {
			t.Errorf("URL %q: err = %v, want an invalid-input error", u, err)
		}
	}
	for _, rec := range []Recording{
		{URL: "http://grafana/d/x", StepVariable: "stage"},
		{URL: "http://grafana/d/x", StepValues: []string{"place"}},
		{URL: "http://grafana/d/x", Frames: -1},
		{URL: "http://grafana/d/x", FrameDelay: time.Millisecond},
	} {
		if _, err := b.RecordGIF(t.Context(), rec); cg.ErrorCode(err) != cg.EINVALID {
			t.Errorf("%+v: err = %v, want an invalid-input error", rec, err)
		}
	}
}

func TestRecordGIF_LeavesNoGoroutinesBehind(t *testing.T) {
	// Not parallel: it counts the process's goroutines.
	b := sharedBrowser(t)
	srv := newDashboardServer(t, "")
	rec := Recording{URL: srv.dashboardURL("leaks"), Token: "t", Frames: 2, FrameDelay: 100 * time.Millisecond}
	if _, err := b.RecordGIF(context.Background(), rec); err != nil { // warm up: browser, pools
		t.Fatal(err)
	}
	before := runtime.NumGoroutine()
	for range 3 {
		if _, err := b.RecordGIF(context.Background(), rec); err != nil {
			t.Fatal(err)
		}
	}
	after := runtime.NumGoroutine()
	for i := 0; i < 100 && after > before+2; i++ { // goroutines finish just after the call returns
		time.Sleep(20 * time.Millisecond)
		after = runtime.NumGoroutine()
	}
	if after > before+2 {
		t.Errorf("%d goroutines before three recordings, %d after", before, after)
	}
}

// A recording cancelled at any moment, a starting browser and the opening of the page
// included (as the pipeline's shutdown cancels it), returns an error and never panics.
func TestRecordGIF_CancelledAtAnyMomentReturnsAnError(t *testing.T) {
	srv := newDashboardServer(t, "")
	stop := errors.New("shutting down")
	for d := 600 * time.Millisecond; d <= 1400*time.Millisecond; d += 200 * time.Millisecond {
		b, err := New(Config{Width: 640, Height: 360, Timeout: 5 * time.Second, Dir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancelCause(t.Context())
		timer := time.AfterFunc(d, func() { cancel(stop) })
		_, err = func() (res Result, err error) {
			defer func() {
				if r := recover(); r != nil {
					err = fmt.Errorf("panic: %v", r)
				}
			}()
			return b.RecordGIF(ctx, Recording{URL: srv.dashboardURL("qor-live", "mode", "numbers"), Frames: 4, FrameDelay: 300 * time.Millisecond})
		}()
		timer.Stop()
		cancel(nil)
		_ = b.Close()
		if err == nil || strings.HasPrefix(err.Error(), "panic") {
			t.Fatalf("cancelled after %s: err = %v, want the recording's error", d, err)
		}
	}
}
