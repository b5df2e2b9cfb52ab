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
//   - A slash command whose should_escape is true receives its text that way, with users
//     as <@U123|name> and channels as <#C123|name> (https://api.slack.com/interactivity/slash-commands,
//     "Escaping"); with should_escape false it receives the text as typed, mentions as
//     @name and #name.

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

// escapeText escapes the three control characters.
func escapeText(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

var (
	// clientMention is a mention as the Slack client sends it when a member picks one from
	// the composer's list: kept as a mention, not escaped.
	clientMention = regexp.MustCompile(`<(@[UW][A-Z0-9]+|#[CG][A-Z0-9]+|!here|!channel|!everyone|!subteam\^S[A-Z0-9]+)(\|[^<>]*)?>`)
	typedURL      = regexp.MustCompile(`^(?i:https?|ftp)://[^\s<>]+$`)
	typedEmail    = regexp.MustCompile(`^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$`)
	typedHost     = regexp.MustCompile(`(?i)^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+([a-z]{2,})(:\d+)?(/[^\s<>]*)?$`)
)

// linkedTLDs are top-level domains whose bare host names Slack turns into links. Slack's
// list is longer (every IANA TLD); these are the ones tests type. Host names under other
// endings (.local, .internal, .lan) and IP addresses stay text, as in Slack.
var linkedTLDs = map[string]bool{
	"com": true, "net": true, "org": true, "io": true, "dev": true, "app": true, "co": true, "ai": true,
	"cloud": true, "info": true, "biz": true, "us": true, "uk": true, "de": true, "fr": true, "eu": true, "edu": true, "gov": true,
}

// escapeSlashText is the text of a slash command as Slack delivers it to an app with
// should_escape true: typed is what the member typed, where a mention they picked from the
// composer's list may already be <@U…> or <#C…>, and @name / #name of a known member or
// channel count as picked. Call with s.mu held.
func (s *Server) escapeSlashText(typed string) string {
	var b strings.Builder
	for _, word := range strings.SplitAfter(typed, " ") {
		body := strings.TrimRight(word, " ")
		b.WriteString(s.escapeSlashWord(body))
		b.WriteString(word[len(body):])
	}
	return b.String()
}

func (s *Server) escapeSlashWord(word string) string {
	if word == "" {
		return ""
	}
	locs := clientMention.FindAllStringSubmatchIndex(word, -1)
	if len(locs) == 0 {
		return s.escapeTypedWord(word)
	}
	var b strings.Builder
	last := 0
	for _, l := range locs {
		b.WriteString(escapeText(word[last:l[0]]))
		b.WriteString(s.formatMention(word[l[2]:l[3]]))
		last = l[1]
	}
	b.WriteString(escapeText(word[last:]))
	return b.String()
}

// formatMention is a picked mention as Slack sends it with should_escape: users and
// channels with their name after a |.
func (s *Server) formatMention(target string) string {
	switch target[0] {
	case '@':
		return "<" + target + "|" + s.userName(target[1:]) + ">"
	case '#':
		name := ""
		if c := s.channels[target[1:]]; c != nil {
			name = c.name
		}
		return "<" + target + "|" + name + ">"
	}
	return "<" + target + ">"
}

// escapeTypedWord is one typed word: a known @member or #channel becomes a mention,
// @here/@channel/@everyone a notification, a URL, address or linkable host name a link,
// anything else escaped text. Punctuation after a link stays outside it.
func (s *Server) escapeTypedWord(word string) string {
	core := strings.TrimRight(word, ".,;:!?)")
	tail := word[len(core):]
	switch {
	case core == "@here" || core == "@channel" || core == "@everyone":
		return "<!" + core[1:] + ">" + escapeText(tail)
	case strings.HasPrefix(core, "@"):
		for id, u := range s.users {
			if u.Name == core[1:] {
				return s.formatMention("@"+id) + escapeText(tail)
			}
		}
	case strings.HasPrefix(core, "#"):
		for id, c := range s.channels {
			if c.name == core[1:] {
				return s.formatMention("#"+id) + escapeText(tail)
			}
		}
	case typedURL.MatchString(core):
		return "<" + escapeText(core) + ">" + escapeText(tail)
	case typedEmail.MatchString(core):
		return "<mailto:" + escapeText(core) + "|" + escapeText(core) + ">" + escapeText(tail)
	case typedHost.MatchString(core) && linkedTLDs[strings.ToLower(typedHost.FindStringSubmatch(core)[1])]:
		return "<http://" + escapeText(core) + "|" + escapeText(core) + ">" + escapeText(tail)
	}
	return escapeText(word)
}
