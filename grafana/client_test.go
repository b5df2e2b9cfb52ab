package grafana_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"credential-grafana/cg"
	"credential-grafana/grafana"
	"credential-grafana/grafana/grafanatest"
)

func TestNewValidatesBaseURL(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"", "grafana.example.com", "ftp://g", "http://", "http://admin:pw@g:3000", "http://g/?x=1"} {
		if _, err := grafana.New(grafana.Config{BaseURL: u}); cg.ErrorCode(err) != cg.EINVALID {
			t.Errorf("New(%q) = %v, want an invalid error", u, err)
		}
	}
	c, err := grafana.New(grafana.Config{BaseURL: "https://g.example.com/grafana/"})
	if err != nil || c.BaseURL() != "https://g.example.com/grafana" {
		t.Errorf("New = %v, %v", c, err)
	}
}

func TestClientRetriesServerErrors(t *testing.T) {
	t.Parallel()
	fake := grafanatest.New(t)
	client := newClient(t, fake)
	fake.FailNext("/api/folders", http.StatusServiceUnavailable, 2)
	if _, err := client.CreateFolder(ctxT(t), "f1", "F1"); err != nil {
		t.Fatalf("CreateFolder after two 503s: %v", err)
	}
	if n := fake.Requests(http.MethodPost, "/api/folders"); n != 3 {
		t.Errorf("%d POSTs, want 3", n)
	}
	if len(fake.Folders()) != 1 {
		t.Errorf("folders: %+v", fake.Folders())
	}
}

func TestClientGivesUpAfterMaxRetries(t *testing.T) {
	t.Parallel()
	fake := grafanatest.New(t)
	client := newClient(t, fake, func(c *grafana.Config) { c.MaxRetries = 2 })
	fake.FailNext("/api/search", http.StatusInternalServerError, 100)
	_, err := client.Search(ctxT(t), grafana.SearchQuery{})
	var apiErr *grafana.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 500 {
		t.Fatalf("err = %v, want a 500 APIError", err)
	}
	if !strings.Contains(err.Error(), "Grafana failed (500") || !strings.Contains(err.Error(), "giving up after 3 attempts") {
		t.Errorf("message %q", err)
	}
	if n := fake.Requests(http.MethodGet, "/api/search"); n != 3 {
		t.Errorf("%d requests, want 3", n)
	}
}

func TestClientDoesNotRetryClientErrors(t *testing.T) {
	t.Parallel()
	fake := grafanatest.New(t)
	client := newClient(t, fake)
	ctx := ctxT(t)
	_, err := client.GetFolder(ctx, "missing")
	if !errors.Is(err, grafana.ErrNotFound) || !strings.Contains(err.Error(), "Grafana has no such object (404") {
		t.Errorf("GetFolder = %v", err)
	}
	if n := fake.Requests("", "/api/folders/missing"); n != 1 {
		t.Errorf("%d requests for a 404, want 1", n)
	}
	if _, err := client.CreateFolder(ctx, "f", "F"); err != nil {
		t.Fatal(err)
	}
	_, err = client.CreateFolder(ctx, "f", "Other")
	if !errors.Is(err, grafana.ErrConflict) || errors.Is(err, grafana.ErrNotFound) {
		t.Errorf("duplicate folder = %v", err)
	}
	if n := fake.Requests(http.MethodPost, "/api/folders"); n != 2 {
		t.Errorf("%d POSTs, want 2 (no retry on 409)", n)
	}
	fake.FailNext("/api/search", http.StatusBadRequest, 5)
	if _, err := client.Search(ctx, grafana.SearchQuery{}); err == nil || fake.Requests("", "/api/search") != 1 {
		t.Errorf("400 retried or accepted: %v, %d requests", err, fake.Requests("", "/api/search"))
	}
}

// block answers nothing until the client gives up on the request.
func block(path string, calls *atomic.Int32) func(w http.ResponseWriter, r *http.Request) bool {
	return func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != path {
			return false
		}
		calls.Add(1)
		<-r.Context().Done()
		return true
	}
}

