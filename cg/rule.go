package cg

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Rule is a regression rule of a user: a condition on one key figure of a run, for all
// of the user's designs or one of them, and who to mention in Slack when a run breaks
// it.
type Rule struct {
	ID     int64  `json:"id"`
	User   string `json:"user"`
	Design string `json:"design,omitempty"` // "": every design
	// Expr is the condition in its normalised form (Condition.String), as stored.
	Expr string `json:"rule"`
	// Mention is "<@U…>" (a member) or "<!subteam^S…>" (a user group).
	Mention   string    `json:"mention"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
}

// RuleMetric is a key figure a rule may name.
type RuleMetric struct {
	Name    string   // as a rule names it: "wns"
	Aliases []string // other names accepted: "violating"
	Figure  string   // the Figure.Name it reads: "WNS"
	// Quantity says which units apply: "time", "area", "percent", "power", "count".
	Quantity string
}

// RuleMetrics are the figures rules may name, in the order errors list them.
var RuleMetrics = []RuleMetric{
	{Name: "wns", Figure: "WNS", Quantity: "time"},
	{Name: "tns", Figure: "TNS", Quantity: "time"},
	{Name: "nve", Aliases: []string{"violating", "endpoints"}, Figure: "Violating endpoints", Quantity: "count"},
	{Name: "area", Figure: "Area", Quantity: "area"},
	{Name: "util", Aliases: []string{"utilisation", "utilization"}, Figure: "Utilisation", Quantity: "percent"},
	{Name: "cells", Figure: "Cells", Quantity: "count"},
	{Name: "power", Figure: "Power", Quantity: "power"},
	{Name: "drc", Figure: "DRC violations", Quantity: "count"},
}

// units are the units a rule may give, by how they may be typed, as canonical unit and
// factor to the quantity's base unit (ns, µm², %, mW).
var units = map[string]unitSpec{
	"ns": {"ns", "time", 1}, "ps": {"ps", "time", 0.001},
	"um2": {"µm²", "area", 1}, "µm²": {"µm²", "area", 1}, "μm²": {"µm²", "area", 1}, "um^2": {"µm²", "area", 1}, "µm2": {"µm²", "area", 1}, "μm2": {"µm²", "area", 1},
	"%":  {"%", "percent", 1},
	"mW": {"mW", "power", 1}, "W": {"W", "power", 1000},
}

// lookupUnit finds a unit as typed: exactly, or in lower case for times and areas (NS,
// UM2), never for power (MW is not mW).
func lookupUnit(s string) (unitSpec, bool) {
	if u, ok := units[s]; ok {
		return u, true
	}
	u, ok := units[strings.ToLower(s)]
	return u, ok && u.quantity != "power"
}

type unitSpec struct {
	unit, quantity string
	factor         float64
}

// baseUnits name each quantity's units for errors.
var baseUnits = map[string]string{"time": "ns or ps", "area": "µm²", "percent": "%", "power": "mW or W"}

// Condition kinds.
const (
	CondAbsolute = "absolute" // the figure against a threshold
	CondRelative = "relative" // the change against the previous run, in percent
	CondWorseBy  = "worse_by" // the change for the worse against the previous run, in percent
)

// Condition is a parsed rule: `wns < -0.05 ns`, `drc > 0`, `area > +5%`, `tns worse by 10%`.
type Condition struct {
	Metric RuleMetric
	Kind   string // CondAbsolute, CondRelative, CondWorseBy
	Op     string // "<", "<=", ">", ">=" ("" for CondWorseBy)
	Value  float64
	Unit   string // canonical unit of Value for CondAbsolute ("ns", "µm²", "%", "mW", "W", ""); "%" otherwise
}

const ruleExamples = "e.g. `wns < -0.05 ns`, `drc > 0`, `area > +5%` or `tns worse by 10%`"

// ParseCondition reads a rule's condition. It returns a cg.EINVALID *Error that names
// the problem and how to write it otherwise.
func ParseCondition(s string) (Condition, error) {
	toks := ruleTokens(s)
	if len(toks) == 0 {
		return Condition{}, Errorf(EINVALID, "a rule is required, %s", ruleExamples)
	}
	var c Condition
	m, ok := lookupMetric(toks[0])
	if !ok {
		return c, unknownMetric(toks[0])
	}
	c.Metric = m
	rest := toks[1:]
	if len(rest) == 0 {
		return c, Errorf(EINVALID, "`%s` needs a comparison after it: <, <=, >, >= or `worse by`, e.g. `%s`", m.Name, example(m))
	}
	if strings.EqualFold(rest[0], "worse") {
		return parseWorseBy(c, rest[1:])
	}
	switch op := rest[0]; op {
	case "<", "<=", ">", ">=":
		c.Op = op
	case "=", "==", "!=", "=<", "=>", "<>":
		return c, Errorf(EINVALID, "`%s` is not a comparison rules know: use <, <=, > or >=", op)
	default:
		return c, Errorf(EINVALID, "`%s` needs a comparison after it, not `%s`: <, <=, >, >= or `worse by`, e.g. `%s`", m.Name, op, example(m))
	}
	rest = rest[1:]
	if len(rest) == 0 {
		return c, Errorf(EINVALID, "`%s %s` needs a number after it, e.g. `%s`", m.Name, c.Op, example(m))
	}
	num := rest[0]
	v, err := parseNumber(num)
	if err != nil {
		return c, Errorf(EINVALID, "`%s` is not a number: write the threshold as a number, e.g. `%s`", num, example(m))
	}
	c.Value = v
	rest = rest[1:]
	unit := ""
	if len(rest) > 0 && isUnitToken(rest[0]) {
		unit, rest = rest[0], rest[1:]
	}
	if len(rest) > 0 {
		return c, Errorf(EINVALID, "unexpected `%s` after `%s`: a rule is one comparison, %s", rest[0], strings.Join(toks[:len(toks)-len(rest)], " "), ruleExamples)
	}
	signed := strings.HasPrefix(num, "+") || strings.HasPrefix(num, "-")
	if unit == "%" && (m.Quantity != "percent" || signed) {
		c.Kind, c.Unit = CondRelative, "%"
		return c, nil
	}
	c.Kind = CondAbsolute
	if unit == "" {
		switch {
		case m.Quantity == "count" || v == 0:
		case m.Quantity == "area" || m.Quantity == "percent":
			c.Unit = map[string]string{"area": "µm²", "percent": "%"}[m.Quantity]
		default:
			return c, Errorf(EINVALID, "`%s %s %s` needs a unit: `%s` is in %s, e.g. `%s`", m.Name, c.Op, num, m.Name, baseUnits[m.Quantity], example(m))
		}
		return c, nil
	}
	u, known := lookupUnit(unit)
	switch {
	case m.Quantity == "count":
		return c, Errorf(EINVALID, "`%s` is a count: it takes no unit, not `%s`", m.Name, unit)
	case !known:
		also := ""
		if m.Quantity == "area" {
			also = " (or um2)"
		}
		return c, Errorf(EINVALID, "unknown unit `%s` for `%s`: use %s%s", unit, m.Name, baseUnits[m.Quantity], also)
	case u.quantity != m.Quantity:
		return c, Errorf(EINVALID, "`%s` is in %s, not %s", m.Name, baseUnits[m.Quantity], u.unit)
	}
	c.Unit = u.unit
	return c, nil
}

func parseWorseBy(c Condition, rest []string) (Condition, error) {
	c.Kind, c.Unit = CondWorseBy, "%"
	usage := fmt.Sprintf("`worse by` takes a percentage above 0, e.g. `%s worse by 10%%`", c.Metric.Name)
	if len(rest) == 0 || !strings.EqualFold(rest[0], "by") {
		return c, Errorf(EINVALID, "%s", usage)
	}
	rest = rest[1:]
	if len(rest) < 2 || rest[1] != "%" {
		return c, Errorf(EINVALID, "%s", usage)
	}
	v, err := parseNumber(rest[0])
	if err != nil || v <= 0 || strings.HasPrefix(rest[0], "+") {
		return c, Errorf(EINVALID, "%s", usage)
	}
	if len(rest) > 2 {
		return c, Errorf(EINVALID, "unexpected `%s` after `%s worse by %s%%`: a rule is one comparison, %s", rest[2], c.Metric.Name, rest[0], ruleExamples)
	}
	c.Value = v
	return c, nil
}

// String is the condition's normalised form, which ParseCondition reads back as it is:
// `wns < -0.05 ns`, `util >= 80%`, `area > +5%`, `tns worse by 10%`.
func (c Condition) String() string {
	n := strconv.FormatFloat(c.Value, 'g', -1, 64)
	switch c.Kind {
	case CondWorseBy:
		return fmt.Sprintf("%s worse by %s%%", c.Metric.Name, n)
	case CondRelative:
		if c.Value >= 0 {
			n = "+" + n
		}
		return fmt.Sprintf("%s %s %s%%", c.Metric.Name, c.Op, n)
	}
	switch c.Unit {
	case "":
		return fmt.Sprintf("%s %s %s", c.Metric.Name, c.Op, n)
	case "%":
		return fmt.Sprintf("%s %s %s%%", c.Metric.Name, c.Op, n)
	}
	return fmt.Sprintf("%s %s %s %s", c.Metric.Name, c.Op, n, c.Unit)
}

// Check evaluates the rule on a run's figures (with their previous values, see
// Figure.Previous) and returns what broke it. A rule whose figure the run does not
// have, a relative rule without a previous run (or with a previous value of 0), and a
// figure in a unit the rule cannot be converted to all stay quiet. The rule's Design is
// not looked at: the caller picks the rules of the run's design.
func (r Rule) Check(figures []Figure) (BrokenRule, bool) {
	c, err := ParseCondition(r.Expr)
	if err != nil {
		return BrokenRule{}, false
	}
	var f *Figure
	for i := range figures {
		if figures[i].Name == c.Metric.Figure {
			f = &figures[i]
			break
		}
	}
	if f == nil {
		return BrokenRule{}, false
	}
	broken := BrokenRule{RuleID: r.ID, Rule: c.String(), Mention: r.Mention}
	show := func(v float64) string { return formatRuleValue(v, f.Decimals, f.Unit) }
	switch c.Kind {
	case CondAbsolute:
		threshold, ok := convert(c.Value, c.Unit, f.Unit)
		if !ok || !compare(f.Value, c.Op, threshold) {
			return BrokenRule{}, false
		}
		broken.Detail = fmt.Sprintf("%s %s is %s %s", f.Name, show(f.Value), opWords[c.Op], formatRuleValue(c.Value, -1, c.Unit))
		return broken, true
	case CondRelative, CondWorseBy:
		if f.Previous == nil || *f.Previous == 0 {
			return BrokenRule{}, false
		}
		prev := *f.Previous
		change := (f.Value - prev) / math.Abs(prev) * 100
		was := fmt.Sprintf("%s → %s", show(prev), show(f.Value))
		if c.Kind == CondRelative {
			if !compare(change, c.Op, c.Value) {
				return BrokenRule{}, false
			}
			broken.Detail = fmt.Sprintf("%s changed %+.1f%% against the previous run (%s), %s %+g%%", f.Name, change, was, opWords[c.Op], c.Value)
			return broken, true
		}
		worse := change
		if f.HigherIsBetter {
			worse = -change
		}
		if worse < c.Value {
			return BrokenRule{}, false
		}
		broken.Detail = fmt.Sprintf("%s is %.1f%% worse than the previous run (%s), at least %g%%", f.Name, worse, was, c.Value)
		return broken, true
	}
	return BrokenRule{}, false
}

var opWords = map[string]string{"<": "below", "<=": "at or below", ">": "above", ">=": "at or above"}

func compare(v float64, op string, t float64) bool {
	switch op {
	case "<":
		return v < t
	case "<=":
		return v <= t
	case ">":
		return v > t
	case ">=":
		return v >= t
	}
	return false
}

// convert expresses v, in the rule's unit from, in the figure's unit to.
func convert(v float64, from, to string) (float64, bool) {
	if from == "" || from == to || v == 0 {
		return v, true
	}
	a, okA := lookupUnit(from)
	b, okB := lookupUnit(to)
	if !okA || !okB || a.quantity != b.quantity {
		return 0, false
	}
	return v * a.factor / b.factor, true
}

func formatRuleValue(v float64, decimals int, unit string) string {
	n := strconv.FormatFloat(v, 'f', decimals, 64)
	if decimals < 0 {
		n = strconv.FormatFloat(v, 'g', -1, 64)
	}
	switch unit {
	case "":
		return n
	case "%":
		return n + "%"
	}
	return n + " " + unit
}

var (
	ruleMention = regexp.MustCompile(`^(<@[UW][A-Z0-9]{2,}>|<!subteam\^S[A-Z0-9]{2,}>)$`)
	bareMember  = regexp.MustCompile(`^[UW][A-Z0-9]{2,}$`)
	bareGroup   = regexp.MustCompile(`^S[A-Z0-9]{2,}$`)
)

// ParseMention reads who a rule mentions: a member as Slack writes it (<@U…>, with or
// without a |label) or a user group (<!subteam^S…>), or a bare member (U…, W…) or group
// (S…) ID. It returns the mention as Slack reads it: "<@U…>" or "<!subteam^S…>".
func ParseMention(s string) (string, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "<") && strings.HasSuffix(s, ">") {
		if target, _, ok := strings.Cut(s[1:len(s)-1], "|"); ok {
			s = "<" + target + ">"
		}
	}
	switch {
	case ruleMention.MatchString(s):
		return s, nil
	case bareMember.MatchString(s):
		return "<@" + s + ">", nil
	case bareGroup.MatchString(s):
		return "<!subteam^" + s + ">", nil
	case s == "":
		return "", Errorf(EINVALID, "a rule names who to mention when it breaks: a Slack member (@name in Slack, or a member ID such as U012AB3CD) or a user group (@group in Slack, or its ID S…)")
	}
	return "", Errorf(EINVALID, "`%s` is not a Slack member or user group: mention one (@name in Slack), or give a member ID (U…) or group ID (S…)", s)
}

// IsMention reports whether s is a mention as ParseMention returns them, safe to send
// to Slack as it is.
func IsMention(s string) bool { return ruleMention.MatchString(s) }

func lookupMetric(name string) (RuleMetric, bool) {
	name = strings.ToLower(name)
	for _, m := range RuleMetrics {
		if m.Name == name {
			return m, true
		}
		for _, a := range m.Aliases {
			if a == name {
				return m, true
			}
		}
	}
	return RuleMetric{}, false
}

func unknownMetric(typed string) error {
	var names []string
	best, bestD := "", 1<<30
	for _, m := range RuleMetrics {
		names = append(names, m.Name)
		for _, n := range append([]string{m.Name}, m.Aliases...) {
			if d := EditDistance(strings.ToLower(typed), n); d < bestD {
				best, bestD = m.Name, d
			}
		}
	}
	if !isWordToken(typed) {
		return Errorf(EINVALID, "a rule starts with the metric it watches (%s), %s", strings.Join(names, ", "), ruleExamples)
	}
	if bestD <= max(2, len(typed)/3) {
		return Errorf(EINVALID, "unknown metric `%s`: did you mean `%s`?", typed, best)
	}
	return Errorf(EINVALID, "unknown metric `%s`: rules watch %s", typed, strings.Join(names, ", "))
}

func example(m RuleMetric) string {
	switch m.Quantity {
	case "time":
		return m.Name + " < -0.05 ns"
	case "area":
		return m.Name + " > +5%"
	case "percent":
		return m.Name + " > 80%"
	case "power":
		return m.Name + " > 1.5 mW"
	}
	return m.Name + " > 0"
}

func parseNumber(s string) (float64, error) {
	s = strings.Replace(s, "−", "-", 1)
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) || !strings.ContainsAny(s, "0123456789") {
		return 0, fmt.Errorf("not a number")
	}
	return v, nil
}

// ruleTokens splits a rule into words, comparison operators, numbers (with their sign)
// and %. Quotes around the rule, as typed in a shell or in Slack, are dropped.
func ruleTokens(s string) []string {
	s = strings.Trim(strings.TrimSpace(s), "\"'“”‘’`")
	var toks []string
	rs := []rune(s)
	for i := 0; i < len(rs); {
		r := rs[i]
		j := i + 1
		switch {
		case unicode.IsSpace(r):
			i++
			continue
		case r == '<' || r == '>' || r == '=' || r == '!':
			for j < len(rs) && strings.ContainsRune("<>=!", rs[j]) {
				j++
			}
		case r == '%':
		case unicode.IsDigit(r) || r == '.' || ((r == '+' || r == '-' || r == '−') && j < len(rs) && (unicode.IsDigit(rs[j]) || rs[j] == '.')):
			for j < len(rs) && (unicode.IsDigit(rs[j]) || rs[j] == '.' ||
				((rs[j] == 'e' || rs[j] == 'E') && j+1 < len(rs) && (unicode.IsDigit(rs[j+1]) || rs[j+1] == '-' || rs[j+1] == '+')) ||
				((rs[j] == '-' || rs[j] == '+') && (rs[j-1] == 'e' || rs[j-1] == 'E'))) {
				j++
			}
		case unicode.IsLetter(r) || r == '_':
			for j < len(rs) && (unicode.IsLetter(rs[j]) || unicode.IsDigit(rs[j]) || rs[j] == '_' || rs[j] == '^' || rs[j] == '²') {
				j++
			}
		default:
			for j < len(rs) && !unicode.IsSpace(rs[j]) {
				j++
			}
		}
		toks = append(toks, string(rs[i:j]))
		i = j
	}
	return toks
}

func isWordToken(s string) bool {
	r := []rune(s)
	return len(r) > 0 && (unicode.IsLetter(r[0]) || r[0] == '_')
}

func isUnitToken(s string) bool { return s == "%" || isWordToken(s) }

// EditDistance is the Levenshtein distance between a and b, in bytes: what a "did you
// mean" suggestion is chosen by.
func EditDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
