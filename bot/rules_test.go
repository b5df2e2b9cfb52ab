package bot_test

import (
	"encoding/json"
	"strconv"
	"testing"

	"credential-grafana/cg"
	"credential-grafana/commands"
)

func TestRulesAreSetFromSlackAsTypedAndBadInputOrAnotherMembersUserChangesNothing(t *testing.T) {
	t.Parallel()
	h := startBot(t)
	user := h.createUser("rules", aliceID)
	rules := func() []cg.Rule {
		t.Helper()
		list, err := h.env.Service.ListRules(h.ctx, commands.CLI, user)
		if err != nil {
			t.Fatal(err)
		}
		return list
	}

	// As typed in Slack: the rule in quotes (its < arrives as &lt;), @alice picked from
	// the list (a member mention), the design as a flag.
	p := h.answer(aliceID, "rule add "+user+` "wns < -0.05 ns" @alice --design gcd`)
	mustContain(t, "rule add", all(p), "Rule #", "`wns &lt; -0.05 ns`", "for design *gcd*", "mentions <@"+aliceID+">")
	// A user group, as Slack sends one picked from the list.
	p = h.answer(aliceID, "rules add "+user+" <!subteam^S0TIMING01|@timing> area > +5%")
	mustContain(t, "rule add group", all(p), "`area &gt; +5%`", "mentions <!subteam^S0TIMING01>")
	list := rules()
	if len(list) != 2 || list[0].Expr != "wns < -0.05 ns" || list[0].Design != "gcd" || list[0].Mention != "<@"+aliceID+">" ||
		list[1].Expr != "area > +5%" || list[1].Design != "" || list[1].Mention != "<!subteam^S0TIMING01>" || list[0].CreatedBy != "slack:"+aliceID {
		t.Fatalf("stored rules: %+v", list)
	}

	// Bad input says what is wrong and changes nothing.
	for typed, want := range map[string]string{
		"rule add " + user + ` "wnss < 0" @alice`:                 "unknown metric `wnss`: did you mean `wns`?",
		"rule add " + user + ` "area > 5 ns" @alice`:              "`area` is in µm², not ns",
		"rule add " + user + ` "drc > 0"`:                         "a rule names who to mention when it breaks",
		"rule add " + user + ` "drc > 0" @alice <@` + bobID + `>`: "A rule mentions one member or user group",
		"rule add " + user + ` "wns <" @alice`:                    "`wns &lt;` needs a number after it",
		"rule remove " + user + " first":                          "`first` is not a rule number",
		"rule remove " + user + " 999999":                         "has no rule #999999",
	} {
		mustContain(t, typed, all(h.answer(aliceID, typed)), want)
	}
	// bob manages other users: he neither lists, adds nor removes alice's.
	id := strconv.FormatInt(list[0].ID, 10)
	for _, typed := range []string{"rule list " + user, "rule remove " + user + " " + id, "rule add " + user + ` "drc > 0" @bob`} {
		mustContain(t, typed, all(h.answer(bobID, typed)), "Sorry, you may only manage your own user")
	}
	if n := len(rules()); n != 2 {
		t.Fatalf("%d rules after the refusals, want 2", n)
	}

	p = h.answer(aliceID, "rule list "+user)
	mustContain(t, "rule list", all(p), "#"+id+" `wns &lt; -0.05 ns` for design *gcd* · mentions <@"+aliceID+">", "`area &gt; +5%` · mentions <!subteam^S0TIMING01>")
	p = h.answer(aliceID, "rule remove "+user+" "+id)
	mustContain(t, "rule remove", all(p), "Removed rule #"+id)
	if list := rules(); len(list) != 1 || list[0].Expr != "area > +5%" {
		t.Fatalf("rules after the removal: %+v", list)
	}
	if n := h.auditCount("slack:"+aliceID, "rule.remove"); n != 1 {
		t.Fatalf("%d rule.remove audited, want 1", n)
	}

	_, ack := h.slash(aliceID, "help")
	blocks, _ := json.Marshal(ackPayload(t, ack)["blocks"])
	mustContain(t, "help", blockTexts(blocks), "/cg rule add &lt;user&gt;", "/cg rule list &lt;user&gt;", "/cg rule remove &lt;user&gt; &lt;number&gt;")
}
