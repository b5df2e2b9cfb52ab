package app

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"credential-grafana/commands/commandstest"
	"credential-grafana/db"
	"credential-grafana/db/dbtest"
)

// masterDatabase returns the name of the master database an env file of cliEnv names.
func masterDatabase(t *testing.T, envFile string) string {
	t.Helper()
	b, err := os.ReadFile(envFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if u, ok := strings.CutPrefix(line, "DATABASE_URL="); ok {
			cfg, err := pgx.ParseConfig(u)
			if err != nil {
				t.Fatal(err)
			}
			return cfg.Database
		}
	}
	t.Fatal("no DATABASE_URL in the env file")
	return ""
}

// watchActivity records every statement text pg_stat_activity shows until the returned
// function is called, which returns them.
func watchActivity(t *testing.T) func() []string {
	t.Helper()
	conn := dbtest.Connect(t, "postgres")
	ctx, cancel := context.WithCancel(context.Background())
	seen := map[string]bool{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			rows, err := conn.Query(ctx, "SELECT query FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND query <> ''")
			if err != nil {
				return
			}
			queries, _ := pgx.CollectRows(rows, pgx.RowTo[string])
			for _, q := range queries {
				seen[q] = true
			}
			time.Sleep(time.Millisecond) // frugal polling, not a timing assertion
		}
	}()
	// Stopped at cleanup too (before the connection's own cleanup closes it, as cleanups
	// run last first), so a test that fails before it stops watching leaves no goroutine
	// on a closed connection.
	stop := func() { cancel(); <-done }
	t.Cleanup(stop)
	return func() []string {
		stop()
		var out []string
		for q := range seen {
			out = append(out, q)
		}
		return out
	}
}

func reveal(t *testing.T, cli func(string, ...string) (int, string, string), user, key string) string {
	t.Helper()
	code, out, errOut := cli("", "cred", "reveal", user, key)
	if code != 0 {
		t.Fatalf("cred reveal %s %s: %d %s", user, key, code, errOut)
	}
	return strings.TrimSpace(out)
}

func TestCLIHostilePasswordsNeverBecomeSQLNorReachActivityOrServerLog(t *testing.T) {
	envFile, cli := cliEnv(t)
	master := masterDatabase(t, envFile)
	if code, _, errOut := cli("", "user", "list"); code != 0 { // creates and migrates the master database
		t.Fatalf("user list: %d %s", code, errOut)
	}
	// Backslashes escape quotes in ordinary literals again, and every DDL statement is
	// logged: a password quoted by hand into CREATE/ALTER ROLE either breaks out or is
	// logged. New connections to the master database get both.
	dbtest.Exec(t, "postgres", "ALTER DATABASE "+pgx.Identifier{master}.Sanitize()+" SET standard_conforming_strings = off")
	dbtest.Exec(t, "postgres", "ALTER DATABASE "+pgx.Identifier{master}.Sanitize()+" SET log_statement = 'ddl'")
	serverLog := dbtest.OpenServerLog(t)
	if serverLog == nil {
		t.Log("the PostgreSQL server log is not readable here: checking statements in pg_stat_activity only")
	}
	stopWatching := watchActivity(t)

	user := dbtest.UniqueName("hostile")
	commandstest.DropUserLater(t, user)
	if code, out, errOut := cli("", "user", "add", user); code != 0 {
		t.Fatalf("user add: %d %s %s", code, out, errOut)
	}
	passwords := []string{reveal(t, cli, user, "db_pass"), reveal(t, cli, user, "db_viewer_pass")}
	for i, hostile := range []string{
		`\' SUPERUSER -- ` + dbtest.UniqueName("a"),
		`'' \\' SUPERUSER CREATEROLE -- ` + dbtest.UniqueName("b"),
		`\\\'); ALTER ROLE current_user SUPERUSER; -- "` + dbtest.UniqueName("c"),
	} {
		if code, _, errOut := cli(hostile+"\n", "cred", "set", user, "db_pass"); code != 0 {
			t.Fatalf("cred set db_pass %d: %d %s", i, code, errOut)
		}
		if code, out, errOut := cli("", "user", "retry", user); code != 0 {
			t.Fatalf("user retry after hostile db_pass %d: %d %s %s", i, code, out, errOut)
		}
		var super bool
		if err := dbtest.Connect(t, "postgres").QueryRow(context.Background(),
			"SELECT rolsuper FROM pg_roles WHERE rolname = $1", db.OwnerRole(user)).Scan(&super); err != nil || super {
			t.Errorf("after retry with hostile password %d the owner role is superuser: %v (err %v)", i, super, err)
		}
		if !dbtest.RoleHasPassword(t, db.OwnerRole(user), hostile) {
			t.Errorf("after retry, the owner role does not have hostile password %d", i)
		}
		passwords = append(passwords, hostile)
	}

	queries := stopWatching()
	conn := dbtest.Connect(t, "postgres")
	var supers []string
	rows, err := conn.Query(context.Background(), "SELECT rolname FROM pg_roles WHERE rolsuper AND rolname = ANY($1)",
		[]string{db.OwnerRole(user), db.ViewerRole(user)})
	if err != nil {
		t.Fatal(err)
	}
	if supers, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil || len(supers) != 0 {
		t.Fatalf("superuser roles: %v (err %v)", supers, err)
	}
	for _, q := range queries {
		for i, p := range passwords {
			if strings.Contains(q, p) {
				t.Errorf("password %d appeared in pg_stat_activity: %q", i, q)
			}
		}
	}
	if serverLog != nil {
		logged := serverLog.Since(t)
		if !strings.Contains(logged, "ALTER ROLE") && !strings.Contains(logged, "CREATE ROLE") {
			t.Fatalf("log_statement = ddl logged no role statement to %s: the log check would prove nothing", serverLog.Path())
		}
		for i, p := range passwords {
			if strings.Contains(logged, p) {
				t.Errorf("password %d is in the server log %s", i, serverLog.Path())
			}
		}
	}
}

