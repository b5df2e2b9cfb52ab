package slacktest_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"credential-grafana/bot/slacktest"
)

// slashText sends "/cg typed" and returns the text the app receives.
func slashText(t *testing.T, typed string, opts ...slacktest.Option) string {
	t.Helper()
	srv, _ := setup(t, append([]slacktest.Option{slacktest.WithPingInterval(100 * time.Millisecond)}, opts...)...)
	srv.AddUser(slacktest.User{ID: "U0BOBBY001", Name: "bob"})
	client, events, _ := runSocketMode(t, srv)
	ctx := ctxT(t)
	next(t, ctx, events, socketmode.EventTypeHello)
	if _, err := srv.SendSlashCommand(ctx, slacktest.SlashCommand{Command: "/cg", Text: typed, UserID: alice, ChannelID: publicChannel}); err != nil {
		t.Fatal(err)
	}
	e := next(t, ctx, events, socketmode.EventTypeSlashCommand)
	_ = client.Ack(*e.Request)
	return e.Data.(slack.SlashCommand).Text
}

func TestSlashCommandTextArrivesEscapedAsSlackSendsIt(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ typed, want string }{
		{"cred set alice grafana_url https://grafana.example.com", "cred set alice grafana_url <https://grafana.example.com>"},
		{"cred set alice grafana_url http://127.0.0.1:3000/", "cred set alice grafana_url <http://127.0.0.1:3000/>"},
		{"cred set alice db_host db.example.com", "cred set alice db_host <http://db.example.com|db.example.com>"},
		{"cred set alice db_host 10.0.0.5", "cred set alice db_host 10.0.0.5"},
		{"cred set alice db_host pg.internal", "cred set alice db_host pg.internal"},
		{"mail ops@example.com.", "mail <mailto:ops@example.com|ops@example.com>."},
		{"user add carol @alice #eda-results", "user add carol <@U0ALICE001|alice> <#C0PUBLIC01|eda-results>"},
		{"user add carol <@U0BOBBY001> <#C0PUBLIC01>", "user add carol <@U0BOBBY001|bob> <#C0PUBLIC01|eda-results>"},
		{"ping @here and @nobody", "ping <!here> and @nobody"},
		{"a&b <x> 1>0", "a&amp;b &lt;x&gt; 1&gt;0"},
		{"typed <https://evil.example|x>", "typed &lt;https://evil.example|x&gt;"},
	} {
		t.Run(tc.typed, func(t *testing.T) {
			t.Parallel()
			if got := slashText(t, tc.typed); got != tc.want {
				t.Errorf("typed %q: the app got %q, want %q", tc.typed, got, tc.want)
			}
		})
	}
}

func TestSlashCommandWithoutShouldEscapeArrivesAsTyped(t *testing.T) {
	t.Parallel()
	typed := "cred set alice grafana_url https://grafana.example.com a&b"
	if got := slashText(t, typed, slacktest.WithSlashCommandEscaping("/cg", false)); got != typed {
		t.Fatalf("got %q, want it as typed", got)
	}
}

func TestControlsAndDisplayReadMrkdwnAsSlackDoes(t *testing.T) {
	t.Parallel()
	text := "design <!channel> on <https://evil.example|asap7> by <@U1> &lt;!here&gt; &amp;"
	got := slacktest.Controls(text)
	if len(got) != 3 || got[0] != "<!channel>" || got[1] != "<https://evil.example|asap7>" || got[2] != "<@U1>" {
		t.Fatalf("Controls = %q", got)
	}
	if d := slacktest.Display(text); d != "design @channel on asap7 by @U1 <!here> &" {
		t.Fatalf("Display = %q", d)
	}
}

func postBlocks(ctx context.Context, api *slack.Client, blocks ...slack.Block) string {
	_, _, err := api.PostMessageContext(ctx, "C0MEMBER01", slack.MsgOptionText("fallback", false), slack.MsgOptionBlocks(blocks...))
	return slackErr(err)
}

