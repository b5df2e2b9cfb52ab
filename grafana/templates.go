package grafana

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"credential-grafana/cg"
)

//go:embed templates/*.json
var embedded embed.FS

// The placeholders a template may use (see the package documentation).
const (
	PlaceholderUID        = "${__cg.uid}"
	PlaceholderTitle      = "${__cg.title}"
	PlaceholderDataSource = "${__cg.datasource}"
	PlaceholderTable      = "${__cg.table}"
	PlaceholderTimeUnit   = "${__cg.time_unit}"
)

// SchemaVersion is the dashboard schemaVersion the templates are written for: Grafana
// 13.2's (apps/dashboard/pkg/migration/schemaversion/v42.go; 41 up to 12.x). A dashboard
// at an older version is migrated by Grafana when it loads; 41 -> 42 only adds
// hideFrom.tooltip where an override sets hideFrom.viz, which the templates never do, so
// Grafana 11.x and 12.x load a 42 unchanged.
const SchemaVersion = 42

// PluginVersion is the pluginVersion every template panel declares. Grafana's dashboard
// loader calls a panel plugin's migration handler whenever the saved pluginVersion
// differs from the running one, and the handlers treat an absent version as the oldest
// shape (public/app/plugins/panel/xychart/migrations.ts rewrites "mapping" and the x/y
// matchers when pluginVersion is ""). The handlers of the panel types the templates use
// (stat, barchart, histogram, piechart, table, xychart) only migrate versions older than
// 11.0, so the templates claim the newest supported release and keep their options in
// its shape. See templates/NOTES.md for what was checked.
const PluginVersion = "13.2.0"

// MinPluginVersion is the oldest pluginVersion a template panel may declare: older
// ones would have their options rewritten by Grafana's panel migrations.
const MinPluginVersion = "11.0.0"

var (
	placeholderRE = regexp.MustCompile(`\$\{__cg\.([A-Za-z0-9_]*)\}`)
	knownNames    = map[string]bool{"uid": true, "title": true, "datasource": true, "table": true, "time_unit": true}
)

// TemplateFile is the file name of kind's template: "timing.json", "qor.json", "drc.json".
func TemplateFile(kind cg.Kind) string { return kind.Slug() + ".json" }

// TemplateError is a template refused when loaded.
type TemplateError struct {
	File    string // e.g. "/etc/cg/templates/timing.json" or "embedded timing.json"
	Panel   string // the panel's title, or "" when the problem is not in a panel
	Problem string
}

func (e *TemplateError) Error() string {
	if e.Panel != "" {
		return fmt.Sprintf("template %s, panel %q: %s", e.File, e.Panel, e.Problem)
	}
	return fmt.Sprintf("template %s: %s", e.File, e.Problem)
}

// Templates holds one validated dashboard template per kind.
type Templates struct {
	raw     map[cg.Kind][]byte
	sources map[cg.Kind]string
	trend   []byte // the embedded trend template (TrendTemplateFile)
}

// LoadTemplates loads the three templates: from dir when it is not empty (it must
// exist; a missing timing.json, qor.json or drc.json falls back to the embedded one,
// and any other *.json is refused as a likely typo), otherwise the embedded ones. Every
// template is validated; a bad one is refused with a *TemplateError naming the file,
// the panel and the problem.
func LoadTemplates(dir string) (*Templates, error) {
	t := &Templates{raw: map[cg.Kind][]byte{}, sources: map[cg.Kind]string{}}
	var errs []error
	if dir != "" {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("templates directory %s: %w", dir, err)
		}
		for _, e := range entries {
			if name := e.Name(); strings.HasSuffix(name, ".json") && name != "timing.json" && name != "qor.json" && name != "drc.json" {
				errs = append(errs, &TemplateError{File: filepath.Join(dir, name), Problem: "not a template name: use timing.json, qor.json or drc.json"})
			}
		}
	}
	for _, kind := range cg.Kinds {
		name := TemplateFile(kind)
		var data []byte
		source := "embedded " + name
		if dir != "" {
			p := filepath.Join(dir, name)
			b, err := os.ReadFile(p)
			switch {
			case err == nil:
				data, source = b, p
			case errors.Is(err, fs.ErrNotExist):
			default:
				errs = append(errs, fmt.Errorf("read template %s: %w", p, err))
				continue
			}
		}
		if data == nil {
			b, err := embedded.ReadFile("templates/" + name)
			if err != nil {
				return nil, fmt.Errorf("read embedded template %s: %w", name, err)
			}
			data = b
		}
		if err := ValidateTemplate(source, kind, data); err != nil {
			errs = append(errs, err)
			continue
		}
		t.raw[kind], t.sources[kind] = data, source
	}
	trend, err := loadTrendTemplate()
	if err != nil {
		errs = append(errs, err)
	}
	t.trend = trend
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return t, nil
}

