package rest_test

import (
	"context"
	"net/http"
	"strconv"
	"testing"
)

func (b *bundle) ruleCount(t *testing.T) int {
	t.Helper()
	var n int
	if err := b.env.DB.Pool.QueryRow(context.Background(), "SELECT count(*) FROM rules").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestRulesOverRESTAreScopedToTheKeysUserAndBadInputIsRefusedUnchanged(t *testing.T) {
	t.Parallel()
	b := setup(t)
	alice, bob := b.env.UniqueUser(t, "rra"), b.env.UniqueUser(t, "rrb")
	aliceKey := b.env.CreateUser(t, alice).APIKey.Reveal()
	bobKey := b.env.CreateUser(t, bob).APIKey.Reveal()
	path := "/api/v1/users/" + alice + "/rules"

	r := b.do(t, "POST", path, aliceKey, `{"rule":"area > 5%","mention":"<!subteam^S0QOR00001>","design":"gcd"}`)
	if r.status != http.StatusCreated || r.body["rule"] != "area > +5%" || r.body["design"] != "gcd" || r.body["mention"] != "<!subteam^S0QOR00001>" {
		t.Fatalf("add: %d %s", r.status, r.raw)
	}
	id := strconv.FormatInt(int64(r.body["id"].(float64)), 10)

	for _, bad := range []struct{ body, want string }{
		{`{"rule":"wnss < 0","mention":"U0TIMING01"}`, "unknown metric `wnss`: did you mean `wns`?"},
		{`{"rule":"power > 2 ns","mention":"U0TIMING01"}`, "`power` is in mW or W, not ns"},
		{`{"rule":"drc > 0"}`, "a rule names who to mention when it breaks: a Slack member (@name in Slack, or a member ID such as U012AB3CD) or a user group (@group in Slack, or its ID S…)"},
	} {
		if r := b.do(t, "POST", path, aliceKey, bad.body); r.status != http.StatusUnprocessableEntity || r.errorMessage() != bad.want {
			t.Errorf("%s: %d %s, want 422 %q", bad.body, r.status, r.raw, bad.want)
		}
	}
	if r := b.do(t, "POST", path, aliceKey, `{"expr":"drc > 0"}`); r.status != http.StatusBadRequest && r.status != http.StatusUnprocessableEntity {
		t.Errorf("unknown field: %d %s", r.status, r.raw)
	}
	if r := b.do(t, "DELETE", path+"/seven", aliceKey, ""); r.status != http.StatusUnprocessableEntity {
		t.Errorf("remove by a word: %d %s", r.status, r.raw)
	}
	// bob's key neither lists, adds nor removes alice's rules.
	for _, req := range [][3]string{{"GET", path, ""}, {"POST", path, `{"rule":"drc > 0","mention":"U0BOB0001"}`}, {"DELETE", path + "/" + id, ""}} {
		if r := b.do(t, req[0], req[1], bobKey, req[2]); r.status != http.StatusForbidden {
			t.Errorf("bob %s %s: %d %s", req[0], req[1], r.status, r.raw)
		}
	}
	if n := b.ruleCount(t); n != 1 {
		t.Fatalf("%d rules after the refusals, want 1", n)
	}
	if r := b.do(t, "GET", path, aliceKey, ""); r.status != 200 || len(r.list) != 1 {
		t.Fatalf("list: %d %s", r.status, r.raw)
	}
	if r := b.do(t, "DELETE", path+"/"+id, aliceKey, ""); r.status != 200 || r.body["rule"] != "area > +5%" {
		t.Fatalf("remove: %d %s", r.status, r.raw)
	}
	if r := b.do(t, "DELETE", path+"/"+id, aliceKey, ""); r.status != http.StatusNotFound {
		t.Fatalf("remove again: %d %s", r.status, r.raw)
	}
	if n := b.ruleCount(t); n != 0 {
		t.Fatalf("%d rules after the removal, want 0", n)
	}
}
