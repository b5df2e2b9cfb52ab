package capture

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"html/template"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// dashboardServer is an httptest server whose /d/<uid>/<slug> page behaves like a Grafana
// dashboard: a script loaded from the server builds panels, each panel fetches its data from
// /api/ds/query while window.__grafanaRunningQueryCount counts the running queries, and the
// numbers depend on var-stage. Query parameters shape the page:
//
//	mode=static|busy|numbers  static draws once; busy redraws every panel each 500 ms (a live
//	                          dashboard); numbers changes only the stat values each 500 ms
//	bars=gradient             bars get a gradient over their height instead of a flat fill
//	fail=<title>,…            these panels show Grafana 13.2's error marker (a status button
//	                          whose message is only in the tooltip shown while it is hovered)
//	loading=<title>           this panel keeps Grafana's loading bar
//	login=1                   the page is a login form (as a proxy in front of Grafana shows)
//	blank=1                   the page is empty
//	extra=<url>               an image and a script are loaded from this URL (a second origin)
//	probe=<url>               the page reaches this origin every way a page can: fetch, a
//	                          WebSocket, a worker's fetch, an iframe, a beacon, and a redirect
//	                          from this server
//	hang=1                    one request never finishes
type dashboardServer struct {
	*httptest.Server
	token string // when set, requests without "Bearer <token>" are sent to /login

	mu       sync.Mutex
	auth     map[string][]string // path -> Authorization headers received
	querying map[string]int      // dashboard page (from the Referer) -> its queries being answered now
	maxPages int                 // the most pages seen querying at once
	hold     chan struct{}       // closed when the server closes: releases /api/hang
}

