package bot

import (
	"context"
	"fmt"
	"strings"

	"github.com/slack-go/slack"

	"credential-grafana/cg"
)

// DigestBlocks is the Block Kit of a digest: a header naming the period, then per design
// its runs in the period, the latest run's figures with their change and sparkline, the
// rules the period's runs broke, and a link to its trend dashboard (or latest run). Data
// text is escaped; the message fits Slack's limits (fitMessage: a digest of more designs
// than fit says how many were left out).
func DigestBlocks(d cg.Digest) []slack.Block {
	blocks := []slack.Block{
		slack.NewHeaderBlock(plain(digestTitle(d))),
		slack.NewContextBlock("cg_digest_period", mrkdwn(esc(digestPeriod(d)))),
	}
	header := blocksText(blocks...)
	used, shown := header, 0
	for i, dd := range d.Designs {
		part := digestDesignBlocks(i, dd)
		for _, b := range part {
			fitBlock(b)
		}
		// Whole designs only, leaving room for the note on those left out.
		if len(blocks)+len(part) > maxMessageBlocks-1 || used+blocksText(part...) > maxBlocksText-200 {
			break
		}
		blocks = append(blocks, part...)
		used += blocksText(part...)
		shown++
	}
	if left := len(d.Designs) - shown; left > 0 {
		blocks = append(blocks, leftOut(fmt.Sprintf("… and %d more designs left out: too many for one Slack message.", left)))
	}
	return fitMessage(blocks)
}

// digestDesignBlocks are one design's blocks in a digest.
func digestDesignBlocks(i int, dd cg.DigestDesign) []slack.Block {
	blocks := []slack.Block{slack.NewDividerBlock(),
		slack.NewSectionBlock(mrkdwn(digestDesign(dd)), nil, nil, slack.SectionBlockOptionBlockID(fmt.Sprintf("cg_digest_design_%d", i)))}
	fields := make([]*slack.TextBlockObject, 0, len(dd.Figures))
	for _, f := range dd.Figures {
		s := FormatFigure(f)
		if len(f.History) > 0 {
			s += "\n" + cg.Sparkline(f.History)
		}
		fields = append(fields, mrkdwn(s))
	}
	for j := 0; j < len(fields); j += maxSectionFields {
		blocks = append(blocks, slack.NewSectionBlock(nil, fields[j:min(j+maxSectionFields, len(fields))], nil))
	}
	if len(dd.Broken) > 0 {
		var lines []string
		for _, b := range dd.Broken {
			l := ":rotating_light: rule `" + esc(b.Rule) + "` broken"
			if b.Detail != "" {
				l += ": " + esc(b.Detail)
			}
			lines = append(lines, l)
		}
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn(strings.Join(lines, "\n")), nil, nil,
			slack.SectionBlockOptionBlockID(fmt.Sprintf("cg_digest_broken_%d", i))))
	}
	return blocks
}

func digestTitle(d cg.Digest) string {
	what := "Daily"
	if d.Schedule.Every == cg.DigestWeekly {
		what = "Weekly"
	}
	return truncate(fmt.Sprintf("%s digest for %s", what, d.User), maxHeaderText)
}

func digestPeriod(d cg.Digest) string {
	const layout = "Mon 2 Jan 2006 15:04"
	n := 0
	for _, dd := range d.Designs {
		n += dd.Runs
	}
	return fmt.Sprintf("%s – %s (%s) · %d runs of %d designs", d.Start.Format(layout), d.End.Format(layout), d.TimeZone, n, len(d.Designs))
}

func digestDesign(dd cg.DigestDesign) string {
	var b strings.Builder
	name := dd.Design
	if name == "" {
		name = "(no design)"
	}
	fmt.Fprintf(&b, "*%s*", esc(name))
	if dd.Platform != "" {
		fmt.Fprintf(&b, " on *%s*", esc(dd.Platform))
	}
	fmt.Fprintf(&b, " · %s · %d run", dd.Kind, dd.Runs)
	if dd.Runs != 1 {
		b.WriteString("s")
	}
	fmt.Fprintf(&b, "\nlatest `%s`", esc(dd.LatestTable))
	if dd.Stage != "" {
		fmt.Fprintf(&b, " · stage `%s`", esc(dd.Stage))
	}
	if dd.URL != "" {
		label := "latest run's dashboard"
		if dd.TrendLink {
			label = "trend dashboard"
		}
		b.WriteString(" · " + link(truncate(dd.URL, maxURL), label))
	}
	return b.String()
}

// DigestText is a digest's notification text (and the whole message when Slack refuses
// the blocks), escaped.
func DigestText(d cg.Digest) string {
	var b strings.Builder
	b.WriteString(digestTitle(d) + ": " + digestPeriod(d))
	for _, dd := range d.Designs {
		b.WriteString("; " + dd.Design)
		for _, f := range dd.Figures {
			b.WriteString(", " + f.Name + " " + formatValue(f.Value, f.Decimals, f.Unit))
		}
	}
	return fitText(esc(b.String()))
}

// PostDigest posts d to channel as one message (chat.postMessage), joining the channel
// first if it is public and the bot is not in it. It is not retried here: the digest
// scheduler releases its claim and tries at its next pass.
func (n *Notifier) PostDigest(ctx context.Context, token cg.Secret, channel string, d cg.Digest) error {
	if channel == "" || token.Empty() {
		return permanentf("post a digest to channel %q: no channel or no bot token configured", channel)
	}
	tc := n.client(token)
	opts := []slack.MsgOption{slack.MsgOptionText(DigestText(d), false), slack.MsgOptionBlocks(DigestBlocks(d)...)}
	err := n.send(ctx, tc, channel, 1, opts...)
	if slackCode(err) == "not_in_channel" && n.join(ctx, tc, channel) == nil {
		err = n.send(ctx, tc, channel, 1, opts...)
	}
	if err != nil {
		return classify("post a digest", channel, tc.botName(ctx), err)
	}
	return nil
}
