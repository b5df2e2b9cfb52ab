// Package dbtest gives tests their own PostgreSQL databases on the real server: each
// database has a unique name and is dropped when the test ends, so test runs never
// collide. The server is TEST_DATABASE_URL, by default the local one with trust auth.
package dbtest

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
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

// Exec runs statements as the superuser in database, failing the test on error. It waits
// up to two minutes: DROP DATABASE waits for a checkpoint, which on a loaded machine can
// take much longer than the statement itself.
func Exec(t testing.TB, database string, sql string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
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

// LimitedOwner makes a login role (with attrs, say "CREATEDB CREATEROLE") at CONNECTION
// LIMIT limit, owning a new database, and returns the role and that database's URL as
// the role, with the database's name. A role at its limit is answered with the SQLSTATE of a full server (53300,
// "too many connections for role"), so a test can make "the server is full" without
// filling the shared test server (superusers are exempt from the limit, so the role is
// an ordinary one). Both are dropped at cleanup.
func LimitedOwner(t testing.TB, prefix, attrs string, limit int) (role, database, databaseURL string) {
	t.Helper()
	role = UniqueName(prefix)
	Exec(t, "postgres", fmt.Sprintf("CREATE ROLE %s LOGIN %s CONNECTION LIMIT %d", role, attrs, limit))
	t.Cleanup(func() { DropRole(t, role) }) // after the databases it owns (cleanups run last first)
	database, _ = NewDatabase(t)
	Exec(t, "postgres", "ALTER DATABASE "+database+" OWNER TO "+role)
	u, err := url.Parse(URLFor(database))
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(role)
	return role, database, u.String()
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

// ServerLog is the part of the PostgreSQL server's log written after it was opened.
type ServerLog struct {
	path   string
	offset int64
}

// OpenServerLog returns the server's log from its current end on, or nil when the log
// file cannot be read by this process (CI without access to it): the caller then skips
// what needs it. The file is TEST_POSTGRES_LOG, else pg_current_logfile() (with
// logging_collector on), else Debian's /var/log/postgresql/postgresql-*-main.log.
func OpenServerLog(t testing.TB) *ServerLog {
	t.Helper()
	path := os.Getenv("TEST_POSTGRES_LOG")
	if path == "" {
		conn := Connect(t, "postgres")
		var current *string
		var dataDir string
		if err := conn.QueryRow(context.Background(), "SELECT pg_current_logfile(), current_setting('data_directory')").Scan(&current, &dataDir); err == nil && current != nil {
			path = *current
			if !filepath.IsAbs(path) {
				path = filepath.Join(dataDir, path)
			}
		}
	}
	if path == "" {
		matches, _ := filepath.Glob("/var/log/postgresql/postgresql-*-main.log")
		if len(matches) == 0 {
			return nil
		}
		path = matches[len(matches)-1]
	}
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	end, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return nil
	}
	return &ServerLog{path: path, offset: end}
}

// Path is the log file's path.
func (l *ServerLog) Path() string { return l.path }

// Since returns what the server logged since OpenServerLog.
func (l *ServerLog) Since(t testing.TB) string {
	t.Helper()
	f, err := os.Open(l.path)
	if err != nil {
		t.Fatalf("read server log: %v", err)
	}
	defer f.Close()
	if _, err := f.Seek(l.offset, io.SeekStart); err != nil {
		t.Fatalf("read server log: %v", err)
	}
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatalf("read server log: %v", err)
	}
	return string(b)
}

// RoleHasPassword reports whether the password stored for role (its SCRAM-SHA-256 secret
// in pg_authid, as PostgreSQL's src/common/scram-common.c builds it:
// SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>, RFC 5802 §3) is that of
// password: whether a SCRAM login with it would succeed. The test server trusts every
// local connection, so a login proves nothing; this checks what the server would check.
// password must be ASCII, which SASLprep leaves as it is.
func RoleHasPassword(t testing.TB, role, password string) bool {
	t.Helper()
	var secret *string
	conn := Connect(t, "postgres")
	if err := conn.QueryRow(context.Background(), "SELECT rolpassword FROM pg_authid WHERE rolname = $1", role).Scan(&secret); err != nil {
		t.Fatalf("read the password of role %s: %v", role, err)
	}
	if secret == nil {
		return false
	}
	var iterations int
	var salt64, stored64, server64 string
	parts := strings.Split(strings.TrimPrefix(*secret, "SCRAM-SHA-256$"), "$")
	if len(parts) != 2 || !strings.HasPrefix(*secret, "SCRAM-SHA-256$") {
		t.Fatalf("role %s has no SCRAM-SHA-256 secret", role)
	}
	params, keys := strings.SplitN(parts[0], ":", 2), strings.SplitN(parts[1], ":", 2)
	if len(params) != 2 || len(keys) != 2 {
		t.Fatalf("role %s: malformed SCRAM secret", role)
	}
	if _, err := fmt.Sscan(params[0], &iterations); err != nil {
		t.Fatalf("role %s: iterations: %v", role, err)
	}
	salt64, stored64, server64 = params[1], keys[0], keys[1]
	salt, err := base64.StdEncoding.DecodeString(salt64)
	if err != nil {
		t.Fatalf("role %s: salt: %v", role, err)
	}
	// Hi(password, salt, i) of RFC 5802 §2.2, written out rather than shared with db.
	mac := func(key []byte, data ...[]byte) []byte {
		h := hmac.New(sha256.New, key)
		for _, d := range data {
			h.Write(d)
		}
		return h.Sum(nil)
	}
	u := mac([]byte(password), salt, []byte{0, 0, 0, 1})
	salted := append([]byte(nil), u...)
	for i := 1; i < iterations; i++ {
		u = mac([]byte(password), u)
		for j := range salted {
			salted[j] ^= u[j]
		}
	}
	clientKey := mac(salted, []byte("Client Key"))
	storedKey := sha256.Sum256(clientKey)
	serverKey := mac(salted, []byte("Server Key"))
	return base64.StdEncoding.EncodeToString(storedKey[:]) == stored64 &&
		base64.StdEncoding.EncodeToString(serverKey) == server64
}