// Source says where kind's template came from.
func (t *Templates) Source(kind cg.Kind) string { return t.sources[kind] }

// ValidateTemplate checks one template: valid JSON, known placeholders only, the
// dashboard's uid and title are placeholders, the kind's step variable exists, every
// panel and variable is bound to the data source placeholder, and every SQL names the
// decodeTemplate reads a template's one JSON object, saying where a syntax error is.
func decodeTemplate(data []byte, fail func(panel, format string, args ...any) error) (map[string]any, error) {
	var dash map[string]any
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&dash); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line, col := position(data, se.Offset)
			return nil, fail("", "not valid JSON at line %d, column %d: %v", line, col, err)
		}
		return nil, fail("", "not a JSON object: %v", err)
	}
	if dec.More() {
		return nil, fail("", "not valid JSON: text after the dashboard object")
	}
	return dash, nil
}

// table through the table placeholder. file names the template in errors.
func ValidateTemplate(file string, kind cg.Kind, data []byte) error {
	fail := func(panel, format string, args ...any) error {
		return &TemplateError{File: file, Panel: panel, Problem: fmt.Sprintf(format, args...)}
	}
	dash, err := decodeTemplate(data, fail)
	if err != nil {
		return err
	}
	// Placeholders anywhere.
	if err := checkPlaceholders(dash, "", func(panel, problem string) error { return fail(panel, "%s", problem) }); err != nil {
		return err
	}
	if dash["uid"] != PlaceholderUID {
		return fail("", "the dashboard's \"uid\" must be %q", PlaceholderUID)
	}
	if dash["title"] != PlaceholderTitle {
		return fail("", "the dashboard's \"title\" must be %q", PlaceholderTitle)
	}
	switch sv := dash["schemaVersion"].(type) {
	case nil:
		return fail("", "the dashboard's \"schemaVersion\" is missing: set it to %d (Grafana 13.2), or Grafana migrates the dashboard from the oldest schema", SchemaVersion)
	case float64:
		if int(sv) != SchemaVersion {
			return fail("", "the dashboard's \"schemaVersion\" is %v: set it to %d (Grafana 13.2) and write the panels in that shape", sv, SchemaVersion)
		}
	default:
		return fail("", "the dashboard's \"schemaVersion\" must be the number %d", SchemaVersion)
	}
	// Variables.
	step := kind.StepVariable()
	foundStep := false
	templating, _ := dash["templating"].(map[string]any)
	vars, _ := templating["list"].([]any)
	for _, v := range vars {
		vm, _ := v.(map[string]any)
		name, _ := vm["name"].(string)
		where := "variable $" + name
		if name == step {
			foundStep = true
			if vm["type"] != "query" {
				return fail(where, "the step variable must be a query variable over the table")
			}
		}
		if vm["type"] != "query" {
			continue
		}
		if !boundToDataSource(vm["datasource"]) {
			return fail(where, "not bound to the data source: its \"datasource\" must be {\"type\": %q, \"uid\": %q}", PostgresType, PlaceholderDataSource)
		}
		q := variableSQL(vm["query"])
		if !strings.Contains(q, PlaceholderTable) {
			return fail(where, "its query does not name the table through %s", PlaceholderTable)
		}
	}
	if !foundStep {
		return fail("", "no variable $%s: a %s dashboard needs a query variable named %q to step through the run", step, kind, step)
	}
	// Panels.
	panels, ok := dash["panels"].([]any)
	if !ok || len(panels) == 0 {
		return fail("", "no panels")
	}
	n := 0
	for _, p := range allPanels(panels) {
		title, _ := p["title"].(string)
		label := title
		if label == "" {
			label = fmt.Sprintf("#%v", p["id"])
		}
		typ, _ := p["type"].(string)
		if typ == "" {
			return fail(label, "no \"type\"")
		}
		if typ == "row" || typ == "text" {
			continue
		}
		n++
		if title == "" {
			return fail(label, "no title: the capture finds panels by title")
		}
		if problem := checkPluginVersion(p["pluginVersion"]); problem != "" {
			return fail(label, "%s", problem)
		}
		if !boundToDataSource(p["datasource"]) {
			return fail(label, "not bound to the data source: its \"datasource\" must be {\"type\": %q, \"uid\": %q}", PostgresType, PlaceholderDataSource)
		}
		targets, _ := p["targets"].([]any)
		if len(targets) == 0 {
			return fail(label, "no queries (\"targets\")")
		}
		for i, tg := range targets {
			tm, _ := tg.(map[string]any)
			ref, _ := tm["refId"].(string)
			if ref == "" {
				ref = strconv.Itoa(i + 1)
			}
			if ds, ok := tm["datasource"]; ok && !boundToDataSource(ds) {
				return fail(label, "query %s is not bound to the data source %s", ref, PlaceholderDataSource)
			}
			sql, _ := tm["rawSql"].(string)
			if strings.TrimSpace(sql) == "" {
				return fail(label, "query %s has no \"rawSql\"", ref)
			}
			if !strings.Contains(sql, PlaceholderTable) {
				return fail(label, "query %s does not name the table through %s", ref, PlaceholderTable)
			}
			if f, _ := tm["format"].(string); f == "time_series" {
				return fail(label, "query %s has format time_series, but run tables have no time column: use \"table\"", ref)
			}
		}
	}
	if n == 0 {
		return fail("", "no panel with a query")
	}
	return nil
}

