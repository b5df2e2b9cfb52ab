package rest_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"credential-grafana/cg"
	"credential-grafana/commands/commandstest"
	"credential-grafana/rest"
)

// secretCheckError is what an optional check fails with: internal detail naming a host.
const secretCheckError = "dial tcp 10.9.8.7:3000: connect: connection refused"

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func setupWith(t *testing.T, configure func(*rest.Config)) *bundle {
	t.Helper()
	env := commandstest.New(t)
	cfg := rest.Config{Service: env.Service, AdminToken: cg.Secret(adminToken), MaxBodyBytes: 4096, Logger: env.Logger}
	configure(&cfg)
	srv := httptest.NewServer(rest.New(cfg))
	t.Cleanup(srv.Close)
	return &bundle{env: env, srv: srv}
}

// The finding: the unauthenticated /readyz returned internal error text.
func TestReadyzShowsErrorsOnlyToTheAdminToken(t *testing.T) {
	t.Parallel()
	b := setupWith(t, func(cfg *rest.Config) {
		cfg.Checks = []rest.Check{{Name: "grafana", Optional: true, Run: func(context.Context) error { return errors.New(secretCheckError) }}}
	})
	aliceKey := b.env.CreateUser(t, b.env.UniqueUser(t, "rdy")).APIKey.Reveal()

	for _, token := range []string{"", aliceKey, "cgk_wrong"} {
		r := b.do(t, "GET", "/readyz", token, "")
		if r.status != 200 || r.body["ready"] != true || !strings.Contains(r.raw, `"grafana"`) {
			t.Fatalf("readyz with %q: %d %s", token, r.status, r.raw)
		}
		if strings.Contains(r.raw, "10.9.8.7") || strings.Contains(r.raw, `"error"`) {
			t.Errorf("readyz with %q shows the error: %s", token, r.raw)
		}
	}
	r := b.do(t, "GET", "/readyz", adminToken, "")
	if r.status != 200 || !strings.Contains(r.raw, secretCheckError) {
		t.Errorf("readyz with the admin token: %d %s", r.status, r.raw)
	}

	b.env.DB.Close()
	r = b.do(t, "GET", "/readyz", "", "")
	if r.status != 503 || r.body["ready"] != false || strings.Contains(r.raw, `"error"`) || strings.Contains(r.raw, "closed") {
		t.Errorf("readyz with the database closed: %d %s", r.status, r.raw)
	}
	if r = b.do(t, "GET", "/readyz", adminToken, ""); r.status != 503 || !strings.Contains(r.raw, `"error"`) {
		t.Errorf("readyz with the database closed, admin token: %d %s", r.status, r.raw)
	}
}

// The finding: /metrics was open on HOST to anyone.
func TestMetricsOnTheMainPortNeedTheAdminToken(t *testing.T) {
	t.Parallel()
	b := setup(t)
	aliceKey := b.env.CreateUser(t, b.env.UniqueUser(t, "met")).APIKey.Reveal()
	if r := b.do(t, "GET", "/metrics", "", ""); r.status != 401 || strings.Contains(r.raw, "go_goroutines") {
		t.Errorf("metrics without a token: %d %s", r.status, r.raw)
	}
	if r := b.do(t, "GET", "/metrics", aliceKey, ""); r.status != 403 || !strings.Contains(r.errorMessage(), "METRICS_ADDR") {
		t.Errorf("metrics with a tenant's key: %d %s", r.status, r.raw)
	}
	if r := b.do(t, "GET", "/metrics", adminToken, ""); r.status != 200 || !strings.Contains(r.raw, "go_goroutines") {
		t.Errorf("metrics with the admin token: %d", r.status)
	}
}

func TestTheMetricsHandlerServesOnlyMetricsWithoutAToken(t *testing.T) {
	t.Parallel()
	env := commandstest.New(t)
	srv := httptest.NewServer(rest.New(rest.Config{Service: env.Service, AdminToken: cg.Secret(adminToken), Logger: env.Logger}).MetricsHandler())
	t.Cleanup(srv.Close)
	b := &bundle{env: env, srv: srv}
	if r := b.do(t, "GET", "/metrics", "", ""); r.status != 200 || !strings.Contains(r.raw, "go_goroutines") {
		t.Errorf("metrics: %d", r.status)
	}
	if r := b.do(t, "GET", "/api/v1/users", adminToken, ""); r.status != 404 {
		t.Errorf("the metrics listener answers the API: %d %s", r.status, r.raw)
	}
}

// A tenant's key lists only its own user.
func TestATenantsKeyListsOnlyItsOwnUser(t *testing.T) {
	t.Parallel()
	b := setup(t)
	alice, bob := b.env.UniqueUser(t, "lsa"), b.env.UniqueUser(t, "lsb")
	aliceKey := b.env.CreateUser(t, alice).APIKey.Reveal()
	b.env.CreateUser(t, bob)
	r := b.do(t, "GET", "/api/v1/users", aliceKey, "")
	if r.status != 200 || len(r.list) != 1 || !strings.Contains(r.raw, alice) || strings.Contains(r.raw, bob) {
		t.Errorf("list with alice's key: %d %s", r.status, r.raw)
	}
}

func TestFailedTokenChecksAreRateLimitedPerClientAddress(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{now: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
	b := setupWith(t, func(cfg *rest.Config) {
		cfg.AuthFailureBurst, cfg.AuthFailureRefill, cfg.Now = 3, 10*time.Second, clock.Now
	})
	aliceKey := b.env.CreateUser(t, b.env.UniqueUser(t, "lim")).APIKey.Reveal()
	for i, token := range []string{"cgk_guess", "hunter2", aliceKey, ""} {
		want := 401
		if token == aliceKey {
			want = 200 // good tokens take nothing from the bucket
		}
		if r := b.do(t, "GET", "/api/v1/users", token, ""); r.status != want {
			t.Fatalf("request %d: %d %s, want %d", i+1, r.status, r.raw, want)
		}
	}
	for _, token := range []string{"cgk_guess", aliceKey, adminToken} {
		resp := b.get(t, "/api/v1/users", token, "")
		if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "10" {
			t.Errorf("after 3 failures, %q: %d Retry-After %q", token, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
	if r := b.do(t, "GET", "/readyz", "cgk_guess", ""); r.status != 429 {
		t.Errorf("readyz with a guess while limited: %d", r.status)
	}
	// Another address is not limited.
	other := b.get(t, "/api/v1/users", aliceKey, "192.0.2.7:5555")
	if other.StatusCode != 200 {
		t.Errorf("another address: %d", other.StatusCode)
	}
	clock.Advance(10 * time.Second)
	if r := b.do(t, "GET", "/api/v1/users", aliceKey, ""); r.status != 200 {
		t.Errorf("after the refill: %d %s", r.status, r.raw)
	}
}

// get sends a GET through the server's handler, from remoteAddr if it is set, and
// returns the response with its headers.
func (b *bundle) get(t *testing.T, path, token, remoteAddr string) *http.Response {
	t.Helper()
	if remoteAddr == "" {
		req, _ := http.NewRequest("GET", b.srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	req := httptest.NewRequest("GET", path, nil)
	req.RemoteAddr = remoteAddr
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	b.srv.Config.Handler.ServeHTTP(rec, req)
	return rec.Result()
}
