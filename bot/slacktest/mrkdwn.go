package slacktest

import (
	"encoding/json"
	"regexp"
	"strings"
)

// Slack's text formatting, in both directions, as Slack documents it
// (https://api.slack.com/reference/surfaces/formatting, "Escaping text" and "Linking to
// URLs"; the older https://api.slack.com/docs/formatting, "URLs and Escaping"):
//
//   - &, < and > are control characters: text meant literally carries them as &amp; &lt;
//     &gt;, and <…> is a control sequence: <https://x> or <https://x|label> a link,
//     <mailto:a@b.c|a@b.c> a mail link, <@U123> a user, <#C123> a channel,
//     <!subteam^S123> a user group, <!here> <!channel> <!everyone> a notification to
//     everyone, <!date^…|fallback> a date.
//   - URL detection is done by Slack's server, not the client: a typed URL arrives as
//     <https://x>, a typed host name with a known top-level domain as
//     <http://db.example.com|db.example.com>, a typed address as <mailto:a@b.c|a@b.c>.

// controlSequence matches one control sequence in mrkdwn.
var controlSequence = regexp.MustCompile(`<[^<>]*>`)

// Controls lists the control sequences in mrkdwn text: everything Slack would turn into
// a link, a mention or a notification. Escaped text (&lt;!channel&gt;) has none.
func Controls(mrkdwn string) []string {
	return controlSequence.FindAllString(mrkdwn, -1)
}

// Controls lists the control sequences in the message's text and in every mrkdwn text
// object of its blocks (plain_text is shown as it is and has none).
func (m Message) Controls() []string { return messageControls(m.Text, m.Blocks) }

// Controls lists the control sequences of a reply posted to a response_url.
func (p ResponsePost) Controls() []string { return messageControls(p.Text, p.Blocks) }

func messageControls(text string, blocks json.RawMessage) []string {
	out := Controls(text)
	for _, t := range MrkdwnTexts(blocks) {
		out = append(out, Controls(t)...)
	}
	return out
}

// MrkdwnTexts lists the text of every mrkdwn text object in Block Kit JSON.
func MrkdwnTexts(blocks json.RawMessage) []string {
	var v any
	if json.Unmarshal(blocks, &v) != nil {
		return nil
	}
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if x["type"] == "mrkdwn" {
				if s, ok := x["text"].(string); ok {
					out = append(out, s)
				}
			}
			for _, c := range x {
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	walk(v)
	return out
}

// Display is mrkdwn as a person reads it: links and mentions shown by their label (or
// target), entities decoded. Formatting marks (*, _, `) are left in.
func Display(mrkdwn string) string {
	s := controlSequence.ReplaceAllStringFunc(mrkdwn, func(c string) string {
		inner := c[1 : len(c)-1]
		target, label, hasLabel := strings.Cut(inner, "|")
		switch {
		case hasLabel && label != "":
			return label
		case strings.HasPrefix(target, "@"), strings.HasPrefix(target, "#"):
			return target
		case strings.HasPrefix(target, "!"):
			name, _, _ := strings.Cut(target[1:], "^")
			return "@" + name
		}
		return strings.TrimPrefix(target, "mailto:")
	})
	return strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&").Replace(s)
}