func TestBlockKitFieldLimitsAnswerInvalidBlocks(t *testing.T) {
	t.Parallel()
	srv, api := setup(t)
	srv.AddChannel("C0MEMBER01", "bot-here", slacktest.BotMember())
	ctx := ctxT(t)
	txt := func(typ string, n int) *slack.TextBlockObject {
		return slack.NewTextBlockObject(typ, strings.Repeat("x", n), false, false)
	}
	button := func(confirmText int) slack.Block {
		b := slack.NewButtonBlockElement("a", "v", txt("plain_text", 10))
		b.WithConfirm(slack.NewConfirmationBlockObject(txt("plain_text", 10), txt("mrkdwn", confirmText), txt("plain_text", 4), txt("plain_text", 6)))
		return slack.NewActionBlock("", b)
	}
	options := func(textLen, valueLen int) slack.Block {
		o := slack.NewOptionBlockObject(strings.Repeat("v", valueLen), txt("plain_text", textLen), nil)
		return slack.NewActionBlock("", slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, txt("plain_text", 5), "s", o))
	}
	context := func(n int) slack.Block {
		els := make([]slack.MixedElement, n)
		for i := range els {
			els[i] = txt("mrkdwn", 3)
		}
		return slack.NewContextBlock("", els...)
	}
	fields := make([]*slack.TextBlockObject, 11)
	for i := range fields {
		fields[i] = txt("mrkdwn", 5)
	}
	for _, tc := range []struct {
		name  string
		block slack.Block
		want  string
	}{
		{"confirm text of 300", button(300), ""},
		{"confirm text of 301", button(301), "invalid_blocks"},
		{"option text of 75, value of 150", options(75, 150), ""},
		{"option text of 76", options(76, 5), "invalid_blocks"},
		{"option value of 151", options(5, 151), "invalid_blocks"},
		{"10 context elements", context(10), ""},
		{"11 context elements", context(11), "invalid_blocks"},
		{"10 fields", slack.NewSectionBlock(nil, fields[:10], nil), ""},
		{"11 fields", slack.NewSectionBlock(nil, fields, nil), "invalid_blocks"},
		{"a field of 2001", slack.NewSectionBlock(nil, []*slack.TextBlockObject{txt("mrkdwn", 2001)}, nil), "invalid_blocks"},
		{"button text of 76", slack.NewActionBlock("", slack.NewButtonBlockElement("a", "v", txt("plain_text", 76))), "invalid_blocks"},
		{"mrkdwn in a header", slack.NewHeaderBlock(txt("mrkdwn", 5)), "invalid_blocks"},
	} {
		if got := postBlocks(ctx, api, tc.block); got != tc.want {
			t.Errorf("%s: error %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestTooMuchTextInAllBlocksAnswersMsgBlocksTooLong(t *testing.T) {
	t.Parallel()
	srv, api := setup(t)
	srv.AddChannel("C0MEMBER01", "bot-here", slacktest.BotMember())
	ctx := ctxT(t)
	section := func(n int) slack.Block {
		return slack.NewSectionBlock(slack.NewTextBlockObject("mrkdwn", strings.Repeat("x", n), false, false), nil, nil)
	}
	if got := postBlocks(ctx, api, section(3000), section(3000), section(3000), section(3000)); got != "" {
		t.Fatalf("12,000 characters: %q", got)
	}
	if got := postBlocks(ctx, api, section(3000), section(3000), section(3000), section(3000), section(1)); got != "msg_blocks_too_long" {
		t.Fatalf("12,001 characters: %q, want msg_blocks_too_long", got)
	}
	srv, api = setup(t, slacktest.WithBlocksTextLimit(100))
	srv.AddChannel("C0MEMBER01", "bot-here", slacktest.BotMember())
	if got := postBlocks(ctx, api, section(101)); got != "msg_blocks_too_long" {
		t.Fatalf("101 characters with a limit of 100: %q, want msg_blocks_too_long", got)
	}
	if got := postBlocks(ctx, api, section(100)); got != "" {
		t.Fatalf("100 characters with a limit of 100: %q", got)
	}
}
