package grafana

import (
	"encoding/json"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// variableRE is the pattern Grafana's template service finds variables with:
// $var, [[var]], [[var:format]], ${var}, ${var.field} and ${var:format}.
var variableRE = regexp.MustCompile(`\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^\}]+))?(?::([^\}]+))?\}`)

// InterpolateSQL replaces dashboard variables in sql as Grafana's frontend does before
// it sends a PostgreSQL query: a single value has its quotes doubled and is not quoted
// (templates write '$stage'; Grafana's SqlDatasource.interpolateVariable for a variable
// that is neither multi nor includeAll), ${var:format} applies Grafana's format (raw,
// csv, text, sqlstring — which also turns " into \" —, singlequote, doublequote, json). Unknown variables are left as they are.
func InterpolateSQL(sql string, vars map[string]string) string {
	return variableRE.ReplaceAllStringFunc(sql, func(m string) string {
		g := variableRE.FindStringSubmatch(m)
		name := cmpOr(g[1], g[2], g[4])
		format := cmpOr(g[3], g[6])
		v, ok := vars[name]
		if !ok {
			return m
		}
		return formatValue(v, format)
	})
}

func formatValue(v, format string) string {
	switch format {
	case "":
		return strings.ReplaceAll(v, "'", "''")
	case "sqlstring":
		// Grafana's sqlStringFormatter (scenes' formatRegistry, SQL_ESCAPE_MAP) doubles
		// single quotes and turns a double quote into \" — which PostgreSQL, with
		// standard_conforming_strings on, keeps as a backslash and a quote: a value
		// with a double quote does not survive ${x:sqlstring}. The templates write '$x'.
		return "'" + strings.NewReplacer("'", "''", `"`, `\"`).Replace(v) + "'"
	case "singlequote":
		return "'" + strings.ReplaceAll(v, "'", `\'`) + "'"
	case "doublequote":
		return `"` + strings.ReplaceAll(v, `"`, `\"`) + `"`
	case "json":
		b, _ := json.Marshal(v)
		return string(b)
	case "percentencode":
		return url.QueryEscape(v)
	}
	return v // raw, csv, text, pipe, glob… of a single value
}

// KioskURL is the address a capture opens: the dashboard in kiosk mode with the time
// picker, variables and links hidden, the theme ("dark" or "light"; empty leaves
// Grafana's default) and the variables as var-<name>=<value>, sorted by name. It has
// no refresh parameter. orgID 0 leaves the org out.
func KioskURL(baseURL, uid, slug string, orgID int64, theme string, vars map[string]string) string {
	var b strings.Builder
	b.WriteString(strings.TrimRight(baseURL, "/"))
	b.WriteString("/d/")
	b.WriteString(url.PathEscape(uid))
	if slug != "" {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(slug))
	}
	b.WriteByte('?')
	if orgID > 0 {
		b.WriteString("orgId=" + strconv.FormatInt(orgID, 10) + "&")
	}
	b.WriteString("kiosk&_dash.hideTimePicker&_dash.hideVariables&_dash.hideLinks")
	if theme != "" {
		b.WriteString("&theme=" + url.QueryEscape(theme))
	}
	names := make([]string, 0, len(vars))
	for k := range vars {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		b.WriteString("&var-" + url.QueryEscape(k) + "=" + url.QueryEscape(vars[k]))
	}
	return b.String()
}
