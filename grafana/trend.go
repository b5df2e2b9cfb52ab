package grafana

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"credential-grafana/cg"
)

// The trend dashboard: the fourth embedded template (templates/trend.json), one
// dashboard per user, design and platform over the summary table cg_history.runs
// (db.HistorySchema) of the user's three databases.

// TrendTemplateFile is the embedded template of the trend dashboards. It cannot be
// replaced from a templates directory.
const TrendTemplateFile = "trend.json"

// The placeholders only the trend template uses: the user's data source of each kind
// (whole values), and the design and platform as quoted SQL string literals.
const (
	PlaceholderDataSourceTiming = "${__cg.datasource_timing}"
	PlaceholderDataSourceQOR    = "${__cg.datasource_qor}"
	PlaceholderDataSourceDRC    = "${__cg.datasource_drc}"
	PlaceholderDesign           = "${__cg.design}"
	PlaceholderPlatform         = "${__cg.platform}"
)

// TrendSummaryTable is the table every trend panel reads.
const TrendSummaryTable = "cg_history.runs"

var trendNames = map[string]bool{"uid": true, "title": true, "datasource_timing": true, "datasource_qor": true, "datasource_drc": true, "design": true, "platform": true}

// trendDataSources maps each kind's data source placeholder to its kind.
var trendDataSources = map[string]cg.Kind{PlaceholderDataSourceTiming: cg.KindTiming, PlaceholderDataSourceQOR: cg.KindQOR, PlaceholderDataSourceDRC: cg.KindDRC}

func loadTrendTemplate() ([]byte, error) {
	data, err := embedded.ReadFile("templates/" + TrendTemplateFile)
	if err != nil {
		return nil, fmt.Errorf("read embedded template %s: %w", TrendTemplateFile, err)
	}
	if err := ValidateTrendTemplate("embedded "+TrendTemplateFile, data); err != nil {
		return nil, err
	}
	return data, nil
}

// ValidateTrendTemplate checks the trend template as ValidateTemplate checks a kind's:
// valid JSON, known placeholders only (no run table: it reads TrendSummaryTable), the
// dashboard's uid and title are placeholders, schemaVersion SchemaVersion, and every
// panel has a title and a pluginVersion of at least MinPluginVersion, is bound to one
// of the three data source placeholders (its queries to the same one), and has SQL
// that reads TrendSummaryTable filtered by both the design and the platform
// placeholders. file names the template in errors (*TemplateError).
func ValidateTrendTemplate(file string, data []byte) error {
	fail := func(panel, format string, args ...any) error {
		return &TemplateError{File: file, Panel: panel, Problem: fmt.Sprintf(format, args...)}
	}
	dash, err := decodeTemplate(data, fail)
	if err != nil {
		return err
	}
	if err := checkPlaceholdersIn(dash, "", trendNames, func(panel, problem string) error { return fail(panel, "%s", problem) }); err != nil {
		return err
	}
	if dash["uid"] != PlaceholderUID || dash["title"] != PlaceholderTitle {
		return fail("", "the dashboard's \"uid\" and \"title\" must be %q and %q", PlaceholderUID, PlaceholderTitle)
	}
	if sv, _ := dash["schemaVersion"].(float64); int(sv) != SchemaVersion {
		return fail("", "the dashboard's \"schemaVersion\" must be %d (Grafana 13.2)", SchemaVersion)
	}
	templating, _ := dash["templating"].(map[string]any)
	if vars, _ := templating["list"].([]any); len(vars) > 0 {
		return fail("", "no variables: the design and platform are bound when the dashboard is made")
	}
	annotations, _ := dash["annotations"].(map[string]any)
	if list, _ := annotations["list"].([]any); len(list) > 0 {
		return fail("", "no annotations: the latest run is shown by panels, which are checked before the dashboard is saved")
	}
	panels, _ := dash["panels"].([]any)
	n := 0
	for _, p := range allPanels(panels) {
		title, _ := p["title"].(string)
		typ, _ := p["type"].(string)
		if typ == "row" || typ == "text" {
			continue
		}
		n++
		if title == "" {
			return fail(fmt.Sprintf("#%v", p["id"]), "no title")
		}
		if problem := checkPluginVersion(p["pluginVersion"]); problem != "" {
			return fail(title, "%s", problem)
		}
		panelDS := trendDataSource(p["datasource"])
		if panelDS == "" {
			return fail(title, "not bound to a data source of the user: its \"datasource\" must be {\"type\": %q, \"uid\": %q} (or the QOR or DRC one)", PostgresType, PlaceholderDataSourceTiming)
		}
		targets, _ := p["targets"].([]any)
		if len(targets) == 0 {
			return fail(title, "no queries (\"targets\")")
		}
		for i, tg := range targets {
			tm, _ := tg.(map[string]any)
			if ds, ok := tm["datasource"]; ok && trendDataSource(ds) != panelDS {
				return fail(title, "query %d is not bound to the panel's data source %s", i+1, panelDS)
			}
			sql, _ := tm["rawSql"].(string)
			if strings.TrimSpace(sql) == "" {
				return fail(title, "query %d has no \"rawSql\"", i+1)
			}
			if !strings.Contains(sql, TrendSummaryTable) || !strings.Contains(sql, PlaceholderDesign) || !strings.Contains(sql, PlaceholderPlatform) {
				return fail(title, "query %d must read %s where the design is %s and the platform %s", i+1, TrendSummaryTable, PlaceholderDesign, PlaceholderPlatform)
			}
		}
	}
	if n == 0 {
		return fail("", "no panel with a query")
	}
	return nil
}

