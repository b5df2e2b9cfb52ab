package bot

import (
	"encoding/json"
	"strings"
	"testing"

	"credential-grafana/cg"
)

func TestAPostThatBrokeRulesSaysSoFirstWithRealMentionsAndEverythingElseEscaped(t *testing.T) {
	t.Parallel()
	p := cg.Post{
		User: "alice", Kind: cg.KindTiming, Database: "alice-timing_report", Table: "gcd_nangate45_run2",
		Design: "gcd", Platform: "nangate45", DashboardUID: "cg-alice-timing-5f2a9c1e",
		Figures: []cg.Figure{{Name: "WNS", Value: -0.081, Unit: "ns", HigherIsBetter: true, Decimals: 3, Previous: f(-0.02)}},
		Broken: []cg.BrokenRule{
			{RuleID: 3, Rule: "wns < -0.05 ns", Mention: "<@U0TIMING01>", Detail: "WNS -0.081 ns is below -0.05 ns"},
			{RuleID: 4, Rule: "wns worse by 10%", Mention: "<!subteam^S0TIMING01>", Detail: "<!channel> & co"},
			{RuleID: 5, Rule: "drc > 0", Mention: "<!channel>"}, // never stored so; shown as text if it were
		},
	}
	blocks := PostBlocks(p)
	golden(t, "post_rules_broken", blocks)
	b, _ := json.Marshal(blocks[0])
	first := string(b)
	for _, want := range []string{`"block_id":"cg_post_rules_broken"`, ":red_circle: *This run broke 3 regression rules*",
		"`wns \\u0026lt; -0.05 ns` — WNS -0.081 ns is below -0.05 ns \\u003c@U0TIMING01\\u003e",
		"\\u003c!subteam^S0TIMING01\\u003e", "\\u0026lt;!channel\\u0026gt; \\u0026amp; co"} {
		if !strings.Contains(first, want) {
			t.Errorf("the first block lacks %s:\n%s", want, first)
		}
	}
	if strings.Contains(first, `\u003c!channel\u003e`) {
		t.Errorf("a mention that is not a member or group went out as markup:\n%s", first)
	}
	text := PostText(p)
	if !strings.HasPrefix(text, ":red_circle: *This run broke 3 regression rules*: `wns &lt; -0.05 ns` — WNS -0.081 ns is below -0.05 ns <@U0TIMING01>; ") {
		t.Errorf("the notification text does not start with the broken rules: %s", text)
	}
	if strings.Contains(mustJSON(PostBlocks(cg.Post{User: "alice", Kind: cg.KindDRC})), "red_circle") {
		t.Error("a post that broke no rule has the red section")
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
