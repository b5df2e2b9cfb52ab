package db_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"credential-grafana/db"
	"credential-grafana/db/dbtest"
)

func openMigrated(t *testing.T) *db.DB {
	t.Helper()
	_, url := dbtest.NewDatabase(t)
	d, err := db.Open(context.Background(), db.Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	if _, err := d.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return d
}

// keyIDs returns the key id of every stored secret, by "user/key".
func keyIDs(t *testing.T, d *db.DB) map[string]string {
	t.Helper()
	rows, err := d.Pool.Query(context.Background(), `SELECT u.username || '/' || c.key_name, encode(substring(c.value_cipher from 2 for 4), 'hex')
		FROM credentials c JOIN users u ON u.id = c.user_id WHERE c.is_secret`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var k, id string
		if err := rows.Scan(&k, &id); err != nil {
			t.Fatal(err)
		}
		out[k] = id
	}
	return out
}

func TestRekeyResealsOldValuesLeavesUnknownOnesAndSurvivesAnInterruption(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := openMigrated(t)
	oldKey, newKey, lostKey := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32), bytes.Repeat([]byte{3}, 32)
	oldCipher, _ := db.NewCipher(oldKey)
	lostCipher, _ := db.NewCipher(lostKey)
	want := map[string]string{} // user/key -> value
	var ids = map[string]int64{}
	for i := 0; i < 4; i++ {
		name := fmt.Sprintf("u%d", i)
		u, err := d.Users().Insert(ctx, name, "")
		if err != nil {
			t.Fatal(err)
		}
		ids[name] = u.ID
		for _, key := range []string{"db_pass", "db_viewer_pass"} {
			v := fmt.Sprintf("%s-%s-secret", name, key)
			if _, err := d.Credentials(oldCipher).Set(ctx, u.ID, key, v, true); err != nil {
				t.Fatal(err)
			}
			want[name+"/"+key] = v
		}
		if _, err := d.Credentials(oldCipher).Set(ctx, u.ID, "db_host", "db.example.com", false); err != nil {
			t.Fatal(err)
		}
	}
	// One value under a key nobody configured any more.
	if _, err := d.Credentials(lostCipher).Set(ctx, ids["u3"], "slack_bot_token", "xoxb-lost-0123456789", true); err != nil {
		t.Fatal(err)
	}
	ring, _ := db.NewCipher(newKey, oldKey)
	creds := d.Credentials(ring)
	if kc, err := creds.CountByKey(ctx); err != nil || kc != (db.KeyCounts{Previous: 8, Unknown: 1}) {
		t.Fatalf("counts before: %+v %v", kc, err)
	}

	// Interrupt a run: another transaction holds u2's db_pass, so the rekey (one value
	// per batch) stops there; cancelling it then must lose nothing.
	blocker, err := d.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := blocker.Exec(ctx, "SELECT 1 FROM credentials WHERE user_id = $1 AND key_name = 'db_pass' FOR UPDATE", ids["u2"]); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { _, err := creds.Rekey(rctx, 1); done <- err }()
	for waiting := false; !waiting; {
		if err := d.Pool.QueryRow(ctx, `SELECT count(*) > 0 FROM pg_stat_activity WHERE datname = current_database()
			AND wait_event_type = 'Lock' AND query LIKE '%FOR UPDATE OF c%'`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted rekey: %v", err)
	}
	blocker.Rollback(ctx)
	got := keyIDs(t, d)
	if got["u0/db_pass"] != db.KeyID(newKey) || got["u2/db_pass"] != db.KeyID(oldKey) || got["u3/db_pass"] != db.KeyID(oldKey) {
		t.Fatalf("after the interruption: %v", got)
	}
	checkValues := func(when string) {
		for name, id := range ids {
			list, err := creds.List(ctx, id)
			if err != nil {
				t.Fatalf("%s: list %s: %v", when, name, err)
			}
			for _, c := range list {
				if v, ok := want[name+"/"+c.Key]; ok && c.Value.Reveal() != v {
					t.Fatalf("%s: %s/%s is %q (%s), want %q", when, name, c.Key, c.Value.Reveal(), c.Unreadable, v)
				}
			}
		}
	}
	checkValues("after the interruption")

	res, err := creds.Rekey(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	if res.Resealed != 4 || res.Current != 4 || len(res.Left) != 1 || res.Left[0].User != "u3" || res.Left[0].Key != "slack_bot_token" ||
		res.Left[0].KeyID != db.KeyID(lostKey) {
		t.Fatalf("rekey after the interruption: %+v", res)
	}
	checkValues("after rekey")
	onlyNew, _ := db.NewCipher(newKey) // the old key can go now
	checkValuesWith := d.Credentials(onlyNew)
	for name, id := range ids {
		list, _ := checkValuesWith.List(ctx, id)
		for _, c := range list {
			if v, ok := want[name+"/"+c.Key]; ok && c.Value.Reveal() != v {
				t.Fatalf("without the old key %s/%s is %q (%s)", name, c.Key, c.Value.Reveal(), c.Unreadable)
			}
		}
	}
	if got := keyIDs(t, d)["u3/slack_bot_token"]; got != db.KeyID(lostKey) {
		t.Fatalf("the value under the lost key was changed: %s", got)
	}
	again, err := creds.Rekey(ctx, 3)
	if err != nil || again.Resealed != 0 || again.Current != 8 || len(again.Left) != 1 {
		t.Fatalf("second rekey is not a no-op: %+v %v", again, err)
	}
	if kc, err := creds.CountByKey(ctx); err != nil || kc != (db.KeyCounts{Current: 8, Unknown: 1}) {
		t.Fatalf("counts after: %+v %v", kc, err)
	}
}

// The service's own secrets (service_secrets) are rotated with the users' credentials:
// rekey reseals the one under the previous key, so it opens once that key is removed,
// names it in its result, counts it in CountByKey, and names with what to do the one
// under a key that is gone, leaving it as it is.
func TestRekeyResealsTheServicesOwnSecrets(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := openMigrated(t)
	oldKey, newKey, lostKey := bytes.Repeat([]byte{4}, 32), bytes.Repeat([]byte{5}, 32), bytes.Repeat([]byte{6}, 32)
	oldCipher, _ := db.NewCipher(oldKey)
	lostCipher, _ := db.NewCipher(lostKey)
	if err := d.ServiceSecrets(oldCipher).Set(ctx, db.SecretGrafanaToken, "glsa_service_token_0123456789"); err != nil {
		t.Fatal(err)
	}
	if err := d.ServiceSecrets(lostCipher).Set(ctx, db.SecretMonitorPassword, "lost-monitor-password"); err != nil {
		t.Fatal(err)
	}
	u, err := d.Users().Insert(ctx, "svc", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Credentials(oldCipher).Set(ctx, u.ID, "db_pass", "user-secret", true); err != nil {
		t.Fatal(err)
	}
	ring, _ := db.NewCipher(newKey, oldKey)
	creds := d.Credentials(ring)
	if kc, err := creds.CountByKey(ctx); err != nil || kc != (db.KeyCounts{Previous: 2, Unknown: 1}) {
		t.Fatalf("counts before: %+v %v", kc, err)
	}
	res, err := creds.Rekey(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if res.Resealed != 2 || len(res.Service) != 1 || res.Service[0] != db.SecretGrafanaToken || len(res.Left) != 1 {
		t.Fatalf("rekey: %+v", res)
	}
	l := res.Left[0]
	if !l.Service || l.User != "" || l.Key != db.SecretMonitorPassword || l.KeyID != db.KeyID(lostKey) ||
		!strings.Contains(l.Reason, "CREDENTIALS_KEY_PREVIOUS") || !strings.Contains(l.Reason, "start the service") {
		t.Fatalf("the service secret under the lost key: %+v", l)
	}
	onlyNew, _ := db.NewCipher(newKey) // CREDENTIALS_KEY_PREVIOUS removed
	if tok, err := d.ServiceSecrets(onlyNew).Get(ctx, db.SecretGrafanaToken); err != nil || tok.Reveal() != "glsa_service_token_0123456789" {
		t.Fatalf("the service's Grafana token without the old key: %q %v", tok.Reveal(), err)
	}
	if _, err := d.ServiceSecrets(onlyNew).Get(ctx, db.SecretMonitorPassword); !errors.Is(err, db.ErrUnknownKey) {
		t.Fatalf("the secret under the lost key was changed: %v", err)
	}
	if kc, err := d.Credentials(onlyNew).CountByKey(ctx); err != nil || kc != (db.KeyCounts{Current: 2, Unknown: 1}) {
		t.Fatalf("counts after: %+v %v", kc, err)
	}
	again, err := d.Credentials(onlyNew).Rekey(ctx, 0)
	if err != nil || again.Resealed != 0 || again.Current != 2 || len(again.Left) != 1 {
		t.Fatalf("second rekey is not a no-op: %+v %v", again, err)
	}
}