func TestClientAttemptTimeoutIsRetried(t *testing.T) {
	t.Parallel()
	fake := grafanatest.New(t)
	var calls atomic.Int32
	fake.SetHook(block("/api/search", &calls))
	client := newClient(t, fake, func(c *grafana.Config) { c.Timeout = 50 * time.Millisecond; c.MaxRetries = 1 })
	_, err := client.Search(ctxT(t), grafana.SearchQuery{})
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("err = %v, want a timeout", err)
	}
	if calls.Load() != 2 {
		t.Errorf("%d attempts, want 2", calls.Load())
	}
}

func TestClientHonoursContextDeadline(t *testing.T) {
	t.Parallel()
	fake := grafanatest.New(t)
	var calls atomic.Int32
	fake.SetHook(block("/api/dashboards/uid/x", &calls))
	client := newClient(t, fake, func(c *grafana.Config) { c.Timeout = time.Hour })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := client.GetDashboard(ctx, "x")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context's deadline", err)
	}
	if calls.Load() != 1 {
		t.Errorf("%d attempts after the deadline, want 1", calls.Load())
	}
}

func TestClientNeverShowsTheToken(t *testing.T) {
	t.Parallel()
	fake := grafanatest.New(t)
	var logs bytes.Buffer
	logger := zerolog.New(&logs).Level(zerolog.DebugLevel)
	// A proxy that echoes the Authorization header in its error page.
	fake.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/api/folders" {
			return false
		}
		w.WriteHeader(http.StatusBadGateway)
		fmt.Fprintf(w, "bad gateway for %s", r.Header.Get("Authorization"))
		return true
	})
	client := newClient(t, fake, func(c *grafana.Config) { c.Logger = logger; c.MaxRetries = 1 })
	_, err := client.CreateFolder(ctxT(t), "f", "F")
	if err == nil {
		t.Fatal("no error")
	}
	// Unreachable Grafana.
	down, _ := grafana.New(grafana.Config{BaseURL: "http://127.0.0.1:1", Token: cg.Secret(fake.Token), Logger: logger, MaxRetries: 1, RetryBackoff: time.Millisecond})
	_, err2 := down.GetFolder(ctxT(t), "x")
	if err2 == nil {
		t.Fatal("no error from an unreachable Grafana")
	}
	cfg := grafana.Config{Token: cg.Secret(fake.Token), BasicPassword: "pw-secret"}
	for what, s := range map[string]string{"error": err.Error(), "unreachable error": err2.Error(), "logs": logs.String(),
		"config": fmt.Sprintf("%v %+v %#v", cfg, cfg, cfg)} {
		if strings.Contains(s, fake.Token) || strings.Contains(s, "pw-secret") {
			t.Errorf("%s shows a secret: %s", what, s)
		}
	}
	if !strings.Contains(logs.String(), "grafana answered with a server error") {
		t.Errorf("retries not logged: %s", logs.String())
	}
}

