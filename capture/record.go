package capture

import (
	"cmp"
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/go-rod/rod/lib/proto"

	"credential-grafana/cg"
)

// Recording says what to record.
type Recording struct {
	// URL is the dashboard's full URL, already in kiosk form
	// (/d/<uid>/<slug>?orgId=N&kiosk&_dash.hideTimePicker&…).
	URL string

	// Token is sent as "Authorization: Bearer <token>" on requests to URL's origin only (they
	// are intercepted over CDP), never to other hosts. Empty sends none.
	Token cg.Secret

	// Frames is the number of frames of a timed recording. Defaults to 10. Ignored when
	// stepping through a variable.
	Frames int

	// FrameDelay is the time between frames of a timed recording and how long each frame
	// shows in the GIF. Defaults to 500 ms.
	FrameDelay time.Duration

	// StepVariable and StepValues, when both are set, make one frame per value: the page is
	// loaded with var-<StepVariable>=<value> and recorded once it is ready.
	StepVariable string
	StepValues   []string

	// Name is the GIF's base name; it is made safe for a file name (see Result.Path).
	// Defaults to the dashboard's uid and slug from URL.
	Name string

	// Expect is the dashboard the page must show; see Expected and ExpectDashboard. The zero
	// value checks only what holds for every dashboard.
	Expect Expected

	// KeepFrames keeps each lossless PNG screenshot in Result.PNGFrames (for tests and
	// benchmarks that measure the GIF's fidelity).
	KeepFrames bool
}

// Result describes a written GIF.
type Result struct {
	Path          string // the GIF, under Config.Dir
	Bytes         int64
	Frames        int
	Width, Height int  // of the GIF: the viewport, or smaller when scaled under MaxGIFBytes
	Scaled        bool // the GIF was scaled down to fit MaxGIFBytes

	Timings Timings

	// PNGFrames holds the screenshots when Recording.KeepFrames was set.
	PNGFrames [][]byte
}

// Timings says where a recording's time went.
type Timings struct {
	BrowserStart time.Duration   // starting Chromium for this recording; 0 when it was running
	SlotWait     time.Duration   // waiting for a free page (Config.Concurrency)
	PageReady    time.Duration   // from the first navigation to the first frame's readiness, paint delay included
	StepReady    []time.Duration // step mode: navigation to readiness, per value
	PerFrame     []time.Duration // each screenshot call
	FrameAt      []time.Duration // when each screenshot was requested, from the first one

	// EncodeAfterLastFrame is from the last screenshot's bytes to the GIF's bytes (the frames
	// before were encoded while the next screenshots were taken).
	EncodeAfterLastFrame time.Duration
	Decode, Encode       time.Duration // wall time decoding PNGs and encoding frames, all frames
	Shrink               time.Duration // re-encoding at a smaller size, when needed
	Write                time.Duration // writing the file
	Total                time.Duration
}

