package bot

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/slack-go/slack"

	"credential-grafana/bot/slacktest"
	"credential-grafana/cg"
)

// TestAPostWithATrendLinkHasATrendButton: a post whose design has a trend dashboard
// carries a "Trend" link button to it (and the link in its text), accepted by the
// Slack fake; a post without one has no such button.
func TestAPostWithATrendLinkHasATrendButton(t *testing.T) {
	t.Parallel()
	srv := slacktest.New(t)
	srv.AddChannel("C0RESULTS1", "eda-results", slacktest.BotMember())
	api := slack.New(srv.BotToken(), slack.OptionAPIURL(srv.APIURL()))
	trend := "https://grafana.example.com/d/trend-alice-gcd-nangate45-0a1b2c3d4e5f/trend-gcd-nangate45?orgId=1"
	post := cg.Post{User: "alice", Kind: cg.KindTiming, Database: "alice-timing_report", Table: "gcd_r2", Design: "gcd", Platform: "nangate45",
		DashboardUID: "alice-timing-gcd_r2", DashboardURL: "https://grafana.example.com/d/alice-timing-gcd_r2?orgId=1", TrendURL: trend,
		Figures: []cg.Figure{{Name: "WNS", Value: -0.1, Unit: "ns", Decimals: 3}}}
	for _, withTrend := range []bool{true, false} {
		p := post
		if !withTrend {
			p.TrendURL = ""
		}
		if _, _, err := api.PostMessage("C0RESULTS1", slack.MsgOptionText(PostText(p), false), slack.MsgOptionBlocks(PostBlocks(p)...)); err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(PostBlocks(p))
		hasButton := strings.Contains(string(b), `"action_id":"`+ActionOpenTrend+`"`) && strings.Contains(string(b), `"url":"`+trend+`"`)
		if hasButton != withTrend || strings.Contains(PostText(p), trend) != withTrend {
			t.Errorf("trend link %v: button %v, in the text %v", withTrend, hasButton, strings.Contains(PostText(p), trend))
		}
	}
}