func TestCLIRemoveDropDatabasesRefusesUpFrontWhatThisInstallationDidNotCreate(t *testing.T) {
	_, cli := cliEnv(t)
	ctx := context.Background()
	conn := dbtest.Connect(t, "postgres")
	exists := func(database string) bool {
		var n int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname = $1", database).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 1
	}
	roleExists := func(role string) bool {
		var n int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_roles WHERE rolname = $1", role).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 1
	}

	// Someone else's role and database that happen to be named like ours.
	squatted := dbtest.UniqueName("squat")
	commandstest.DropUserLater(t, squatted)
	foreignDB := squatted + "-QOR"
	dbtest.Exec(t, "postgres", "CREATE ROLE "+pgx.Identifier{db.OwnerRole(squatted)}.Sanitize())
	dbtest.Exec(t, "postgres", "CREATE DATABASE "+pgx.Identifier{foreignDB}.Sanitize()+" OWNER "+pgx.Identifier{db.OwnerRole(squatted)}.Sanitize())
	if code, _, errOut := cli("", "user", "add", squatted); code != 1 || !strings.Contains(errOut, "not created by") {
		t.Fatalf("user add over a foreign role: %d %s", code, errOut)
	}
	code, _, errOut := cli("", "user", "remove", squatted, "--drop-databases", "--yes")
	if code != 1 || !strings.Contains(errOut, foreignDB) || !strings.Contains(errOut, "nothing was changed") {
		t.Fatalf("remove --drop-databases over a foreign database: %d %s", code, errOut)
	}
	if !exists(foreignDB) || !roleExists(db.OwnerRole(squatted)) {
		t.Fatal("remove --drop-databases dropped a database or role it did not create")
	}
	if code, out, _ := cli("", "user", "show", squatted); code != 0 || !strings.Contains(out, "provisioning") {
		t.Fatalf("the refused removal changed the user: %s", out)
	}

	// A provisioned user whose QOR database was replaced by one owned by its owner role
	// but not created by the service: none of the user's objects may be dropped.
	user := dbtest.UniqueName("kept")
	commandstest.DropUserLater(t, user)
	if code, _, errOut := cli("", "user", "add", user); code != 0 {
		t.Fatalf("user add: %d %s", code, errOut)
	}
	qor := user + "-QOR"
	dbtest.DropDatabase(t, qor)
	dbtest.Exec(t, "postgres", "CREATE DATABASE "+pgx.Identifier{qor}.Sanitize()+" OWNER "+pgx.Identifier{db.OwnerRole(user)}.Sanitize())
	code, _, errOut = cli("", "user", "remove", user, "--drop-databases", "--yes")
	if code != 1 || !strings.Contains(errOut, qor) || !strings.Contains(errOut, "nothing was changed") {
		t.Fatalf("remove --drop-databases with an unmarked database: %d %s", code, errOut)
	}
	for _, database := range []string{user + "-timing_report", qor, user + "-drc"} {
		if !exists(database) {
			t.Fatalf("database %s was dropped by a refused removal", database)
		}
	}
	if !roleExists(db.OwnerRole(user)) || !roleExists(db.ViewerRole(user)) {
		t.Fatal("a role was dropped by a refused removal")
	}
	if code, out, _ := cli("", "user", "show", user); code != 0 || !strings.Contains(out, "active") {
		t.Fatalf("the refused removal changed the user: %s", out)
	}
	if reveal(t, cli, user, "db_pass") == "" {
		t.Fatal("the refused removal deleted credentials")
	}

	// Once the stranger is gone, removal drops what is ours.
	dbtest.DropDatabase(t, qor)
	if code, out, errOut := cli("", "user", "remove", user, "--drop-databases", "--yes"); code != 0 {
		t.Fatalf("remove: %d %s %s", code, out, errOut)
	}
	for _, database := range []string{user + "-timing_report", user + "-drc"} {
		if exists(database) {
			t.Fatalf("database %s survived the removal", database)
		}
	}
	if roleExists(db.OwnerRole(user)) || roleExists(db.ViewerRole(user)) {
		t.Fatal("a role survived the removal")
	}
}

