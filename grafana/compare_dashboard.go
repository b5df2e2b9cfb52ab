package grafana

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"credential-grafana/cg"
)

// The comparison dashboard: an embedded template (templates/compare.json) that shows two
// runs of one user and kind side by side from the run history (db.HistorySchema.runs in
// the user's database of that kind). The two runs are its variables a and b, so one
// dashboard per user and kind serves every pair: CompareURL names the pair.

// CompareTemplateFile is the embedded template of the comparison dashboard.
const CompareTemplateFile = "compare.json"

// CompareVariables are the variables a comparison dashboard takes its two run tables
// from (var-a, var-b in its URL).
var CompareVariables = []string{"a", "b"}

// compareTable is what every query of the comparison template reads.
const compareTable = "cg_history.runs"

// CompareTemplate is the validated template of the comparison dashboard.
type CompareTemplate struct {
	raw      []byte
	revision string // a tag naming this template's content, to tell a stale saved dashboard
}

// LoadCompareTemplate returns the embedded comparison template, validated by
// ValidateCompareTemplate.
func LoadCompareTemplate() (*CompareTemplate, error) {
	data, err := embedded.ReadFile("templates/" + CompareTemplateFile)
	if err != nil {
		return nil, fmt.Errorf("read embedded template %s: %w", CompareTemplateFile, err)
	}
	if err := ValidateCompareTemplate("embedded "+CompareTemplateFile, data); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	return &CompareTemplate{raw: data, revision: "cg-template-" + hex.EncodeToString(sum[:])[:12]}, nil
}

// compareVarRE finds a use of a or b in SQL: $a, ${a} or [[a]] (Grafana's forms).
var compareVarRE = regexp.MustCompile(`\$\{?([ab])\b\}?|\[\[([ab])\]\]`)

// ValidateCompareTemplate checks the comparison template: what ValidateServiceTemplate
// checks (valid JSON, known placeholders, uid/title placeholders, schemaVersion, titled
// panels with a pluginVersion, bound to the data source, table-format SQL), and that
// the query variables a and b exist, are single-valued (so that Grafana's PostgreSQL data
// source interpolates them with their quotes doubled, see templates/NOTES.md) and list
// the run history's tables, and that every panel's SQL reads the run history and uses
// both variables, each only inside single quotes ('$a'). file names the template in
// errors (*TemplateError).
func ValidateCompareTemplate(file string, data []byte) error {
	if err := ValidateServiceTemplate(file, data); err != nil {
		return err
	}
	fail := func(panel, format string, args ...any) error {
		return &TemplateError{File: file, Panel: panel, Problem: fmt.Sprintf(format, args...)}
	}
	var dash map[string]any
	if err := json.Unmarshal(data, &dash); err != nil {
		return fail("", "not a JSON object: %v", err)
	}
	found := map[string]bool{}
	for _, v := range Dashboard(dash).Variables() {
		if !slices.Contains(CompareVariables, v.Name) {
			continue
		}
		found[v.Name] = true
		if !strings.Contains(v.Query, compareTable) {
			return fail("variable $"+v.Name, "its query must list the tables of %s", compareTable)
		}
	}
	templating, _ := dash["templating"].(map[string]any)
	vars, _ := templating["list"].([]any)
	for _, v := range vars {
		vm, _ := v.(map[string]any)
		if name, _ := vm["name"].(string); slices.Contains(CompareVariables, name) && (vm["multi"] == true || vm["includeAll"] == true) {
			return fail("variable $"+name, "must be single-valued (no multi, no includeAll): Grafana quotes multi-valued ones itself")
		}
	}
	for _, name := range CompareVariables {
		if !found[name] {
			return fail("", "no query variable $%s: the comparison dashboard takes its two runs from $a and $b", name)
		}
	}
	for _, p := range Dashboard(dash).Panels() {
		for _, q := range p.Queries {
			if !strings.Contains(q.RawSQL, compareTable) {
				return fail(p.Title, "query %s does not read %s", q.RefID, compareTable)
			}
			uses := map[string]bool{}
			for _, m := range compareVarRE.FindAllStringSubmatchIndex(q.RawSQL, -1) {
				var name string
				if m[2] >= 0 {
					name = q.RawSQL[m[2]:m[3]]
				} else {
					name = q.RawSQL[m[4]:m[5]]
				}
				uses[name] = true
				if m[0] == 0 || q.RawSQL[m[0]-1] != '\'' || m[1] >= len(q.RawSQL) || q.RawSQL[m[1]] != '\'' {
					return fail(p.Title, "query %s uses $%s outside single quotes: write '$%s' (its value is a table name, interpolated with its quotes doubled)", q.RefID, name, name)
				}
			}
			for _, name := range CompareVariables {
				if !uses[name] {
					return fail(p.Title, "query %s does not use $%s", q.RefID, name)
				}
			}
		}
	}
	return nil
}

