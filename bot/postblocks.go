package bot

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/slack-go/slack"

	"credential-grafana/cg"
)

// Action IDs of the buttons on a pipeline message. The value of the re-record and mute
// buttons is the dashboard UID.
const (
	ActionOpenDashboard = "cg_open_dashboard"
	ActionOpenTrend     = "cg_open_trend"
	ActionRecapture     = "cg_recapture"
	ActionMuteDesign    = "cg_mute_design"
)

// maxFieldsPerSection is Slack's limit of fields in one section block.
const maxFieldsPerSection = 10

// PostBlocks is the Block Kit of a pipeline message: the regression rules the run broke
// first, if any (brokenRulesBlock), then a title, who and which database, kind and
// table, the key figures with their change against the previous run, their sparkline
// over the design's last runs and best value so far, and the buttons (open in Grafana,
// the design's trend, compare with another run of the design, re-record the GIF, mute
// the design). Everything from the run
// table is shown as text (escaped), and every field fits Slack's limits (fitMessage).
func PostBlocks(p cg.Post) []slack.Block {
	blocks := []slack.Block{
		slack.NewHeaderBlock(plain(postTitle(p))),
		slack.NewSectionBlock(mrkdwn(postSubject(p)), nil, nil, slack.SectionBlockOptionBlockID("cg_post_subject")),
	}
	if len(p.Broken) > 0 {
		blocks = append([]slack.Block{brokenRulesBlock(p.Broken)}, blocks...)
	}
	fields := make([]*slack.TextBlockObject, 0, len(p.Figures))
	for _, f := range p.Figures {
		fields = append(fields, mrkdwn(FormatFigure(f)))
	}
	for i := 0; i < len(fields); i += maxSectionFields {
		part := fields[i:min(i+maxSectionFields, len(fields))]
		blocks = append(blocks, slack.NewSectionBlock(nil, part, nil,
			slack.SectionBlockOptionBlockID(fmt.Sprintf("cg_post_figures_%d", i/maxSectionFields))))
	}
	blocks = append(blocks, slack.NewContextBlock("cg_post_compared", mrkdwn(postComparison(p))))
	blocks = append(blocks, slack.NewActionBlock("cg_post_actions", postButtons(p)...))
	return fitMessage(blocks)
}

func postButtons(p cg.Post) []slack.BlockElement {
	var out []slack.BlockElement
	if p.DashboardURL != "" {
		out = append(out, slack.NewButtonBlockElement(ActionOpenDashboard, p.DashboardUID, plain("Open in Grafana")).
			WithURL(p.DashboardURL).WithStyle(slack.StylePrimary))
	}
	if p.TrendURL != "" { // the design's trend dashboard
		out = append(out, slack.NewButtonBlockElement(ActionOpenTrend, p.DashboardUID, plain("Trend")).WithURL(p.TrendURL))
	}
	if p.Design != "" { // the design's other runs are what it offers
		out = append(out, slack.NewButtonBlockElement(ActionCompareWith, p.DashboardUID, plain("Compare with…")))
	}
	out = append(out, slack.NewButtonBlockElement(ActionRecapture, p.DashboardUID, plain("Re-record GIF")))
	mute := slack.NewButtonBlockElement(ActionMuteDesign, p.DashboardUID, plain("Mute this design"))
	what := "this design"
	if p.Design != "" {
		what = p.Design
	}
	// A long design name is shortened here so that the confirmation (300 characters) keeps
	// its last sentence.
	mute.WithConfirm(slack.NewConfirmationBlockObject(plain(truncate("Mute "+what, maxConfirmTitle-1)+"?"),
		mrkdwn(fmt.Sprintf("Further %s runs of *%s* will be recorded but not posted here. `/cg unmute %s` undoes it.",
			p.Kind, esc(truncate(what, 120)), p.DashboardUID)),
		plain("Mute"), plain("Cancel")))
	return append(out, mute)
}

func postTitle(p cg.Post) string {
	if p.Title != "" {
		return p.Title
	}
	return fmt.Sprintf("%s run %s", p.Kind, p.Table)
}

func postSubject(p cg.Post) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*%s* · %s · database `%s` · table `%s`", esc(p.User), p.Kind, esc(p.Database), esc(p.Table))
	var run []string
	if p.Design != "" {
		d := "design *" + esc(p.Design) + "*"
		if p.Platform != "" {
			d += " on *" + esc(p.Platform) + "*"
		}
		run = append(run, d)
	}
	if p.Stage != "" {
		run = append(run, "stage `"+esc(p.Stage)+"`")
	}
	if p.RunID != "" {
		run = append(run, "run `"+esc(p.RunID)+"`")
	}
	if len(run) > 0 {
		b.WriteString("\n" + strings.Join(run, " · "))
	}
	return b.String()
}

