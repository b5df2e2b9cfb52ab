package capture

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-rod/rod"
	"github.com/go-rod/rod/lib/proto"

	"credential-grafana/cg"
)

const (
	pollEvery   = 100 * time.Millisecond
	stablePolls = 3               // consecutive settled polls that make a page ready
	queryGrace  = 3 * time.Second // how long to wait for a first Grafana query to start
)

// readinessScript runs in every document before the page's own scripts. It turns
// window.__grafanaRunningQueryCount (kept by Grafana's Scenes query controller, as Grafana's
// own image renderer reads it) into an accessor that remembers whether a query ever started,
// so that a query starting and ending between two polls is not missed.
const readinessScript = `(() => {
  if (window.__cgCapture) return;
  let count = window.__grafanaRunningQueryCount, seen = count > 0;
  try {
    Object.defineProperty(window, '__grafanaRunningQueryCount', {
      configurable: true, enumerable: true,
      get() { return count; },
      set(v) { count = v; if (v > 0) seen = true; },
    });
  } catch (e) {}
  Object.defineProperty(window, '__cgCapture', { value: { seen: () => seen || window.__grafanaRunningQueryCount > 0 } });
})();`

const pollScript = `(() => {
  const q = window.__grafanaRunningQueryCount;
  return {
    rs: document.readyState,
    q: typeof q === 'number' ? q : -1,
    seen: !!(window.__cgCapture && window.__cgCapture.seen()),
    path: location.pathname,
  };
})()`

// panelScript lists the panels and the ones showing an error. Grafana 11–13 (and our fake)
// mark a panel with data-testid "data-testid Panel header <title>" and an error with a
// descendant "data-testid Panel status error"; the message is in the marker's title (the fake)
// or aria-label (Grafana's ToolbarButton labels itself with its tooltip), else its text.
const panelScript = `(() => {
  const prefix = 'data-testid Panel header ';
  const headers = Array.from(document.querySelectorAll('[data-testid^="' + prefix + '"]'));
  const titles = new Set(headers.map(h => h.getAttribute('data-testid').slice(prefix.length)));
  const errors = [];
  const seen = new Set();
  for (const el of document.querySelectorAll('[data-testid="data-testid Panel status error"]')) {
    const panel = el.closest('[data-testid^="' + prefix + '"]');
    let title = panel ? panel.getAttribute('data-testid').slice(prefix.length) : '';
    if (!panel) {
      const box = el.closest('[data-viz-panel-key], .react-grid-item, section');
      const h = box && box.querySelector('[data-testid^="' + prefix + '"]');
      if (h) title = h.getAttribute('data-testid').slice(prefix.length);
    }
    if (seen.has(title)) continue;
    seen.add(title);
    let label = el.getAttribute('aria-label') || '';
    if (label.startsWith('data-testid ')) label = label.slice('data-testid '.length);
    if (label.startsWith('Panel status')) label = '';
    const message = el.getAttribute('title') || label || (el.textContent || '').trim() || 'error';
    errors.push({ title: title || '(untitled panel)', message });
  }
  return { panels: titles.size, errors };
})()`

// paintScript resolves after two animation frames, so what was drawn is on screen.
const paintScript = `new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))`

// session is one recording's page in its own incognito browser context: it tracks the
// requests in flight, adds the token to requests for the dashboard's origin, and waits for
// readiness.
type session struct {
	cfg    Config
	ctx    context.Context
	page   *rod.Page
	origin string
	token  cg.Secret

	mu        sync.Mutex
	inflight  map[proto.NetworkRequestID]string
	docStatus int
	docURL    string
}

