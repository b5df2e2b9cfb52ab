package rest_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"credential-grafana/db"
)

func TestAValueThatDoesNotDecryptLeavesTheUserReadableOverREST(t *testing.T) {
	t.Parallel()
	b := setup(t)
	alice := b.env.UniqueUser(t, "alice")
	res := b.env.CreateUser(t, alice)
	foreign, err := db.NewCipher(bytes.Repeat([]byte{9}, 32)) // a key this installation does not have
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := foreign.Seal("lost", fmt.Sprintf("%d/db_viewer_pass", res.User.ID))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.env.DB.Pool.Exec(context.Background(),
		"UPDATE credentials SET value_cipher = $2 WHERE user_id = $1 AND key_name = 'db_viewer_pass'", res.User.ID, sealed); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/api/v1/users/" + alice + "/credentials", "/api/v1/users/" + alice} {
		r := b.do(t, "GET", path, adminToken, "")
		if r.status != http.StatusOK || !strings.Contains(r.raw, `"db_host"`) || !strings.Contains(r.raw, "CREDENTIALS_KEY_PREVIOUS") ||
			!strings.Contains(r.raw, "/credentials/db_viewer_pass") {
			t.Fatalf("GET %s with one unreadable value: %d %s", path, r.status, r.raw)
		}
	}
}
