package db

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"credential-grafana/cg"
	"credential-grafana/db/dbtest"
)

// dropConnAfter cuts the client's connection right after the first statement that
// completes with command tag tag, and every connection that is used after it, as a
// `kill -9` of the process would at that point: the server sees the client go and
// rolls back what was not committed, and the process does nothing more.
type dropConnAfter struct {
	tag   string
	fired atomic.Bool
}

func (d *dropConnAfter) TraceQueryStart(ctx context.Context, conn *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	if d.fired.Load() {
		_ = conn.PgConn().Conn().Close()
	}
	return ctx
}

func (d *dropConnAfter) TraceQueryEnd(_ context.Context, conn *pgx.Conn, data pgx.TraceQueryEndData) {
	if data.Err == nil && data.CommandTag.String() == d.tag && d.fired.CompareAndSwap(false, true) {
		_ = conn.PgConn().Conn().Close()
	}
}

// openCrashing opens a fresh, migrated master database whose connections are cut
// after the first statement tagged tag.
// It returns the crashing database and a second handle on the same master database, the
// restarted process.
func openCrashing(t *testing.T, tag string) (crashing *DB, restarted *DB, crash *dropConnAfter) {
	t.Helper()
	ctx := context.Background()
	_, url := dbtest.NewDatabase(t)
	pc, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	crash = &dropConnAfter{tag: tag}
	pc.ConnConfig.Tracer = crash
	pc.MaxConns = 4
	d := &DB{config: pc}
	if err := d.connect(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	if _, err := d.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	restarted, err = Open(ctx, Config{URL: url, MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(restarted.Close)
	return d, restarted, crash
}

func dropUserObjectsLater(t *testing.T, user string) {
	t.Cleanup(func() {
		for _, k := range cg.Kinds {
			dbtest.DropDatabase(t, k.DatabaseName(user))
		}
		dbtest.DropRole(t, ViewerRole(user))
		dbtest.DropRole(t, OwnerRole(user))
	})
}

func comment(t *testing.T, catalog, name string) string {
	t.Helper()
	var c *string
	q := "SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = $1"
	if catalog == "pg_database" {
		q = "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1"
	}
	if err := dbtest.Connect(t, "postgres").QueryRow(context.Background(), q, name).Scan(&c); err != nil {
		t.Fatalf("read the comment of %s: %v", name, err)
	}
	if c == nil {
		return ""
	}
	return *c
}

func installationOf(t *testing.T, d *DB) string {
	t.Helper()
	var id string
	if err := d.Pool.QueryRow(context.Background(), "SELECT id FROM installation").Scan(&id); err != nil {
		t.Fatalf("read the installation id: %v", err)
	}
	return id
}

func TestAKillAfterCreateRoleLeavesNoUnmarkedRole(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	crashing, d, crash := openCrashing(t, "CREATE ROLE")
	user := dbtest.UniqueName("crashrole")
	dropUserObjectsLater(t, user)
	if err := crashing.Provisioner().EnsureRoles(ctx, user, "owner-pass-0001", "viewer-pass-0001"); err == nil || !crash.fired.Load() {
		t.Fatalf("EnsureRoles with its connection cut after CREATE ROLE: err %v, cut %v", err, crash.fired.Load())
	}
	p := d.Provisioner()
	if err := p.EnsureRoles(ctx, user, "owner-pass-0001", "viewer-pass-0001"); err != nil {
		t.Fatalf("EnsureRoles after the cut: %v", err)
	}
	id := installationOf(t, d)
	for _, role := range []string{OwnerRole(user), ViewerRole(user)} {
		if c := comment(t, "pg_authid", role); !strings.Contains(c, id) {
			t.Fatalf("role %s comment %q does not carry installation %s", role, c, id)
		}
	}
	if err := p.DropUser(ctx, user); err != nil {
		t.Fatalf("drop after the cut: %v", err)
	}
}

func TestAKillAfterCreateDatabaseIsFinishedAndMarkedByTheRetry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	crashing, d, crash := openCrashing(t, "CREATE DATABASE")
	user := dbtest.UniqueName("crashdb")
	dropUserObjectsLater(t, user)
	if err := crashing.Provisioner().EnsureRoles(ctx, user, "owner-pass-0002", "viewer-pass-0002"); err != nil {
		t.Fatal(err)
	}
	name := cg.KindQOR.DatabaseName(user)
	if err := crashing.Provisioner().EnsureDatabase(ctx, user, cg.KindQOR); err == nil || !crash.fired.Load() {
		t.Fatalf("EnsureDatabase with its connection cut after CREATE DATABASE: err %v, cut %v", err, crash.fired.Load())
	}
	if c := comment(t, "pg_database", name); c != "" {
		t.Fatalf("the cut came too late to test anything: %s is already marked %q", name, c)
	}
	p := d.Provisioner()
	if err := p.EnsureDatabase(ctx, user, cg.KindQOR); err != nil {
		t.Fatalf("EnsureDatabase after the cut: %v", err)
	}
	if c, id := comment(t, "pg_database", name), installationOf(t, d); !strings.Contains(c, id) {
		t.Fatalf("database %s comment %q does not carry installation %s", name, c, id)
	}
	var pending int
	if err := d.Pool.QueryRow(ctx, "SELECT count(*) FROM pending_databases").Scan(&pending); err != nil || pending != 0 {
		t.Fatalf("pending databases after the retry: %d (err %v)", pending, err)
	}
	if err := p.DropUser(ctx, user); err != nil {
		t.Fatalf("drop after the cut: %v", err)
	}
}
