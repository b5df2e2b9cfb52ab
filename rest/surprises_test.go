package rest_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
)

// No message shows a Go type name: a JSON array where an object belongs says what to send.
func TestAWrongJSONShapeIsNamedWithoutGoTypes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	alice := b.env.UniqueUser(t, "alice")
	b.env.CreateUser(t, alice)
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/api/v1/users", `["x"]`},
		{"POST", "/api/v1/users", `"x"`},
		{"POST", "/api/v1/users", `{"username": 5}`},
		{"POST", "/api/v1/users/" + alice + "/credentials", `[1]`},
		{"PUT", "/api/v1/users/" + alice + "/credentials/db_host", `{"key_value": 5}`},
	} {
		r := b.do(t, c.method, c.path, adminToken, c.body)
		msg := r.errorMessage()
		if r.status != http.StatusBadRequest || msg == "" {
			t.Errorf("%s %s %s: %d %s, want 400 with a message", c.method, c.path, c.body, r.status, r.raw)
		}
		for _, goWord := range []string{"commands.", "rest.", "struct", "main.", "*string", "Input"} {
			if strings.Contains(msg, goWord) {
				t.Errorf("%s %s %s: message %q shows Go type detail %q", c.method, c.path, c.body, msg, goWord)
			}
		}
	}
}

// The Bearer scheme is case-insensitive (RFC 9110 §11.1: "It uses a case-insensitive token
// to identify the authentication scheme"; RFC 6750 defines "Bearer").
func TestBearerSchemeIsCaseInsensitive(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, scheme := range []string{"bearer", "BEARER", "Bearer", "bEaReR"} {
		req, _ := http.NewRequest("GET", b.srv.URL+"/api/v1/users", nil)
		req.Header.Set("Authorization", scheme+" "+adminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("Authorization: %s <admin token>: %d, want 200", scheme, resp.StatusCode)
		}
	}
}

// One status per error kind: an unknown credential key is 422 on every route.
func TestAnUnknownCredentialKeyIsTheSameStatusOnEveryRoute(t *testing.T) {
	t.Parallel()
	b := setup(t)
	alice := b.env.UniqueUser(t, "alice")
	b.env.CreateUser(t, alice)
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/api/v1/users/" + alice + "/credentials", `{"key_name": "no_such_key", "key_value": "v"}`},
		{"PUT", "/api/v1/users/" + alice + "/credentials/no_such_key", `{"key_value": "v"}`},
		{"DELETE", "/api/v1/users/" + alice + "/credentials/no_such_key", ""},
	} {
		if r := b.do(t, c.method, c.path, adminToken, c.body); r.status != http.StatusUnprocessableEntity {
			t.Errorf("%s %s: %d %s, want 422 like the others", c.method, c.path, r.status, r.raw)
		}
	}
}

// An unauthenticated request with a huge path adds at most 200 bytes of it to the log.
func TestUnauthenticatedLongPathsAreCutInTheLog(t *testing.T) {
	t.Parallel()
	b := setup(t)
	long := "/api/v1/users/" + strings.Repeat("p", 64<<10)
	before := len(b.env.Log.String())
	for range 3 {
		r := b.do(t, "GET", long, "", "")
		if r.status != http.StatusUnauthorized {
			t.Fatalf("GET <64 KiB path> without a token: %d, want 401", r.status)
		}
	}
	added := b.env.Log.String()[before:]
	if strings.Contains(added, strings.Repeat("p", 201)) {
		t.Fatalf("the log holds more than 200 bytes of the path: %d bytes added for 3 requests", len(added))
	}
	if !strings.Contains(added, strings.Repeat("p", 100)) {
		t.Fatalf("the log lost the path altogether: %s", added)
	}
}

// A tenant cannot store a role password the database would refuse: db_pass with a NUL
// byte is 422 and changes nothing.
func TestATenantCannotStoreAnUnusableDatabasePassword(t *testing.T) {
	t.Parallel()
	b := setup(t)
	alice := b.env.UniqueUser(t, "alice")
	key := b.env.CreateUser(t, alice).APIKey.Reveal()
	before := b.do(t, "GET", "/api/v1/users/"+alice+"/credentials", key, "").raw
	for _, k := range []string{"db_pass"} { // db_viewer_pass is set by the service only (a system key)
		r := b.do(t, "PUT", "/api/v1/users/"+alice+"/credentials/"+k, key, `{"key_value": "abc\u0000def"}`)
		if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.errorMessage(), "printable ASCII") {
			t.Errorf("PUT %s with a NUL byte: %d %s, want 422 naming printable ASCII", k, r.status, r.raw)
		}
	}
	if after := b.do(t, "GET", "/api/v1/users/"+alice+"/credentials", key, "").raw; after != before {
		t.Fatalf("a refused db_pass changed the credentials:\n%s\n%s", before, after)
	}
}

// A failed retry of an active user leaves it active, its key accepted, and says what failed.
func TestAFailedRetryOfAnActiveUserLeavesItActive(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	alice := b.env.UniqueUser(t, "alice")
	res := b.env.CreateUser(t, alice)
	key := res.APIKey.Reveal()
	// A value stored before passwords were checked on the way in.
	if _, err := b.env.DB.Credentials(b.env.Cipher).Set(ctx, res.User.ID, "db_pass", "abc\x00def", true); err != nil {
		t.Fatal(err)
	}
	r := b.do(t, "POST", "/api/v1/users/"+alice+"/retry", adminToken, "")
	msg := r.errorMessage()
	if r.status < 400 || !strings.Contains(msg, "create roles failed") || !strings.Contains(msg, "still active") {
		t.Fatalf("retry with an unusable db_pass: %d %s, want an error naming the step and that the user is still active", r.status, r.raw)
	}
	if strings.Contains(msg, "still provisioning") || strings.Contains(msg, "SQLSTATE") {
		t.Fatalf("retry message misleads: %s", msg)
	}
	show := b.do(t, "GET", "/api/v1/users/"+alice, key, "")
	if show.status != http.StatusOK || show.body["status"] != "active" {
		t.Fatalf("after a failed retry the user's own key gets %d %s, want 200 and status active", show.status, show.raw)
	}
}