// checkPluginVersion says what is wrong with a panel's pluginVersion, or "".
func checkPluginVersion(v any) string {
	s, _ := v.(string)
	if s == "" {
		return fmt.Sprintf("no \"pluginVersion\": Grafana would run the panel's migrations as if its options were from before 10.4 (an xychart loses its field mapping); set \"pluginVersion\": %q and write the options in that version's shape", PluginVersion)
	}
	if !versionAtLeast(s, MinPluginVersion) {
		return fmt.Sprintf("\"pluginVersion\" %q is older than 11.0: Grafana would migrate the panel's options; set %q and write the options in that version's shape", s, PluginVersion)
	}
	return ""
}

// versionAtLeast reports whether the dotted version v (e.g. "13.2.0", "11.6.1-pre") is
// at least min; a version that does not parse is not.
func versionAtLeast(v, min string) bool {
	parse := func(s string) ([3]int, bool) {
		var out [3]int
		s, _, _ = strings.Cut(s, "-")
		parts := strings.Split(s, ".")
		if len(parts) == 0 || len(parts) > 3 {
			return out, false
		}
		for i, p := range parts {
			n, err := strconv.Atoi(p)
			if err != nil || n < 0 {
				return out, false
			}
			out[i] = n
		}
		return out, true
	}
	a, ok := parse(v)
	b, _ := parse(min)
	if !ok {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return a[i] > b[i]
		}
	}
	return true
}

// checkPlaceholders walks v and refuses unknown or misplaced placeholders.
func checkPlaceholders(v any, key string, fail func(panel, problem string) error) error {
	return checkPlaceholdersIn(v, key, knownNames, fail)
}

// sqlPlaceholders are the placeholders that become quoted SQL (an identifier or a
// string literal): they may appear only in SQL, inside other text. The others must be
// whole values.
var sqlPlaceholders = map[string]bool{PlaceholderTable: true, PlaceholderDesign: true, PlaceholderPlatform: true}

