// Package dbtest gives tests their own PostgreSQL databases on the real server: each
// database has a unique name and is dropped when the test ends, so test runs never
// collide. The server is TEST_DATABASE_URL, by default the local one with trust auth.
package dbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultAdminURL is the server tests use when TEST_DATABASE_URL is not set.
const DefaultAdminURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// AdminURL is the URL of a superuser connection to the test server's "postgres" database.
func AdminURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultAdminURL
}

// UniqueName returns prefix followed by a random lowercase suffix, a valid unquoted
// PostgreSQL identifier when prefix is one.
func UniqueName(prefix string) string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// URLFor returns the admin URL pointed at another database.
func URLFor(database string) string {
	u, err := url.Parse(AdminURL())
	if err != nil {
		panic(fmt.Sprintf("TEST_DATABASE_URL is not a URL: %v", err))
	}
	u.Path = "/" + database
	return u.String()
}

// Connect opens a superuser connection to database, closed when the test ends.
func Connect(t testing.TB, database string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, URLFor(database))
	if err != nil {
		t.Fatalf("connect to test database %q: %v (is PostgreSQL running on 127.0.0.1:5432? `make test` starts it through .ci/run)", database, err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// NewDatabase creates an empty database with a unique name and returns its name and a
// superuser URL for it. The database is dropped when the test ends.
func NewDatabase(t testing.TB) (name, databaseURL string) {
	t.Helper()
	name = UniqueName("cgtest_")
	Exec(t, "postgres", "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	t.Cleanup(func() { DropDatabase(t, name) })
	return name, URLFor(name)
}

// Exec runs statements as the superuser in database, failing the test on error.
func Exec(t testing.TB, database string, sql string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, URLFor(database))
	if err != nil {
		t.Fatalf("connect to %q: %v", database, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("exec %q in %q: %v", strings.TrimSpace(sql), database, err)
	}
}

// DropDatabase drops a database, ending its connections first. A missing database is fine.
func DropDatabase(t testing.TB, name string) {
	t.Helper()
	Exec(t, "postgres", "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
}

// DropRole drops a role if it exists, with whatever it owns in the "postgres" database.
func DropRole(t testing.TB, name string) {
	t.Helper()
	Exec(t, "postgres", "DROP ROLE IF EXISTS "+pgx.Identifier{name}.Sanitize())
}
