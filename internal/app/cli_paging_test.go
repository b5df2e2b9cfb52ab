package app

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"credential-grafana/db/dbtest"
)

// `user list` reads the users a page at a time (commands.EachUser) and prints every one
// of them, by id, across page boundaries, as text and as one JSON array.
func TestCLIUserListPrintsEveryUserOnceByIDAcrossPages(t *testing.T) {
	envFile, cli := cliEnv(t)
	if code, _, errOut := cli("", "user", "list", "--json"); code != 0 { // creates and migrates the master database
		t.Fatalf("user list: %d %s", code, errOut)
	}
	if code, out, _ := cli("", "user", "list", "--json"); code != 0 || strings.TrimSpace(out) != "[]" {
		t.Fatalf("empty user list --json: %d %q", code, out)
	}
	const n = 1103 // more than two pages of commands.MaxPageLimit
	// Names run backwards against ids, so that name order is not id order.
	dbtest.Exec(t, masterDatabase(t, envFile), fmt.Sprintf(
		"INSERT INTO users (username) SELECT 'many-' || lpad((%d - i)::text, 4, '0') FROM generate_series(1, %d) AS i ORDER BY i", n, n))

	code, out, errOut := cli("", "user", "list", "--json")
	if code != 0 {
		t.Fatalf("user list --json: %d %s", code, errOut)
	}
	var users []struct {
		ID   int64  `json:"id"`
		Name string `json:"username"`
	}
	if err := json.Unmarshal([]byte(out), &users); err != nil {
		t.Fatalf("user list --json is not one JSON array: %v\n%.300s", err, out)
	}
	if len(users) != n {
		t.Fatalf("user list --json: %d users, want %d", len(users), n)
	}
	for i, u := range users {
		if want := fmt.Sprintf("many-%04d", n-1-i); u.Name != want || (i > 0 && u.ID <= users[i-1].ID) {
			t.Fatalf("user %d is %d %s, want %s after id %d", i, u.ID, u.Name, want, users[max(i-1, 0)].ID)
		}
	}

	code, out, errOut = cli("", "user", "list")
	if code != 0 {
		t.Fatalf("user list: %d %s", code, errOut)
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != n+1 || !strings.HasPrefix(lines[0], "ID") {
		t.Fatalf("user list: %d lines, want a header and %d users", len(lines), n)
	}
	for i, l := range lines[1:] {
		if f := strings.Fields(l); len(f) < 2 || f[1] != fmt.Sprintf("many-%04d", n-1-i) {
			t.Fatalf("line %d is %q, want user many-%04d", i+1, l, n-1-i)
		}
	}
}