func TestClientUnauthorized(t *testing.T) {
	t.Parallel()
	fake := grafanatest.New(t)
	ctx := ctxT(t)
	bad := newClient(t, fake, func(c *grafana.Config) { c.Token = "glsa_wrong" })
	_, err := bad.Search(ctx, grafana.SearchQuery{})
	if !errors.Is(err, grafana.ErrUnauthorized) || !strings.Contains(err.Error(), "Grafana refused the token (401") {
		t.Errorf("wrong token: %v", err)
	}
	var apiErr *grafana.APIError
	if !errors.As(err, &apiErr) || apiErr.MessageID != "api-key.invalid" {
		t.Errorf("wrong token: %+v", apiErr)
	}
	none := newClient(t, fake, func(c *grafana.Config) { c.Token = "" })
	_, err = none.Search(ctx, grafana.SearchQuery{})
	if !errors.As(err, &apiErr) || apiErr.MessageID != "auth.unauthorized" || apiErr.Message != "Unauthorized" {
		t.Errorf("no token: %v", err)
	}
	if n := fake.Requests("", "/api/search"); n != 2 {
		t.Errorf("%d requests, want 2 (no retry on 401)", n)
	}
	// Health needs no credentials.
	if h, err := bad.Health(ctx); err != nil || h.Database != "ok" {
		t.Errorf("Health = %+v, %v", h, err)
	}
	// Basic auth and the org header.
	var org atomic.Value
	fake.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		org.Store(r.Header.Get("X-Grafana-Org-Id"))
		return false
	})
	basic := newClient(t, fake, func(c *grafana.Config) {
		c.Token, c.BasicUser, c.BasicPassword, c.OrgID = "", fake.AdminUser, cg.Secret(fake.AdminPassword), 1
	})
	if _, err := basic.Search(ctx, grafana.SearchQuery{}); err != nil {
		t.Errorf("basic auth: %v", err)
	}
	if org.Load() != "1" {
		t.Errorf("X-Grafana-Org-Id = %v", org.Load())
	}
	// An org the admin is not a member of (here: none such) is refused.
	noOrg := newClient(t, fake, func(c *grafana.Config) {
		c.Token, c.BasicUser, c.BasicPassword, c.OrgID = "", fake.AdminUser, cg.Secret(fake.AdminPassword), 7
	})
	if _, err := noOrg.Search(ctx, grafana.SearchQuery{}); !errors.Is(err, grafana.ErrUnauthorized) || org.Load() != "7" {
		t.Errorf("basic auth in org 7: %v (X-Grafana-Org-Id = %v)", err, org.Load())
	}
	wrongBasic := newClient(t, fake, func(c *grafana.Config) { c.Token, c.BasicUser, c.BasicPassword = "", "admin", "nope" })
	if _, err := wrongBasic.Search(ctx, grafana.SearchQuery{}); !errors.Is(err, grafana.ErrUnauthorized) || !strings.Contains(err.Error(), "refused the user name and password") {
		t.Errorf("wrong basic: %v", err)
	}
}

func TestDashboardLifecycle(t *testing.T) {
	t.Parallel()
	fake := grafanatest.New(t)
	client := newClient(t, fake)
	ctx := ctxT(t)
	if _, err := client.CreateFolder(ctx, "cg-alice", "alice"); err != nil {
		t.Fatal(err)
	}
	dash := map[string]any{"uid": "d1", "title": "Run 1", "schemaVersion": 42, "panels": []any{}}
	s1, err := client.SaveDashboard(ctx, grafana.SaveDashboardRequest{Dashboard: dash, FolderUID: "cg-alice", Overwrite: true})
	if err != nil || s1.Version != 1 || s1.URL != "/d/d1/run-1" || s1.Status != "success" || s1.Slug != "run-1" {
		t.Fatalf("first save: %+v, %v", s1, err)
	}
	s2, err := client.SaveDashboard(ctx, grafana.SaveDashboardRequest{Dashboard: dash, FolderUID: "cg-alice", Overwrite: true})
	if err != nil || s2.Version != 2 || s2.ID != s1.ID {
		t.Fatalf("overwrite: %+v, %v", s2, err)
	}
	// Stale version without overwrite.
	stale := map[string]any{"uid": "d1", "title": "Run 1", "version": 1, "schemaVersion": 42}
	_, err = client.SaveDashboard(ctx, grafana.SaveDashboardRequest{Dashboard: stale, FolderUID: "cg-alice"})
	var apiErr *grafana.APIError
	if !errors.Is(err, grafana.ErrPreconditionFailed) || !errors.As(err, &apiErr) || apiErr.Status != "version-mismatch" {
		t.Errorf("stale save: %v", err)
	}
	// Same title, another uid.
	_, err = client.SaveDashboard(ctx, grafana.SaveDashboardRequest{Dashboard: map[string]any{"uid": "d2", "title": "run 1", "schemaVersion": 42}, FolderUID: "cg-alice"})
	if !errors.As(err, &apiErr) || apiErr.Status != "name-exists" {
		t.Errorf("same title: %v", err)
	}
	for _, bad := range []map[string]any{{"uid": "Bad UID!", "title": "x"}, {"uid": strings.Repeat("a", 41), "title": "x"}, {"uid": "ok", "title": " "}} {
		if _, err := client.SaveDashboard(ctx, grafana.SaveDashboardRequest{Dashboard: bad}); !errors.As(err, &apiErr) || apiErr.StatusCode != 400 {
			t.Errorf("save %v: %v", bad, err)
		}
	}
	got, err := client.GetDashboard(ctx, "d1")
	if err != nil || got.Meta.FolderUID != "cg-alice" || got.Dashboard["version"] != float64(2) {
		t.Errorf("get: %+v, %v", got, err)
	}
	hits, err := client.Search(ctx, grafana.SearchQuery{Type: "dash-db", FolderUIDs: []string{"cg-alice"}})
	if err != nil || len(hits) != 1 || hits[0].UID != "d1" || hits[0].FolderUID != "cg-alice" {
		t.Errorf("search: %+v, %v", hits, err)
	}
	if err := client.DeleteFolder(ctx, "cg-alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := client.GetDashboard(ctx, "d1"); !errors.Is(err, grafana.ErrNotFound) {
		t.Errorf("dashboard survived its folder: %v", err)
	}
	if err := client.DeleteDashboard(ctx, "d1"); !errors.Is(err, grafana.ErrNotFound) {
		t.Errorf("delete missing: %v", err)
	}
}