func TestCLIFiveConcurrentAddsOfOneNameLeaveNoPasswordInTheServerLog(t *testing.T) {
	_, cli := cliEnv(t)
	if code, _, errOut := cli("", "user", "list"); code != 0 { // creates and migrates the master database
		t.Fatalf("user list: %d %s", code, errOut)
	}
	serverLog := dbtest.OpenServerLog(t)
	if serverLog == nil {
		t.Log("the PostgreSQL server log is not readable here: checking statements in pg_stat_activity only")
	}
	stopWatching := watchActivity(t)
	var passwords []string
	// On the server's default settings a failed statement is logged with its text
	// (log_min_error_statement = error): the losers' CREATE ROLE must not carry a
	// password.
	racer := dbtest.UniqueName("racer")
	commandstest.DropUserLater(t, racer)
	codes, _ := concurrentAdds(cli, racer, 5)
	if code, out, errOut := cli("", "user", "retry", racer); code != 0 {
		t.Fatalf("user retry %s after five concurrent adds (exit codes %v): %d %s %s", racer, codes, code, out, errOut)
	}
	passwords = append(passwords, reveal(t, cli, racer, "db_pass"), reveal(t, cli, racer, "db_viewer_pass"))
	if !dbtest.RoleHasPassword(t, db.OwnerRole(racer), passwords[0]) || !dbtest.RoleHasPassword(t, db.ViewerRole(racer), passwords[1]) {
		t.Fatal("after five concurrent adds the roles do not have the stored passwords")
	}
	for i, q := range stopWatching() {
		for j, p := range passwords {
			if strings.Contains(q, p) {
				t.Errorf("password %d appeared in pg_stat_activity (statement %d): %q", j, i, q)
			}
		}
	}
	if serverLog != nil {
		logged := serverLog.Since(t)
		for i, p := range passwords {
			if strings.Contains(logged, p) {
				t.Errorf("password %d is in the server log %s", i, serverLog.Path())
			}
		}
	}
}