// trendDataSource returns the data source placeholder v is bound to, or "".
func trendDataSource(v any) string {
	m, ok := v.(map[string]any)
	if !ok {
		return ""
	}
	uid, _ := m["uid"].(string)
	if _, ok := trendDataSources[uid]; !ok {
		return ""
	}
	if t, _ := m["type"].(string); t != PostgresType && t != "postgres" {
		return ""
	}
	return uid
}

// TrendRequest asks for the trend dashboard of one design on one platform of a user.
type TrendRequest struct {
	User     string
	Design   string
	Platform string
}

// RenderTrend builds the trend dashboard of req's design and platform: its panels read
// TrendSummaryTable through the user's provisioned data source of each kind
// (DataSourceUID), filtered by the design and platform as string literals
// (QuoteLiteral). It returns the dashboard and its UID (TrendUID). A design without a
// name has no trend dashboard: it is refused (cg.EINVALID).
func (t *Templates) RenderTrend(req TrendRequest) (Dashboard, string, error) {
	if req.User == "" {
		return nil, "", cg.Errorf(cg.EINVALID, "render trend dashboard: the user is required")
	}
	if strings.TrimSpace(req.Design) == "" {
		return nil, "", cg.Errorf(cg.EINVALID, "render trend dashboard: the run names no design, and only a named design has a trend")
	}
	if strings.ContainsRune(req.Design, 0) || strings.ContainsRune(req.Platform, 0) {
		return nil, "", cg.Errorf(cg.EINVALID, "render trend dashboard: a design or platform name cannot hold a NUL character")
	}
	if t.trend == nil {
		return nil, "", cg.Errorf(cg.EINVALID, "no trend dashboard template")
	}
	var dash map[string]any
	if err := json.Unmarshal(t.trend, &dash); err != nil {
		return nil, "", fmt.Errorf("render trend dashboard: %w", err)
	}
	uid := TrendUID(req.User, req.Design, req.Platform)
	values := map[string]string{
		PlaceholderUID:              uid,
		PlaceholderTitle:            TrendTitle(req.Design, req.Platform),
		PlaceholderDataSourceTiming: DataSourceUID(req.User, cg.KindTiming),
		PlaceholderDataSourceQOR:    DataSourceUID(req.User, cg.KindQOR),
		PlaceholderDataSourceDRC:    DataSourceUID(req.User, cg.KindDRC),
		PlaceholderDesign:           QuoteLiteral(req.Design),
		PlaceholderPlatform:         QuoteLiteral(req.Platform),
	}
	return Dashboard(substitute(dash, values).(map[string]any)), uid, nil
}

// TrendTitle is the title of a trend dashboard: "Trend · gcd · nangate45" (the platform
// left out when the runs name none).
func TrendTitle(design, platform string) string {
	parts := []string{"Trend", strings.TrimSpace(design)}
	if p := strings.TrimSpace(platform); p != "" {
		parts = append(parts, p)
	}
	return strings.Join(parts, " · ")
}