// RecordGIF loads the dashboard in a fresh incognito context, captures its frames and writes
// the GIF under Config.Dir. Once the page is ready, before its first frame (and at each step),
// it checks that the page is the dashboard: Grafana did not answer "not found" or with an
// error, the page is no login form, it is rec.Expect's dashboard (UID, title) and every
// panel of it has drawn its header, none still loading and none showing an error.
//
// Errors: ErrTokenRefused when Grafana redirects to /login (or answers 401/403); *PageError
// (ErrWrongPage) when the page is not the dashboard, saying what it showed (a login form also
// matches ErrTokenRefused); *PanelErrorsError when panels show errors, with Grafana's
// messages; *NotReadyError when the page is not ready within Config.Timeout;
// ErrChromiumMissing when there is no browser to start.
func (b *Browser) RecordGIF(ctx context.Context, rec Recording) (res Result, err error) {
	start := time.Now()
	dash, err := url.Parse(rec.URL)
	if err != nil || (dash.Scheme != "http" && dash.Scheme != "https") || dash.Host == "" {
		return res, cg.Errorf(cg.EINVALID, "dashboard URL %q: must be an absolute http(s) URL", rec.URL)
	}
	rec.Frames = cmp.Or(rec.Frames, 10)
	rec.FrameDelay = cmp.Or(rec.FrameDelay, 500*time.Millisecond)
	stepping := rec.StepVariable != "" && len(rec.StepValues) > 0
	if !stepping && (rec.StepVariable != "" || len(rec.StepValues) > 0) {
		return res, cg.Errorf(cg.EINVALID, "step variable %q with %d values: give both a variable and its values, or neither", rec.StepVariable, len(rec.StepValues))
	}
	if rec.Frames < 1 || rec.Frames > 1000 || rec.FrameDelay < 20*time.Millisecond || rec.FrameDelay > time.Minute {
		return res, cg.Errorf(cg.EINVALID, "recording of %d frames %s apart: need 1 to 1000 frames, 20ms to 1m apart", rec.Frames, rec.FrameDelay)
	}
	name := fileName(cmp.Or(rec.Name, nameFromURL(dash)))
	base := rec.URL
	if b.cfg.Theme != "" && !dash.Query().Has("theme") {
		base = setQueryParam(base, "theme", b.cfg.Theme)
	}
	log := b.log.With().Str("gif", name).Logger()
	defer func() {
		res.Timings.Total = time.Since(start)
		if err != nil {
			log.Warn().Err(err).Dur("took", res.Timings.Total).Msg("recording failed")
			return
		}
		log.Info().Int("frames", res.Frames).Int64("bytes", res.Bytes).
			Dur("took", res.Timings.Total).Dur("page_ready", res.Timings.PageReady).Msg("recording written")
	}()

	release, err := b.acquire(ctx)
	if err != nil {
		return res, err
	}
	released := false
	defer func() {
		if !released {
			release()
		}
	}()
	res.Timings.SlotWait = time.Since(start)

	inst, started, err := b.instance(ctx)
	if err != nil {
		return res, err
	}
	res.Timings.BrowserStart = started

	s, closePage, err := openSession(ctx, b.cfg, inst, dash, rec.Token)
	if err != nil {
		return res, fmt.Errorf("record %s: %w", name, err)
	}
	defer func() {
		if blocked := s.blockedOrigins(); len(blocked) > 0 {
			log.Warn().Strs("blocked_origins", blocked).Msg("the dashboard page tried to reach other origins than Grafana's; refused")
		}
	}()
	stream := newGIFStream(false)
	pageOpen := true
	defer func() {
		if pageOpen {
			closePage()
		}
		if err != nil {
			stream.abort()
		}
	}()

	checkPage := func() error {
		if err := s.verify(rec.Expect); err != nil {
			return fmt.Errorf("record %s: %w", name, err)
		}
		// The check may have hovered a status button: let the page repaint without it.
		_, err := proto.RuntimeEvaluate{Expression: paintScript, AwaitPromise: true, ReturnByValue: true}.Call(s.page)
		return err
	}
	var firstShot time.Time
	shoot := func() error {
		t0 := time.Now()
		if firstShot.IsZero() {
			firstShot = t0
		}
		png, err := s.screenshot()
		if err != nil {
			return err
		}
		res.Timings.FrameAt = append(res.Timings.FrameAt, t0.Sub(firstShot))
		res.Timings.PerFrame = append(res.Timings.PerFrame, time.Since(t0))
		stream.add(png, rec.FrameDelay)
		return nil
	}

	if stepping {
		for i, v := range rec.StepValues {
			t0 := time.Now()
			if err := s.navigate(setQueryParam(base, "var-"+rec.StepVariable, v)); err != nil {
				return res, fmt.Errorf("record %s at %s=%s: %w", name, rec.StepVariable, v, err)
			}
			d := time.Since(t0)
			res.Timings.StepReady = append(res.Timings.StepReady, d)
			if i == 0 {
				res.Timings.PageReady = d
			}
			if err := checkPage(); err != nil {
				return res, err
			}
			if err := shoot(); err != nil {
				return res, fmt.Errorf("record %s: %w", name, err)
			}
		}
	} else {
		t0 := time.Now()
		if err := s.navigate(base); err != nil {
			return res, fmt.Errorf("record %s: %w", name, err)
		}
		res.Timings.PageReady = time.Since(t0)
		if err := checkPage(); err != nil {
			return res, err
		}
		// A ticker keeps the frames on a fixed grid: the time a screenshot takes does not
		// push the next one back.
		tick := time.NewTicker(rec.FrameDelay)
		defer tick.Stop()
		for i := 0; i < rec.Frames; i++ {
			if i > 0 {
				select {
				case <-tick.C:
				case <-ctx.Done():
					return res, fmt.Errorf("record %s: %w", name, context.Cause(ctx))
				}
			}
			if err := shoot(); err != nil {
				return res, fmt.Errorf("record %s: %w", name, err)
			}
		}
	}
	lastShot := time.Now()
	// Close the page and free its slot while the last frame is encoded.
	pageOpen, released = false, true
	closed := make(chan struct{})
	go func() {
		closePage()
		release()
		close(closed)
	}()
	defer func() { <-closed }()

	data, err := stream.finish()
	if err != nil {
		return res, fmt.Errorf("record %s: %w", name, err)
	}
	res.Timings.EncodeAfterLastFrame = time.Since(lastShot)
	res.Timings.Decode, res.Timings.Encode = stream.decode, stream.encode
	res.Width, res.Height = stream.enc.w, stream.enc.h
	if int64(len(data)) > b.cfg.MaxGIFBytes {
		t0 := time.Now()
		full := len(data)
		data, res.Width, res.Height, err = shrinkGIF(stream.pngs, stream.delays, full, b.cfg.MaxGIFBytes)
		if err != nil {
			return res, fmt.Errorf("record %s: %w", name, err)
		}
		res.Scaled = true
		res.Timings.Shrink = time.Since(t0)
		log.Info().Int("full_bytes", full).Int("bytes", len(data)).Int("width", res.Width).Msg("GIF scaled down to fit the size ceiling")
	}
	t0 := time.Now()
	path, err := writeFileAtomic(b.cfg.Dir, name, data)
	if err != nil {
		return res, fmt.Errorf("record %s: %w", name, err)
	}
	res.Timings.Write = time.Since(t0)
	res.Path, res.Bytes, res.Frames = path, int64(len(data)), len(stream.pngs)
	if rec.KeepFrames {
		res.PNGFrames = stream.pngs
	}
	return res, nil
}