// checkPlaceholdersIn walks v and refuses placeholders not in known (by name) or
// misplaced.
func checkPlaceholdersIn(v any, key string, known map[string]bool, fail func(panel, problem string) error) error {
	return walkPanels(v, "", key, func(panel, key, s string) error {
		for _, m := range placeholderRE.FindAllStringSubmatch(s, -1) {
			if !known[m[1]] {
				return fail(panel, fmt.Sprintf("unknown placeholder %s (known: %s)", m[0], strings.Join(placeholderList(known), ", ")))
			}
			if sqlPlaceholders[m[0]] {
				if key != "rawSql" && key != "query" && key != "definition" && key != "rawQuery" {
					return fail(panel, fmt.Sprintf("%s is quoted SQL: use it only in SQL (\"rawSql\" or a variable's \"query\"), not in %q", m[0], key))
				}
			} else if s != m[0] {
				return fail(panel, fmt.Sprintf("%s must be a whole value, not part of %q", m[0], s))
			}
		}
		if rest := placeholderRE.ReplaceAllString(s, ""); strings.Contains(rest, "__cg.") {
			return fail(panel, fmt.Sprintf("malformed placeholder in %q: write ${__cg.name}", s))
		}
		return nil
	})
}

func placeholderList(known map[string]bool) []string {
	var out []string
	for n := range known {
		out = append(out, "${__cg."+n+"}")
	}
	sort.Strings(out)
	return out
}

// walkPanels calls fn for every string in v with the title of the panel it is in and
// the key it is the value of.
func walkPanels(v any, panel, key string, fn func(panel, key, s string) error) error {
	switch x := v.(type) {
	case map[string]any:
		if _, isPanel := x["gridPos"]; isPanel {
			if t, ok := x["title"].(string); ok {
				panel = t
			}
		}
		if n, ok := x["name"].(string); ok && x["type"] == "query" {
			panel = "variable $" + n
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if err := walkPanels(x[k], panel, k, fn); err != nil {
				return err
			}
		}
	case []any:
		for _, e := range x {
			if err := walkPanels(e, panel, key, fn); err != nil {
				return err
			}
		}
	case string:
		return fn(panel, key, x)
	}
	return nil
}

