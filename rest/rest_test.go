package rest_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"credential-grafana/cg"
	"credential-grafana/commands/commandstest"
	"credential-grafana/rest"
)

const adminToken = "admin-token-0123456789abcdef"

type bundle struct {
	env *commandstest.Env
	srv *httptest.Server
}

func setup(t *testing.T) *bundle {
	t.Helper()
	env := commandstest.New(t)
	h := rest.New(rest.Config{Service: env.Service, AdminToken: cg.Secret(adminToken), MaxBodyBytes: 4096, Logger: env.Logger})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &bundle{env: env, srv: srv}
}

type reply struct {
	status int
	body   map[string]any
	list   []any
	raw    string
}

func (b *bundle) do(t *testing.T, method, path, token, body string) reply {
	t.Helper()
	req, err := http.NewRequest(method, b.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, raw: string(raw)}
	_ = json.Unmarshal(raw, &r.body)
	_ = json.Unmarshal(raw, &r.list)
	return r
}

func (r reply) errorMessage() string {
	e, _ := r.body["error"].(map[string]any)
	m, _ := e["message"].(string)
	return m
}

// attempted are the user names the bad requests below try to create.
var attempted = []string{"mallory", "x", `a"; drop database x; --`, "ålice😀", strings.Repeat("b", 41), "Alice", "alice"}

