package app

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"credential-grafana/cg"
	"credential-grafana/db"
	"credential-grafana/db/dbtest"
	"credential-grafana/grafana"
	"credential-grafana/grafana/grafanatest"
)

// authLog records the Authorization scheme of every request the fake Grafana gets.
type authLog struct {
	mu      sync.Mutex
	schemes []string // "Basic", "Bearer <key>", "" per request
}

func (a *authLog) hook(w http.ResponseWriter, r *http.Request) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	h := r.Header.Get("Authorization")
	if strings.HasPrefix(h, "Basic ") {
		h = "Basic"
	}
	a.schemes = append(a.schemes, r.Method+" "+r.URL.Path+" "+h)
	return false
}

func (a *authLog) take() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := a.schemes
	a.schemes = nil
	return out
}

// serviceGrafanaEnv is the configuration of a service given only the Grafana admin's
// login, over a fresh master database.
func serviceGrafanaEnv(t *testing.T, fake *grafanatest.Server) map[string]string {
	name := dbtest.UniqueName("cgselfgf_")
	t.Cleanup(func() { dbtest.DropDatabase(t, name) })
	t.Cleanup(func() { dropMonitorRole(t, name) }) // before the database: the role has privileges in it
	return map[string]string{
		"CREDENTIALS_KEY": testKey, "DATABASE_URL": dbtest.URLFor(name), "LOG_FORMAT": "json", "METRICS_ADDR": "off",
		"GRAFANA_BASE_URL": fake.URL, "GRAFANA_USER": fake.AdminUser, "GRAFANA_PASSWORD": fake.AdminPassword,
		"USER_DB_HOST": "127.0.0.1", "USER_DB_PORT": "5432",
	}
}

// startMain builds the service as `serve` does and makes one pass of its Grafana
// set-up, as its start does in the background.
func startMain(t *testing.T, env map[string]string, logs io.Writer) *Main {
	t.Helper()
	cfg, err := ParseConfig(env)
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewMain(context.Background(), cfg, logs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	if err := m.ensureServiceGrafana(context.Background()); err != nil {
		t.Fatalf("set up the service's Grafana: %v", err)
	}
	return m
}

// TestServiceMakesItsOwnGrafanaTokenAndKeepsIt: with only GRAFANA_USER/GRAFANA_PASSWORD
// the first start makes one service account and token, stores the token encrypted, and
// every Grafana call then uses it as Bearer; a second start reuses it; a revoked token
// is replaced by one new one, the old ones deleted.
func TestServiceMakesItsOwnGrafanaTokenAndKeepsIt(t *testing.T) {
	fake := grafanatest.New(t)
	var auth authLog
	fake.SetHook(auth.hook)
	env := serviceGrafanaEnv(t, fake)
	var logs bytes.Buffer

	accounts := func() []grafanatest.ServiceAccount {
		t.Helper()
		var out []grafanatest.ServiceAccount
		for _, sa := range fake.ServiceAccounts(1) {
			if sa.Name == grafana.ServiceTokenAccountName {
				out = append(out, sa)
			}
		}
		if len(out) != 1 || out[0].Role != "Admin" || len(out[0].Tokens) != 1 {
			t.Fatalf("service accounts %s in org 1: %+v, want one, role Admin, with one token", grafana.ServiceTokenAccountName, out)
		}
		return out
	}
	storedCipher := func(m *Main) []byte {
		t.Helper()
		var b []byte
		if err := m.DB.Pool.QueryRow(context.Background(), "SELECT value_cipher FROM service_secrets WHERE name = 'grafana_service_token'").Scan(&b); err != nil {
			t.Fatalf("stored token: %v", err)
		}
		return b
	}
	usesBearer := func(m *Main, key string) {
		t.Helper()
		auth.take()
		c, tok, err := m.Grafana.For(nil)
		if err != nil || tok.Reveal() != key {
			t.Fatalf("the service's client sends %v (%v), want its own token", tok, err)
		}
		if _, err := c.CreateFolder(context.Background(), "cg-selftest-"+dbtest.UniqueName(""), "selftest "+dbtest.UniqueName("")); err != nil {
			t.Fatal(err)
		}
		uc, _, err := m.Grafana.For(map[string]string{"db_host": "x"}) // a user without a Grafana of its own
		if err != nil {
			t.Fatal(err)
		}
		if _, err := uc.CurrentOrgID(context.Background()); err != nil {
			t.Fatal(err)
		}
		for _, s := range auth.take() {
			if !strings.HasSuffix(s, " Bearer "+key) {
				t.Errorf("request %q: want Bearer with the service's own token", strings.ReplaceAll(s, key, "<token>"))
			}
		}
	}

	m1 := startMain(t, env, &logs)
	first := accounts()[0].Tokens[0]
	sealed := storedCipher(m1)
	if bytes.Contains(sealed, []byte(first.Key)) || bytes.Contains(sealed, []byte(first.Key[5:])) {
		t.Fatal("the token is stored in plain text")
	}
	usesBearer(m1, first.Key)
	m1.Close()

	m2 := startMain(t, env, &logs)
	if got := accounts()[0].Tokens[0]; got.ID != first.ID {
		t.Fatalf("second start made token %d, want the stored %d kept", got.ID, first.ID)
	}
	if !bytes.Equal(storedCipher(m2), sealed) {
		t.Fatal("second start stored another token")
	}
	usesBearer(m2, first.Key)
	m2.Close()

	// Revoke it in Grafana, as an admin would, and leave a stray token nobody holds.
	admin, err := grafana.New(grafana.Config{BaseURL: fake.URL, BasicUser: fake.AdminUser, BasicPassword: cg.Secret(fake.AdminPassword), OrgID: 1})
	if err != nil {
		t.Fatal(err)
	}
	saID := accounts()[0].ID
	if _, err := admin.CreateServiceAccountToken(context.Background(), saID, "stray"); err != nil {
		t.Fatal(err)
	}
	if err := admin.DeleteServiceAccountToken(context.Background(), saID, first.ID); err != nil {
		t.Fatal(err)
	}
	m3 := startMain(t, env, &logs)
	third := accounts()[0].Tokens[0] // exactly one: the stray one was deleted
	if third.ID == first.ID || third.Name == "stray" {
		t.Fatalf("after the revocation the account has token %+v, want a new one", third.Name)
	}
	if bytes.Equal(storedCipher(m3), sealed) {
		t.Fatal("the revoked token is still the stored one")
	}
	usesBearer(m3, third.Key)
	if strings.Contains(logs.String(), first.Key) || strings.Contains(logs.String(), third.Key) {
		t.Fatal("a token reached the log")
	}
}

// dropMonitorRole drops the read-only role of the service dashboard of master database
// name, if it was made.
func dropMonitorRole(t *testing.T, name string) {
	t.Helper()
	conn := dbtest.Connect(t, name)
	defer conn.Close(context.Background())
	var id string
	if err := conn.QueryRow(context.Background(), "SELECT id FROM installation").Scan(&id); err != nil {
		return // not migrated
	}
	role := pgx.Identifier{db.MonitorRole(id)}.Sanitize()
	var exists bool
	_ = conn.QueryRow(context.Background(), "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", db.MonitorRole(id)).Scan(&exists)
	if !exists {
		return
	}
	for _, sql := range []string{"DROP OWNED BY " + role, "DROP ROLE " + role} {
		if _, err := conn.Exec(context.Background(), sql); err != nil {
			t.Errorf("%s: %v", sql, err)
		}
	}
}