// CompareDashboardUID is the UID of user's comparison dashboard of kind, e.g.
// "cg-alice-timing-compare".
func CompareDashboardUID(user string, kind cg.Kind) string {
	return shorten("cg-"+user+"-"+kind.Slug()+"-compare", "compare\x00"+user+"\x00"+string(kind))
}

// CompareDashboardTitle is the title of user's comparison dashboard of kind.
func CompareDashboardTitle(user string, kind cg.Kind) string {
	return "Compare " + string(kind) + " runs — " + user
}

// Render builds user's comparison dashboard of kind over the data source dsUID.
func (t *CompareTemplate) Render(user string, kind cg.Kind, dsUID string) (Dashboard, error) {
	if user == "" || dsUID == "" {
		return nil, cg.Errorf(cg.EINVALID, "render the comparison dashboard: user and data source UID are required")
	}
	var dash map[string]any
	dec := json.NewDecoder(bytes.NewReader(t.raw))
	if err := dec.Decode(&dash); err != nil {
		return nil, fmt.Errorf("render the comparison dashboard: %w", err)
	}
	out := substitute(dash, map[string]string{
		PlaceholderUID:        CompareDashboardUID(user, kind),
		PlaceholderTitle:      CompareDashboardTitle(user, kind),
		PlaceholderDataSource: dsUID,
	}).(map[string]any)
	tags, _ := out["tags"].([]any)
	out["tags"] = append(tags, t.revision)
	return Dashboard(out), nil
}

// EnsureCompareDashboard returns user's comparison dashboard of kind, saving it in the
// user's folder when it is not there yet or was made from another revision of t. The
// dashboard reads through user's data source of kind (DataSourceUID), never another.
func (c *Client) EnsureCompareDashboard(ctx context.Context, t *CompareTemplate, user string, kind cg.Kind) (SavedDashboard, error) {
	dsUID := DataSourceUID(user, kind)
	dash, err := t.Render(user, kind, dsUID)
	if err != nil {
		return SavedDashboard{}, err
	}
	if err := dash.CheckBoundTo(dsUID); err != nil {
		return SavedDashboard{}, err
	}
	uid := dash.UID()
	got, err := c.GetDashboard(ctx, uid)
	switch {
	case err == nil:
		tags, _ := got.Dashboard["tags"].([]any)
		if slices.Contains(tags, any(t.revision)) && got.Meta.URL != "" {
			return SavedDashboard{UID: uid, URL: got.Meta.URL, Slug: got.Meta.Slug, Version: got.Meta.Version}, nil
		}
	case !errors.Is(err, ErrNotFound):
		return SavedDashboard{}, fmt.Errorf("find the comparison dashboard: %w", err)
	}
	saved, err := c.SaveDashboard(ctx, SaveDashboardRequest{Dashboard: dash, FolderUID: FolderUID(user), Overwrite: true,
		Message: "credential-grafana: comparison of " + string(kind) + " runs"})
	if err != nil {
		return SavedDashboard{}, fmt.Errorf("save the comparison dashboard: %w", err)
	}
	return saved, nil
}

// CompareURL is the address of a comparison dashboard (path as Grafana answered it,
// "/d/<uid>/<slug>") showing run tables a and b: base + path +
// "?orgId=N&var-a=…&var-b=…", the tables URL-escaped. orgID 0 leaves the org out.
func CompareURL(baseURL, path string, orgID int64, a, b string) string {
	q := url.Values{}
	if orgID > 0 {
		q.Set("orgId", strconv.FormatInt(orgID, 10))
	}
	q.Set("var-a", a)
	q.Set("var-b", b)
	return strings.TrimRight(baseURL, "/") + path + "?" + q.Encode()
}
