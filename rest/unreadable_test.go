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

func TestNewAPIKeyRevokesTheOldOneForAdminAndUser(t *testing.T) {
	t.Parallel()
	b := setup(t)
	alice := b.env.UniqueUser(t, "alice")
	bob := b.env.UniqueUser(t, "bob")
	first := b.env.CreateUser(t, alice).APIKey.Reveal()
	bobKey := b.env.CreateUser(t, bob).APIKey.Reveal()
	if r := b.do(t, "POST", "/api/v1/users/"+alice+"/key", bobKey, ""); r.status != http.StatusForbidden {
		t.Fatalf("another user's key: %d %s", r.status, r.raw)
	}
	r := b.do(t, "POST", "/api/v1/users/"+alice+"/key", adminToken, "")
	second, _ := r.body["api_key"].(string)
	if r.status != http.StatusOK || !strings.HasPrefix(second, "cgk_") || second == first {
		t.Fatalf("admin reissue: %d %s", r.status, r.raw)
	}
	if r := b.do(t, "GET", "/api/v1/users/"+alice, first, ""); r.status != http.StatusUnauthorized {
		t.Fatalf("the old key still works: %d", r.status)
	}
	r = b.do(t, "POST", "/api/v1/users/"+alice+"/key", second, "")
	third, _ := r.body["api_key"].(string)
	if r.status != http.StatusOK || third == second || !strings.HasPrefix(third, "cgk_") {
		t.Fatalf("reissue with the user's own key: %d %s", r.status, r.raw)
	}
	if r := b.do(t, "GET", "/api/v1/users/"+alice, second, ""); r.status != http.StatusUnauthorized {
		t.Fatalf("the second key still works: %d", r.status)
	}
	if r := b.do(t, "GET", "/api/v1/users/"+alice, third, ""); r.status != http.StatusOK {
		t.Fatalf("the new key does not work: %d %s", r.status, r.raw)
	}
}
