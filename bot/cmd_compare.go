package bot

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/slack-go/slack"

	"credential-grafana/commands"
)

// Action IDs of a run's "Compare with…": the button on a post (value: the dashboard
// UID) and the menu of the design's other runs it answers with (option values
// "<other record id>:<this record id>").
const (
	ActionCompareWith = "cg_compare_with"
	ActionComparePick = "cg_compare_pick"
)

// compareChoices is how many other runs the "Compare with…" menu offers.
const compareChoices = 25

func runCompare(ctx context.Context, r *request) reply {
	c, err := r.b.svc.CompareRuns(ctx, r.actor(ctx), r.args[0], r.args[1])
	if err != nil {
		return r.b.errorReply(err, "compare")
	}
	return compareReply(c)
}

// pressCompareWith answers a post's "Compare with…" with a menu of the design's other
// runs, for the presser only; the press is checked as the command would be.
func pressCompareWith(ctx context.Context, b *Bot, cb slack.InteractionCallback, act *slack.BlockAction) {
	this, others, err := b.svc.CompareChoices(ctx, b.actor(ctx, cb.User.ID), act.Value, compareChoices)
	if err != nil {
		b.respond(ctx, cb.ResponseURL, b.errorReply(err, "compare"))
		return
	}
	if len(others) == 0 {
		b.respond(ctx, cb.ResponseURL, reply{Text: fmt.Sprintf(":information_source: `%s` is the only recorded %s run of *%s* so far: nothing to compare it with.",
			esc(this.Table), this.Kind, esc(this.Design))})
		return
	}
	var options []*slack.OptionBlockObject
	for _, o := range others {
		label := o.Table
		if o.RunID != "" {
			label += " · run " + o.RunID
		}
		options = append(options, slack.NewOptionBlockObject(strconv.FormatInt(o.RecordID, 10)+":"+strconv.FormatInt(this.RecordID, 10),
			plain(truncate(label, maxOptionText)), nil))
	}
	menu := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("Compare with…"), ActionComparePick, options...)
	text := fmt.Sprintf("Compare `%s` (%s, *%s*) with which earlier or later run?", esc(this.Table), this.Kind, esc(this.Design))
	b.respond(ctx, cb.ResponseURL, reply{Text: text, Blocks: []slack.Block{
		slack.NewSectionBlock(mrkdwn(text), nil, slack.NewAccessory(menu), slack.SectionBlockOptionBlockID("cg_compare_pick")),
	}})
}

// pressComparePick answers the run picked in the "Compare with…" menu with the
// comparison: the picked run as A, the post's run as B.
func pressComparePick(ctx context.Context, b *Bot, cb slack.InteractionCallback, act *slack.BlockAction) {
	a, rest, ok := strings.Cut(act.SelectedOption.Value, ":")
	aID, errA := strconv.ParseInt(a, 10, 64)
	bID, errB := strconv.ParseInt(rest, 10, 64)
	if !ok || errA != nil || errB != nil {
		b.respond(ctx, cb.ResponseURL, reply{Text: fmt.Sprintf(":thinking_face: That menu does not say which runs to compare: run `%s compare <table> <table>`.", b.cfg.Command)})
		return
	}
	c, err := b.svc.CompareRecords(ctx, b.actor(ctx, cb.User.ID), aID, bID)
	if err != nil {
		b.respond(ctx, cb.ResponseURL, b.errorReply(err, "compare"))
		return
	}
	b.respond(ctx, cb.ResponseURL, compareReply(c))
}

