package grafana_test

import (
	"context"
	"net"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"credential-grafana/cg"
	"credential-grafana/db/dbtest"
	"credential-grafana/grafana"
	"credential-grafana/grafana/grafanatest"
)

// pgHostPort is where the test PostgreSQL listens.
func pgHostPort(t testing.TB) (string, int) {
	t.Helper()
	u, err := url.Parse(dbtest.AdminURL())
	if err != nil {
		t.Fatal(err)
	}
	host, portStr, err := net.SplitHostPort(u.Host)
	if err != nil {
		host, portStr = u.Host, "5432"
	}
	port, _ := strconv.Atoi(portStr)
	return host, port
}

// userDB is a database with a read-only viewer role, as a user's run database is.
type userDB struct {
	Name     string
	Viewer   string
	Password cg.Secret
	Conn     *pgx.Conn // superuser connection
}

// newUserDB creates a viewer role (LOGIN, no other rights) and a database, both
// removed when the test ends. Call grantViewer after creating tables.
func newUserDB(t testing.TB) userDB {
	t.Helper()
	viewer := dbtest.UniqueName("cgview_")
	password := cg.Secret("pw-" + dbtest.UniqueName(""))
	// The role is created first so that it is dropped last, after the database whose
	// privileges depend on it.
	dbtest.Exec(t, "postgres", "CREATE ROLE "+pgx.Identifier{viewer}.Sanitize()+" LOGIN PASSWORD '"+password.Reveal()+"'")
	t.Cleanup(func() { dbtest.DropRole(t, viewer) })
	name, _ := dbtest.NewDatabase(t)
	return userDB{Name: name, Viewer: viewer, Password: password, Conn: dbtest.Connect(t, name)}
}

// grantViewer lets the viewer read every table of the database.
func (u userDB) grantViewer(t testing.TB) {
	t.Helper()
	v := pgx.Identifier{u.Viewer}.Sanitize()
	dbtest.Exec(t, u.Name, "GRANT CONNECT ON DATABASE "+pgx.Identifier{u.Name}.Sanitize()+" TO "+v+
		"; GRANT USAGE ON SCHEMA public TO "+v+"; GRANT SELECT ON ALL TABLES IN SCHEMA public TO "+v)
}

// newClient returns a client of the fake with fast retries.
func newClient(t testing.TB, fake *grafanatest.Server, mod ...func(*grafana.Config)) *grafana.Client {
	t.Helper()
	cfg := grafana.Config{BaseURL: fake.URL, Token: cg.Secret(fake.Token), RetryBackoff: time.Millisecond, Timeout: 30 * time.Second}
	for _, m := range mod {
		m(&cfg)
	}
	c, err := grafana.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}
