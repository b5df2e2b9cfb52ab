package grafanatest

import (
	"encoding/json"
	"html"
	"net/http"
	"strings"
)

// page serves /d/<uid>/<slug>: an HTML page whose script, like Grafana's frontend,
// resolves the query variables, interpolates them into each panel's SQL, runs every
// panel's queries through POST /api/ds/query and draws the results. An authenticated
// load gets a session cookie so the script's requests are authenticated too.
func (s *Server) page(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	d, ok := s.store(r).dashboards[r.PathValue("uid")]
	var model []byte
	if ok {
		model, _ = json.Marshal(d.Model)
	}
	s.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: "grafana_session", Value: s.sessionFor(r), Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if !ok {
		// Grafana's server answers every /d/… path with its single-page app (HTTP 200); the
		// app asks GET /api/dashboards/uid/<uid>, and on a 404 draws EntityNotFound inside
		// DashboardPageError (public/app/features/dashboard/containers/DashboardPageError.tsx,
		// public/app/core/components/PageNotFound/EntityNotFound.tsx, Grafana 11.2–13.2):
		// data-testid "data-testid entity-not-found", the message "Dashboard not found",
		// and the document titled after the page nav "Not found".
		uid, _ := json.Marshal(r.PathValue("uid"))
		_, _ = w.Write([]byte(strings.Replace(notFoundHTML, "{{UID}}", string(uid), 1)))
		return
	}
	q := r.URL.Query()
	vars := map[string]string{}
	for k, v := range q {
		if name, found := strings.CutPrefix(k, "var-"); found && len(v) > 0 {
			vars[name] = v[0]
		}
	}
	_, kiosk := q["kiosk"]
	_, hideVars := q["_dash.hideVariables"]
	theme := q.Get("theme")
	if theme != "light" {
		theme = "dark"
	}
	cfg, _ := json.Marshal(map[string]any{"dashboard": json.RawMessage(model), "vars": vars, "kiosk": kiosk,
		"hideVariables": hideVars || kiosk, "orgId": q.Get("orgId")})
	// json.Marshal escapes <, > and &, so the JSON is safe inside a script element.
	page := strings.NewReplacer(
		"{{THEME}}", theme,
		"{{TITLE}}", html.EscapeString(d.Title),
		"{{CONFIG}}", string(cfg),
	).Replace(pageHTML)
	_, _ = w.Write([]byte(page))
}

const notFoundHTML = `<!doctype html>
<html lang="en" class="theme-dark">
<head><meta charset="utf-8"><title>Grafana</title></head>
<body style="background:#111217;color:#ccccdc;font-family:Inter,Helvetica,Arial,sans-serif">
<div id="cg-root"></div>
<script>
(function () {
  var uid = {{UID}};
  fetch("/api/dashboards/uid/" + encodeURIComponent(uid), {credentials: "same-origin"}).then(function (r) {
    var root = document.getElementById("cg-root");
    document.title = "Not found - Dashboards - Grafana";
    var box = document.createElement("div");
    box.setAttribute("data-testid", "data-testid entity-not-found");
    box.style.padding = "64px 16px 16px";
    var h = document.createElement("h4");
    h.textContent = r.status === 404 ? "Dashboard not found" : "Failed to load dashboard";
    var p = document.createElement("p");
    p.textContent = "We're looking but can't seem to find this dashboard. Please check the URL and try again.";
    box.appendChild(h);
    box.appendChild(p);
    root.appendChild(box);
  });
})();
</script>
</body>
</html>
`