// compareReply shows two runs side by side: who and what each is, each key figure of
// both with B's change against A, and the comparison dashboard's link.
func compareReply(c commands.Comparison) reply {
	head := fmt.Sprintf("*Comparing %s runs* of *%s*: A `%s` with B `%s`", c.A.Kind, esc(c.A.User), esc(c.A.Table), esc(c.B.Table))
	if c.B.User != c.A.User {
		head = fmt.Sprintf("*Comparing %s runs*: A `%s` with B `%s`", c.A.Kind, esc(c.A.Ref()), esc(c.B.Ref()))
	}
	blocks := []slack.Block{
		slack.NewSectionBlock(mrkdwn(head), nil, nil, slack.SectionBlockOptionBlockID("cg_compare_head")),
		slack.NewContextBlock("cg_compare_runs", mrkdwn("A: "+runLine(c.A)), mrkdwn("B: "+runLine(c.B))),
	}
	var fields []*slack.TextBlockObject
	lines := []string{fmt.Sprintf("Comparing %s runs: A %s with B %s", c.A.Kind, c.A.Ref(), c.B.Ref())}
	for _, f := range c.Figures {
		fields = append(fields, mrkdwn(formatChange(f)))
		lines = append(lines, f.Name+": "+changeText(f))
	}
	for i := 0; i < len(fields); i += maxSectionFields {
		blocks = append(blocks, slack.NewSectionBlock(nil, fields[i:min(i+maxSectionFields, len(fields))], nil,
			slack.SectionBlockOptionBlockID(fmt.Sprintf("cg_compare_figures_%d", i/maxSectionFields))))
	}
	if len(fields) == 0 {
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn("Neither run has key figures recorded."), nil, nil))
	}
	if c.DashboardURL != "" {
		blocks = append(blocks, slack.NewActionBlock("cg_compare_actions",
			slack.NewButtonBlockElement(ActionOpenDashboard, "compare", plain("Open the comparison in Grafana")).WithURL(c.DashboardURL).WithStyle(slack.StylePrimary)))
		lines = append(lines, "Comparison dashboard: "+c.DashboardURL)
	} else if c.DashboardNote != "" {
		blocks = append(blocks, slack.NewContextBlock("cg_compare_note", mrkdwn(esc(c.DashboardNote))))
	}
	return reply{Text: esc(strings.Join(lines, "\n")), Blocks: blocks}
}

func runLine(r commands.CompareRun) string {
	var parts []string
	if r.Design != "" {
		d := "*" + esc(r.Design) + "*"
		if r.Platform != "" {
			d += " on *" + esc(r.Platform) + "*"
		}
		parts = append(parts, d)
	}
	if r.RunID != "" {
		parts = append(parts, "run `"+esc(r.RunID)+"`")
	}
	if r.Stage != "" {
		parts = append(parts, "stage `"+esc(r.Stage)+"`")
	}
	s := "`" + esc(r.Table) + "`"
	if len(parts) > 0 {
		s += " · " + strings.Join(parts, " · ")
	}
	if r.DashboardURL != "" && strings.HasPrefix(r.DashboardURL, "http") && !strings.ContainsAny(r.DashboardURL, "<>|") {
		s += " · <" + r.DashboardURL + "|dashboard>"
	}
	return s
}

// formatChange renders one figure of both runs in mrkdwn: A and B, and B's change with an
// arrow, in percent of A, and whether that is better or worse.
func formatChange(f commands.FigureChange) string {
	return fmt.Sprintf("*%s*\n%s", esc(f.Name), esc(changeText(f)))
}

// changeText is one figure of both runs as plain text (escape it for mrkdwn).
func changeText(f commands.FigureChange) string {
	value := func(v *float64) string {
		if v == nil {
			return "—"
		}
		return formatValue(*v, f.Decimals, f.Unit)
	}
	s := "A " + value(f.A) + " · B " + value(f.B)
	if f.Difference == nil {
		return s
	}
	if f.Verdict == commands.VerdictSame {
		return s + "\n→ no change"
	}
	arrow, sign := "↑", "+"
	if *f.Difference < 0 {
		arrow, sign = "↓", "−"
	}
	s += "\n" + arrow + " " + sign + formatValue(math.Abs(*f.Difference), f.Decimals, f.Unit)
	if f.Percent != nil {
		s += fmt.Sprintf(" (%s%.1f%%)", sign, math.Abs(*f.Percent))
	}
	if f.Verdict == commands.VerdictBetter {
		return s + " :white_check_mark: better"
	}
	return s + " :small_red_triangle_down: worse"
}
