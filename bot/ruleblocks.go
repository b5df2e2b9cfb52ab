package bot

import (
	"fmt"
	"strings"

	"github.com/slack-go/slack"

	"credential-grafana/cg"
)

// maxBrokenShown is how many broken rules a post lists; the rest are counted.
const maxBrokenShown = 8

// brokenRulesBlock is the section a post that broke regression rules starts with. Block
// Kit gives a header block no colour, and files.completeUploadExternal (which carries the
// post's blocks) takes no attachments, so there is no colour bar either (its reference,
// docs.slack.dev/reference/methods/files.completeUploadExternal, lists files, channel_id,
// channels, thread_ts, initial_comment and blocks only): the red is the :red_circle: emoji
// leading the section. The mention is sent as Slack's own markup (<@U…>, <!subteam^S…>) so
// it is a real mention; everything else is escaped.
func brokenRulesBlock(broken []cg.BrokenRule) slack.Block {
	return slack.NewSectionBlock(mrkdwn(brokenRulesText(broken, true)), nil, nil, slack.SectionBlockOptionBlockID("cg_post_rules_broken"))
}

// brokenRulesText says which rules a run broke, one line each (lines: as mrkdwn lines,
// else in one sentence for a notification), with their mentions.
func brokenRulesText(broken []cg.BrokenRule, lines bool) string {
	var b strings.Builder
	n := "a regression rule"
	if len(broken) > 1 {
		n = fmt.Sprintf("%d regression rules", len(broken))
	}
	fmt.Fprintf(&b, ":red_circle: *This run broke %s*", n)
	for i, r := range broken {
		if i == maxBrokenShown {
			fmt.Fprintf(&b, "\n…and %d more", len(broken)-maxBrokenShown)
			break
		}
		sep := "\n• "
		if !lines {
			sep = map[bool]string{true: ": ", false: "; "}[i == 0]
		}
		fmt.Fprintf(&b, "%s`%s`", sep, esc(truncate(r.Rule, 80)))
		if r.Detail != "" {
			b.WriteString(" — " + esc(truncate(r.Detail, 200)))
		}
		if cg.IsMention(r.Mention) {
			b.WriteString(" " + r.Mention)
		} else if r.Mention != "" {
			b.WriteString(" " + esc(r.Mention))
		}
	}
	if !lines {
		b.WriteString(". ")
	}
	return b.String()
}
