package capture

import (
	"fmt"
	"strings"
	"time"

	"github.com/go-rod/rod/lib/proto"
)

// Expected is the dashboard a recording must show. Before its first frame (and after each
// step's load) the recorder checks the page against it; see RecordGIF. The zero value checks
// only what holds for any dashboard: Grafana did not answer "not found" or with an error, the
// page is no login form, and it shows at least one panel, none failing or still loading.
type Expected struct {
	// UID is the dashboard's UID: the page's path must be …/d/<UID>[/…]. "" skips the check.
	UID string
	// Title is the dashboard's title: Grafana titles the page "<title> - <folder> -
	// Dashboards - Grafana", so the document title must be it or start with "<title> - ".
	// "" skips the check.
	Title string
	// Panels is the title of every panel Grafana draws; each must have drawn its header. A
	// title with a variable in it ($, [[) is not checked, as Grafana shows it interpolated.
	Panels []string
}

// ExpectDashboard reads what a dashboard's JSON model (the "dashboard" of GET
// /api/dashboards/uid/:uid) must show: its uid, its title and the titles of the panels Grafana
// draws: rows are not panels, a collapsed row's panels are drawn only once it is opened, and a
// panel without a title has no header to find.
func ExpectDashboard(model map[string]any) Expected {
	e := Expected{}
	e.UID, _ = model["uid"].(string)
	e.Title, _ = model["title"].(string)
	var walk func(list []any)
	walk = func(list []any) {
		for _, raw := range list {
			p, ok := raw.(map[string]any)
			if !ok {
				continue
			}
			if p["type"] == "row" {
				if collapsed, _ := p["collapsed"].(bool); !collapsed {
					nested, _ := p["panels"].([]any)
					walk(nested)
				}
				continue
			}
			if title, _ := p["title"].(string); title != "" {
				e.Panels = append(e.Panels, title)
			}
		}
	}
	panels, _ := model["panels"].([]any)
	walk(panels)
	return e
}

// pageScript describes the page as Grafana 11–13.2 draws it (selectors from
// @grafana/e2e-selectors): EntityNotFound ("data-testid entity-not-found", 11.2+) and
// DashboardPageError's alert ("dashboard-page-error"); a login form (a password field, or
// Grafana's own login inputs); each panel's header ("data-testid Panel header <title>"), its
// loading bar (LoadingBar with aria-label "Panel loading bar") and its status button
// ("data-testid Panel status error"), which it tags with data-cg-status=<n> for the hover.
const pageScript = `(() => {
  const prefix = 'data-testid Panel header ';
  const text = el => ((el && (el.innerText || el.textContent)) || '').trim().replace(/\s+/g, ' ');
  const visible = el => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  const out = { title: document.title, path: location.pathname, headers: [], loading: [], errors: [],
    notFound: '', pageError: '', login: false, body: text(document.body).slice(0, 160) };
  const nf = document.querySelector('[data-testid="data-testid entity-not-found"]');
  if (nf) out.notFound = text(nf.querySelector('h1, h2, h3, h4, h5, h6, [role="heading"]')) || text(nf).slice(0, 160) || 'not found';
  const pe = document.querySelector('[data-testid="dashboard-page-error"]');
  if (pe) out.pageError = text(pe).slice(0, 300) || 'Failed to load dashboard';
  out.login = Array.from(document.querySelectorAll('input[type="password"]')).some(visible) ||
    !!document.querySelector('[data-testid="data-testid Username input field"], [data-testid="data-testid Password input field"]');
  for (const sec of document.querySelectorAll('[data-testid^="' + prefix + '"]')) {
    const title = sec.getAttribute('data-testid').slice(prefix.length);
    out.headers.push(title);
    if (sec.querySelector('[aria-label="Panel loading bar"], [data-testid="Panel loading bar"], [data-testid="data-testid Panel loading bar"]')) out.loading.push(title);
  }
  let n = 0;
  for (const el of document.querySelectorAll('[data-testid="data-testid Panel status error"]')) {
    const panel = el.closest('[data-testid^="' + prefix + '"]');
    let title = panel ? panel.getAttribute('data-testid').slice(prefix.length) : '';
    if (!panel) {
      const box = el.closest('[data-viz-panel-key], .react-grid-item, section');
      const h = box && box.querySelector('[data-testid^="' + prefix + '"]');
      if (h) title = h.getAttribute('data-testid').slice(prefix.length);
    }
    el.setAttribute('data-cg-status', String(n));
    const r = el.getBoundingClientRect();
    out.errors.push({ title: title || '(untitled panel)', n: n, x: r.left + r.width / 2, y: r.top + r.height / 2,
      inView: r.width > 0 && r.height > 0 && r.bottom > 0 && r.right > 0 && r.top < innerHeight && r.left < innerWidth,
      label: el.getAttribute('aria-label') || '', text: text(el) });
    n++;
  }
  return out;
})()`

type statusButton struct {
	Title  string  `json:"title"`
	N      int     `json:"n"`
	X      float64 `json:"x"`
	Y      float64 `json:"y"`
	InView bool    `json:"inView"`
	Label  string  `json:"label"`
	Text   string  `json:"text"`
}

type pageState struct {
	Title     string         `json:"title"`
	Path      string         `json:"path"`
	Headers   []string       `json:"headers"`
	Loading   []string       `json:"loading"`
	Errors    []statusButton `json:"errors"`
	NotFound  string         `json:"notFound"`
	PageError string         `json:"pageError"`
	Login     bool           `json:"login"`
	Body      string         `json:"body"`
}

