package bot

import (
	"regexp"
	"strings"
)

// Slash-command text as Slack sends it. The manifest sets should_escape: true, so Slack
// escapes the text before it reaches us (https://api.slack.com/interactivity/slash-commands,
// "Escaping"; https://api.slack.com/reference/surfaces/formatting): &, < and > arrive as
// &amp; &lt; &gt;, and <…> is a control sequence Slack made —
//
//	<https://x> or <https://x|label>   a link (Slack links typed URLs, and host names such
//	                                   as db.example.com as <http://db.example.com|db.example.com>)
//	<mailto:a@b.c|a@b.c>               a mail address
//	<@U123> or <@U123|name>            a member
//	<#C123> or <#C123|name>            a channel
//	<!subteam^S123|@group>             a user group
//	<!here> <!channel> <!everyone>     a notification to everyone
//	<!date^…|fallback>                 a date
//
// slashWord reads one whitespace-separated word of such text back into what the member
// typed. Control sequences are read before entities are decoded, so text typed as
// "&lt;@U123&gt;" stays text and is never taken for a mention.

// slashWord is one word of a slash command: what was typed, and the member or channel ID
// when the whole word is a mention.
type slashWord struct {
	raw     string // as Slack sent it
	text    string
	user    string // U… or W…, for <@U…>
	channel string // C… or G…, for <#C…>
}

var (
	slashControl = regexp.MustCompile(`<([^<>]*)>`)
	memberID     = regexp.MustCompile(`^[UW][A-Z0-9]+$`)
	channelID    = regexp.MustCompile(`^[CG][A-Z0-9]+$`)
)

// splitSlashText splits escaped slash-command text into words. A control sequence is one
// word's part even when its label holds spaces.
func splitSlashText(text string) []slashWord {
	var words []slashWord
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 {
			words = append(words, readSlashWord(cur.String()))
			cur.Reset()
		}
	}
	inControl := false
	for _, r := range text {
		switch {
		case r == '<':
			inControl = true
		case r == '>':
			inControl = false
		case !inControl && (r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\u00a0'):
			flush()
			continue
		}
		cur.WriteRune(r)
	}
	flush()
	return words
}

// readSlashWord reads one escaped word.
func readSlashWord(raw string) slashWord {
	if m := slashControl.FindStringSubmatch(raw); m != nil && m[0] == raw {
		target, label, _ := strings.Cut(m[1], "|")
		switch {
		case strings.HasPrefix(target, "@") && memberID.MatchString(target[1:]):
			return slashWord{raw: raw, text: mentionText("@", target[1:], decodeEntities(label)), user: target[1:]}
		case strings.HasPrefix(target, "#") && channelID.MatchString(target[1:]):
			return slashWord{raw: raw, text: mentionText("#", target[1:], decodeEntities(label)), channel: target[1:]}
		}
	}
	return slashWord{raw: raw, text: unescapeSlashText(raw)}
}

// unescapeSlashText turns escaped text back into what was typed: each control sequence
// into its text (controlText), then the entities of the rest decoded.
func unescapeSlashText(s string) string {
	var b strings.Builder
	last := 0
	for _, loc := range slashControl.FindAllStringSubmatchIndex(s, -1) {
		b.WriteString(decodeEntities(s[last:loc[0]]))
		b.WriteString(controlText(s[loc[2]:loc[3]]))
		last = loc[1]
	}
	b.WriteString(decodeEntities(s[last:]))
	return b.String()
}

// controlText is what a member typed for one control sequence (without its < >).
//   - a link Slack made from a typed URL, address or host name: what was typed — the
//     label when it is the target without its scheme (db.example.com for
//     <http://db.example.com|db.example.com>), else the target;
//   - a link with a label of its own (<https://x|Grafana>): its target;
//   - a member, channel or group: @name or #name (or the ID); a notification: @here;
//   - a date: its fallback text.
func controlText(inner string) string {
	target, label, _ := strings.Cut(inner, "|")
	target, label = decodeEntities(target), decodeEntities(label)
	switch {
	case strings.HasPrefix(target, "@"):
		return mentionText("@", target[1:], label)
	case strings.HasPrefix(target, "#"):
		return mentionText("#", target[1:], label)
	case strings.HasPrefix(target, "!subteam^"):
		if label != "" {
			return "@" + strings.TrimPrefix(label, "@")
		}
		return "@" + strings.TrimPrefix(target, "!subteam^")
	case strings.HasPrefix(target, "!date^"):
		return label
	case strings.HasPrefix(target, "!"):
		return "@" + target[1:]
	}
	if label == "" {
		return strings.TrimPrefix(target, "mailto:")
	}
	for _, scheme := range []string{"", "http://", "https://", "mailto:", "ftp://"} {
		if target == scheme+label {
			return label
		}
	}
	return target
}

// mentionText is how a mention reads as text: @name (#name) with its label, else the ID.
func mentionText(sigil, id, label string) string {
	if label != "" {
		return sigil + strings.TrimPrefix(label, sigil)
	}
	return sigil + id
}

func decodeEntities(s string) string {
	if !strings.Contains(s, "&") {
		return s
	}
	return strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&").Replace(s)
}