func newDashboardServer(t testing.TB, token string) *dashboardServer {
	s := &dashboardServer{token: token, auth: map[string][]string{}, querying: map[string]int{}, hold: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /d/{uid}/{slug}", s.page)
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<!doctype html><title>Grafana</title><body style="background:#111217;color:#ccc">Welcome to Grafana</body>`)
	})
	mux.HandleFunc("GET /public/dashboard.js", func(w http.ResponseWriter, r *http.Request) {
		s.record(r)
		w.Header().Set("Content-Type", "text/javascript")
		fmt.Fprint(w, dashboardJS)
	})
	mux.HandleFunc("GET /api/ds/query", s.query)
	mux.HandleFunc("GET /redirect", func(w http.ResponseWriter, r *http.Request) {
		s.record(r)
		http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
	})
	mux.HandleFunc("GET /api/hang", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-s.hold:
		}
	})
	s.Server = httptest.NewServer(mux)
	t.Cleanup(func() {
		close(s.hold)
		s.Server.Close()
	})
	return s
}

func (s *dashboardServer) record(r *http.Request) {
	s.mu.Lock()
	s.auth[r.URL.Path] = append(s.auth[r.URL.Path], r.Header.Get("Authorization"))
	s.mu.Unlock()
}

// authorizations returns the Authorization headers received for path.
func (s *dashboardServer) authorizations(path string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.auth[path]...)
}

// maxPagesQuerying is the most dashboard pages that had a query running at the same time.
func (s *dashboardServer) maxPagesQuerying() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxPages
}

// dashboardURL returns the kiosk URL of a dashboard with extra query parameters.
func (s *dashboardServer) dashboardURL(uid string, params ...string) string {
	u := s.URL + "/d/" + uid + "/run-report?orgId=1&kiosk&_dash.hideTimePicker&_dash.hideVariables&_dash.hideLinks"
	for i := 0; i+1 < len(params); i += 2 {
		u += "&" + params[i] + "=" + params[i+1]
	}
	return u
}

func (s *dashboardServer) page(w http.ResponseWriter, r *http.Request) {
	s.record(r)
	if s.token != "" && r.Header.Get("Authorization") != "Bearer "+s.token {
		http.Redirect(w, r, "/login?redirect="+r.URL.Path, http.StatusFound)
		return
	}
	q := r.URL.Query()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	switch {
	case q.Get("login") == "1":
		fmt.Fprint(w, `<!doctype html><title>Sign in</title><body><form method="post" action="/oauth2/sign_in">
			<label>Username <input name="username"></label><label>Password <input name="password" type="password"></label>
			<button type="submit">Sign in</button></form></body>`)
		return
	case q.Get("blank") == "1":
		fmt.Fprint(w, `<!doctype html><title></title><body></body>`)
		return
	}
	err := pageTemplate.Execute(w, map[string]any{
		"Extra": q.Get("extra"),
		"Probe": q.Get("probe"),
		"Hang":  q.Get("hang") == "1",
		"Light": q.Get("theme") == "light",
	})
	if err != nil {
		panic(err)
	}
}

// query answers a panel's query after a short delay, with numbers derived from the panel,
// the stage and the refresh tick.
func (s *dashboardServer) query(w http.ResponseWriter, r *http.Request) {
	s.record(r)
	page := r.Referer()
	if u, err := url.Parse(page); err == nil {
		page = u.Path
	}
	s.mu.Lock()
	s.querying[page]++
	s.maxPages = max(s.maxPages, len(s.querying))
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		if s.querying[page]--; s.querying[page] == 0 {
			delete(s.querying, page)
		}
		s.mu.Unlock()
	}()
	q := r.URL.Query()
	if d, err := time.ParseDuration(q.Get("delay")); err == nil {
		time.Sleep(d)
	} else {
		time.Sleep(20 * time.Millisecond)
	}
	seed := q.Get("panel") + "/" + q.Get("stage") + "/" + q.Get("tick")
	h := fnv.New64a()
	h.Write([]byte(seed))
	x := h.Sum64()
	next := func() float64 { // xorshift, deterministic per seed
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		return float64(x%10000) / 10000
	}
	values := make([]float64, 48)
	for i := range values {
		values[i] = math.Round((0.3+0.7*next())*1000) / 1000
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"value":  math.Round((next()*2-1)*1000) / 1000,
		"count":  int(next() * 5000),
		"values": values,
	})
}

var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Run report - Grafana</title>
<style>
  body { margin: 0; background: {{if .Light}}#f4f5f5{{else}}#111217{{end}}; color: {{if .Light}}#24292e{{else}}#ccccdc{{end}};
         font: 14px "DejaVu Sans", sans-serif; }
  #grid { position: absolute; inset: 8px; display: grid; gap: 8px;
          grid-template-columns: repeat(3, 1fr); grid-template-rows: 1fr 1.6fr 1.4fr; }
  section { background: {{if .Light}}#fff{{else}}#181b1f{{end}}; border: 1px solid #2c3235; border-radius: 2px;
            display: flex; flex-direction: column; overflow: hidden; position: relative; }
  section header { height: 32px; line-height: 32px; padding: 0 8px; font-weight: 500; }
  section .body { flex: 1; position: relative; }
  .stat { position: absolute; inset: 0; display: flex; align-items: center; justify-content: center;
          font-size: 64px; font-weight: bold; }
  canvas { position: absolute; inset: 0; width: 100%; height: 100%; }
  table { width: 100%; border-collapse: collapse; font-size: 13px; }
  td, th { padding: 4px 8px; border-bottom: 1px solid #2c3235; text-align: right; }
  .err { position: absolute; top: 6px; right: 8px; color: #fff; background: #d10e5c; padding: 0 6px; }
  .wide { grid-column: span 2; }
</style>
<script src="/public/dashboard.js" defer></script>
</head><body>
<div id="grid"></div>
{{if .Extra}}<img src="{{.Extra}}/logo.png" width="16" height="16" style="position:absolute;left:-100px"><script src="{{.Extra}}/lib.js"></script>{{end}}
{{if .Hang}}<script>fetch('/api/hang')</script>{{end}}
{{if .Probe}}<iframe src="{{.Probe}}/frame" width="1" height="1" style="position:absolute;left:-100px"></iframe>
<script>
(() => {
  const other = {{.Probe}};
  fetch(other + '/fetch', {mode: 'no-cors'}).catch(() => {});
  fetch('/redirect?to=' + encodeURIComponent(other + '/redirected')).catch(() => {});
  try { new WebSocket(other.replace(/^http/, 'ws') + '/websocket'); } catch (e) {}
  try { navigator.sendBeacon(other + '/beacon', 'x'); } catch (e) {}
  try {
    const src = 'fetch(' + JSON.stringify(other + '/worker') + ', {mode: "no-cors"}).catch(() => {});';
    new Worker(URL.createObjectURL(new Blob([src], {type: 'text/javascript'})));
  } catch (e) {}
})();
</script>{{end}}
</body></html>`))

