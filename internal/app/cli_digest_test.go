package app

import (
	"strings"
	"testing"

	"credential-grafana/commands/commandstest"
	"credential-grafana/db/dbtest"
)

func TestCLISetsListsAndRemovesDigests(t *testing.T) {
	_, cli := cliEnv(t)
	user := dbtest.UniqueName("clidig")
	commandstest.DropUserLater(t, user)
	if code, out, errOut := cli("", "user", "add", user); code != 0 {
		t.Fatalf("user add: %d\n%s\n%s", code, out, errOut)
	}
	if code, out, errOut := cli("", "digest", user, "timezone", "Europe/Berlin"); code != 0 || !strings.Contains(out, "time zone Europe/Berlin") {
		t.Fatalf("timezone: %d %s %s", code, out, errOut)
	}
	if code, out, errOut := cli("", "digest", user, "weekly", "mon", "09:00"); code != 0 || !strings.Contains(out, "weekly mon 09:00") {
		t.Fatalf("weekly: %d %s %s", code, out, errOut)
	}
	if code, _, errOut := cli("", "digest", user, "weekly", "mnday", "09:00"); code != 2 ||
		strings.TrimSpace(errOut) != "error: unknown day `mnday`: use mon, tue, wed, thu, fri, sat or sun" {
		t.Fatalf("bad day: %d %s", code, errOut)
	}
	if code, out, _ := cli("", "digest", user, "list", "--json"); code != 0 || !strings.Contains(out, `"every": "weekly"`) {
		t.Fatalf("list --json: %d %s", code, out)
	}
	if code, out, _ := cli("", "digest", user, "off"); code != 0 || !strings.Contains(out, "no digests") {
		t.Fatalf("off: %d %s", code, out)
	}
	if code, _, errOut := cli("", "digest", user); code != 2 || !strings.Contains(errOut, "usage: credential-grafana `digest <user> daily HH:MM`") {
		t.Fatalf("no verb: %d %s", code, errOut)
	}
}