func position(data []byte, offset int64) (line, col int) {
	line, col = 1, 1
	for i := int64(0); i < offset-1 && i < int64(len(data)); i++ {
		if data[i] == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return line, col
}

func boundToDataSource(v any) bool {
	m, ok := v.(map[string]any)
	if !ok || m["uid"] != PlaceholderDataSource {
		return false
	}
	t, _ := m["type"].(string)
	return t == PostgresType || t == "postgres"
}

// variableSQL returns the SQL of a query variable: a string, or {"rawSql": …} /
// {"query": …} in newer models.
func variableSQL(v any) string {
	switch q := v.(type) {
	case string:
		return q
	case map[string]any:
		if s, ok := q["rawSql"].(string); ok {
			return s
		}
		if s, ok := q["query"].(string); ok {
			return s
		}
	}
	return ""
}

// allPanels returns the panels and the panels nested in collapsed rows.
func allPanels(panels []any) []map[string]any {
	var out []map[string]any
	for _, p := range panels {
		pm, ok := p.(map[string]any)
		if !ok {
			continue
		}
		out = append(out, pm)
		if nested, ok := pm["panels"].([]any); ok {
			out = append(out, allPanels(nested)...)
		}
	}
	return out
}

// RunInfo is what a run table says about its run (its optional columns).
type RunInfo struct {
	Design   string
	Platform string
	RunID    string
	TimeUnit string // "ns" (default) or "ps": the unit of the timing columns
}

// RenderRequest asks for the dashboard of one run table.
type RenderRequest struct {
	User          string
	Kind          cg.Kind
	Table         string
	Schema        string // optional; empty means the table is found through search_path (public)
	DataSourceUID string
	Run           RunInfo
	// DefaultStep, when set, is the step variable's value the dashboard opens at
	// (e.g. "finish"); otherwise Grafana opens at the variable's first value.
	DefaultStep string
}

// Dashboard is a rendered dashboard model, ready for SaveDashboardRequest.Dashboard.
type Dashboard map[string]any

// Panel is a panel of a rendered dashboard with its SQL, for checks and tests.
type Panel struct {
	ID            int
	Type          string
	Title         string
	DataSourceUID string
	Queries       []PanelQuery
}

// PanelQuery is one query of a panel, with its SQL as Grafana's frontend receives it
// (variables not yet interpolated).
type PanelQuery struct {
	RefID         string
	RawSQL        string
	Format        string
	DataSourceUID string // the target's data source, else the panel's
}

// Variable is a query variable of a rendered dashboard.
type Variable struct {
	Name          string
	Query         string
	DataSourceUID string
}

// Panels lists the panels that run queries, in order.
func (d Dashboard) Panels() []Panel {
	ps, _ := d["panels"].([]any)
	var out []Panel
	for _, p := range allPanels(ps) {
		targets, _ := p["targets"].([]any)
		if len(targets) == 0 {
			continue
		}
		panel := Panel{Title: str(p["title"]), Type: str(p["type"]), ID: num(p["id"]), DataSourceUID: dsUID(p["datasource"])}
		for _, tg := range targets {
			tm, _ := tg.(map[string]any)
			q := PanelQuery{RefID: str(tm["refId"]), RawSQL: str(tm["rawSql"]), Format: str(tm["format"]), DataSourceUID: dsUID(tm["datasource"])}
			if q.DataSourceUID == "" {
				q.DataSourceUID = panel.DataSourceUID
			}
			panel.Queries = append(panel.Queries, q)
		}
		out = append(out, panel)
	}
	return out
}

// Variables lists the dashboard's query variables.
func (d Dashboard) Variables() []Variable {
	templating, _ := d["templating"].(map[string]any)
	vars, _ := templating["list"].([]any)
	var out []Variable
	for _, v := range vars {
		vm, _ := v.(map[string]any)
		if vm["type"] == "query" {
			out = append(out, Variable{Name: str(vm["name"]), Query: variableSQL(vm["query"]), DataSourceUID: dsUID(vm["datasource"])})
		}
	}
	return out
}

// CheckBoundTo returns nil if every data source the dashboard names, anywhere in its
// model (panels, their queries, variables, annotations), is the one of UID uid, and a
// cg.EFORBIDDEN error naming the first other one otherwise: a dashboard of one user never
// reads through another's data source.
func (d Dashboard) CheckBoundTo(uid string) error {
	if foreign := d.foreignDataSource(map[string]bool{uid: true}); foreign != "" {
		return cg.Errorf(cg.EFORBIDDEN, "dashboard %s names the data source %s, not %s, the one the service provisioned for it: it is not saved", d.UID(), foreign, uid)
	}
	return nil
}

// foreignDataSource returns the first data source, anywhere in the model, whose UID is
// not in allowed ("(a data source without a UID)" for one without), "" when there is
// none.
func (d Dashboard) foreignDataSource(allowed map[string]bool) string {
	var foreign string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if k == "datasource" && foreign == "" {
					got := ""
					switch ref := e.(type) {
					case map[string]any:
						got = str(ref["uid"])
					case string:
						got = ref
					}
					if !allowed[got] {
						foreign = cmpOr(got, "(a data source without a UID)")
					}
				}
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(map[string]any(d))
	return foreign
}

// UID is the dashboard's uid.
func (d Dashboard) UID() string { return str(d["uid"]) }

// Title is the dashboard's title.
func (d Dashboard) Title() string { return str(d["title"]) }

func str(v any) string { s, _ := v.(string); return s }

func num(v any) int {
	switch n := v.(type) {
	case float64:
		return int(n)
	case int:
		return n
	case int64:
		return int(n)
	case json.Number:
		i, _ := n.Int64()
		return int(i)
	}
	return 0
}

func dsUID(v any) string {
	m, _ := v.(map[string]any)
	return str(m["uid"])
}

// Render builds the dashboard of one run table from its kind's template. The template
// is parsed into Go values, the placeholders are replaced in those values and the
// result is marshalled by encoding/json when saved, so no name is ever pasted into JSON
// text; the table becomes a quoted SQL identifier (QuoteIdentifier) that Grafana's
// variable interpolation cannot touch.
func (t *Templates) Render(req RenderRequest) (Dashboard, string, error) {
	raw, ok := t.raw[req.Kind]
	if !ok {
		return nil, "", cg.Errorf(cg.EINVALID, "no dashboard template for kind %q", req.Kind)
	}
	if req.Table == "" || req.User == "" || req.DataSourceUID == "" {
		return nil, "", cg.Errorf(cg.EINVALID, "render %s dashboard: user, table and data source UID are required", req.Kind)
	}
	if strings.ContainsRune(req.Table, 0) || len(req.Table) > 63 {
		return nil, "", cg.Errorf(cg.EINVALID, "render %s dashboard: %q is not a PostgreSQL table name", req.Kind, req.Table)
	}
	var dash map[string]any
	if err := json.Unmarshal(raw, &dash); err != nil {
		return nil, "", fmt.Errorf("render %s dashboard: %w", req.Kind, err)
	}
	uid := DashboardUID(req.User, req.Kind, req.Table)
	ident := QuoteIdentifier(req.Table)
	if req.Schema != "" {
		ident = QuoteIdentifier(req.Schema) + "." + ident
	}
	unit := "ns"
	if strings.EqualFold(strings.TrimSpace(req.Run.TimeUnit), "ps") {
		unit = "ps"
	}
	values := map[string]string{
		PlaceholderUID:        uid,
		PlaceholderTitle:      DashboardTitle(req.Kind, req.Table, req.Run),
		PlaceholderDataSource: req.DataSourceUID,
		PlaceholderTable:      ident,
		PlaceholderTimeUnit:   unit,
	}
	out := substitute(dash, values).(map[string]any)
	if req.DefaultStep != "" {
		setCurrent(out, req.Kind.StepVariable(), req.DefaultStep)
	}
	return Dashboard(out), uid, nil
}

func setCurrent(dash map[string]any, name, value string) {
	templating, _ := dash["templating"].(map[string]any)
	vars, _ := templating["list"].([]any)
	for _, v := range vars {
		if vm, ok := v.(map[string]any); ok && vm["name"] == name {
			vm["current"] = map[string]any{"selected": true, "text": value, "value": value}
		}
	}
}

// substitute replaces the placeholders in every string of v.
func substitute(v any, values map[string]string) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = substitute(e, values)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = substitute(e, values)
		}
		return x
	case string:
		if !strings.Contains(x, "${__cg.") {
			return x
		}
		return placeholderRE.ReplaceAllStringFunc(x, func(m string) string {
			if r, ok := values[m]; ok {
				return r
			}
			return m
		})
	}
	return v
}