// openSession opens a page in a new incognito context. close disposes of both.
func openSession(parent context.Context, cfg Config, inst *instance, dashboard *url.URL, token cg.Secret) (s *session, closeFn func(), err error) {
	// Cancelling ctx ends the event loop below, whatever the caller's context does.
	ctx, cancelEvents := context.WithCancel(parent)
	ib, err := inst.rod.Context(ctx).Incognito()
	if err != nil {
		cancelEvents()
		return nil, nil, fmt.Errorf("create browser context: %w", err)
	}
	// closeSession, not the named result, which each failing return below sets to nil.
	closeSession := func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = ib.Context(cctx).Close()
		cancelEvents()
	}
	closeFn = closeSession
	defer func() {
		if err != nil {
			closeSession()
		}
	}()
	page, err := ib.Page(proto.TargetCreateTarget{})
	if err != nil {
		return nil, nil, fmt.Errorf("open page: %w", err)
	}
	page = page.Context(ctx)
	s = &session{
		cfg:      cfg,
		ctx:      ctx,
		page:     page,
		origin:   dashboard.Scheme + "://" + dashboard.Host,
		token:    token,
		inflight: map[proto.NetworkRequestID]string{},
	}
	err = proto.EmulationSetDeviceMetricsOverride{Width: cfg.Width, Height: cfg.Height, DeviceScaleFactor: 1}.Call(page)
	if err != nil {
		return nil, nil, fmt.Errorf("set viewport: %w", err)
	}
	if _, err = (proto.PageAddScriptToEvaluateOnNewDocument{Source: readinessScript}).Call(page); err != nil {
		return nil, nil, fmt.Errorf("add readiness script: %w", err)
	}
	if err = (proto.NetworkEnable{}).Call(page); err != nil {
		return nil, nil, fmt.Errorf("enable network events: %w", err)
	}
	if !token.Empty() {
		// Only requests whose URL starts with the dashboard's origin are paused, so the token
		// cannot reach another host; onPaused checks the origin once more.
		err = proto.FetchEnable{Patterns: []*proto.FetchRequestPattern{{
			URLPattern:   s.origin + "/*",
			RequestStage: proto.FetchRequestStageRequest,
		}}}.Call(page)
		if err != nil {
			return nil, nil, fmt.Errorf("enable request interception: %w", err)
		}
	}
	handlers := []any{
		s.onRequest, s.onFinished, s.onFailed, s.onResponse,
		func(e *proto.PageJavascriptDialogOpening) {
			go func() { _ = proto.PageHandleJavaScriptDialog{Accept: false}.Call(page) }()
		},
	}
	if !token.Empty() {
		// Only with interception enabled above: for an event type whose domain is off, go-rod
		// enables the domain itself, which for Fetch would pause every request.
		handlers = append(handlers, s.onPaused)
	}
	go page.EachEvent(handlers...)()
	return s, closeFn, nil
}

func (s *session) onRequest(e *proto.NetworkRequestWillBeSent) {
	if e.Type == proto.NetworkResourceTypeEventSource || e.Type == proto.NetworkResourceTypeWebSocket {
		return // long-lived by design
	}
	u := e.Request.URL
	if strings.HasPrefix(u, "data:") || strings.HasPrefix(u, "blob:") {
		return
	}
	s.mu.Lock()
	s.inflight[e.RequestID] = u
	s.mu.Unlock()
}

func (s *session) onFinished(e *proto.NetworkLoadingFinished) {
	s.mu.Lock()
	delete(s.inflight, e.RequestID)
	s.mu.Unlock()
}

func (s *session) onFailed(e *proto.NetworkLoadingFailed) {
	s.mu.Lock()
	delete(s.inflight, e.RequestID)
	s.mu.Unlock()
}

func (s *session) onResponse(e *proto.NetworkResponseReceived) {
	if e.Type != proto.NetworkResourceTypeDocument || e.FrameID != s.page.FrameID {
		return
	}
	s.mu.Lock()
	s.docStatus, s.docURL = e.Response.Status, e.Response.URL
	s.mu.Unlock()
}

// onPaused continues an intercepted request, with the token when it goes to the dashboard's
// origin. The request's own headers are kept; the override does not follow redirects.
func (s *session) onPaused(e *proto.FetchRequestPaused) {
	go func() {
		req := proto.FetchContinueRequest{RequestID: e.RequestID}
		if u, err := url.Parse(e.Request.URL); err == nil && u.Scheme+"://"+u.Host == s.origin {
			for k, v := range e.Request.Headers {
				if !strings.EqualFold(k, "Authorization") {
					req.Headers = append(req.Headers, &proto.FetchHeaderEntry{Name: k, Value: v.Str()})
				}
			}
			req.Headers = append(req.Headers, &proto.FetchHeaderEntry{Name: "Authorization", Value: "Bearer " + s.token.Reveal()})
		}
		_ = req.Call(s.page)
	}()
}

