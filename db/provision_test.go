package db_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"credential-grafana/cg"
	"credential-grafana/db"
	"credential-grafana/db/dbtest"
)

func dropUserObjectsLater(t *testing.T, user string) {
	t.Cleanup(func() {
		for _, k := range cg.Kinds {
			dbtest.DropDatabase(t, k.DatabaseName(user))
		}
		dbtest.DropRole(t, db.ViewerRole(user))
		dbtest.DropRole(t, db.OwnerRole(user))
	})
}

// makeLegacyObjects creates user's roles and databases as releases before installation
// ids did: roles commented "credential-grafana owner of user alice", databases unmarked.
func makeLegacyObjects(t *testing.T, user string) {
	t.Helper()
	owner, viewer := pgx.Identifier{db.OwnerRole(user)}.Sanitize(), pgx.Identifier{db.ViewerRole(user)}.Sanitize()
	dbtest.Exec(t, "postgres", "CREATE ROLE "+owner+" LOGIN; COMMENT ON ROLE "+owner+" IS 'credential-grafana owner of user "+user+"'")
	dbtest.Exec(t, "postgres", "CREATE ROLE "+viewer+" LOGIN; COMMENT ON ROLE "+viewer+" IS 'credential-grafana viewer of user "+user+"'")
	for _, k := range cg.Kinds {
		dbtest.Exec(t, "postgres", "CREATE DATABASE "+pgx.Identifier{k.DatabaseName(user)}.Sanitize()+" OWNER "+owner)
	}
}