// snapshot sums up everything a request could change: this test's master database, and
// the databases and roles of the users the requests try to create (other tests make
// their own databases on the same server at the same time, so those are not counted).
func (b *bundle) snapshot(t *testing.T) string {
	t.Helper()
	var names []string
	for _, u := range attempted {
		names = append(names, u+"_owner", u+"_viewer", u+"-timing_report", u+"-QOR", u+"-drc")
	}
	var s string
	err := b.env.DB.Pool.QueryRow(context.Background(), `SELECT
		(SELECT count(*) FROM users)::text || '/' ||
		(SELECT coalesce(string_agg(username || ':' || status, ',' ORDER BY id), '') FROM users) || '/' ||
		(SELECT count(*) FROM credentials)::text || '/' ||
		(SELECT coalesce(sum(length(coalesce(value_plain, '')) + length(coalesce(value_cipher, ''))), 0) FROM credentials)::text || '/' ||
		(SELECT max(updated_at) FROM credentials)::text || '/' ||
		(SELECT count(*) FROM audit_log)::text || '/' ||
		(SELECT count(*) FROM pg_database WHERE datname = ANY($1) OR datname = 'x')::text || '/' ||
		(SELECT count(*) FROM pg_roles WHERE rolname = ANY($1))::text`, names).Scan(&s)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestUsersAndCredentialsEndToEnd(t *testing.T) {
	t.Parallel()
	b := setup(t)
	alice := b.env.UniqueUser(t, "alice")

	r := b.do(t, "POST", "/api/v1/users", adminToken, `{"username":"`+alice+`"}`)
	if r.status != http.StatusCreated || r.body["username"] != alice || r.body["status"] != "active" {
		t.Fatalf("create: %d %s", r.status, r.raw)
	}
	key, _ := r.body["api_key"].(string)
	if !strings.HasPrefix(key, "cgk_") {
		t.Fatalf("no API key in %s", r.raw)
	}
	id := int64(r.body["id"].(float64))

	if r = b.do(t, "GET", "/api/v1/users", adminToken, ""); r.status != 200 || len(r.list) != 1 {
		t.Fatalf("list: %d %s", r.status, r.raw)
	}
	for _, ref := range []string{alice, jsonInt(id)} {
		if r = b.do(t, "GET", "/api/v1/users/"+ref, key, ""); r.status != 200 || r.body["username"] != alice {
			t.Fatalf("show %s with own key: %d %s", ref, r.status, r.raw)
		}
		if strings.Contains(r.raw, "api_key\"") {
			t.Fatalf("show leaks the API key: %s", r.raw)
		}
	}
	r = b.do(t, "POST", "/api/v1/users/"+alice+"/credentials", key, `{"key_name":"Grafana_api_key","key_value":"glsa_abcdefghijklmnop1234"}`)
	if r.status != 201 || r.body["key_name"] != "grafana_api_key" || r.body["key_value"] != "glsa_********1234" {
		t.Fatalf("create credential: %d %s", r.status, r.raw)
	}
	r = b.do(t, "PUT", "/api/v1/users/"+alice+"/credentials/grafana_api_key", key, `{"key_value":"glsa_zyxwvutsrqponm9876"}`)
	if r.status != 200 || r.body["key_value"] != "glsa_********9876" {
		t.Fatalf("update credential: %d %s", r.status, r.raw)
	}
	r = b.do(t, "GET", "/api/v1/users/"+jsonInt(id)+"/credentials", key, "")
	if r.status != 200 || strings.Contains(r.raw, "zyxwvuts") || len(r.list) < 10 {
		t.Fatalf("list credentials: %d %s", r.status, r.raw)
	}
	if r = b.do(t, "DELETE", "/api/v1/users/"+alice+"/credentials/grafana_api_key", key, ""); r.status != 204 {
		t.Fatalf("delete credential: %d %s", r.status, r.raw)
	}
	if r = b.do(t, "DELETE", "/api/v1/users/"+alice, adminToken, ""); r.status != 200 {
		t.Fatalf("remove user: %d %s", r.status, r.raw)
	}
	if r = b.do(t, "GET", "/api/v1/users/"+alice, key, ""); r.status != 401 {
		t.Fatalf("removed user's key: %d %s", r.status, r.raw)
	}
	if strings.Contains(b.env.Log.String(), "zyxwvuts") || strings.Contains(b.env.Log.String(), key) {
		t.Fatal("a secret reached the log")
	}
}

func jsonInt(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestBadRequestsGetTheRightStatusAndChangeNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	alice := b.env.UniqueUser(t, "alice")
	bob := b.env.UniqueUser(t, "bob")
	aliceKey := b.env.CreateUser(t, alice).APIKey.Reveal()
	bobKey := b.env.CreateUser(t, bob).APIKey.Reveal()
	huge := `{"username":"` + strings.Repeat("a", 5000) + `"}`

	cases := []struct {
		name, method, path, token, body string
		status                          int
		message                         string
	}{
		{"no token", "GET", "/api/v1/users", "", "", 401, "missing bearer token"},
		{"wrong token", "GET", "/api/v1/users", "cgk_nottherightkey", "", 401, "token is not valid"},
		{"not a key", "POST", "/api/v1/users", "hunter2", `{"username":"x"}`, 401, "token is not valid"},
		{"user key lists users", "GET", "/api/v1/users/" + bob, aliceKey, "", 403, "only manage your own user"},
		{"user key creates users", "POST", "/api/v1/users", aliceKey, `{"username":"mallory"}`, 403, "only an administrator"},
		{"user key reads another's credentials", "GET", "/api/v1/users/" + alice + "/credentials", bobKey, "", 403, "only manage your own user"},
		{"user key writes another's credentials", "POST", "/api/v1/users/" + alice + "/credentials", bobKey, `{"key_name":"db_host","key_value":"evil.example.com"}`, 403, "only manage your own user"},
		{"user key deletes another's credentials", "DELETE", "/api/v1/users/" + alice + "/credentials/db_host", bobKey, "", 403, "only manage your own user"},
		{"user key removes a user", "DELETE", "/api/v1/users/" + alice, aliceKey, "", 403, "only an administrator"},
		{"unknown id", "GET", "/api/v1/users/999999", adminToken, "", 404, "no user with id 999999"},
		{"unknown name", "GET", "/api/v1/users/nobody", adminToken, "", 404, `no user named "nobody"`},
		{"unknown user's credentials", "GET", "/api/v1/users/nobody/credentials", adminToken, "", 404, "no user named"},
		{"duplicate user", "POST", "/api/v1/users", adminToken, `{"username":"` + alice + `"}`, 409, "already exists"},
		{"malformed JSON", "POST", "/api/v1/users", adminToken, `{"username":`, 400, "not valid JSON"},
		{"not an object", "POST", "/api/v1/users", adminToken, `["alice"]`, 400, "send a JSON object"},
		{"unknown field", "POST", "/api/v1/users", adminToken, `{"user":"alice"}`, 400, "unknown field"},
		{"empty body", "POST", "/api/v1/users", adminToken, ``, 400, "body is empty"},
		{"oversized body", "POST", "/api/v1/users", adminToken, huge, 413, "larger than 4096 bytes"},
		{"SQL injection name", "POST", "/api/v1/users", adminToken, `{"username":"a\"; drop database x; --"}`, 422, "starts with a lowercase letter"},
		{"unicode name", "POST", "/api/v1/users", adminToken, `{"username":"ålice😀"}`, 422, "starts with a lowercase letter"},
		{"41 characters", "POST", "/api/v1/users", adminToken, `{"username":"` + strings.Repeat("b", 41) + `"}`, 422, "at most 40 characters"},
		{"capitals", "POST", "/api/v1/users", adminToken, `{"username":"Alice"}`, 422, `use "alice"`},
		{"SQL injection in path", "GET", "/api/v1/users/a%22%3B%20drop%20database%20x%3B%20--", adminToken, "", 404, "no user named"},
		{"unknown credential key", "POST", "/api/v1/users/" + alice + "/credentials", adminToken, `{"key_name":"grafana_ur","key_value":"https://g.example.com"}`, 422, `did you mean "grafana_url"`},
		{"bad credential value", "POST", "/api/v1/users/" + alice + "/credentials", adminToken, `{"key_name":"db_port","key_value":"99999"}`, 422, "1 to 65535"},
		{"credential without value", "POST", "/api/v1/users/" + alice + "/credentials", adminToken, `{"key_name":"db_port"}`, 400, "both fields are required"},
		{"create existing credential", "POST", "/api/v1/users/" + alice + "/credentials", adminToken, `{"key_name":"db_port","key_value":"5433"}`, 409, "already has db_port"},
		{"update missing credential", "PUT", "/api/v1/users/" + alice + "/credentials/grafana_api_key", adminToken, `{"key_value":"glsa_abcdefghijklmnop"}`, 404, "has no grafana_api_key"},
		{"delete missing credential", "DELETE", "/api/v1/users/" + alice + "/credentials/slack_bot_token", adminToken, "", 404, "has no slack_bot_token"},
		{"drop without yes", "DELETE", "/api/v1/users/" + alice + "?drop_databases=true", adminToken, "", 400, "confirm with --yes"},
		{"bad boolean", "DELETE", "/api/v1/users/" + alice + "?drop_databases=perhaps", adminToken, "", 400, "expected true or false"},
		{"unknown endpoint", "GET", "/api/v1/nothing", adminToken, "", 404, "no such endpoint"},
	}
	before := b.snapshot(t)
	for _, c := range cases {
		r := b.do(t, c.method, c.path, c.token, c.body)
		if r.status != c.status || !strings.Contains(r.errorMessage(), c.message) {
			t.Errorf("%s: %d %s; want %d with %q", c.name, r.status, r.raw, c.status, c.message)
		}
		if after := b.snapshot(t); after != before {
			t.Fatalf("%s changed the database: %s -> %s", c.name, before, after)
		}
	}
}

func TestHealthAndReadiness(t *testing.T) {
	t.Parallel()
	b := setup(t)
	if r := b.do(t, "GET", "/healthz", "", ""); r.status != 200 {
		t.Fatalf("healthz: %d", r.status)
	}
	r := b.do(t, "GET", "/readyz", "", "")
	if r.status != 200 || r.body["ready"] != true {
		t.Fatalf("readyz: %d %s", r.status, r.raw)
	}
	b.env.DB.Close()
	r = b.do(t, "GET", "/readyz", "", "")
	if r.status != 503 || r.body["ready"] != false {
		t.Fatalf("readyz with the database closed: %d %s", r.status, r.raw)
	}
	if r := b.do(t, "GET", "/metrics", adminToken, ""); r.status != 200 || !strings.Contains(r.raw, "go_goroutines") {
		t.Fatalf("metrics: %d", r.status)
	}
}