// verify checks the ready page against want. It returns a *PageError for a page that is not
// the dashboard and a *PanelErrorsError when panels show errors, each with the message of its
// status button's tooltip.
func (s *session) verify(want Expected) error {
	var st pageState
	if err := s.eval(pageScript, &st); err != nil {
		return fmt.Errorf("look at the page: %w", err)
	}
	wrong := func(login bool, format string, args ...any) error {
		return &PageError{URL: redactURL(s.current), Saw: fmt.Sprintf(format, args...), LoginForm: login}
	}
	switch {
	case st.NotFound != "":
		return wrong(false, "Grafana answered '%s'", st.NotFound)
	case st.PageError != "":
		return wrong(false, "Grafana answered '%s'", st.PageError)
	case st.Login && len(st.Headers) == 0:
		return wrong(true, "the page is a login form")
	case want.UID != "" && !pathHasUID(st.Path, want.UID):
		return wrong(false, "the page is %s, not dashboard %q", st.Path, want.UID)
	case want.Title != "" && st.Title != want.Title && !strings.HasPrefix(st.Title, want.Title+" - "):
		return wrong(false, "the page is titled %q, not %q", st.Title, want.Title)
	case len(st.Headers) == 0 && st.Body == "":
		return wrong(false, "the page is blank")
	case len(st.Headers) == 0:
		return wrong(false, "the page shows no dashboard panels (it says %q)", st.Body)
	}
	total := len(st.Headers)
	if len(want.Panels) > 0 {
		total = len(want.Panels)
		var missing []string
		for _, title := range want.Panels {
			if !strings.ContainsAny(title, "$[") && !containsString(st.Headers, title) {
				missing = append(missing, title)
			}
		}
		if len(missing) > 0 {
			return wrong(false, "%d of %d panels never rendered: %s", len(missing), total, listed(missing))
		}
	}
	if len(st.Loading) > 0 {
		return wrong(false, "%d of %d panels are still loading: %s", len(st.Loading), total, listed(st.Loading))
	}
	if len(st.Errors) == 0 {
		return nil
	}
	pe := &PanelErrorsError{Of: total}
	for _, b := range st.Errors {
		if !containsTitle(pe.Panels, b.Title) {
			pe.Panels = append(pe.Panels, PanelError{Title: b.Title, Message: s.statusMessage(b)})
		}
	}
	s.leaveStatus()
	return pe
}

// pathHasUID reports whether a page path is …/d/<uid> or …/d/<uid>/… (Grafana may serve
// under a sub-path).
func pathHasUID(path, uid string) bool {
	parts := strings.Split(path, "/")
	for i := 0; i+1 < len(parts); i++ {
		if parts[i] == "d" && parts[i+1] == uid {
			return true
		}
	}
	return false
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// listed joins up to five names, then says how many more.
func listed(names []string) string {
	if len(names) <= 5 {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:5], ", ") + fmt.Sprintf(" and %d more", len(names)-5)
}

// tooltipScript returns the text of the tooltip of status button n: the element its
// aria-describedby names (Grafana's Tooltip sets it while open), else the newest
// role="tooltip" element; "" while there is none.
const tooltipScript = `((n) => {
  const el = document.querySelector('[data-cg-status="' + n + '"]');
  if (!el) return '';
  const id = el.getAttribute('aria-describedby');
  let tip = id ? document.getElementById(id) : null;
  if (!tip) { const all = document.querySelectorAll('[role="tooltip"]'); tip = all.length ? all[all.length - 1] : null; }
  return tip ? (tip.innerText || tip.textContent || '').trim() : '';
})(%d)`

// statusMessage shows a status button's tooltip as a person would, hovering it (or focusing
// it when it is outside the viewport), and returns its text. Grafana 13.2 puts a panel's
// error message only there (PanelStatus → ToolbarButton tooltip → Tooltip, which opens on
// hover and focus).
func (s *session) statusMessage(b statusButton) string {
	if b.InView {
		_ = proto.InputDispatchMouseEvent{Type: proto.InputDispatchMouseEventTypeMouseMoved, X: b.X, Y: b.Y}.Call(s.page)
	} else {
		_, _ = proto.RuntimeEvaluate{Expression: fmt.Sprintf(`document.querySelector('[data-cg-status="%d"]').focus({preventScroll: true})`, b.N)}.Call(s.page)
	}
	var msg string
	for i := 0; i < 20 && msg == ""; i++ { // a tooltip opens within a frame or two
		if i > 0 {
			select {
			case <-time.After(50 * time.Millisecond):
			case <-s.ctx.Done():
				return "error"
			}
		}
		_ = s.eval(fmt.Sprintf(tooltipScript, b.N), &msg)
	}
	if msg == "" && b.Label != "" && b.Label != "status" && !strings.HasPrefix(b.Label, "Panel status") {
		msg = b.Label
	}
	if msg == "" {
		msg = "error (Grafana showed no message)"
	}
	s.leaveStatus()
	return msg
}

// leaveStatus moves the mouse off the page and takes the focus away, so no tooltip is left
// open for a screenshot.
func (s *session) leaveStatus() {
	_ = proto.InputDispatchMouseEvent{Type: proto.InputDispatchMouseEventTypeMouseMoved, X: -1, Y: -1}.Call(s.page)
	_, _ = proto.RuntimeEvaluate{Expression: `document.activeElement && document.activeElement.blur && document.activeElement.blur()`}.Call(s.page)
	for i := 0; i < 20; i++ {
		var open bool
		if s.eval(`document.querySelectorAll('[role="tooltip"]').length > 0`, &open) != nil || !open {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
}