func markers(t *testing.T, user string) []string {
	t.Helper()
	conn := dbtest.Connect(t, "postgres")
	rows, err := conn.Query(context.Background(), `
		SELECT coalesce(shobj_description(oid, 'pg_authid'), '') FROM pg_roles WHERE rolname IN ($1, $2)
		UNION ALL
		SELECT coalesce(shobj_description(oid, 'pg_database'), '') FROM pg_database WHERE datname LIKE $3 || '-%'`,
		db.OwnerRole(user), db.ViewerRole(user), user)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestObjectsMarkedBeforeInstallationIDsStayOursOnlyInTheInstallationThatHadThem(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// A master database as releases before migration 004 left it, with one user.
	name, url := dbtest.NewDatabase(t)
	migrations, err := db.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	dbtest.Exec(t, name, `CREATE TABLE schema_migrations (
		version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`)
	for _, m := range migrations {
		if m.Version <= 3 {
			dbtest.Exec(t, name, m.SQL)
			dbtest.Exec(t, name, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.Version, m.Name)
		}
	}
	old := dbtest.UniqueName("legacy")
	dropUserObjectsLater(t, old)
	dbtest.Exec(t, name, "INSERT INTO users (username, status) VALUES ($1, 'active')", old)
	makeLegacyObjects(t, old)

	d, err := db.Open(ctx, db.Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	if _, err := d.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	p := d.Provisioner()
	if err := p.CheckUser(ctx, old); err != nil {
		t.Fatalf("an upgraded installation does not recognise its own objects: %v", err)
	}
	if err := p.EnsureRoles(ctx, old, "owner-pass-0003", "viewer-pass-0003"); err != nil {
		t.Fatal(err)
	}
	for _, k := range cg.Kinds {
		if err := p.EnsureDatabase(ctx, old, k); err != nil {
			t.Fatal(err)
		}
	}
	var id string
	if err := d.Pool.QueryRow(ctx, "SELECT id FROM installation").Scan(&id); err != nil {
		t.Fatal(err)
	}
	got := markers(t, old)
	if len(got) != 5 {
		t.Fatalf("markers %q, want 5 objects", got)
	}
	for _, m := range got {
		if !strings.Contains(m, id) {
			t.Fatalf("after provisioning again, an object is marked %q, not with installation %s", m, id)
		}
	}

	// A new installation on the same server did not have these objects: the old text
	// proves nothing to it.
	other := dbtest.UniqueName("stranger")
	dropUserObjectsLater(t, other)
	makeLegacyObjects(t, other)
	if _, err := d.Users().Insert(ctx, other, ""); err != nil {
		t.Fatal(err)
	}
	for what, err := range map[string]error{
		"check":  p.CheckUser(ctx, other),
		"ensure": p.EnsureRoles(ctx, other, "owner-pass-0004", "viewer-pass-0004"),
		"drop":   p.DropUser(ctx, other),
	} {
		if cg.ErrorCode(err) != cg.ECONFLICT || !strings.Contains(cg.ErrorMessage(err), "not created by credential-grafana") {
			t.Fatalf("%s of legacy-marked objects the installation never had: %v", what, err)
		}
	}
	if n := len(markers(t, other)); n != 5 {
		t.Fatalf("a refused drop left %d of the 5 objects", n)
	}
	if err := p.DropUser(ctx, old); err != nil {
		t.Fatal(err)
	}
	if n := len(markers(t, old)); n != 0 {
		t.Fatalf("%d objects left after the drop", n)
	}
}

func TestCheckRolePasswordTakesPrintableASCIIOnly(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		password string
		ok       bool
	}{
		{`\' SUPERUSER --`, true},
		{`'' "x" $$ \\ %L %s`, true},
		{"plain hex 0123abcd", true},
		{"", false},
		{"tab\there", false},
		{"new\nline", false},
		{"pässwörd", false},
		{"nul\x00byte", false},
	} {
		err := db.CheckRolePassword(c.password)
		if c.ok != (err == nil) || (err != nil && cg.ErrorCode(err) != cg.EINVALID) {
			t.Errorf("CheckRolePassword(%q) = %v, want ok %v", c.password, err, c.ok)
		}
	}
}

func TestSetOwnerPasswordStoresTheSecretOfAHostilePasswordAndRefusesWhatIsNotOurs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	name, url := dbtest.NewDatabase(t)
	d, err := db.Open(ctx, db.Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	if _, err := d.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	dbtest.Exec(t, "postgres", "ALTER DATABASE "+pgx.Identifier{name}.Sanitize()+" SET standard_conforming_strings = off")
	d.Pool.Reset() // new connections get the setting
	p := d.Provisioner()
	user := dbtest.UniqueName("rotate")
	dropUserObjectsLater(t, user)
	if err := p.SetOwnerPassword(ctx, user, "first-pass-0005"); cg.ErrorCode(err) != cg.ENOTFOUND {
		t.Fatalf("set the password of a role not created yet: %v", err)
	}
	if err := p.EnsureRoles(ctx, user, "first-pass-0005", "viewer-pass-0005"); err != nil {
		t.Fatal(err)
	}
	hostile := `\'); ALTER ROLE ` + db.OwnerRole(user) + ` SUPERUSER; -- '' \\`
	if err := p.SetOwnerPassword(ctx, user, cg.Secret(hostile)); err != nil {
		t.Fatal(err)
	}
	var super bool
	if err := dbtest.Connect(t, "postgres").QueryRow(ctx, "SELECT rolsuper FROM pg_roles WHERE rolname = $1", db.OwnerRole(user)).Scan(&super); err != nil || super {
		t.Fatalf("owner superuser after a hostile password: %v (err %v)", super, err)
	}
	if !dbtest.RoleHasPassword(t, db.OwnerRole(user), hostile) || dbtest.RoleHasPassword(t, db.OwnerRole(user), "first-pass-0005") {
		t.Fatal("the owner role does not have the new password alone")
	}
	if err := p.SetOwnerPassword(ctx, user, "pässwörd"); cg.ErrorCode(err) != cg.EINVALID {
		t.Fatalf("non-ASCII password: %v", err)
	}
	stranger := dbtest.UniqueName("stranger")
	dropUserObjectsLater(t, stranger)
	dbtest.Exec(t, "postgres", "CREATE ROLE "+pgx.Identifier{db.OwnerRole(stranger)}.Sanitize()+" LOGIN")
	if err := p.SetOwnerPassword(ctx, stranger, "some-pass-0006"); cg.ErrorCode(err) != cg.ECONFLICT {
		t.Fatalf("set the password of a foreign role: %v", err)
	}
	if dbtest.RoleHasPassword(t, db.OwnerRole(stranger), "some-pass-0006") {
		t.Fatal("a refused change set the password of a foreign role")
	}
}
