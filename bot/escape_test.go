package bot_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"credential-grafana/bot/slacktest"
	"credential-grafana/cg"
)

// safeControl is a control sequence the bot itself means: a mention of a member or a
// channel, or a link.
var safeControl = regexp.MustCompile(`^<(@[UW][A-Z0-9]+|#[CG][A-Z0-9]+|https?://[^|>]+(\|[^>]*)?)>$`)

// checkControls fails the test for any control sequence that is not one the bot means,
// and for any link to evil.example.
func checkControls(t *testing.T, what string, controls []string) {
	t.Helper()
	for _, c := range controls {
		if !safeControl.MatchString(c) || strings.Contains(c, "evil.example") {
			t.Errorf("%s: Slack would act on %q", what, c)
		}
	}
}

// --- text from data is text (issue 9) ----------------------------------------------

func TestRunDataIsShownAsTextInThePipelineMessage(t *testing.T) {
	t.Parallel()
	srv, n := notifierSetup(t)
	srv.AddChannel(resultsChannel, "eda-results", slacktest.BotMember())
	ctx := ctxFor(t)
	p := timingPost(t, srv.BotToken(), resultsChannel, "cg-alice-timing-evil0001")
	p.Design, p.Platform = "<!channel> *gcd*", "<https://evil.example|asap7>"
	p.Title = "TIMING · <!channel> *gcd* on <https://evil.example|asap7> · run2"
	p.Stage, p.RunID = "<!here>", "a&b"
	p.Figures = append(p.Figures, cg.Figure{Name: "<@U0BOBBY001> slack", Value: 1})
	if _, err := post(ctx, n, p); err != nil {
		t.Fatal(err)
	}
	eventually(t, ctx, "the post with its blocks", func() bool {
		for _, m := range srv.Messages(resultsChannel) {
			if len(m.Blocks) > 0 {
				return true
			}
		}
		return false
	})
	var shown []string
	for _, m := range srv.Messages(resultsChannel) {
		checkControls(t, "pipeline message", m.Controls())
		shown = append(shown, slacktest.Display(m.Text))
		for _, s := range slacktest.MrkdwnTexts(m.Blocks) {
			shown = append(shown, slacktest.Display(s))
		}
	}
	mustContain(t, "what a person reads", strings.Join(shown, "\n"),
		"<!channel> *gcd*", "<https://evil.example|asap7>", "<!here>", "a&b", "<@U0BOBBY001> slack")
}

func TestToldTextIsEscaped(t *testing.T) {
	t.Parallel()
	srv, n := notifierSetup(t)
	srv.AddChannel(resultsChannel, "eda-results", slacktest.BotMember())
	text := "The timing dashboard of table <!channel> was not posted: Grafana said <https://evil.example|login> & failed"
	if err := n.Tell(ctxFor(t), cg.Secret(srv.BotToken()), resultsChannel, text); err != nil {
		t.Fatal(err)
	}
	msgs := srv.Messages(resultsChannel)
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	checkControls(t, "told", msgs[0].Controls())
	if got := slacktest.Display(msgs[0].Text); got != text {
		t.Errorf("shown as %q, want %q", got, text)
	}
}

func TestPipelineMessageWithHugeFieldsKeepsItsBlocks(t *testing.T) {
	t.Parallel()
	srv, n := notifierSetup(t)
	srv.AddChannel(resultsChannel, "eda-results", slacktest.BotMember())
	ctx := ctxFor(t)
	p := timingPost(t, srv.BotToken(), resultsChannel, "cg-alice-timing-huge0001")
	p.Design, p.Platform, p.RunID, p.Stage = strings.Repeat("d&", 2500), strings.Repeat("p<", 2500), strings.Repeat("r", 3000), strings.Repeat("s", 500)
	p.Title, p.PreviousTable = strings.Repeat("T", 400), strings.Repeat("q", 3000)
	p.Figures = nil
	for i := range 45 {
		p.Figures = append(p.Figures, cg.Figure{Name: fmt.Sprintf("figure %d %s", i, strings.Repeat("n>", 1200)), Value: float64(i), Unit: "ns"})
	}
	if _, err := post(ctx, n, p); err != nil {
		t.Fatal(err)
	}
	eventually(t, ctx, "the post", func() bool { return len(srv.Messages(resultsChannel)) >= 1 })
	withBlocks := 0
	for _, m := range srv.Messages(resultsChannel) {
		if len(m.Blocks) > 0 {
			withBlocks++
			mustContain(t, "huge post", string(m.Blocks), `"cg_mute_design"`, `"cg_open_dashboard"`)
		}
	}
	if withBlocks != 1 {
		t.Fatalf("%d messages with blocks, want the card (Slack refused its blocks?)", withBlocks)
	}
}
