package scheduler_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"credential-grafana/cg"
	"credential-grafana/commands"
	"credential-grafana/commands/commandstest"
	"credential-grafana/db"
	"credential-grafana/db/dbtest"
	"credential-grafana/grafana/grafanatest"
	"credential-grafana/scheduler"
)

// clock is a time the test moves by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// tupInserted reads a database's tup_inserted counter.
func tupInserted(t *testing.T, database string) int64 {
	t.Helper()
	var n int64
	if err := dbtest.Connect(t, "postgres").QueryRow(context.Background(),
		"SELECT coalesce(tup_inserted, 0) FROM pg_stat_database WHERE datname = $1", database).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// createTableAndFlush creates a run table on conn and makes its backend flush its
// statistics now (pg_stat_force_next_flush, PostgreSQL 15+, is for tests: the product
// cannot ask a user's writer to call it), then waits until the counter shows it.
func createTableAndFlush(t *testing.T, conn *pgx.Conn, kind cg.Kind, table string) {
	t.Helper()
	ctx := context.Background()
	database := conn.Config().Database
	before := tupInserted(t, database)
	if err := grafanatest.CreateRunTable(ctx, conn, kind, table, grafanatest.SampleRun{}); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_stat_force_next_flush()"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "SELECT 1"); err != nil { // the flush happens when the backend goes idle
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); tupInserted(t, database) == before; {
		if time.Now().After(deadline) {
			t.Fatalf("the counters of %s did not move within 30 s of a CREATE TABLE", database)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// uncountedConn connects to a database as the superuser with track_counts off, so what it
// writes moves no counter: as if the statistics were lost.
func uncountedConn(t *testing.T, database string) *pgx.Conn {
	t.Helper()
	conn := dbtest.Connect(t, database)
	if _, err := conn.Exec(context.Background(), "SET track_counts = off"); err != nil {
		t.Fatal(err)
	}
	return conn
}

type changedSetup struct {
	env   *commandstest.Env
	users []string
	clock *clock
	s     *scheduler.Scanner
}

func newChangedSetup(t *testing.T, users int) changedSetup {
	t.Helper()
	// "localhost" stands for another server (TestChangedOnlyScanAsksAnotherServerOnThatServer):
	// allowed beside the master's host.
	env := commandstest.New(t, commandstest.WithAllowList(cg.AllowList{DBHosts: []string{"localhost"}}))
	var names []string
	for i := range users {
		u := env.UniqueUser(t, fmt.Sprintf("chg%d_", i))
		env.CreateUser(t, u)
		names = append(names, u)
	}
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := scheduler.NewScanner(scheduler.ScannerConfig{DB: env.DB, Cipher: env.Cipher, MaxConns: 8, Logger: env.Logger, Now: c.now,
		AllowedDBHosts: []string{env.DB.Host(), "localhost"}})
	t.Cleanup(s.Close)
	return changedSetup{env: env, users: names, clock: c, s: s}
}

func (cs changedSetup) scan(t *testing.T) *scheduler.ScanResult {
	t.Helper()
	res, err := cs.s.ScanOnce(context.Background(), scheduler.ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Failures) > 0 {
		t.Fatalf("scan failures: %+v", res.Failures)
	}
	return res
}

// settle scans until a scan lists no database: the statistics of provisioning's own
// connections reach the server a little after they close.
func (cs changedSetup) settle(t *testing.T) {
	t.Helper()
	for range 50 {
		if res := cs.scan(t); !res.Full && res.Databases == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("the counters of the test's databases never stopped moving")
}

func TestChangedOnlyScanListsOnlyTheDatabaseThatWasWritten(t *testing.T) {
	t.Parallel()
	cs := newChangedSetup(t, 5)
	first := cs.scan(t)
	if !first.Full || first.Databases != 15 || first.Servers != 1 {
		t.Fatalf("first scan: full %v, %d databases listed, %d servers asked; want a full sweep of 15 and one pg_stat_database query", first.Full, first.Databases, first.Servers)
	}
	cs.settle(t)

	target := cs.users[3]
	createTableAndFlush(t, ownerConn(t, target, cg.KindQOR), cg.KindQOR, "aes_run1")
	res := cs.scan(t)
	if res.Full || len(res.New) != 1 || res.New[0].TableName != "aes_run1" {
		t.Fatalf("changed-only scan: full %v, new %+v", res.Full, res.New)
	}
	// The written database and, at most, one other moved by the server's own work
	// (autovacuum): a full sweep would list 15.
	if res.Databases > 2 || res.Queries > 3 || res.Unchanged < 13 { // 2 queries for the written one (names, then the new table's columns)
		t.Fatalf("changed-only scan listed %d databases (%d queries, %d unchanged): want only the written one", res.Databases, res.Queries, res.Unchanged)
	}
	// A database whose counters moved is listed once more on the next scan, then left.
	again := cs.scan(t)
	if len(again.New) != 0 || again.Databases < 1 {
		t.Fatalf("scan after the change: %d new, %d databases listed; want the changed one listed again, nothing new", len(again.New), again.Databases)
	}
}

func TestChangedOnlyScanSeesAStatsReset(t *testing.T) {
	t.Parallel()
	cs := newChangedSetup(t, 1)
	cs.scan(t)
	cs.settle(t)
	database := cg.KindTiming.DatabaseName(cs.users[0])
	conn := uncountedConn(t, database)
	if err := grafanatest.CreateRunTable(context.Background(), conn, cg.KindTiming, "gcd_uncounted", grafanatest.SampleRun{}); err != nil {
		t.Fatal(err)
	}
	if res := cs.scan(t); len(res.New) != 0 {
		t.Fatalf("a table no counter saw was found by a changed-only scan: %+v (the test does not test what it says)", res.New)
	}
	if _, err := conn.Exec(context.Background(), "SELECT pg_stat_reset()"); err != nil { // the counters go back to zero
		t.Fatal(err)
	}
	res := cs.scan(t)
	if len(res.New) != 1 || res.New[0].TableName != "gcd_uncounted" {
		t.Fatalf("after a stats reset: new %+v, %d databases listed", res.New, res.Databases)
	}
}

func TestChangedOnlyScanSeesADatabaseDroppedAndRecreatedWithTheSameName(t *testing.T) {
	t.Parallel()
	cs := newChangedSetup(t, 1)
	ctx := context.Background()
	cs.scan(t)
	cs.settle(t)
	user := cs.users[0]
	database := cg.KindDRC.DatabaseName(user)
	admin := dbtest.Connect(t, "postgres")
	for _, sql := range []string{
		"DROP DATABASE " + pgx.Identifier{database}.Sanitize() + " WITH (FORCE)", // the scanner's cached connection goes too
		"CREATE DATABASE " + pgx.Identifier{database}.Sanitize() + " OWNER " + pgx.Identifier{db.OwnerRole(user)}.Sanitize(),
		"GRANT CONNECT ON DATABASE " + pgx.Identifier{database}.Sanitize() + " TO " + pgx.Identifier{db.ViewerRole(user)}.Sanitize(),
	} {
		if _, err := admin.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	conn := uncountedConn(t, database) // only the new oid tells the databases apart
	if err := grafanatest.CreateRunTable(ctx, conn, cg.KindDRC, "gcd_drc_recreated", grafanatest.SampleRun{}); err != nil {
		t.Fatal(err)
	}
	res := cs.scan(t)
	if res.Full || len(res.New) != 1 || res.New[0].TableName != "gcd_drc_recreated" {
		t.Fatalf("after the database was re-created: full %v, new %+v", res.Full, res.New)
	}
}

func TestFullSweepFindsATableTheCountersMissed(t *testing.T) {
	t.Parallel()
	cs := newChangedSetup(t, 2)
	cs.scan(t)
	cs.settle(t)
	conn := uncountedConn(t, cg.KindQOR.DatabaseName(cs.users[1]))
	if err := grafanatest.CreateRunTable(context.Background(), conn, cg.KindQOR, "aes_lost_stats", grafanatest.SampleRun{}); err != nil {
		t.Fatal(err)
	}
	cs.clock.advance(59 * time.Minute)
	if res := cs.scan(t); res.Full || len(res.New) != 0 {
		t.Fatalf("before an hour: full %v, new %+v; want a changed-only scan that cannot see the table", res.Full, res.New)
	}
	cs.clock.advance(time.Minute) // SCAN_FULL_EVERY's default, an hour, since the first full sweep
	res := cs.scan(t)
	if !res.Full || len(res.New) != 1 || res.New[0].TableName != "aes_lost_stats" || res.Databases != 6 {
		t.Fatalf("full sweep: full %v, %d databases, new %+v", res.Full, res.Databases, res.New)
	}
}

func TestChangedOnlyScanAsksAnotherServerOnThatServer(t *testing.T) {
	t.Parallel()
	cs := newChangedSetup(t, 2)
	ctx := context.Background()
	// "localhost" is a different server to the scanner than the master's 127.0.0.1: it
	// must be asked through a connection of its own.
	if _, err := cs.env.Service.SetCredential(ctx, commands.CLI, cs.users[1], "db_host", "localhost", commands.Upsert); err != nil {
		t.Fatal(err)
	}
	if res := cs.scan(t); res.Servers != 2 || res.Databases != 6 {
		t.Fatalf("first scan: %d servers asked, %d databases listed; want 2 and 6", res.Servers, res.Databases)
	}
	cs.settle(t)
	createTableAndFlush(t, ownerConn(t, cs.users[1], cg.KindTiming), cg.KindTiming, "gcd_remote")
	res := cs.scan(t)
	if res.Full || res.Servers != 2 || len(res.New) != 1 || res.New[0].TableName != "gcd_remote" || res.Databases > 2 {
		t.Fatalf("changed-only scan: full %v, servers %d, %d databases, new %+v", res.Full, res.Servers, res.Databases, res.New)
	}
}

// An idle scan does all its master reads and its record on the connection that holds
// the scan lock: one connection of the master pool, none opened to users' databases.
func TestIdleScanHoldsOneMasterConnection(t *testing.T) {
	t.Parallel()
	cs := newChangedSetup(t, 3)
	cs.scan(t)
	cs.settle(t)
	idle := 0
	for range 5 {
		before := cs.env.DB.Pool.Stat().AcquireCount()
		res := cs.scan(t)
		acquired := cs.env.DB.Pool.Stat().AcquireCount() - before
		if res.Databases != 0 { // autovacuum moved a counter: not an idle scan
			continue
		}
		idle++
		if acquired != 1 || res.Connects != 0 {
			t.Fatalf("idle scan acquired %d master connections and opened %d to users' databases; want 1 and 0", acquired, res.Connects)
		}
	}
	if idle == 0 {
		t.Fatal("no idle scan in 5: the counters kept moving")
	}
}
