package commands_test

import (
	"context"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"credential-grafana/cg"
	"credential-grafana/commands"
	"credential-grafana/commands/commandstest"
)

func digestState(t *testing.T, env *commandstest.Env, user string) (commands.Digests, int) {
	t.Helper()
	d, err := env.Service.Digest(context.Background(), commands.CLI, user, []string{"list"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	audit, err := env.DB.Audit().List(context.Background(), user, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return d, len(audit)
}

func TestDigestCommandsRefuseBadInputWithClearErrorsAndChangeNothing(t *testing.T) {
	t.Parallel()
	env := commandstest.New(t)
	user := env.UniqueUser(t, "digbad")
	env.CreateUser(t, user)
	ctx := context.Background()
	now := time.Date(2026, 3, 10, 10, 0, 0, 0, time.UTC)
	if _, err := env.Service.Digest(ctx, commands.CLI, user, []string{"daily", "09:00"}, now); err != nil {
		t.Fatal(err)
	}
	before, audits := digestState(t, env, user)
	cases := []struct {
		words []string
		want  string
	}{
		{[]string{"daily", "25:00"}, "`25:00` is not a time of day: use HH:MM, 00:00–23:59"},
		{[]string{"daily", "9"}, "`9` is not a time of day: use HH:MM, 00:00–23:59"},
		{[]string{"daily", "09:60"}, "`09:60` is not a time of day: use HH:MM, 00:00–23:59"},
		{[]string{"weekly", "mnday", "09:00"}, "unknown day `mnday`: use mon, tue, wed, thu, fri, sat or sun"},
		{[]string{"weekly", "09:00"}, "a weekly digest takes a day and a time of day: `weekly mon 09:00`"},
		{[]string{"daily"}, "a daily digest takes one time of day: `daily 09:00`"},
		{[]string{"timezone", "Europe/Berln"}, "unknown time zone `Europe/Berln`: use an IANA name such as Europe/Berlin, America/New_York or UTC"},
		{[]string{"timezone", "Local"}, "a time zone is required: an IANA name such as Europe/Berlin, America/New_York or UTC"},
		{[]string{"remove", "x"}, "digest id `x` is not a number: `digest " + user + " list` shows the ids"},
		{[]string{"remove", "999999999"}, user + " has no digest 999999999: `digest " + user + " list` shows its digests"},
		{[]string{"hourly", "09:00"}, "unknown digest command `hourly`: " + commands.DigestUsage},
		{nil, "say what to do with the digests of " + user + ": " + commands.DigestUsage},
	}
	for _, c := range cases {
		_, err := env.Service.Digest(ctx, commands.CLI, user, c.words, now)
		if err == nil || cg.ErrorMessage(err) != c.want {
			t.Errorf("%q: got %v, want %q", c.words, err, c.want)
		}
	}
	after, auditsAfter := digestState(t, env, user)
	if !reflect.DeepEqual(before, after) || audits != auditsAfter {
		t.Fatalf("bad input changed something:\nbefore %+v (%d audit)\nafter  %+v (%d audit)", before, audits, after, auditsAfter)
	}
}

func TestDigestsAreSetListedAndRemovedAndAudited(t *testing.T) {
	t.Parallel()
	env := commandstest.New(t)
	user := env.UniqueUser(t, "digok")
	env.CreateUser(t, user)
	ctx := context.Background()
	now := time.Date(2026, 3, 10, 10, 0, 0, 0, time.UTC) // a Tuesday
	run := func(words ...string) commands.Digests {
		t.Helper()
		d, err := env.Service.Digest(ctx, commands.CLI, user, words, now)
		if err != nil {
			t.Fatalf("%v: %v", words, err)
		}
		return d
	}
	if d := run("timezone", "Europe/Berlin"); d.TimeZone != "Europe/Berlin" {
		t.Fatalf("time zone %q", d.TimeZone)
	}
	d := run("weekly", "Mon", "09:00")
	if d.Changed != "added" || len(d.Digests) != 1 || d.Digests[0].Schedule.String() != "weekly mon 09:00" {
		t.Fatalf("%+v", d)
	}
	// The first period is the one after the last Monday 09:00 in Berlin (08:00 UTC).
	if want := time.Date(2026, 3, 9, 8, 0, 0, 0, time.UTC); !d.Digests[0].LastPeriodEnd.Equal(want) {
		t.Fatalf("last period end %s, want %s", d.Digests[0].LastPeriodEnd, want)
	}
	if d := run("weekly", "monday", "9:00"); d.Changed != "unchanged" || len(d.Digests) != 1 {
		t.Fatalf("the same schedule again: %+v", d)
	}
	d = run("daily", "18:30")
	if len(d.Digests) != 2 {
		t.Fatalf("%+v", d)
	}
	id := d.Digests[0].ID
	if d := run("remove", strconv.FormatInt(id, 10)); len(d.Digests) != 1 || d.Digests[0].Schedule.String() != "daily 18:30" {
		t.Fatalf("after remove: %+v", d)
	}
	if d := run("off"); d.Changed != "removed 1" || len(d.Digests) != 0 {
		t.Fatalf("after off: %+v", d)
	}
	audit, err := env.DB.Audit().List(ctx, user, 100)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, a := range audit {
		if strings.HasPrefix(a.Action, "digest.") {
			actions = append(actions, a.Action)
		}
	}
	if want := []string{"digest.off", "digest.remove", "digest.add", "digest.add", "digest.timezone"}; !reflect.DeepEqual(actions, want) {
		t.Fatalf("audit %v, want %v", actions, want)
	}
}

func TestATenantCannotSetAnotherUsersDigest(t *testing.T) {
	t.Parallel()
	env := commandstest.New(t)
	alice, bob := env.UniqueUser(t, "diga"), env.UniqueUser(t, "digb")
	env.CreateUser(t, alice)
	env.CreateUser(t, bob)
	ctx := context.Background()
	a, err := env.DB.Users().ByName(ctx, alice)
	if err != nil {
		t.Fatal(err)
	}
	tenant := commands.Actor{Name: "rest:user:" + alice, UserID: a.ID}
	now := time.Now()
	if _, err := env.Service.Digest(ctx, tenant, alice, []string{"daily", "09:00"}, now); err != nil {
		t.Fatalf("alice's own digest: %v", err)
	}
	before, audits := digestState(t, env, bob)
	for _, words := range [][]string{{"daily", "09:00"}, {"timezone", "Asia/Tokyo"}, {"off"}, {"list"}} {
		_, err := env.Service.Digest(ctx, tenant, bob, words, now)
		if cg.ErrorCode(err) != cg.EFORBIDDEN || cg.ErrorMessage(err) != "you may only manage your own user" {
			t.Errorf("alice on bob's digest %v: %v", words, err)
		}
	}
	after, auditsAfter := digestState(t, env, bob)
	if !reflect.DeepEqual(before, after) || audits != auditsAfter {
		t.Fatalf("alice changed bob's digests: %+v -> %+v", before, after)
	}
}
