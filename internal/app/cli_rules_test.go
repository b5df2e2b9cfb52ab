package app

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"credential-grafana/cg"
)

func TestCLIAddsListsAndRemovesRulesAndBadInputChangesNothing(t *testing.T) {
	_, user, cli := cliUser(t)
	code, out, errOut := cli("", "rule", "add", user, "wns<-50ps", "U0TIMING01", "--design", "gcd", "--json")
	if code != 0 {
		t.Fatalf("rule add: %d %s", code, errOut)
	}
	var r cg.Rule
	if err := json.Unmarshal([]byte(out), &r); err != nil || r.Expr != "wns < -50 ps" || r.Design != "gcd" || r.Mention != "<@U0TIMING01>" || r.CreatedBy != "cli" {
		t.Fatalf("added %s (%v)", out, err)
	}
	if code, out, errOut := cli("", "rule", "add", user, "tns worse by 10%", "--mention", "S0TIMING01"); code != 0 || !strings.Contains(out, "tns worse by 10%, mentioning <!subteam^S0TIMING01>") {
		t.Fatalf("rule add --mention: %d %s %s", code, out, errOut)
	}
	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"rule", "add", user, "wnss < 0", "U0TIMING01"}, "unknown metric `wnss`: did you mean `wns`?"},
		{[]string{"rule", "add", user, "area > 5 ns", "U0TIMING01"}, "`area` is in µm², not ns"},
		{[]string{"rule", "add", user, "drc > 0"}, `usage: credential-grafana rule add <user> "<rule>" <mention> [--design <design>]`},
		{[]string{"rule", "add", user, "drc > 0", "@alice"}, "`@alice` is not a Slack member or user group"},
		{[]string{"rule", "remove", user, "x"}, "`x` is not a rule number"},
		{[]string{"rule", "remove", user, "999999"}, "has no rule #999999"},
		{[]string{"rule", "edit", user}, `unknown command "rule edit": rule takes add, list or remove`},
	} {
		if code, _, errOut := cli("", bad.args...); code == 0 || !strings.Contains(errOut, bad.want) {
			t.Errorf("%v: %d %q, want %q", bad.args, code, errOut, bad.want)
		}
	}
	code, out, errOut = cli("", "rule", "list", user)
	if code != 0 || strings.Count(out, "\n") != 3 || !strings.Contains(out, "wns < -50 ps") || !strings.Contains(out, "(every design)") {
		t.Fatalf("rule list: %d %q %s", code, out, errOut)
	}
	if code, out, errOut := cli("", "rule", "remove", user, strconv.FormatInt(r.ID, 10)); code != 0 || !strings.Contains(out, "removed: wns < -50 ps") {
		t.Fatalf("rule remove: %d %s %s", code, out, errOut)
	}
	code, out, _ = cli("", "rule", "list", user, "--json")
	var list []cg.Rule
	if err := json.Unmarshal([]byte(out), &list); code != 0 || err != nil || len(list) != 1 || list[0].Expr != "tns worse by 10%" {
		t.Fatalf("rules after the removal: %s", out)
	}
}
