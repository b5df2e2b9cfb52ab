package commands_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"credential-grafana/cg"
	"credential-grafana/commands"
	"credential-grafana/commands/commandstest"
	"credential-grafana/db"
	"credential-grafana/db/dbtest"
)

func connectAs(t *testing.T, role, database string) (*pgx.Conn, error) {
	t.Helper()
	cfg, err := pgx.ParseConfig(dbtest.URLFor(database))
	if err != nil {
		t.Fatal(err)
	}
	cfg.User = role
	conn, err := pgx.ConnectConfig(context.Background(), cfg)
	if err == nil {
		t.Cleanup(func() { _ = conn.Close(context.Background()) })
	}
	return conn, err
}

func TestCreateUserMakesThreeDatabasesWithOwnerAndReadOnlyViewer(t *testing.T) {
	t.Parallel()
	env := commandstest.New(t)
	ctx := context.Background()
	alice := env.UniqueUser(t, "alice")
	bob := env.UniqueUser(t, "bob")
	res := env.CreateUser(t, alice)
	env.CreateUser(t, bob)

	if res.User.Status != cg.UserActive {
		t.Fatalf("status = %s (%s), want active", res.User.Status, res.User.StatusReason)
	}
	if !strings.HasPrefix(res.APIKey.Reveal(), "cgk_") {
		t.Fatalf("API key not issued: %q", res.APIKey.Reveal())
	}
	for _, kind := range cg.Kinds {
		database := kind.DatabaseName(alice)
		if res.Databases[kind] != database {
			t.Fatalf("databases[%s] = %q, want %q", kind, res.Databases[kind], database)
		}
		owner, err := connectAs(t, db.OwnerRole(alice), database)
		if err != nil {
			t.Fatalf("owner cannot connect to %s: %v", database, err)
		}
		if _, err := owner.Exec(ctx, `CREATE TABLE run_1 (stage text, slack double precision);
			INSERT INTO run_1 VALUES ('cts', -0.12), ('finish', 0.03)`); err != nil {
			t.Fatalf("owner cannot create and fill a table in %s: %v", database, err)
		}
		viewer, err := connectAs(t, db.ViewerRole(alice), database)
		if err != nil {
			t.Fatalf("viewer cannot connect to %s: %v", database, err)
		}
		var n int
		if err := viewer.QueryRow(ctx, "SELECT count(*) FROM run_1").Scan(&n); err != nil || n != 2 {
			t.Fatalf("viewer reads %d rows, err %v; want 2", n, err)
		}
		for _, write := range []string{
			"INSERT INTO run_1 VALUES ('x', 1)",
			"CREATE TABLE run_2 (x int)",
			"CREATE TEMP TABLE scratch (x int)",
			"SET default_transaction_read_only = off; INSERT INTO run_1 VALUES ('x', 1)",
		} {
			if _, err := viewer.Exec(ctx, write); err == nil {
				t.Fatalf("viewer could write to %s with %q", database, write)
			}
		}
		for _, intruder := range []string{db.OwnerRole(bob), db.ViewerRole(bob)} {
			_, err := connectAs(t, intruder, database)
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) || pgErr.Code != "42501" {
				t.Fatalf("%s connecting to %s: err %v, want insufficient_privilege", intruder, database, err)
			}
		}
	}
}

func TestCreateUserRefusesBadNamesWithRuleAndSuggestion(t *testing.T) {
	t.Parallel()
	env := commandstest.New(t)
	cases := []struct{ name, want string }{
		{"Alice", `use "alice"`},
		{"", "username is required"},
		{`a"; drop database x; --`, "starts with a lowercase letter"},
		{"ålice", "starts with a lowercase letter"},
		{"1alice", `use "alice"`},
		{strings.Repeat("a", 41), `use "` + strings.Repeat("a", 40) + `"`},
		{"al ice", `use "al-ice"`},
	}
	for _, c := range cases {
		_, err := env.Service.CreateUser(context.Background(), commands.CLI, commands.CreateUserInput{Username: c.name})
		if cg.ErrorCode(err) != cg.EINVALID || !strings.Contains(cg.ErrorMessage(err), c.want) {
			t.Errorf("CreateUser(%q) = %v, want invalid with %q", c.name, err, c.want)
		}
	}
	users, err := env.Service.ListUsers(context.Background(), commands.CLI)
	if err != nil || len(users) != 0 {
		t.Fatalf("users after refused creations: %v, %v", users, err)
	}
}

