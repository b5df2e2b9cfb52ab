package grafanatest

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// macroRE is the PostgreSQL data source's macro pattern: $name(args), anywhere in the
// SQL, string literals included (sExpr in Grafana's
// pkg/tsdb/grafana-postgresql-datasource/macros.go).
var macroRE = regexp.MustCompile(`\$([_a-zA-Z0-9]+)\(([^\)]*)\)`)

// expandMacros expands the macros of sql over the range from..to as Grafana's
// PostgreSQL data source does on the server (postgresMacroEngine.evaluateMacro in
// pkg/tsdb/grafana-postgresql-datasource/macros.go), for the macros that need no
// interval: $__time, $__timeEpoch, $__timeFilter, $__timeFrom, $__timeTo,
// $__unixEpochFilter, $__unixEpochNanoFilter, $__unixEpochNanoFrom, $__unixEpochNanoTo.
// Any other $name(…) is an error, as Grafana's "unknown macro".
func expandMacros(sql string, from, to time.Time) (string, error) {
	var macroErr error
	out := macroRE.ReplaceAllStringFunc(sql, func(m string) string {
		g := macroRE.FindStringSubmatch(m)
		name := g[1]
		args := strings.Split(g[2], ",")
		for i, a := range args {
			args[i] = strings.Trim(a, " ")
		}
		res, err := evaluateMacro(name, args, from.UTC(), to.UTC())
		if err != nil && macroErr == nil {
			macroErr = err
		}
		return res
	})
	if macroErr != nil {
		return "", macroErr
	}
	return out, nil
}

func evaluateMacro(name string, args []string, from, to time.Time) (string, error) {
	needColumn := func() error {
		if len(args) == 0 || args[0] == "" {
			return fmt.Errorf("missing time column argument for macro %v", name)
		}
		return nil
	}
	switch name {
	case "__time":
		if err := needColumn(); err != nil {
			return "", err
		}
		return fmt.Sprintf(`%s AS "time"`, args[0]), nil
	case "__timeEpoch":
		if err := needColumn(); err != nil {
			return "", err
		}
		return fmt.Sprintf(`extract(epoch from %s) as "time"`, args[0]), nil
	case "__timeFilter":
		if err := needColumn(); err != nil {
			return "", err
		}
		return fmt.Sprintf("%s BETWEEN '%s' AND '%s'", args[0], from.Format(time.RFC3339Nano), to.Format(time.RFC3339Nano)), nil
	case "__timeFrom":
		return fmt.Sprintf("'%s'", from.Format(time.RFC3339Nano)), nil
	case "__timeTo":
		return fmt.Sprintf("'%s'", to.Format(time.RFC3339Nano)), nil
	case "__unixEpochFilter":
		if err := needColumn(); err != nil {
			return "", err
		}
		return fmt.Sprintf("%s >= %d AND %s <= %d", args[0], from.Unix(), args[0], to.Unix()), nil
	case "__unixEpochNanoFilter":
		if err := needColumn(); err != nil {
			return "", err
		}
		return fmt.Sprintf("%s >= %d AND %s <= %d", args[0], from.UnixNano(), args[0], to.UnixNano()), nil
	case "__unixEpochNanoFrom":
		return strconv.FormatInt(from.UnixNano(), 10), nil
	case "__unixEpochNanoTo":
		return strconv.FormatInt(to.UnixNano(), 10), nil
	}
	return "", fmt.Errorf("unknown macro %q", name)
}

// parseRange parses a query request's from and to as Grafana does
// (gtime.NewTimeRange): epoch milliseconds, "now", or "now-<n><unit>" with unit
// s, m, h, d, w, M or y. Empty is refused: Grafana's frontend always sends both.
func parseRange(from, to string, now time.Time) (time.Time, time.Time, error) {
	f, err := parseGrafanaTime(from, now)
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("invalid from %q: %w", from, err)
	}
	t, err := parseGrafanaTime(to, now)
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("invalid to %q: %w", to, err)
	}
	return f, t, nil
}

func parseGrafanaTime(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, fmt.Errorf("empty")
	}
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.UnixMilli(ms), nil
	}
	if s == "now" {
		return now, nil
	}
	rest, ok := strings.CutPrefix(s, "now-")
	if !ok || len(rest) < 2 {
		return time.Time{}, fmt.Errorf("not epoch milliseconds, now or now-<n><unit>")
	}
	n, err := strconv.Atoi(rest[:len(rest)-1])
	if err != nil || n < 0 {
		return time.Time{}, fmt.Errorf("not epoch milliseconds, now or now-<n><unit>")
	}
	switch rest[len(rest)-1] {
	case 's':
		return now.Add(-time.Duration(n) * time.Second), nil
	case 'm':
		return now.Add(-time.Duration(n) * time.Minute), nil
	case 'h':
		return now.Add(-time.Duration(n) * time.Hour), nil
	case 'd':
		return now.AddDate(0, 0, -n), nil
	case 'w':
		return now.AddDate(0, 0, -7*n), nil
	case 'M':
		return now.AddDate(0, -n, 0), nil
	case 'y':
		return now.AddDate(-n, 0, 0), nil
	}
	return time.Time{}, fmt.Errorf("unknown unit in %q", s)
}
