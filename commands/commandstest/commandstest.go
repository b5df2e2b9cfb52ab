// Package commandstest builds a real commands.Service for tests: its own master
// database on the real PostgreSQL (migrated, dropped at the end), a fresh credentials
// key, and a log captured in memory so tests can check that no secret was logged.
package commandstest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"credential-grafana/cg"
	"credential-grafana/commands"
	"credential-grafana/db"
	"credential-grafana/db/dbtest"
	"credential-grafana/grafana"
)

// Env is one test's service and what stands behind it.
type Env struct {
	Service  *commands.Service
	DB       *db.DB
	Cipher   *db.Cipher
	Key      []byte
	Log      *SyncBuffer
	Logger   zerolog.Logger
	Database string
}

// SyncBuffer is a bytes.Buffer safe for concurrent writers.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write implements io.Writer.
func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Option changes the service's configuration before it is built.
type Option func(*commands.Config)

// New returns a service over a fresh, migrated master database.
func New(t testing.TB, opts ...Option) *Env {
	t.Helper()
	name, url := dbtest.NewDatabase(t)
	logBuf := &SyncBuffer{}
	logger := zerolog.New(logBuf).With().Timestamp().Logger()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := db.Open(ctx, db.Config{URL: url, MaxConns: 8, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	if _, err := d.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	c, err := db.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	cfg := commands.Config{DB: d, Cipher: c, Logger: logger}
	for _, o := range opts {
		o(&cfg)
	}
	env := &Env{Service: commands.New(cfg), DB: d, Cipher: c, Key: key, Log: logBuf, Logger: logger, Database: name}
	t.Cleanup(func() { env.checkLogHasNoSecrets(t) })
	return env
}

// checkLogHasNoSecrets fails the test if the log it captured holds the credentials key
// or the value of any secret credential still stored.
func (e *Env) checkLogHasNoSecrets(t testing.TB) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	log := e.Log.String()
	if strings.Contains(log, base64.StdEncoding.EncodeToString(e.Key)) {
		t.Error("the credentials key is in the log")
	}
	d, err := db.Open(ctx, db.Config{URL: dbtest.URLFor(e.Database), MaxConns: 1}) // the test may have closed e.DB
	if err != nil {
		t.Errorf("check the log for secrets: %v", err)
		return
	}
	defer d.Close()
	users, err := d.Users().List(ctx)
	if err != nil {
		t.Errorf("check the log for secrets: %v", err)
		return
	}
	for _, u := range users {
		creds, err := d.Credentials(e.Cipher).List(ctx, u.ID)
		if err != nil {
			t.Errorf("check the log for secrets: %v", err)
			return
		}
		for _, c := range creds {
			if c.Secret && len(c.Value.Reveal()) >= 8 && strings.Contains(log, c.Value.Reveal()) {
				t.Errorf("the value of %s of user %s is in the log", c.Key, u.Name)
			}
		}
	}
}

// UniqueUser returns a user name no other test uses, and drops that user's databases
// and roles when the test ends.
func (e *Env) UniqueUser(t testing.TB, prefix string) string {
	t.Helper()
	name := dbtest.UniqueName(prefix)
	DropUserLater(t, name)
	return name
}

// DropUserLater drops a user's three databases and two roles when the test ends.
func DropUserLater(t testing.TB, name string) {
	t.Cleanup(func() {
		for _, k := range cg.Kinds {
			dbtest.DropDatabase(t, k.DatabaseName(name))
		}
		dbtest.DropRole(t, db.ViewerRole(name))
		dbtest.DropRole(t, db.OwnerRole(name))
	})
}

// CreateUser creates a user as the CLI would and fails the test on error.
func (e *Env) CreateUser(t testing.TB, name string) commands.CreateUserResult {
	t.Helper()
	res, err := e.Service.CreateUser(context.Background(), commands.CLI, commands.CreateUserInput{Username: name})
	if err != nil {
		t.Fatalf("create user %s: %v", name, err)
	}
	return res
}

// WithGrafana points the service's Grafana (provisioning and defaults) at url, e.g. a
// grafanatest fake.
func WithGrafana(url, token string) Option {
	return func(c *commands.Config) {
		c.Grafana = grafana.NewClients(grafana.Config{BaseURL: url, Token: cg.Secret(token), RetryBackoff: time.Millisecond})
		c.Defaults.GrafanaURL = url
	}
}

// WithGrafanaOrgs is WithGrafana in GRAFANA_ISOLATION=org: every user gets an org of
// its own, made with the server admin's Basic credentials.
func WithGrafanaOrgs(url, token, adminUser, adminPassword string) Option {
	return func(c *commands.Config) {
		c.Grafana = grafana.NewClients(grafana.Config{BaseURL: url, Token: cg.Secret(token), BasicUser: adminUser,
			BasicPassword: cg.Secret(adminPassword), OrgID: 1, Isolation: grafana.IsolationOrg, RetryBackoff: time.Millisecond})
		c.Defaults.GrafanaURL = url
	}
}

// WithAllowList sets the db_host and grafana_url values administrators may set.
func WithAllowList(list cg.AllowList) Option {
	return func(c *commands.Config) { c.Allowed = list }
}