func TestCreateUserTwiceIsAConflict(t *testing.T) {
	t.Parallel()
	env := commandstest.New(t)
	name := env.UniqueUser(t, "dup")
	env.CreateUser(t, name)
	_, err := env.Service.CreateUser(context.Background(), commands.CLI, commands.CreateUserInput{Username: name})
	if cg.ErrorCode(err) != cg.ECONFLICT {
		t.Fatalf("second create: %v, want conflict", err)
	}
}

func TestInterruptedCreationIsFinishedByRetryWithoutDuplicates(t *testing.T) {
	t.Parallel()
	env := commandstest.New(t)
	ctx := context.Background()
	name := env.UniqueUser(t, "carol")
	// Something that is not ours already holds the DRC database's name: the step
	// that creates it fails, and provisioning must stop there and say so.
	squatter := cg.KindDRC.DatabaseName(name)
	dbtest.Exec(t, "postgres", "CREATE DATABASE "+pgx.Identifier{squatter}.Sanitize())

	res, err := env.Service.CreateUser(ctx, commands.CLI, commands.CreateUserInput{Username: name})
	if cg.ErrorCode(err) != cg.ECONFLICT || !strings.Contains(cg.ErrorMessage(err), "still provisioning") ||
		!strings.Contains(cg.ErrorMessage(err), squatter) {
		t.Fatalf("create with a squatted database: %v", err)
	}
	if res.APIKey != "" {
		t.Fatal("an API key was issued by a creation that did not finish")
	}
	shown, err := env.Service.ShowUser(ctx, commands.CLI, name)
	if err != nil {
		t.Fatal(err)
	}
	// The squatter is found before anything is created.
	if shown.Status != cg.UserProvisioning || !strings.Contains(shown.StatusReason, "check the roles and databases are ours failed: database "+squatter) {
		t.Fatalf("after failure: status %s reason %q", shown.Status, shown.StatusReason)
	}
	var rolesBefore int
	must(t, env.DB.Pool.QueryRow(ctx, "SELECT count(*) FROM pg_roles WHERE rolname IN ($1, $2)",
		db.OwnerRole(name), db.ViewerRole(name)).Scan(&rolesBefore))
	if rolesBefore != 0 {
		t.Fatalf("the refused creation made %d roles", rolesBefore)
	}

	dbtest.DropDatabase(t, squatter)
	res, err = env.Service.RetryUser(ctx, commands.CLI, name)
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	if res.User.Status != cg.UserActive || !res.Resumed || res.APIKey == "" {
		t.Fatalf("after retry: %+v", res)
	}
	if !dbtest.RoleHasPassword(t, db.OwnerRole(name), credential(t, env, shown.ID, "db_pass")) {
		t.Fatal("the owner role does not have the stored db_pass")
	}
	// Exactly one user row, one of each role, one of each database.
	var users, roles, dbs int
	must(t, env.DB.Pool.QueryRow(ctx, "SELECT count(*) FROM users WHERE username = $1", name).Scan(&users))
	must(t, env.DB.Pool.QueryRow(ctx, "SELECT count(*) FROM pg_roles WHERE rolname IN ($1, $2)",
		db.OwnerRole(name), db.ViewerRole(name)).Scan(&roles))
	must(t, env.DB.Pool.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname LIKE $1 || '-%'", name).Scan(&dbs))
	if users != 1 || roles != 2 || dbs != 3 {
		t.Fatalf("users=%d roles=%d databases=%d, want 1, 2, 3", users, roles, dbs)
	}
	// Adding it again now is a conflict, not a second provisioning.
	if _, err := env.Service.CreateUser(ctx, commands.CLI, commands.CreateUserInput{Username: name}); cg.ErrorCode(err) != cg.ECONFLICT {
		t.Fatalf("create after completion: %v", err)
	}
}

func TestCreateUserRefusesToAdoptAForeignRole(t *testing.T) {
	t.Parallel()
	env := commandstest.New(t)
	name := env.UniqueUser(t, "dave")
	dbtest.Exec(t, "postgres", "CREATE ROLE "+pgx.Identifier{db.ViewerRole(name)}.Sanitize())
	_, err := env.Service.CreateUser(context.Background(), commands.CLI, commands.CreateUserInput{Username: name})
	if cg.ErrorCode(err) != cg.ECONFLICT || !strings.Contains(cg.ErrorMessage(err), "not created by credential-grafana") {
		t.Fatalf("create over a foreign role: %v", err)
	}
}

func TestRemoveUserKeepsDatabasesUnlessConfirmed(t *testing.T) {
	t.Parallel()
	env := commandstest.New(t)
	ctx := context.Background()
	name := env.UniqueUser(t, "erin")
	created := env.CreateUser(t, name)

	if _, err := env.Service.RemoveUser(ctx, commands.CLI, name, commands.RemoveOptions{DropDatabases: true}); cg.ErrorCode(err) != cg.EINVALID {
		t.Fatalf("drop without --yes: %v", err)
	}
	if u, _ := env.Service.ShowUser(ctx, commands.CLI, name); u.Status != cg.UserActive {
		t.Fatalf("a refused removal changed the user: %s", u.Status)
	}
	res, err := env.Service.RemoveUser(ctx, commands.CLI, name, commands.RemoveOptions{})
	if err != nil || res.User.Status != cg.UserRemoved || res.DroppedDatabases {
		t.Fatalf("remove: %+v %v", res, err)
	}
	if _, err := env.Service.Authenticate(ctx, created.APIKey.Reveal()); cg.ErrorCode(err) != cg.EUNAUTHORIZED {
		t.Fatalf("removed user's key still works: %v", err)
	}
	if creds, _ := env.Service.ListCredentials(ctx, commands.CLI, name); len(creds) != 0 {
		t.Fatalf("credentials left after removal: %v", creds)
	}
	var n int
	must(t, env.DB.Pool.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname LIKE $1 || '-%'", name).Scan(&n))
	if n != 3 {
		t.Fatalf("databases after plain removal: %d, want 3 kept", n)
	}
	if _, err := env.Service.RemoveUser(ctx, commands.CLI, name, commands.RemoveOptions{DropDatabases: true, Yes: true}); err != nil {
		t.Fatal(err)
	}
	must(t, env.DB.Pool.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname LIKE $1 || '-%'", name).Scan(&n))
	var roles int
	must(t, env.DB.Pool.QueryRow(ctx, "SELECT count(*) FROM pg_roles WHERE rolname IN ($1, $2)", db.OwnerRole(name), db.ViewerRole(name)).Scan(&roles))
	if n != 0 || roles != 0 {
		t.Fatalf("after drop: %d databases, %d roles", n, roles)
	}
}

func TestDisableAndEnable(t *testing.T) {
	t.Parallel()
	env := commandstest.New(t)
	ctx := context.Background()
	name := env.UniqueUser(t, "fay")
	created := env.CreateUser(t, name)
	u, err := env.Service.DisableUser(ctx, commands.CLI, name)
	if err != nil || u.Status != cg.UserDisabled {
		t.Fatalf("disable: %v %v", u.Status, err)
	}
	if _, err := env.Service.Authenticate(ctx, created.APIKey.Reveal()); cg.ErrorCode(err) != cg.EUNAUTHORIZED {
		t.Fatalf("disabled user's key accepted: %v", err)
	}
	u, err = env.Service.EnableUser(ctx, commands.CLI, name)
	if err != nil || u.Status != cg.UserActive {
		t.Fatalf("enable: %v %v", u.Status, err)
	}
	if a, err := env.Service.Authenticate(ctx, created.APIKey.Reveal()); err != nil || a.UserID != u.ID {
		t.Fatalf("re-enabled user's key: %+v %v", a, err)
	}
}

func TestNonAdminsAreRefusedAdminOperations(t *testing.T) {
	t.Parallel()
	env := commandstest.New(t)
	ctx := context.Background()
	name := env.UniqueUser(t, "gus")
	other := env.UniqueUser(t, "hal")
	u := env.CreateUser(t, name).User
	env.CreateUser(t, other)
	self := commands.Actor{Name: "api:user:" + name, UserID: u.ID}
	if _, err := env.Service.CreateUser(ctx, self, commands.CreateUserInput{Username: "zed"}); cg.ErrorCode(err) != cg.EFORBIDDEN {
		t.Fatalf("non-admin create: %v", err)
	}
	if _, err := env.Service.RemoveUser(ctx, self, other, commands.RemoveOptions{}); cg.ErrorCode(err) != cg.EFORBIDDEN {
		t.Fatalf("non-admin remove: %v", err)
	}
	if _, err := env.Service.ListCredentials(ctx, self, other); cg.ErrorCode(err) != cg.EFORBIDDEN {
		t.Fatalf("reading another user's credentials: %v", err)
	}
	if _, err := env.Service.ListCredentials(ctx, self, name); err != nil {
		t.Fatalf("reading own credentials: %v", err)
	}
}

func credential(t *testing.T, env *commandstest.Env, userID int64, key string) string {
	t.Helper()
	c, err := env.DB.Credentials(env.Cipher).Get(context.Background(), userID, key)
	if err != nil {
		t.Fatal(err)
	}
	return c.Value.Reveal()
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
