package commands_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"credential-grafana/cg"
	"credential-grafana/commands"
	"credential-grafana/commands/commandstest"
)

func TestRulesAreAddedListedAndRemovedOnlyByWhoManagesTheUserAndRemovalIsAudited(t *testing.T) {
	t.Parallel()
	env := commandstest.New(t)
	ctx := context.Background()
	alice, bob := env.UniqueUser(t, "rla"), env.UniqueUser(t, "rlb")
	a, b := env.CreateUser(t, alice).User, env.CreateUser(t, bob).User
	tenantA := commands.Actor{Name: "api:user:" + alice, UserID: a.ID}
	tenantB := commands.Actor{Name: "api:user:" + bob, UserID: b.ID}

	rule, err := env.Service.AddRule(ctx, tenantA, alice, "gcd", `"WNS<-50ps"`, "<@U0TIMING01|timing>")
	if err != nil {
		t.Fatal(err)
	}
	if rule.Expr != "wns < -50 ps" || rule.Design != "gcd" || rule.Mention != "<@U0TIMING01>" || rule.User != alice || rule.CreatedBy != tenantA.Name {
		t.Fatalf("stored rule %+v", rule)
	}
	if _, err := env.Service.AddRule(ctx, tenantA, alice, "gcd", "wns < -50 ps", "U0TIMING01"); cg.ErrorCode(err) != cg.ECONFLICT {
		t.Fatalf("the same rule again: %v", err)
	}

	// bob's tenant neither sees nor changes alice's rules, and learns nothing of them.
	if _, err := env.Service.AddRule(ctx, tenantB, alice, "", "drc > 0", "U0TIMING01"); cg.ErrorCode(err) != cg.EFORBIDDEN {
		t.Fatalf("bob adds a rule of alice: %v", err)
	}
	if _, err := env.Service.ListRules(ctx, tenantB, alice); cg.ErrorCode(err) != cg.EFORBIDDEN {
		t.Fatalf("bob lists alice's rules: %v", err)
	}
	if _, err := env.Service.RemoveRule(ctx, tenantB, alice, "1"); cg.ErrorCode(err) != cg.EFORBIDDEN {
		t.Fatalf("bob removes alice's rule: %v", err)
	}
	// Nor through his own user: rule numbers are per user.
	if _, err := env.Service.RemoveRule(ctx, tenantB, bob, "#1"); cg.ErrorCode(err) != cg.ENOTFOUND {
		t.Fatalf("bob removes rule #1 as his own: %v", err)
	}

	// Bad input changes nothing.
	for _, bad := range []struct{ expr, mention, design, want string }{
		{"wnss < 0", "U0TIMING01", "", "unknown metric `wnss`: did you mean `wns`?"},
		{"area > 5 ns", "U0TIMING01", "", "`area` is in µm², not ns"},
		{"drc > 0", "@timing", "", "`@timing` is not a Slack member or user group: mention one (@name in Slack), or give a member ID (U…) or group ID (S…)"},
		{"drc > 0", "U0TIMING01", "gcd\nother", "a design is a name of at most 200 characters on one line, as the run tables' design column has it"},
	} {
		_, err := env.Service.AddRule(ctx, tenantA, alice, bad.design, bad.expr, bad.mention)
		if cg.ErrorCode(err) != cg.EINVALID || cg.ErrorMessage(err) != bad.want {
			t.Errorf("%q %q: %v, want %q", bad.expr, bad.mention, err, bad.want)
		}
	}
	if _, err := env.Service.RemoveRule(ctx, tenantA, alice, "first"); cg.ErrorMessage(err) != "`first` is not a rule number: `rule list "+alice+"` shows the rules with their numbers" {
		t.Errorf("remove by a word: %v", err)
	}
	list, err := env.Service.ListRules(ctx, tenantA, alice)
	if err != nil || len(list) != 1 || list[0].ID != rule.ID {
		t.Fatalf("alice's rules after the refusals: %+v, %v", list, err)
	}

	removed, err := env.Service.RemoveRule(ctx, tenantA, alice, "#"+itoa(rule.ID))
	if err != nil || removed.Expr != rule.Expr {
		t.Fatalf("remove: %+v, %v", removed, err)
	}
	if list, _ := env.Service.ListRules(ctx, commands.CLI, alice); len(list) != 0 {
		t.Fatalf("rules after the removal: %+v", list)
	}
	entries, err := env.DB.Audit().List(ctx, alice, 50)
	if err != nil {
		t.Fatal(err)
	}
	actions := map[string]int{}
	for _, e := range entries {
		actions[e.Action]++
		if e.Action == "rule.remove" && (e.Actor != tenantA.Name || e.Detail["rule"] != "wns < -50 ps") {
			t.Errorf("removal audited as %+v", e)
		}
	}
	if actions["rule.add"] != 1 || actions["rule.remove"] != 1 {
		t.Fatalf("audited %v, want one rule.add and one rule.remove", actions)
	}
	bobs, _ := env.DB.Audit().List(ctx, bob, 50)
	for _, e := range bobs {
		if strings.HasPrefix(e.Action, "rule.") {
			t.Fatalf("a refusal was audited as a change of bob: %+v", e)
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
