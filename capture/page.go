package capture

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
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

// paintScript resolves after two animation frames, so what was drawn is on screen.
const paintScript = `new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))`

// session is one recording's page in its own incognito browser context: it tracks the
// requests in flight, lets only requests to the dashboard's origin through (its proxy), adds
// the token to them, and waits for readiness.
type session struct {
	cfg     Config
	ctx     context.Context
	page    *rod.Page
	origin  string // the dashboard's origin, as grafanaOrigin gives it
	token   cg.Secret
	current string // the URL last navigated to

	mu        sync.Mutex
	inflight  map[proto.NetworkRequestID]string
	docStatus int
	docURL    string
	blocked   []string // requests to other origins that were failed, once each
}

// grafanaOrigin is u's origin in one spelling: scheme and host in lower case, the default
// port dropped ("http://LocalHost:80/x" and "http://localhost" give "http://localhost"), so
// the same Grafana is recognised however a URL spells it. ok is false for a URL without an
// http(s) scheme and a host.
func grafanaOrigin(raw string) (origin string, ok bool) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "", false
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return "", false
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if host == "" {
		return "", false
	}
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		port = ""
	}
	if port != "" {
		return scheme + "://" + net.JoinHostPort(host, port), true
	}
	if strings.Contains(host, ":") { // an IPv6 literal keeps its brackets
		host = "[" + host + "]"
	}
	return scheme + "://" + host, true
}

// openSession opens a page in a new incognito context. close disposes of both.
func openSession(parent context.Context, cfg Config, inst *instance, dashboard *url.URL, token cg.Secret) (s *session, closeFn func(), err error) {
	origin, ok := grafanaOrigin(dashboard.String())
	if !ok {
		return nil, nil, fmt.Errorf("dashboard URL %s has no http(s) origin", redactURL(dashboard.String()))
	}
	s = &session{cfg: cfg, origin: origin, token: token, inflight: map[proto.NetworkRequestID]string{}}
	proxy, err := startOriginProxy(origin, s.block)
	if err != nil {
		return nil, nil, fmt.Errorf("start the recording's proxy: %w", err)
	}
	// Cancelling ctx ends the event loop below, whatever the caller's context does.
	ctx, cancelEvents := context.WithCancel(parent)
	s.ctx = ctx
	bc, err := proto.TargetCreateBrowserContext{ProxyServer: proxy.URL(), ProxyBypassList: "<-loopback>"}.Call(inst.rod.Context(ctx))
	if err != nil {
		cancelEvents()
		proxy.Close()
		return nil, nil, fmt.Errorf("create browser context: %w", err)
	}
	ib := *inst.rod.Context(ctx) // as rod.Browser.Incognito does, with the proxy set
	ib.BrowserContextID = bc.BrowserContextID
	// closeSession, not the named result, which each failing return below sets to nil.
	closeSession := func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = ib.Context(cctx).Close()
		cancelEvents()
		proxy.Close()
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
	s.page = page
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
	// The context's proxy fails every request to another origin than the dashboard's, so a
	// dashboard cannot make the service fetch another host (see originProxy). With a token,
	// the requests to the dashboard's origin are paused to add it: only those (Chromium
	// writes the origin of a URL as grafanaOrigin does), so the token cannot reach another
	// host, and onPaused checks the origin once more.
	if !token.Empty() {
		err = proto.FetchEnable{Patterns: []*proto.FetchRequestPattern{{URLPattern: origin + "/*", RequestStage: proto.FetchRequestStageRequest}}}.Call(page)
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

// onPaused continues a request intercepted for the token: with it when the request goes to
// the dashboard's origin, else it fails the request. The request's own headers are kept;
// the override does not follow redirects.
func (s *session) onPaused(e *proto.FetchRequestPaused) {
	go func() {
		u := e.Request.URL
		if origin, ok := grafanaOrigin(u); !ok || origin != s.origin {
			shown := "(unparsable URL)"
			if p, err := url.Parse(u); err == nil {
				shown = p.Scheme + "://" + p.Host
			}
			s.block(shown)
			_ = proto.FetchFailRequest{RequestID: e.RequestID, ErrorReason: proto.NetworkErrorReasonBlockedByClient}.Call(s.page)
			return
		}
		req := proto.FetchContinueRequest{RequestID: e.RequestID}
		for k, v := range e.Request.Headers {
			if !strings.EqualFold(k, "Authorization") {
				req.Headers = append(req.Headers, &proto.FetchHeaderEntry{Name: k, Value: v.Str()})
			}
		}
		req.Headers = append(req.Headers, &proto.FetchHeaderEntry{Name: "Authorization", Value: "Bearer " + s.token.Reveal()})
		_ = req.Call(s.page)
	}()
}

// block remembers the origin (or host:port) of a refused request, for the log.
func (s *session) block(shown string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !slices.Contains(s.blocked, shown) {
		s.blocked = append(s.blocked, shown)
	}
}

// blockedOrigins lists the other origins the page tried to reach.
func (s *session) blockedOrigins() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.blocked)
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
	s.current = u
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