func (s *session) pending() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	list := make([]string, 0, len(s.inflight))
	for _, u := range s.inflight {
		list = append(list, u)
	}
	slices.Sort(list)
	return list
}

// navigate loads u and waits until it is ready.
func (s *session) navigate(u string) error {
	s.mu.Lock()
	clear(s.inflight)
	s.docStatus, s.docURL = 0, ""
	s.mu.Unlock()
	if err := s.page.Navigate(u); err != nil {
		return fmt.Errorf("navigate to %s: %w", redactURL(u), err)
	}
	return s.waitReady(u)
}

type pollState struct {
	RS   string `json:"rs"`
	Q    int    `json:"q"`
	Seen bool   `json:"seen"`
	Path string `json:"path"`
}

// waitReady polls every 100 ms until no request is in flight and no Grafana query is running
// for stablePolls polls in a row, after a first query was seen (or queryGrace passed without
// one), then waits PaintDelay and two animation frames.
func (s *session) waitReady(u string) error {
	start := time.Now()
	deadline := start.Add(s.cfg.Timeout)
	ticker := time.NewTicker(pollEvery)
	defer ticker.Stop()
	stable := 0
	var last pollState
	for {
		var st pollState
		ok := s.eval(pollScript, &st) == nil
		if ok {
			last = st
			if strings.HasSuffix(st.Path, "/login") {
				return ErrTokenRefused
			}
		}
		s.mu.Lock()
		n, status, docURL := len(s.inflight), s.docStatus, s.docURL
		s.mu.Unlock()
		if status == 401 || status == 403 {
			return fmt.Errorf("%w (the page answered %d)", ErrTokenRefused, status)
		}
		if status >= 400 && n == 0 {
			return fmt.Errorf("dashboard page %s answered HTTP %d", redactURL(docURL), status)
		}
		if ok && st.RS == "complete" && n == 0 && st.Q <= 0 {
			stable++
		} else {
			stable = 0
		}
		if stable >= stablePolls && (last.Seen || time.Since(start) >= queryGrace) {
			break
		}
		if time.Now().After(deadline) {
			return &NotReadyError{URL: redactURL(u), Waited: time.Since(start), Pending: s.pending(), RunningQueries: last.Q, ReadyState: last.RS}
		}
		select {
		case <-ticker.C:
		case <-s.ctx.Done():
			nr := &NotReadyError{URL: redactURL(u), Waited: time.Since(start), Pending: s.pending(), RunningQueries: last.Q, ReadyState: last.RS}
			return fmt.Errorf("%w: %w", context.Cause(s.ctx), nr)
		}
	}
	if d := s.cfg.PaintDelay; d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-s.ctx.Done():
			t.Stop()
			return fmt.Errorf("wait for paint: %w", context.Cause(s.ctx))
		}
	}
	_, err := proto.RuntimeEvaluate{Expression: paintScript, AwaitPromise: true, ReturnByValue: true}.Call(s.page)
	return err
}

// eval runs a script and decodes its result into v.
func (s *session) eval(script string, v any) error {
	res, err := proto.RuntimeEvaluate{Expression: script, ReturnByValue: true}.Call(s.page)
	if err != nil {
		return err
	}
	if res.ExceptionDetails != nil {
		return fmt.Errorf("script failed: %s", res.ExceptionDetails.Text)
	}
	return json.Unmarshal([]byte(res.Result.Value.JSON("", "")), v)
}

type panelState struct {
	Panels int          `json:"panels"`
	Errors []PanelError `json:"errors"`
}

func (s *session) panels() (panelState, error) {
	var ps panelState
	err := s.eval(panelScript, &ps)
	return ps, err
}

// screenshot takes a lossless PNG of the viewport.
func (s *session) screenshot() ([]byte, error) {
	res, err := proto.PageCaptureScreenshot{Format: proto.PageCaptureScreenshotFormatPng, OptimizeForSpeed: true}.Call(s.page)
	if err != nil {
		return nil, fmt.Errorf("screenshot: %w", err)
	}
	return res.Data, nil
}

// redactURL drops any user:password from a URL before it goes into an error or a log.
func redactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparsable URL)"
	}
	p.User = nil
	return p.String()
}
