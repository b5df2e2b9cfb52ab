package rest_test

import (
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
