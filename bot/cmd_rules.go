package bot

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"credential-grafana/cg"
)

// groupMention is a user group as Slack sends it in escaped slash text.
var groupMention = regexp.MustCompile(`^<!subteam\^(S[A-Z0-9]+)(\|[^<>]*)?>$`)

// ruleAddInput is what `/cg rule add` was given.
type ruleAddInput struct {
	user, expr, mention, design string
	mentions                    int
}

// parseRuleAdd reads `rule add <user> "<rule>" @who [--design <design>]` from the
// command's text escaped as Slack sends it: the rule's < and > arrive as &lt; &gt; and
// its quotes as typed; the member arrives as <@U…|name>, a user group as
// <!subteam^S…|@group> (which parseWords reads as text only, so the raw words are read
// here). The words may come in any order after the user; the rule is every other word.
func parseRuleAdd(raw string) ruleAddInput {
	var in ruleAddInput
	fields := splitSlashText(raw)
	var words []string
	for i := 2; i < len(fields); i++ { // after "rule add"
		f := fields[i]
		if name, ok := strings.CutPrefix(f.raw, "--"); ok && name != "" {
			rawName, rawVal, hasVal := strings.Cut(name, "=")
			val := readSlashWord(rawVal)
			if !hasVal && i+1 < len(fields) {
				i++
				val = fields[i]
			}
			switch strings.ToLower(unescapeSlashText(rawName)) {
			case "design":
				in.design = val.text
			case "mention":
				in.mention, in.mentions = mentionOf(val), in.mentions+1
			default:
				words = append(words, f.text) // the rule's parser says what is wrong
			}
			continue
		}
		if m := mentionOf(f); m != "" {
			in.mention, in.mentions = m, in.mentions+1
			continue
		}
		words = append(words, f.text)
	}
	if len(words) > 0 {
		in.user, in.expr = words[0], strings.Join(words[1:], " ")
	}
	return in
}

// mentionOf is the mention a word is, as Slack markup, or "".
func mentionOf(w slashWord) string {
	switch {
	case w.user != "":
		return "<@" + w.user + ">"
	case groupMention.MatchString(w.raw):
		return "<!subteam^" + groupMention.FindStringSubmatch(w.raw)[1] + ">"
	}
	if _, err := cg.ParseMention(w.text); err == nil && w.text != "" {
		return w.text // a bare member or group ID
	}
	return ""
}

func runRuleAdd(ctx context.Context, r *request) reply {
	in := parseRuleAdd(r.raw)
	if in.mentions > 1 {
		return reply{Text: ":warning: A rule mentions one member or user group: add one rule per mention."}
	}
	rule, err := r.b.svc.AddRule(ctx, r.actor(ctx), in.user, in.design, in.expr, in.mention)
	if err != nil {
		return r.b.errorReply(err, "rule add")
	}
	return reply{Text: fmt.Sprintf(":white_check_mark: Rule #%d of *%s*%s: `%s`. A run that breaks it says so first and mentions %s. `%s rule remove %s %d` removes it.",
		rule.ID, esc(rule.User), designOf(rule), esc(rule.Expr), ruleMentionText(rule.Mention), r.b.cfg.Command, esc(rule.User), rule.ID)}
}

func runRuleList(ctx context.Context, r *request) reply {
	list, err := r.b.svc.ListRules(ctx, r.actor(ctx), r.args[0])
	if err != nil {
		return r.b.errorReply(err, "rule list")
	}
	if len(list) == 0 {
		return reply{Text: fmt.Sprintf("*%s* has no regression rules. Example: `%s rule add %s \"wns < -0.05 ns\" @you`", esc(r.args[0]), r.b.cfg.Command, esc(r.args[0]))}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "*Regression rules of %s*", esc(list[0].User))
	for _, rule := range list {
		fmt.Fprintf(&b, "\n#%d `%s`%s · mentions %s · added by %s", rule.ID, esc(rule.Expr), designOf(rule), ruleMentionText(rule.Mention), esc(rule.CreatedBy))
	}
	return reply{Text: b.String()}
}

func runRuleRemove(ctx context.Context, r *request) reply {
	rule, err := r.b.svc.RemoveRule(ctx, r.actor(ctx), r.args[0], r.args[1])
	if err != nil {
		return r.b.errorReply(err, "rule remove")
	}
	return reply{Text: fmt.Sprintf(":wastebasket: Removed rule #%d of *%s*%s: `%s`.", rule.ID, esc(rule.User), designOf(rule), esc(rule.Expr))}
}

func designOf(r cg.Rule) string {
	if r.Design == "" {
		return ""
	}
	return " for design *" + esc(r.Design) + "*"
}

// ruleMentionText is a stored mention as Slack shows it: a real mention when it is one.
func ruleMentionText(m string) string {
	if cg.IsMention(m) {
		return m
	}
	return esc(m)
}