func TestQueryReportsSQLErrorsPerQuery(t *testing.T) {
	t.Parallel()
	u := newUserDB(t)
	u.grantViewer(t)
	fake := grafanatest.New(t)
	host, port := pgHostPort(t)
	ds := fake.AddDataSource(grafanatest.DataSource{Name: "x", Type: grafana.PostgresType, URL: fmt.Sprintf("%s:%d", host, port), User: u.Viewer,
		JSONData: map[string]any{"database": u.Name, "sslmode": "disable"}, SecureJSONData: map[string]string{"password": u.Password.Reveal()}})
	client := newClient(t, fake)
	resp, err := client.Query(ctxT(t), grafana.QueryRequest{Queries: []grafana.Query{
		{RefID: "A", DataSource: grafana.DataSourceRef{UID: ds.UID}, RawSQL: "SELECT 1 AS one, 'x' AS s, 2.5::numeric AS n, true AS b"},
		{RefID: "B", DataSource: grafana.DataSourceRef{UID: ds.UID}, RawSQL: "SELECT * FROM no_such_table"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	a := resp.Results["A"]
	if a.Error != "" || a.Rows() != 1 || len(a.Frames[0].Schema.Fields) != 4 || a.Frames[0].Schema.Fields[1].Type != "string" ||
		a.Frames[0].Data.Values[2][0] != 2.5 || a.Frames[0].Data.Values[3][0] != true {
		t.Errorf("A = %+v", a)
	}
	b := resp.Results["B"]
	if b.Status != 400 || !strings.Contains(b.Error, `relation "no_such_table" does not exist`) {
		t.Errorf("B = %+v", b)
	}
	if err := resp.Err(); err == nil || !strings.Contains(err.Error(), "query B") {
		t.Errorf("Err() = %v", err)
	}
}

func TestClientEscapesUIDsInPaths(t *testing.T) {
	t.Parallel()
	fake := grafanatest.New(t)
	var path atomic.Value
	fake.SetHook(func(w http.ResponseWriter, r *http.Request) bool { path.Store(r.URL.EscapedPath()); return false })
	client := newClient(t, fake)
	_, err := client.GetDashboard(ctxT(t), "../admin x")
	if !errors.Is(err, grafana.ErrNotFound) || path.Load() != "/api/dashboards/uid/..%2Fadmin%20x" {
		t.Errorf("err %v, path %v", err, path.Load())
	}
}