const pageHTML = `<!doctype html>
<html lang="en" class="theme-{{THEME}}">
<head>
<meta charset="utf-8">
<title>{{TITLE}} - Dashboards - Grafana</title>
<style>
  :root { --bg:#111217; --panel:#181b1f; --border:#2c3235; --text:#ccccdc; --muted:#8e8e9e; --accent:#5794f2; }
  .theme-light { --bg:#f4f5f5; --panel:#ffffff; --border:#dce0e4; --text:#24292e; --muted:#6e7681; --accent:#3871dc; }
  html, body { margin:0; background:var(--bg); color:var(--text); font-family: Inter, Helvetica, Arial, sans-serif; }
  header.cg-nav { padding:8px 16px; border-bottom:1px solid var(--border); display:flex; gap:16px; align-items:center; }
  header.cg-nav h1 { font-size:18px; margin:0; font-weight:500; }
  .cg-var { font-size:13px; color:var(--muted); }
  .cg-grid { display:grid; grid-template-columns:repeat(24, 1fr); grid-auto-rows:30px; gap:8px; padding:8px; }
  section.cg-panel { background:var(--panel); border:1px solid var(--border); border-radius:2px; display:flex; flex-direction:column; min-width:0; overflow:hidden; }
  .cg-panel-header { display:flex; align-items:center; gap:6px; padding:4px 8px; height:24px; }
  .cg-panel-header h2 { font-size:14px; font-weight:500; margin:0; white-space:nowrap; overflow:hidden; text-overflow:ellipsis; flex:1; }
  .cg-panel-content { flex:1; min-height:0; padding:4px 8px 8px; position:relative; overflow:hidden; }
  .cg-status-error { background:#d10e5c; color:#fff; border:0; border-radius:2px; font-size:12px; padding:0 6px; height:20px; }
  .cg-tooltip { position:absolute; z-index:1000; max-width:400px; background:#d10e5c; color:#fff; font-size:12px; padding:4px 8px; border-radius:2px; white-space:pre-wrap; }
  .cg-loading-bar { height:2px; width:28%; background:linear-gradient(90deg, rgba(110,159,255,0) 0%, #6E9FFF 80.75%, rgba(110,159,255,0) 100%); }
  .cg-nodata { color:var(--muted); display:flex; align-items:center; justify-content:center; height:100%; font-size:16px; }
  .cg-stat { display:flex; gap:16px; height:100%; align-items:center; justify-content:space-around; }
  .cg-stat-item { text-align:center; min-width:0; }
  .cg-stat-value { font-size:40px; font-weight:500; line-height:1.1; white-space:nowrap; }
  .cg-stat-name { font-size:12px; color:var(--muted); }
  table.cg-table { border-collapse:collapse; width:100%; font-size:12px; }
  table.cg-table th { text-align:left; color:var(--accent); font-weight:500; border-bottom:1px solid var(--border); padding:3px 6px; }
  table.cg-table td { border-bottom:1px solid var(--border); padding:3px 6px; white-space:nowrap; overflow:hidden; text-overflow:ellipsis; max-width:260px; }
  svg text { fill:var(--text); font-size:10px; }
</style>
</head>
<body>
<script type="application/json" id="cg-config">{{CONFIG}}</script>
<div id="cg-root"></div>
<script>
(function () {
  "use strict";
  window.__grafanaRunningQueryCount = 0;
  var cfg = JSON.parse(document.getElementById("cg-config").textContent);
  var dash = cfg.dashboard || {};
  var vars = Object.assign({}, cfg.vars || {});
  var root = document.getElementById("cg-root");
  var palette = ["#73bf69", "#f2cc0c", "#5794f2", "#ff9830", "#f2495c", "#b877d9", "#8ab8ff", "#fade2a"];

  // Grafana's template service: $var, [[var]], [[var:fmt]], ${var}, ${var.field}, ${var:fmt}.
  var varRE = /\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\${(\w+)(?:\.([^:^\}]+))?(?::([^\}]+))?}/g;
  function interpolate(sql) {
    return sql.replace(varRE, function (m, g1, g2, g3, g4, g5, g6) {
      var name = g1 || g2 || g4, fmt = g3 || g6;
      if (!Object.prototype.hasOwnProperty.call(vars, name)) return m;
      var v = String(vars[name]);
      switch (fmt) {
        case undefined: case "": return v.replace(/'/g, "''");
        // Grafana's sqlStringFormatter: ' doubled, " as \" (SQL_ESCAPE_MAP).
        case "sqlstring": return "'" + v.replace(/'|"/g, function (c) { return c === "'" ? "''" : '\\"'; }) + "'";
        case "singlequote": return "'" + v.replace(/'/g, "\\'") + "'";
        case "doublequote": return '"' + v.replace(/"/g, '\\"') + '"';
        case "json": return JSON.stringify(v);
        case "percentencode": return encodeURIComponent(v);
        default: return v;
      }
    });
  }

  function runQueries(queries) {
    window.__grafanaRunningQueryCount++;
    var headers = {"Content-Type": "application/json"};
    if (cfg.orgId) headers["X-Grafana-Org-Id"] = cfg.orgId;
    return fetch("/api/ds/query", {method: "POST", credentials: "same-origin", headers: headers,
        body: JSON.stringify({from: "now-6h", to: "now", queries: queries})})
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (body) {
          if (!r.ok && !body.results) throw new Error(body.message || ("HTTP " + r.status));
          return body;
        });
      })
      .finally(function () { window.__grafanaRunningQueryCount--; });
  }

  function sqlOf(q) { return typeof q === "string" ? q : (q && (q.rawSql || q.query)) || ""; }

  // Frames of a result as rows of {name, type, values}.
  function fieldsOf(result) {
    var out = [];
    (result.frames || []).forEach(function (f) {
      var fs = (f.schema && f.schema.fields) || [], vals = (f.data && f.data.values) || [];
      fs.forEach(function (fd, i) { out.push({name: fd.name, type: fd.type, values: vals[i] || []}); });
    });
    return out;
  }

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function svgEl(tag, attrs, text) {
    var e = document.createElementNS("http://www.w3.org/2000/svg", tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function formatValue(v, defaults) {
    if (v === null || v === undefined) return "-";
    if (typeof v !== "number") return String(v);
    var unit = (defaults && defaults.unit) || "", dec = defaults && defaults.decimals;
    var suffix = "";
    if (unit === "percentunit") { v = v * 100; suffix = "%"; }
    else if (unit === "percent") { suffix = "%"; }
    else if (unit === "watt") {
      var a = Math.abs(v);
      if (a !== 0 && a < 1e-3) { v = v * 1e6; suffix = " µW"; } else if (a !== 0 && a < 1) { v = v * 1e3; suffix = " mW"; } else { suffix = " W"; }
    }
    else if (unit === "mwatt") suffix = " mW";
    else if (unit === "ns" || unit === "ps" || unit === "µs" || unit === "ms" || unit === "s") suffix = " " + unit;
    else if (unit.indexOf("suffix:") === 0) suffix = unit.slice(7);
    var s;
    if (typeof dec === "number") s = v.toFixed(dec);
    else if (Number.isInteger(v)) s = String(v);
    else s = String(Number(v.toPrecision(4)));
    return s + suffix;
  }

  function thresholdColor(v, defaults) {
    var t = defaults && defaults.thresholds, color = null;
    if (!t || !t.steps || typeof v !== "number") return null;
    t.steps.forEach(function (st) { if (st.value === null || st.value === undefined || v >= st.value) color = st.color; });
    var named = {red: "#f2495c", green: "#73bf69", orange: "#ff9830", yellow: "#fade2a", blue: "#5794f2", text: null};
    return Object.prototype.hasOwnProperty.call(named, color) ? named[color] : color;
  }

  function lastNotNull(values) {
    for (var i = values.length - 1; i >= 0; i--) if (values[i] !== null && values[i] !== undefined) return values[i];
    return null;
  }

  function drawStat(content, fields, panel) {
    var defaults = (panel.fieldConfig && panel.fieldConfig.defaults) || {};
    var opts = panel.options || {}, all = opts.reduceOptions && opts.reduceOptions.fields === "/.*/";
    var shown = fields.filter(function (f) { return all || f.type === "number"; });
    if (!shown.length || !shown.some(function (f) { return f.values.length; })) return noData(content);
    var box = el("div", {"class": "cg-stat"});
    shown.forEach(function (f) {
      var v = lastNotNull(f.values);
      var item = el("div", {"class": "cg-stat-item"});
      var val = el("div", {"class": "cg-stat-value", "data-testid": "cg stat value"}, formatValue(v, defaults));
      var c = thresholdColor(v, defaults);
      if (c) val.style.color = c;
      item.appendChild(val);
      if (shown.length > 1) item.appendChild(el("div", {"class": "cg-stat-name"}, f.name));
      box.appendChild(item);
    });
    content.appendChild(box);
  }

  function drawTable(content, fields, panel) {
    if (!fields.length || !fields[0].values.length) return noData(content);
    var defaults = (panel.fieldConfig && panel.fieldConfig.defaults) || {};
    var t = el("table", {"class": "cg-table"}), tr = el("tr");
    fields.forEach(function (f) { tr.appendChild(el("th", {}, f.name)); });
    t.appendChild(tr);
    var n = Math.min(fields[0].values.length, 50);
    for (var i = 0; i < n; i++) {
      var row = el("tr");
      fields.forEach(function (f) { row.appendChild(el("td", {}, formatValue(f.values[i], {decimals: defaults.decimals}))); });
      t.appendChild(row);
    }
    content.appendChild(t);
  }

  function box(content) {
    var w = Math.max(content.clientWidth, 100), h = Math.max(content.clientHeight, 60);
    var svg = svgEl("svg", {width: w, height: h, viewBox: "0 0 " + w + " " + h});
    content.appendChild(svg);
    return {svg: svg, w: w, h: h};
  }

  function drawBars(content, labels, series, defaults) {
    var b = box(content), pad = {l: 50, r: 8, t: 8, b: 42};
    var vals = [0];
    series.forEach(function (s) { s.values.forEach(function (v) { if (typeof v === "number") vals.push(v); }); });
    var min = Math.min.apply(null, vals), max = Math.max.apply(null, vals);
    if (max === min) max = min + 1;
    var ih = b.h - pad.t - pad.b, iw = b.w - pad.l - pad.r;
    var y = function (v) { return pad.t + (max - v) / (max - min) * ih; };
    var groupW = iw / Math.max(labels.length, 1), barW = groupW * 0.8 / Math.max(series.length, 1);
    b.svg.appendChild(svgEl("line", {x1: pad.l, x2: b.w - pad.r, y1: y(0), y2: y(0), stroke: "#888"}));
    b.svg.appendChild(svgEl("text", {x: 2, y: pad.t + 8}, formatValue(max, defaults)));
    b.svg.appendChild(svgEl("text", {x: 2, y: pad.t + ih}, formatValue(min, defaults)));
    labels.forEach(function (lab, i) {
      series.forEach(function (s, j) {
        var v = s.values[i];
        if (typeof v !== "number") return;
        var x = pad.l + i * groupW + groupW * 0.1 + j * barW;
        var top = Math.min(y(v), y(0)), hgt = Math.max(Math.abs(y(v) - y(0)), 1);
        var r = svgEl("rect", {x: x, y: top, width: Math.max(barW - 1, 1), height: hgt, fill: v < 0 ? "#f2495c" : palette[j % palette.length]});
        r.appendChild(svgEl("title", {}, s.name + " " + lab + ": " + formatValue(v, defaults)));
        b.svg.appendChild(r);
      });
      var tx = pad.l + i * groupW + groupW / 2;
      b.svg.appendChild(svgEl("text", {x: tx, y: b.h - pad.b + 12, "text-anchor": "end", transform: "rotate(-30 " + tx + " " + (b.h - pad.b + 12) + ")"}, String(lab)));
    });
  }

  function drawBarchart(content, fields, panel) {
    if (!fields.length || !fields[0].values.length) return noData(content);
    var defaults = (panel.fieldConfig && panel.fieldConfig.defaults) || {};
    var xName = panel.options && panel.options.xField;
    var xf = fields.filter(function (f) { return f.name === xName; })[0] || fields.filter(function (f) { return f.type === "string"; })[0] || fields[0];
    var series = fields.filter(function (f) { return f !== xf && f.type === "number"; });
    drawBars(content, xf.values, series, defaults);
  }

  function drawHistogram(content, fields, panel) {
    var f = fields.filter(function (x) { return x.type === "number"; })[0];
    var vals = f ? f.values.filter(function (v) { return typeof v === "number"; }) : [];
    if (!vals.length) return noData(content);
    var defaults = (panel.fieldConfig && panel.fieldConfig.defaults) || {};
    var n = (panel.options && panel.options.bucketCount) || 20;
    var min = Math.min.apply(null, vals), max = Math.max.apply(null, vals);
    if (max === min) max = min + 1;
    var counts = new Array(n).fill(0), labels = [];
    vals.forEach(function (v) { counts[Math.min(n - 1, Math.floor((v - min) / (max - min) * n))]++; });
    for (var i = 0; i < n; i++) labels.push(formatValue(min + i * (max - min) / n, {unit: defaults.unit, decimals: 3}));
    drawBars(content, labels, [{name: "count", values: counts}], {});
  }

  function drawPie(content, fields, panel) {
    var lf = fields.filter(function (f) { return f.type === "string"; })[0];
    var vf = fields.filter(function (f) { return f.type === "number"; })[0];
    if (!vf || !vf.values.length) return noData(content);
    var defaults = (panel.fieldConfig && panel.fieldConfig.defaults) || {};
    var b = box(content), r = Math.min(b.h, b.w / 2) / 2 - 6, cx = r + 8, cy = b.h / 2;
    var total = vf.values.reduce(function (a, v) { return a + (typeof v === "number" && v > 0 ? v : 0); }, 0) || 1;
    var angle = -Math.PI / 2;
    vf.values.forEach(function (v, i) {
      if (typeof v !== "number" || v <= 0) return;
      var a2 = angle + v / total * 2 * Math.PI, large = a2 - angle > Math.PI ? 1 : 0;
      var d = "M" + cx + "," + cy + " L" + (cx + r * Math.cos(angle)) + "," + (cy + r * Math.sin(angle)) +
        " A" + r + "," + r + " 0 " + large + " 1 " + (cx + r * Math.cos(a2)) + "," + (cy + r * Math.sin(a2)) + " Z";
      if (v === total) d = "M" + (cx - r) + "," + cy + " a" + r + "," + r + " 0 1 0 " + 2 * r + ",0 a" + r + "," + r + " 0 1 0 " + -2 * r + ",0";
      b.svg.appendChild(svgEl("path", {d: d, fill: palette[i % palette.length]}));
      angle = a2;
    });
    vf.values.forEach(function (v, i) {
      var label = (lf ? lf.values[i] : vf.name) + ": " + formatValue(v, defaults) + " (" + (typeof v === "number" ? (v / total * 100).toFixed(1) : "-") + "%)";
      b.svg.appendChild(svgEl("rect", {x: 2 * r + 24, y: 12 + i * 16, width: 10, height: 10, fill: palette[i % palette.length]}));
      b.svg.appendChild(svgEl("text", {x: 2 * r + 40, y: 21 + i * 16}, label));
    });
  }

  function drawXY(content, fields, panel) {
    var nums = fields.filter(function (f) { return f.type === "number"; });
    if (nums.length < 2 || !nums[0].values.length) return noData(content);
    var xs = nums[0].values, ys = nums[1].values, b = box(content), pad = 30;
    var okx = xs.filter(function (v) { return typeof v === "number"; }), oky = ys.filter(function (v) { return typeof v === "number"; });
    var x0 = Math.min.apply(null, okx), x1 = Math.max.apply(null, okx), y0 = Math.min.apply(null, oky), y1 = Math.max.apply(null, oky);
    if (x1 === x0) x1 = x0 + 1;
    if (y1 === y0) y1 = y0 + 1;
    b.svg.appendChild(svgEl("rect", {x: pad, y: 4, width: b.w - pad - 4, height: b.h - pad - 4, fill: "none", stroke: "#888"}));
    b.svg.appendChild(svgEl("text", {x: pad, y: b.h - 8}, nums[0].name + " " + x0.toFixed(1) + "…" + x1.toFixed(1)));
    b.svg.appendChild(svgEl("text", {x: 2, y: 14}, y1.toFixed(1)));
    xs.forEach(function (x, i) {
      var y = ys[i];
      if (typeof x !== "number" || typeof y !== "number") return;
      var px = pad + 4 + (x - x0) / (x1 - x0) * (b.w - pad - 12), py = b.h - pad - 4 - (y - y0) / (y1 - y0) * (b.h - pad - 12);
      b.svg.appendChild(svgEl("circle", {cx: px, cy: py, r: 3, fill: "#f2495c"}));
    });
  }

  function noData(content) { content.appendChild(el("div", {"class": "cg-nodata"}, "No data")); }

  var drawers = {stat: drawStat, table: drawTable, barchart: drawBarchart, histogram: drawHistogram, piechart: drawPie, xychart: drawXY};

  // The panels Grafana draws: a collapsed row's panels wait until it is expanded.
  function panelsOf(list) {
    var out = [];
    (list || []).forEach(function (p) { out.push(p); if (p.type === "row" && p.panels && !p.collapsed) out = out.concat(panelsOf(p.panels)); });
    return out;
  }

  // Grafana 13.2's PanelStatus (packages/grafana-ui/src/components/PanelChrome/PanelStatus.tsx)
  // is a ToolbarButton with data-testid "data-testid Panel status error", aria-label "status"
  // and tooltip={message}; ToolbarButton wraps it in a Tooltip (…/Tooltip/Tooltip.tsx), which
  // shows the message only while the button is hovered or focused: a portal element with
  // role="tooltip", data-testid "data-testid tooltip" and an id that the button then names in
  // aria-describedby. The message is nowhere else in the DOM.
  var tooltipSeq = 0;
  function showError(section, content, msg) {
    var header = section.querySelector(".cg-panel-header");
    var btn = el("button", {"class": "cg-status-error", "data-testid": "data-testid Panel status error", "aria-label": "status", "type": "button", "tabindex": "0"}, "!");
    var tip = null;
    function open() {
      if (tip) return;
      tip = el("div", {"class": "cg-tooltip", "role": "tooltip", "data-testid": "data-testid tooltip", "id": "cg-tooltip-" + (++tooltipSeq)}, msg);
      var r = btn.getBoundingClientRect();
      tip.style.left = (r.left + window.scrollX) + "px";
      tip.style.top = (r.bottom + window.scrollY + 8) + "px";
      document.body.appendChild(tip);
      btn.setAttribute("aria-describedby", tip.id);
    }
    function close() {
      if (!tip) return;
      tip.remove();
      tip = null;
      btn.removeAttribute("aria-describedby");
    }
    btn.addEventListener("mouseenter", open);
    btn.addEventListener("focus", open);
    btn.addEventListener("mouseleave", close);
    btn.addEventListener("blur", close);
    header.insertBefore(btn, header.firstChild);
    content.textContent = "";
  }

  function renderPanel(grid, p) {
    if (p.type === "row") return Promise.resolve();
    var g = p.gridPos || {x: 0, y: 0, w: 12, h: 8};
    var title = p.title || "";
    var section = el("section", {"class": "cg-panel", "data-testid": "data-testid Panel header " + title, "data-viz-panel-key": "panel-" + p.id});
    section.style.gridColumn = (g.x + 1) + " / span " + Math.min(g.w, 24);
    section.style.gridRow = (g.y + 1) + " / span " + g.h;
    var header = el("div", {"class": "cg-panel-header", "data-testid": "data-testid header-container"});
    header.appendChild(el("h2", {}, title));
    section.appendChild(header);
    var content = el("div", {"class": "cg-panel-content", "data-testid": "data-testid panel content"});
    // PanelChrome's loading bar while the panel's queries run: LoadingBar labelled
    // selectors.components.Panels.Panel.loadingBar() = "Panel loading bar".
    var loading = el("div", {"class": "cg-loading-bar", "aria-label": "Panel loading bar"});
    section.insertBefore(loading, header);
    section.appendChild(content);
    grid.appendChild(section);
    var targets = (p.targets || []).filter(function (t) { return !t.hide; });
    if (!targets.length) { loading.remove(); noData(content); return Promise.resolve(); }
    var queries = targets.map(function (t) {
      return {refId: t.refId || "A", datasource: t.datasource || p.datasource, rawSql: interpolate(t.rawSql || ""),
        format: t.format || "table", rawQuery: true, editorMode: "code", intervalMs: 60000, maxDataPoints: 500};
    });
    return runQueries(queries).then(function (body) {
      loading.remove();
      var fields = [], errors = [];
      queries.forEach(function (q) {
        var res = (body.results || {})[q.refId] || {};
        if (res.error) errors.push(res.error); else fields = fields.concat(fieldsOf(res));
      });
      content.textContent = "";
      if (errors.length) return showError(section, content, errors.join("\n"));
      (drawers[p.type] || drawTable)(content, fields, p);
    }).catch(function (e) { loading.remove(); showError(section, content, String(e && e.message || e)); });
  }

  function resolveVariables() {
    var list = (dash.templating && dash.templating.list) || [];
    return list.reduce(function (prev, v) {
      return prev.then(function () {
        if (v.type !== "query" || Object.prototype.hasOwnProperty.call(vars, v.name)) return;
        return runQueries([{refId: "A", datasource: v.datasource, rawSql: interpolate(sqlOf(v.query)), format: "table", rawQuery: true, editorMode: "code"}])
          .then(function (body) {
            var res = (body.results || {}).A || {}, f = fieldsOf(res)[0], opts = f ? f.values.map(String) : [];
            var cur = v.current && v.current.value;
            vars[v.name] = (cur !== undefined && opts.indexOf(String(cur)) >= 0) ? String(cur) : (opts.length ? opts[0] : "");
          }).catch(function () { vars[v.name] = ""; });
      });
    }, Promise.resolve());
  }

  if (!cfg.kiosk) {
    var nav = el("header", {"class": "cg-nav"});
    nav.appendChild(el("h1", {"data-testid": "data-testid dashboard title"}, dash.title || ""));
    root.appendChild(nav);
  }
  var grid = el("div", {"class": "cg-grid", "data-testid": "data-testid dashboard grid"});
  root.appendChild(grid);
  var bar = null;
  function showVariables() {
    if (cfg.hideVariables) return;
    if (!bar) {
      bar = el("div", {"class": "cg-var", "data-testid": "data-testid dashboard controls"});
      root.insertBefore(bar, grid);
    }
    bar.textContent = Object.keys(vars).map(function (k) { return k + " = " + vars[k]; }).join("   ");
  }
  function renderAll() {
    document.body.removeAttribute("data-cg-done");
    grid.textContent = "";
    return Promise.all(panelsOf(dash.panels).map(function (p) { return renderPanel(grid, p); }))
      .then(function () { document.body.setAttribute("data-cg-done", "true"); });
  }
  var loaded = resolveVariables().then(function () { showVariables(); return renderAll(); });

  // A URL change without a reload, as Grafana's frontend follows it: locationService
  // (packages/grafana-runtime/src/services/LocationService.tsx) is a history v4 browser
  // history, which calls its listeners on pushes and on popstate events — ignoring a popstate
  // whose state is undefined (history v4 createBrowserHistory.js, isExtraneousPopstateEvent)
  // and reading the new location from window.location —, and Scenes' UrlSyncManager
  // (scenes packages/scenes/src/services/UrlSyncManager.ts, handleNewLocation) then sets each
  // variable from its var-<name> parameter; a variable whose value changed re-runs the
  // queries that use it, a value that did not change runs nothing.
  window.addEventListener("popstate", function (e) {
    if (e.state === undefined) return;
    var q = new URLSearchParams(location.search), changed = false;
    q.forEach(function (v, k) {
      if (k.indexOf("var-") !== 0) return;
      var name = k.slice(4);
      if (vars[name] !== v && q.getAll(k)[0] === v) { vars[name] = v; changed = true; }
    });
    if (!changed) return;
    loaded = loaded.then(function () { showVariables(); return renderAll(); });
  });
})();
</script>
</body>
</html>
`