// DashboardTitle is the readable title of a run table's dashboard: the run when the
// table says it ("gcd · nangate45 · run 2025-02-05 — TIMING (gcd_run7)"), else the
// table ("gcd_run7 — TIMING"). The table name keeps titles unique in the folder:
// Grafana would otherwise let one dashboard overwrite another of the same title.
func DashboardTitle(kind cg.Kind, table string, run RunInfo) string {
	var parts []string
	for _, p := range []string{run.Design, run.Platform} {
		if p = strings.TrimSpace(p); p != "" {
			parts = append(parts, p)
		}
	}
	if r := strings.TrimSpace(run.RunID); r != "" {
		parts = append(parts, "run "+r)
	}
	if len(parts) == 0 {
		return table + " — " + string(kind)
	}
	return strings.Join(parts, " · ") + " — " + string(kind) + " (" + table + ")"
}

// QuoteIdentifier quotes name as a PostgreSQL identifier for SQL that Grafana will
// interpolate. Names without "$", "[" or "\" are quoted as pgx.Identifier.Sanitize
// does ("my ""table"""); the others are written as a Unicode-escaped identifier,
// U&"x\0024stage", so that Grafana finds no $var, ${var} or [[var]] in the SQL.
func QuoteIdentifier(name string) string {
	if !strings.ContainsAny(name, `$[]\`) {
		return pgx.Identifier{name}.Sanitize()
	}
	var b strings.Builder
	b.WriteString(`U&"`)
	for _, r := range strings.ReplaceAll(name, "\x00", "") {
		switch r {
		case '"':
			b.WriteString(`""`)
		case '\\', '$', '[', ']':
			fmt.Fprintf(&b, `\%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
