package bot_test

import (
	"encoding/json"
	"strings"
	"testing"

	"credential-grafana/bot"
	"credential-grafana/bot/slacktest"
	"credential-grafana/cg"
	"credential-grafana/commands/commandstest"
	"credential-grafana/db"
	"credential-grafana/grafana"
	"credential-grafana/grafana/grafanatest"
)

func timingFacts(run string, wns, tns float64, unit string) db.RunFacts {
	return db.RunFacts{Design: "gcd", Platform: "nangate45", RunID: run, Stage: "finish", Figures: []cg.Figure{
		{Name: "WNS", Value: wns, Unit: unit, HigherIsBetter: true, Decimals: 3},
		{Name: "TNS", Value: tns, Unit: unit, HigherIsBetter: true, Decimals: 3},
		{Name: "Violating endpoints", Value: 4},
	}}
}

// selectOptions returns the options (value by text) of the static_select menus in blocks.
func selectOptions(t *testing.T, raw json.RawMessage) map[string]string {
	t.Helper()
	var blocks []struct {
		Accessory struct {
			Type    string `json:"type"`
			Options []struct {
				Text  struct{ Text string } `json:"text"`
				Value string                `json:"value"`
			} `json:"options"`
		} `json:"accessory"`
	}
	if err := json.Unmarshal(raw, &blocks); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, b := range blocks {
		if b.Accessory.Type == "static_select" {
			for _, o := range b.Accessory.Options {
				out[o.Text.Text] = o.Value
			}
		}
	}
	return out
}

// A run's post carries "Compare with…": pressed, it answers (only to the presser) with a
// menu of the design's other runs; the pick answers with both runs side by side, the
// differences and the comparison dashboard. Another member's press is refused, and
// `/cg compare` answers the same comparison and its refusals; help lists it.
func TestCompareWithButtonAndCommand(t *testing.T) {
	t.Parallel()
	g := grafanatest.New(t)
	h := startBotWith(t, []commandstest.Option{commandstest.WithGrafana(g.URL, g.Token)})
	bobs := h.createUser("cmpbot", bobID)
	h.env.RecordRun(t, bobs, cg.KindTiming, "gcd_run_1", timingFacts("r1", -0.100, -2.000, "ns"))
	h.env.RecordRun(t, bobs, cg.KindTiming, "gcd_run_2", timingFacts("r2", -150, -1500, "ps"))
	h.env.RecordRun(t, bobs, cg.KindTiming, "gcd_run_3", timingFacts("r3", -0.050, -1.000, "ns"))
	uid := grafana.DashboardUID(bobs, cg.KindTiming, "gcd_run_3")

	// The post's button, as PostBlocks makes it.
	blocks, _ := json.Marshal(bot.PostBlocks(cg.Post{User: bobs, Kind: cg.KindTiming, Table: "gcd_run_3", Design: "gcd", DashboardUID: uid}))
	if !strings.Contains(string(blocks), `"text":"Compare with…","emoji":false},"action_id":"`+bot.ActionCompareWith+`","value":"`+uid+`"`) {
		t.Fatalf("the post has no Compare with… button for %s:\n%s", uid, blocks)
	}

	mustContain(t, "alice presses bob's button", all(h.press(aliceID, bot.ActionCompareWith, uid)), "no dashboard", "among the users you may manage")

	menu := h.press(bobID, bot.ActionCompareWith, uid)
	options := selectOptions(t, menu.Blocks)
	if len(options) != 2 {
		t.Fatalf("menu options %v, want bob's two other runs:\n%s", options, all(menu))
	}
	pick := options["gcd_run_2 · run r2"]
	if pick == "" {
		t.Fatalf("no gcd_run_2 in the menu: %v", options)
	}
	d, err := h.srv.SendBlockAction(h.ctx, slacktest.BlockAction{UserID: bobID, ActionID: bot.ActionComparePick, Type: "static_select",
		Value: pick, ChannelID: resultsChannel})
	if err != nil {
		t.Fatal(err)
	}
	got := all(h.firstPost(d, "the pick"))
	// A is gcd_run_2 (ps), B the post's run: WNS -150 ps -> -50 ps is +100 ps, 66.7% better.
	mustContain(t, "the comparison", got, "A `gcd_run_2` with B `gcd_run_3`",
		"A -150.000 ps · B -50.000 ps", "↑ +100.000 ps (+66.7%) :white_check_mark: better",
		"*Violating endpoints*", "→ no change", "Open the comparison in Grafana", "var-a=gcd_run_2&var-b=gcd_run_3")
	// Alice cannot pick bob's runs either, even with the menu's value.
	d, err = h.srv.SendBlockAction(h.ctx, slacktest.BlockAction{UserID: aliceID, ActionID: bot.ActionComparePick, Type: "static_select",
		Value: pick, ChannelID: resultsChannel})
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, "alice picks bob's runs", all(h.firstPost(d, "alice's pick")), "among your users")

	// The command: B against A, ns against ps converted.
	mustContain(t, "/cg compare", all(h.answer(bobID, "compare gcd_run_1 gcd_run_2")),
		"A -0.100 ns · B -0.150 ns", "↓ −0.050 ns (−50.0%) :small_red_triangle_down: worse")
	mustContain(t, "an unknown table", all(h.answer(bobID, "compare gcd_run_1 nope")), "no run table `nope` among your users")
	mustContain(t, "alice compares bob's runs", all(h.answer(aliceID, "compare gcd_run_1 gcd_run_2")), "no run table `gcd_run_1` among your users")
	_, ack := h.slash(bobID, "compare gcd_run_1")
	mustContain(t, "one table", ackPayload(t, ack)["text"].(string), "`compare` takes `&lt;table&gt; &lt;table&gt;`")
	_, ack = h.slash(bobID, "help")
	help, _ := json.Marshal(ackPayload(t, ack)["blocks"])
	mustContain(t, "help", blockTexts(help), "/cg compare &lt;table&gt; &lt;table&gt;")
}