func containsTitle(list []PanelError, title string) bool {
	for _, p := range list {
		if p.Title == title {
			return true
		}
	}
	return false
}

// nameFromURL gives "<uid>-<slug>" for /d/<uid>/<slug>, else the last path element.
func nameFromURL(u *url.URL) string {
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	for i, p := range parts {
		if p == "d" && i+1 < len(parts) {
			return strings.Join(parts[i+1:], "-")
		}
	}
	if p := parts[len(parts)-1]; p != "" {
		return p
	}
	return "dashboard"
}

// setQueryParam sets key=value in rawURL's query, replacing earlier values of key and leaving
// every other parameter exactly as written (Grafana's bare "kiosk" must stay bare).
func setQueryParam(rawURL, key, value string) string {
	base, frag, _ := strings.Cut(rawURL, "#")
	path, query, _ := strings.Cut(base, "?")
	var kept []string
	for _, part := range strings.Split(query, "&") {
		if part == "" {
			continue
		}
		k, _, _ := strings.Cut(part, "=")
		if uk, err := url.QueryUnescape(k); err == nil && uk == key {
			continue
		}
		kept = append(kept, part)
	}
	kept = append(kept, url.QueryEscape(key)+"="+url.QueryEscape(value))
	out := path + "?" + strings.Join(kept, "&")
	if frag != "" {
		out += "#" + frag
	}
	return out
}
