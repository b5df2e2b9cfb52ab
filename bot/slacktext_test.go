package bot_test

import (
	"encoding/json"
	"regexp"
	"sort"
	"strings"
	"testing"

	"credential-grafana/bot/slacktest"
	"credential-grafana/commands"
	"credential-grafana/commands/commandstest"
)

// --- Slack's text as Slack sends it (issue 10) ----------------------------------------

// ownHosts makes the service's own database host and Grafana names Slack links when typed.
func ownHosts(cfg *commands.Config) {
	cfg.Defaults.DBHost = "pg.example.com"
	cfg.Defaults.GrafanaURL = "https://grafana.example.com"
}

func TestSlashCommandsWithEscapedLinksSetGrafanaURLAndDBHost(t *testing.T) {
	t.Parallel()
	h := startBotWith(t, []commandstest.Option{ownHosts})
	name := h.createUser("esc", aliceID)
	for _, tc := range []struct{ key, typed string }{
		{"grafana_url", "https://grafana.example.com"}, // arrives as <https://grafana.example.com>
		{"db_host", "pg.example.com"},                  // arrives as <http://pg.example.com|pg.example.com>
	} {
		mustContain(t, "cred delete "+tc.key, all(h.answer(adminID, "cred delete "+name+" "+tc.key)), "Deleted `"+tc.key+"`")
		set := h.answer(adminID, "cred set "+name+" "+tc.key+" "+tc.typed)
		mustContain(t, "cred set "+tc.key, all(set), "Set `"+tc.key+"`", tc.typed)
		checkControls(t, "cred set reply", set.Controls())
		c, err := h.env.Service.RevealCredential(h.ctx, commands.CLI, name, tc.key)
		if err != nil || c.Value.Reveal() != tc.typed {
			t.Errorf("%s = %q (%v), want %q", tc.key, c.Value.Reveal(), err, tc.typed)
		}
	}
}

// helpExample finds the examples in the help ("e.g. `/cg …`").
var helpExample = regexp.MustCompile("e\\.g\\. `/cg ([^`]+)`")

func TestHelpExamplesWorkWhenTypedIntoSlack(t *testing.T) {
	t.Parallel()
	h := startBot(t)
	help := h.answerOrAck(adminID, "help")
	checkControls(t, "help", help.Controls())
	var shown []string
	for _, s := range slacktest.MrkdwnTexts(help.Blocks) {
		shown = append(shown, slacktest.Display(s))
	}
	examples := helpExample.FindAllStringSubmatch(strings.Join(shown, "\n"), -1)
	if len(examples) < 10 {
		t.Fatalf("%d examples in the help", len(examples))
	}
	sort.SliceStable(examples, func(i, j int) bool { // the user first, then what uses it
		return strings.HasPrefix(examples[i][1], "user add ") && !strings.HasPrefix(examples[j][1], "user add ")
	})
	name := h.env.UniqueUser(t, "ex")
	ownName := regexp.MustCompile(`(^|[^@\w])alice\b`)
	for _, ex := range examples {
		typed := ownName.ReplaceAllString(ex[1], "${1}"+name)
		got := h.answerOrAck(adminID, typed)
		text := all(got)
		if strings.Contains(text, ":thinking_face:") || strings.Contains(text, "no user named") || regexp.MustCompile(`expected an? `).MatchString(text) {
			t.Errorf("/cg %s: %s", typed, text)
		}
		checkControls(t, "/cg "+typed, got.Controls())
		if strings.HasPrefix(typed, "user add ") {
			u, err := h.env.Service.ShowUser(h.ctx, commands.CLI, name)
			if err != nil || u.SlackUserID != aliceID {
				t.Errorf("after /cg %s: owner %q (%v), want %s", typed, u.SlackUserID, err, aliceID)
			}
			creds, _ := h.env.Service.ListCredentials(h.ctx, commands.CLI, name)
			found := false
			for _, c := range creds {
				found = found || (c.Key == "slack_channel_id" && c.Masked == resultsChannel)
			}
			if !found {
				t.Errorf("after /cg %s: slack_channel_id is not %s: %+v", typed, resultsChannel, creds)
			}
		}
	}
}

func TestTypedControlCharactersAreEchoedAsText(t *testing.T) {
	t.Parallel()
	h := startBot(t)
	name := h.createUser("echo", aliceID)
	// db_host and db_port are connection keys, which only an administrator may set: the
	// administrator's refusal is the one that quotes what was typed.
	for _, tc := range []struct{ who, typed, shown string }{
		{aliceID, "frobnicate <https://evil.example|x> @channel", "<https://evil.example|x> @channel"},
		{adminID, "cred set " + name + " db_host <https://evil.example|x>", "<https://evil.example|x>"},
		{adminID, "cred set " + name + " db_port a&b<c>", "a&b<c>"},
		{aliceID, "user show <https://evil.example|x>", ""},
	} {
		got := h.answerOrAck(tc.who, tc.typed)
		checkControls(t, "/cg "+tc.typed, got.Controls())
		if !strings.Contains(slacktest.Display(got.Text), tc.shown) {
			t.Errorf("/cg %s: the reply does not show %q: %q", tc.typed, tc.shown, got.Text)
		}
	}
}

// answerOrAck runs "/cg text" and returns its answer: the ack's payload if it has one,
// else the first reply to its response_url, or an empty post once a modal is open.
func (h *harness) answerOrAck(user, text string) slacktest.ResponsePost {
	h.t.Helper()
	d, ack := h.slash(user, text)
	if len(ack.Payload) > 0 && string(ack.Payload) != "null" {
		p := ackPayload(h.t, ack)
		post := slacktest.ResponsePost{Body: ack.Payload}
		post.Text, _ = p["text"].(string)
		if b, ok := p["blocks"]; ok {
			post.Blocks = mustJSON(h.t, b)
		}
		return post
	}
	var got slacktest.ResponsePost
	eventually(h.t, h.ctx, "an answer to "+text, func() bool {
		if posts := d.ResponsePosts(); len(posts) > 0 {
			got = posts[0]
			return true
		}
		for _, c := range h.srv.ViewCalls() {
			if c.Method == "views.open" && c.TriggerID == d.TriggerID {
				return true
			}
		}
		return false
	})
	return got
}

func mustJSON(t *testing.T, v any) json.RawMessage {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}