func postComparison(p cg.Post) string {
	var s string
	switch {
	case p.PreviousTable != "":
		s = fmt.Sprintf("Changes are against the previous run of this design, `%s`.", esc(p.PreviousTable))
	case len(p.Figures) == 0:
		return "No key figures were found in this table."
	case p.FirstRun && p.Design != "":
		return "The first run of " + esc(p.Design) + " in this database: nothing to compare with yet."
	default:
		return "First run of this design in this database: nothing to compare with yet."
	}
	if n := trendLength(p); n > 1 {
		s += fmt.Sprintf(" Sparklines show the last %d runs, oldest first; best is over all its runs so far.", n)
	}
	return s
}

// trendLength is how many runs the post's sparklines show (its longest history).
func trendLength(p cg.Post) int {
	n := 0
	for _, f := range p.Figures {
		n = max(n, len(f.History))
	}
	return n
}

// PostText is the text of a pipeline message: Slack's notification text, and the whole
// message when Slack refuses the blocks. It is mrkdwn, with the run's data escaped.
func PostText(p cg.Post) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s — %s, %s", postTitle(p), p.User, p.Database)
	for i, f := range p.Figures {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString(", ")
		}
		b.WriteString(f.Name + " " + formatValue(f.Value, f.Decimals, f.Unit))
		var more []string
		if d, ok := change(f); ok {
			more = append(more, d+" vs previous")
		}
		if len(f.History) > 1 {
			more = append(more, cg.Sparkline(f.History))
		}
		if b := bestText(f); b != "" {
			more = append(more, b)
		}
		if len(more) > 0 {
			b.WriteString(" (" + strings.Join(more, ", ") + ")")
		}
	}
	if p.FirstRun && p.Design != "" {
		b.WriteString(". The first run of " + p.Design)
	}
	if p.DashboardURL != "" {
		fmt.Fprintf(&b, ". Open in Grafana: %s", p.DashboardURL)
	}
	if p.TrendURL != "" {
		fmt.Fprintf(&b, ". Trend: %s", p.TrendURL)
	}
	if len(p.Broken) > 0 {
		return fitText(brokenRulesText(p.Broken, false) + esc(b.String()))
	}
	return fitText(esc(b.String()))
}

// FormatFigure renders one key figure in mrkdwn: its name, value and unit, its change
// against the previous run with an arrow and whether that is better or worse, and, when
// the design has earlier runs, a sparkline of its last runs (History) in a code span and
// its best value so far.
func FormatFigure(f cg.Figure) string {
	s := fmt.Sprintf("*%s*\n`%s`", esc(f.Name), esc(formatValue(f.Value, f.Decimals, f.Unit)))
	if f.Previous != nil {
		d, changed := change(f)
		if !changed {
			s += "  → no change"
		} else {
			arrow, verdict := "↑", ":white_check_mark: better"
			if f.Value < *f.Previous {
				arrow = "↓"
			}
			if (f.Value > *f.Previous) != f.HigherIsBetter {
				verdict = ":small_red_triangle_down: worse"
			}
			s += fmt.Sprintf("  %s %s %s", arrow, esc(d), verdict)
		}
	}
	var trend []string
	if len(f.History) > 1 {
		trend = append(trend, "`"+esc(cg.Sparkline(f.History))+"`")
	}
	if b := bestText(f); b != "" {
		trend = append(trend, esc(b))
	}
	if len(trend) > 0 {
		s += "\n" + strings.Join(trend, "  ")
	}
	return s
}

// change is a figure's change against the previous run, signed, in its unit ("−0.012 ns");
// ok is false when there is no previous run or the change rounds to nothing.
func change(f cg.Figure) (string, bool) {
	if f.Previous == nil {
		return "", false
	}
	delta := f.Value - *f.Previous
	scale := math.Pow(10, float64(max(f.Decimals, 0)))
	if math.Round(math.Abs(delta)*scale) == 0 {
		return "", false
	}
	sign := "+"
	if delta < 0 {
		sign = "−"
	}
	return sign + formatValue(math.Abs(delta), f.Decimals, f.Unit), true
}

// bestText is "best <value>", or "best so far" when this run is the best: only for a
// figure with earlier runs (a first run is its own best).
func bestText(f cg.Figure) string {
	if f.Best == nil || len(f.History) < 2 {
		return ""
	}
	best := formatValue(*f.Best, f.Decimals, f.Unit)
	if best == formatValue(f.Value, f.Decimals, f.Unit) {
		return "best so far"
	}
	return "best " + best
}

func formatValue(v float64, decimals int, unit string) string {
	n := strconv.FormatFloat(v, 'f', max(decimals, 0), 64)
	switch unit {
	case "":
		return n
	case "%":
		return n + "%"
	}
	return n + " " + unit
}

func plain(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, s, false, false)
}

func mrkdwn(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, s, false, false)
}
