package bot

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"credential-grafana/bot/slacktest"
	"credential-grafana/cg"
)

func TestADigestOfHostileDataAndManyDesignsIsAcceptedBySlackAndEscaped(t *testing.T) {
	t.Parallel()
	srv := slacktest.New(t)
	srv.AddChannel("C0RESULTS1", "eda-results", slacktest.BotMember())
	api := slack.New(srv.BotToken(), slack.OptionAPIURL(srv.APIURL()))
	long := func(unit string, n int) string { return strings.Repeat(unit, n) }
	start := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	d := cg.Digest{User: long("<!channel>", 20), Schedule: cg.DigestSchedule{Every: cg.DigestWeekly, Weekday: time.Monday, Minute: 540},
		TimeZone: "UTC", Start: start, End: start.Add(7 * 24 * time.Hour)}
	for i := range 40 {
		prev := float64(i)
		figs := make([]cg.Figure, 12)
		for j := range figs {
			figs[j] = cg.Figure{Name: long("n>", 300), Value: float64(i + j), Previous: &prev, Unit: long("u&", 50), History: []float64{1, 2, 3, float64(j)}}
		}
		d.Designs = append(d.Designs, cg.DigestDesign{Kind: cg.KindQOR, Design: fmt.Sprintf("d%d", i) + long("<!here>", 300), Platform: long("<https://evil.example|x>", 100),
			Runs: 3, LatestTable: long("t<", 200), Stage: long("s", 500), Figures: figs, URL: "https://grafana.example.com/d/x?a=1&b=|2",
			Broken: []cg.BrokenRule{{Rule: long("r<", 300), Detail: long("<@U0BOBBY001>", 200), Mention: "<!channel>"}}})
	}
	blocks := DigestBlocks(d)
	if len(blocks) > maxMessageBlocks {
		t.Fatalf("%d blocks", len(blocks))
	}
	_, _, err := api.PostMessage("C0RESULTS1", slack.MsgOptionText(DigestText(d), false), slack.MsgOptionBlocks(blocks...))
	if err != nil {
		var se slack.SlackErrorResponse
		errors.As(err, &se)
		t.Fatalf("Slack refused the digest: %v %q", err, se.ResponseMetadata.Messages)
	}
	msgs := srv.Messages("C0RESULTS1")
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	for _, c := range msgs[0].Controls() {
		if !strings.HasPrefix(c, "<https://grafana.example.com/") {
			t.Errorf("Slack would act on %q", c)
		}
	}
	if !strings.Contains(string(msgs[0].Blocks), "more designs left out: too many for one Slack message") {
		t.Errorf("a digest cut to fit does not say so")
	}
}