// TrendUID is the UID of user's trend dashboard of design on platform: a readable
// prefix and a hash of the exact user, design and platform, at most MaxUIDLength
// characters ("trend-alice-gcd-nangate45-0a1b2c3d4e5f"). It is always hashed, so that
// it never equals a run dashboard's UID (DashboardUID), whatever the names.
func TrendUID(user, design, platform string) string {
	return hashed("trend-"+user+"-"+design+"-"+platform, "trend\x00"+user+"\x00"+design+"\x00"+platform)
}

// QuoteLiteral quotes s as a PostgreSQL string literal for SQL that Grafana will
// interpolate and expand macros in. Text without "$", "[", "]" or "\" is quoted as
// 'it”s'; other text is written as a Unicode-escaped literal, U&'x\0024stage', so
// that Grafana finds no $var, ${var}, [[var]] or $__macro( in the SQL. It holds
// whatever standard_conforming_strings is (a U& literal needs it on, PostgreSQL's
// default since 9.1, and is refused, not misread, without it).
func QuoteLiteral(s string) string {
	s = strings.ReplaceAll(s, "\x00", "")
	if !strings.ContainsAny(s, `$[]\`) {
		return "'" + strings.ReplaceAll(s, "'", "''") + "'"
	}
	var b strings.Builder
	b.WriteString(`U&'`)
	for _, r := range s {
		switch r {
		case '\'':
			b.WriteString(`''`)
		case '\\', '$', '[', ']':
			fmt.Fprintf(&b, `\%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// TrendDataSources are the data source UIDs a trend dashboard of user may name: the
// user's own provisioned ones.
func TrendDataSources(user string) []string {
	out := make([]string, 0, len(cg.Kinds))
	for _, k := range cg.Kinds {
		out = append(out, DataSourceUID(user, k))
	}
	return out
}

// CheckBoundToAny is CheckBoundTo for a dashboard that may name any of uids (a trend
// dashboard reads the user's three data sources): it returns a cg.EFORBIDDEN error
// naming the first data source, anywhere in the model, that is none of them.
func (d Dashboard) CheckBoundToAny(uids ...string) error {
	allowed := map[string]bool{}
	for _, u := range uids {
		allowed[u] = true
	}
	foreign := d.foreignDataSource(allowed)
	if foreign != "" {
		return cg.Errorf(cg.EFORBIDDEN, "dashboard %s names the data source %s, not one the service provisioned for its user (%s): it is not saved", d.UID(), foreign, strings.Join(uids, ", "))
	}
	return nil
}

// TimeRange is the dashboard's time range ("now-5y", "now"), Grafana's default
// ("now-6h", "now") where it sets none.
func (d Dashboard) TimeRange() (from, to string) {
	t, _ := d["time"].(map[string]any)
	return cmpOr(str(t["from"]), "now-6h"), cmpOr(str(t["to"]), "now")
}

// CheckTrend runs every panel's SQL of a rendered trend dashboard through Grafana, over
// the dashboard's time range, as Grafana's frontend would when it is opened (one POST
// /api/ds/query; the trend template has no variables). A query that fails gives an
// error matching ErrPanelQuery that names the panel and carries Grafana's message. It
// returns the number of rows each panel's queries returned, by panel title.
func (c *Client) CheckTrend(ctx context.Context, d Dashboard) (map[string]int, error) {
	from, to := d.TimeRange()
	req := QueryRequest{From: from, To: to}
	titles := map[string]string{}
	for i, p := range d.Panels() {
		for _, q := range p.Queries {
			ref := fmt.Sprintf("panel%d_%s", i, q.RefID)
			titles[ref] = p.Title
			req.Queries = append(req.Queries, Query{RefID: ref, DataSource: DataSourceRef{Type: PostgresType, UID: q.DataSourceUID}, RawSQL: q.RawSQL, Format: q.Format})
		}
	}
	rows := map[string]int{}
	if len(req.Queries) == 0 {
		return rows, nil
	}
	resp, err := c.Query(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("check dashboard %s: %w", d.UID(), err)
	}
	var errs []error
	for _, q := range req.Queries {
		res := resp.Results[q.RefID]
		if res.Error != "" {
			errs = append(errs, fmt.Errorf("panel %q: %s", titles[q.RefID], res.Error))
			continue
		}
		for _, f := range res.Frames {
			if len(f.Data.Values) > 0 {
				rows[titles[q.RefID]] += len(f.Data.Values[0])
			}
		}
	}
	if len(errs) > 0 {
		return rows, fmt.Errorf("check dashboard %s: %w: %w", d.UID(), errors.Join(errs...), ErrPanelQuery)
	}
	return rows, nil
}
