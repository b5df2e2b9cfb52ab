package rest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"credential-grafana/cg"
	"credential-grafana/commands/commandstest"
)

// insertUsers adds n user rows (no databases: listing needs none) named prefix-000…,
// and returns their ids in the order they were made.
func insertUsers(t testing.TB, env *commandstest.Env, prefix string, n int, slackUserID string) []int64 {
	t.Helper()
	ids := make([]int64, 0, n)
	for i := range n {
		u, err := env.DB.Users().Insert(context.Background(), fmt.Sprintf("%s-%03d", prefix, i), slackUserID)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, u.ID)
	}
	return ids
}

// activeKey gives the user id an API key and makes it active, as a finished creation
// would, and returns the key.
func activeKey(t testing.TB, env *commandstest.Env, id int64) string {
	t.Helper()
	key := fmt.Sprintf("cgk_pagingtestkey%d", id)
	ctx := context.Background()
	if _, err := env.DB.Users().SetAPIKeyOnce(ctx, id, key, cg.Mask(key)); err != nil {
		t.Fatal(err)
	}
	if err := env.DB.Users().SetStatus(ctx, id, cg.UserActive, ""); err != nil {
		t.Fatal(err)
	}
	return key
}

func ids(list []any) []int64 {
	out := make([]int64, 0, len(list))
	for _, u := range list {
		out = append(out, int64(u.(map[string]any)["id"].(float64)))
	}
	return out
}

// The finding: GET /api/v1/users answered every user in one body.
func TestUserListPagesByIDAndReturnsEveryUserOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	want := insertUsers(t, b.env, "pg", 120, "")

	// The array form (what older clients read): the first 50, the rest behind Link.
	r := b.do(t, "GET", "/api/v1/users", adminToken, "")
	if r.status != 200 || len(r.list) != 50 {
		t.Fatalf("first page without limit: %d, %d users; want 50", r.status, len(r.list))
	}

	// The envelope: walk every page with limit 50.
	var got []int64
	path := "/api/v1/users?envelope=true&limit=50"
	for pages := 0; ; pages++ {
		if pages > 3 {
			t.Fatalf("more than 3 pages of 50 for 120 users: %v", got)
		}
		r := b.do(t, "GET", path, adminToken, "")
		if r.status != 200 {
			t.Fatalf("%s: %d %s", path, r.status, r.raw)
		}
		list, _ := r.body["users"].([]any)
		got = append(got, ids(list)...)
		next, _ := r.body["next_cursor"].(string)
		if next == "" {
			if pages != 2 || len(list) != 20 {
				t.Errorf("last page is page %d with %d users; want page 2 with 20", pages, len(list))
			}
			break
		}
		if len(list) != 50 {
			t.Fatalf("page %d has %d users, want 50", pages, len(list))
		}
		path = "/api/v1/users?envelope=true&limit=50&cursor=" + url.QueryEscape(next)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("paged ids:\n%v\nwant every user once in id order:\n%v", got, want)
	}
}

func TestUserListFollowsTheLinkHeaderInTheArrayForm(t *testing.T) {
	t.Parallel()
	b := setup(t)
	want := insertUsers(t, b.env, "lk", 7, "")
	var got []int64
	path := "/api/v1/users?limit=3"
	for range 4 {
		req, _ := http.NewRequest("GET", b.srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var list []any
		err = json.NewDecoder(resp.Body).Decode(&list)
		resp.Body.Close()
		if resp.StatusCode != 200 || err != nil {
			t.Fatalf("%s: %d %v", path, resp.StatusCode, err)
		}
		if len(list) > 3 {
			t.Fatalf("%s: %d users, want at most 3", path, len(list))
		}
		got = append(got, ids(list)...)
		link := resp.Header.Get("Link")
		if link == "" {
			if resp.Header.Get("X-Next-Cursor") != "" {
				t.Errorf("last page has X-Next-Cursor %q", resp.Header.Get("X-Next-Cursor"))
			}
			break
		}
		if resp.Header.Get("X-Next-Cursor") == "" {
			t.Errorf("Link %q without X-Next-Cursor", link)
		}
		next, ok := strings.CutPrefix(link, "<")
		next, _, ok2 := strings.Cut(next, `>; rel="next"`)
		if !ok || !ok2 {
			t.Fatalf("Link header %q", link)
		}
		path = next
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("ids following Link: %v, want %v", got, want)
	}
}

func TestATenantKeyPagesOnlyItself(t *testing.T) {
	t.Parallel()
	b := setup(t)
	all := insertUsers(t, b.env, "tn", 60, "")
	mine := all[41]
	key := activeKey(t, b.env, mine)
	for _, path := range []string{"/api/v1/users", "/api/v1/users?envelope=true&limit=1", "/api/v1/users?limit=500"} {
		r := b.do(t, "GET", path, key, "")
		list := r.list
		if strings.Contains(path, "envelope") {
			list, _ = r.body["users"].([]any)
			if r.body["next_cursor"] != "" {
				t.Errorf("%s: next_cursor %v after the tenant's only user", path, r.body["next_cursor"])
			}
		}
		if r.status != 200 || fmt.Sprint(ids(list)) != fmt.Sprint([]int64{mine}) {
			t.Errorf("%s with a tenant key: %d %s; want only user %d", path, r.status, r.raw, mine)
		}
	}
	// The administrator's cursor after the first 10 users, in a tenant's hands, still
	// shows the tenant only itself.
	r := b.do(t, "GET", "/api/v1/users?envelope=true&limit=10", adminToken, "")
	next, _ := r.body["next_cursor"].(string)
	if list, _ := r.body["users"].([]any); len(list) != 10 || next == "" {
		t.Fatalf("admin's first page: %s", r.raw)
	}
	r = b.do(t, "GET", "/api/v1/users?envelope=true&cursor="+url.QueryEscape(next), key, "")
	if list, _ := r.body["users"].([]any); r.status != 200 || fmt.Sprint(ids(list)) != fmt.Sprint([]int64{mine}) {
		t.Errorf("tenant with the admin's cursor: %d %s", r.status, r.raw)
	}
}

func TestBadLimitOrCursorIsRefusedAndChangesNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	insertUsers(t, b.env, "bd", 3, "")
	cases := []struct{ query, message string }{
		{"limit=0", "limit"},
		{"limit=-5", "limit"},
		{"limit=501", "1 to 500"},
		{"limit=ten", "whole number"},
		{"cursor=not-a-cursor", "cursor"},
		{"cursor=" + url.QueryEscape("dXNlcjphYmM"), "cursor"}, // base64 of "user:abc"
		{"envelope=maybe", "true or false"},
	}
	snapshot := func() string {
		var s string
		err := b.env.DB.Pool.QueryRow(context.Background(), `SELECT
			(SELECT coalesce(string_agg(id || username || status || updated_at, ',' ORDER BY id), '') FROM users) || '/' ||
			(SELECT count(*) FROM audit_log)::text`).Scan(&s)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	before := snapshot()
	for _, c := range cases {
		r := b.do(t, "GET", "/api/v1/users?"+c.query, adminToken, "")
		if r.status != 400 || !strings.Contains(r.errorMessage(), c.message) {
			t.Errorf("?%s: %d %s; want 400 saying %q", c.query, r.status, r.raw, c.message)
		}
		if after := snapshot(); after != before {
			t.Fatalf("?%s changed the database", c.query)
		}
	}
}
