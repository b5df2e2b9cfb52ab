package db_test

import (
	"bytes"
	"context"
	"maps"
	"testing"

	"credential-grafana/db"
)

// MapMany reads the named users only and, given keys, only those keys: the scan asks
// for where the databases are, and the Grafana and Slack secrets stay sealed.
func TestMapManyReadsOnlyTheUsersAndKeysAskedFor(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := openMigrated(t)
	cipher, _ := db.NewCipher(bytes.Repeat([]byte{7}, 32))
	creds := d.Credentials(cipher)
	var ids []int64
	for _, name := range []string{"ann", "ben", "cid"} {
		u, err := d.Users().Insert(ctx, name, "")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, u.ID)
		for key, secret := range map[string]bool{"db_host": false, "db_pass": true, "slack_bot_token": true} {
			if _, err := creds.Set(ctx, u.ID, key, name+"-"+key, secret); err != nil {
				t.Fatal(err)
			}
		}
	}
	all, err := creds.MapMany(ctx, d.Pool, ids[:2], nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"db_host": "ann-db_host", "db_pass": "ann-db_pass", "slack_bot_token": "ann-slack_bot_token"}
	if len(all) != 2 || !maps.Equal(all[ids[0]], want) {
		t.Fatalf("every key of ann and ben: %v", all)
	}
	some, err := creds.MapMany(ctx, d.Pool, ids[:2], []string{"db_host", "db_pass"})
	if err != nil {
		t.Fatal(err)
	}
	if len(some) != 2 || !maps.Equal(some[ids[1]], map[string]string{"db_host": "ben-db_host", "db_pass": "ben-db_pass"}) {
		t.Fatalf("db_host and db_pass of ann and ben: %v", some)
	}
}