const dashboardJS = `
(() => {
  const params = new URLSearchParams(location.search);
  const stage = params.get('var-stage') || 'floorplan';
  const mode = params.get('mode') || 'static';
  const fail = (params.get('fail') || '').split(',').filter(Boolean);
  const loading = params.get('loading') || '';
  const delay = params.get('delay') || '';
  const gradientBars = params.get('bars') === 'gradient';
  const panels = [
    { title: 'WNS (ns)', kind: 'stat' },
    { title: 'TNS (ns)', kind: 'stat' },
    { title: 'Failing endpoints', kind: 'stat' },
    { title: 'Slack histogram', kind: 'bars', cls: 'wide' },
    { title: 'Worst paths', kind: 'table' },
    { title: 'Slack by path group', kind: 'line', cls: 'wide' },
    { title: 'Utilisation', kind: 'bars' },
  ];
  const grid = document.getElementById('grid');
  for (const p of panels) {
    const s = document.createElement('section');
    s.setAttribute('data-testid', 'data-testid Panel header ' + p.title);
    if (p.cls) s.className = p.cls;
    s.innerHTML = '<header></header><div class="body"></div>';
    if (p.title === loading) s.insertAdjacentHTML('afterbegin', '<div aria-label="Panel loading bar" style="height:2px;background:#6e9fff"></div>');
    s.querySelector('header').textContent = p.title + (p.kind === 'stat' ? '' : ' - ' + stage);
    p.body = s.querySelector('.body');
    if (p.kind === 'bars' || p.kind === 'line') {
      p.canvas = document.createElement('canvas');
      p.body.appendChild(p.canvas);
    }
    grid.appendChild(s);
  }
  const colours = ['#73bf69', '#f2cc0c', '#5794f2', '#ff9830', '#b877d9', '#f2495c'];
  function draw(p, d) {
    if (fail.includes(p.title)) {
      // As Grafana 13.2's PanelStatus: the message shows only in a tooltip while hovered.
      p.body.innerHTML = '<button class="err" data-testid="data-testid Panel status error" aria-label="status">!</button>';
      const b = p.body.firstChild;
      let tip = null;
      b.addEventListener('mouseenter', () => {
        tip = document.createElement('div');
        tip.setAttribute('role', 'tooltip');
        tip.id = 'tip-' + Math.random().toString(36).slice(2);
        tip.textContent = 'db query error: relation "' + p.title + '" does not exist';
        tip.style.cssText = 'position:absolute;z-index:9;background:#d10e5c;color:#fff;padding:4px';
        document.body.appendChild(tip);
        b.setAttribute('aria-describedby', tip.id);
      });
      b.addEventListener('mouseleave', () => { tip && tip.remove(); tip = null; b.removeAttribute('aria-describedby'); });
      return;
    }
    if (p.kind === 'stat') {
      p.body.innerHTML = '<div class="stat"></div>';
      const el = p.body.firstChild;
      el.textContent = p.title.startsWith('Failing') ? String(d.count) : d.value.toFixed(3);
      el.style.color = d.value < 0 ? '#f2495c' : '#73bf69';
      return;
    }
    if (p.kind === 'table') {
      let h = '<table><tr><th>path</th><th>slack</th><th>skew</th></tr>';
      for (let i = 0; i < 12; i++) {
        h += '<tr><td>u_core/path_' + i + '</td><td>' + (d.values[i] - 0.5).toFixed(3) + '</td><td>' + d.values[i + 12].toFixed(3) + '</td></tr>';
      }
      p.body.innerHTML = h + '</table>';
      return;
    }
    const c = p.canvas, r = c.getBoundingClientRect();
    c.width = r.width; c.height = r.height;
    const g = c.getContext('2d');
    g.clearRect(0, 0, c.width, c.height);
    g.strokeStyle = '#2c3235';
    for (let y = 20; y < c.height; y += 40) { g.beginPath(); g.moveTo(40, y); g.lineTo(c.width - 10, y); g.stroke(); }
    g.fillStyle = '#8e8e8e'; g.font = '11px DejaVu Sans';
    for (let y = 20, v = 1; y < c.height; y += 40, v -= 0.2) g.fillText(v.toFixed(1), 4, y + 4);
    if (p.kind === 'bars') {
      const n = 24, bw = (c.width - 60) / n;
      for (let i = 0; i < n; i++) {
        const h = d.values[i] * (c.height - 30);
        if (gradientBars) { // a gradient over each bar's height: every pixel changes with the value
          const grad = g.createLinearGradient(0, c.height - h, 0, c.height);
          grad.addColorStop(0, colours[i % 6]); grad.addColorStop(1, colours[(i + 2) % 6] + '40');
          g.fillStyle = grad;
        } else {
          g.fillStyle = colours[i % 6] + 'cc'; // Grafana's bar chart: fill opacity 80, no gradient
        }
        g.fillRect(45 + i * bw, c.height - 10 - h, bw - 3, h);
        g.strokeStyle = colours[i % 6]; g.lineWidth = 1;
        g.strokeRect(45.5 + i * bw, c.height - 9.5 - h, bw - 4, h - 1);
      }
    } else {
      for (let s = 0; s < 3; s++) {
        g.strokeStyle = colours[s]; g.lineWidth = 2; g.beginPath();
        for (let i = 0; i < 16; i++) {
          const x = 45 + i * (c.width - 60) / 15, y = 10 + (1 - d.values[s * 16 + i]) * (c.height - 30);
          i ? g.lineTo(x, y) : g.moveTo(x, y);
        }
        g.stroke();
        // Grafana's "opacity" gradient fill under the line.
        const grad = g.createLinearGradient(0, 0, 0, c.height);
        grad.addColorStop(0, colours[s] + '40'); grad.addColorStop(1, colours[s] + '00');
        g.fillStyle = grad; g.lineTo(c.width - 15, c.height - 10); g.lineTo(45, c.height - 10); g.fill();
      }
    }
  }
  let tick = 0;
  function refresh(which) {
    for (const p of which) {
      window.__grafanaRunningQueryCount = (window.__grafanaRunningQueryCount ?? 0) + 1;
      fetch('/api/ds/query?panel=' + encodeURIComponent(p.title) + '&stage=' + encodeURIComponent(stage) + '&tick=' + tick + '&delay=' + delay)
        .then(r => r.json())
        .then(d => draw(p, d))
        .finally(() => { window.__grafanaRunningQueryCount -= 1; });
    }
  }
  refresh(panels);
  if (mode === 'busy' || mode === 'numbers') {
    const which = mode === 'busy' ? panels : panels.filter(p => p.kind === 'stat');
    setInterval(() => { tick++; refresh(which); }, 500);
  }
})();
`

// secondOrigin is another server the dashboard loads an image and a script from; it records
// the Authorization headers it receives.
func newSecondOrigin(t testing.TB) (*httptest.Server, func() []string) {
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.URL.Path+" "+strconv.Quote(r.Header.Get("Authorization")))
		mu.Unlock()
		if strings.HasSuffix(r.URL.Path, ".js") {
			w.Header().Set("Content-Type", "text/javascript")
			fmt.Fprint(w, "window.__lib = true;")
			return
		}
		w.Header().Set("Content-Type", "image/png")
		_, _ = w.Write(onePixelPNG)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
	}
}

var onePixelPNG = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")
