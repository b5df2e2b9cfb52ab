package scheduler_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"credential-grafana/cg"
	"credential-grafana/commands"
	"credential-grafana/commands/commandstest"
	"credential-grafana/db"
	"credential-grafana/db/dbtest"
	"credential-grafana/grafana/grafanatest"
	"credential-grafana/scheduler"
)

// ownerConn connects to a user's database as its owner role, as the user's flows do.
func ownerConn(t testing.TB, user string, kind cg.Kind) *pgx.Conn {
	t.Helper()
	cfg, err := pgx.ParseConfig(dbtest.URLFor(kind.DatabaseName(user)))
	if err != nil {
		t.Fatal(err)
	}
	cfg.User = db.OwnerRole(user)
	conn, err := pgx.ConnectConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

type enqueued struct {
	mu   sync.Mutex
	list []cg.Dashboard
}

func (e *enqueued) enqueue(ctx context.Context, tx pgx.Tx, d cg.Dashboard) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.list = append(e.list, d)
	return nil
}

func TestScanRecordsNewTablesOnceAndSkipsUnreachableUsers(t *testing.T) {
	t.Parallel()
	env := commandstest.New(t)
	ctx := context.Background()
	alice := env.UniqueUser(t, "alice")
	bob := env.UniqueUser(t, "bob")
	carol := env.UniqueUser(t, "carol")
	for _, u := range []string{alice, bob, carol} {
		env.CreateUser(t, u)
	}
	if err := grafanatest.CreateRunTable(ctx, ownerConn(t, alice, cg.KindTiming), cg.KindTiming, "gcd_nangate45_run1", grafanatest.SampleRun{}); err != nil {
		t.Fatal(err)
	}
	if err := grafanatest.CreateRunTable(ctx, ownerConn(t, alice, cg.KindDRC), cg.KindDRC, "gcd drc \"final\"", grafanatest.SampleRun{}); err != nil {
		t.Fatal(err)
	}
	if _, err := ownerConn(t, alice, cg.KindQOR).Exec(ctx, "CREATE TABLE notes (line text, author text)"); err != nil {
		t.Fatal(err)
	}
	if err := grafanatest.CreateRunTable(ctx, ownerConn(t, carol, cg.KindQOR), cg.KindQOR, "aes_sky130hd", grafanatest.SampleRun{Design: "aes", Platform: "sky130hd"}); err != nil {
		t.Fatal(err)
	}
	// bob's credentials point at a server that is not there.
	if _, err := env.Service.SetCredential(ctx, commands.CLI, bob, "db_port", "1", commands.Upsert); err != nil {
		t.Fatal(err)
	}

	var q enqueued
	s := scheduler.NewScanner(scheduler.ScannerConfig{DB: env.DB, Cipher: env.Cipher, Enqueue: q.enqueue, MaxConns: 8, Logger: env.Logger})
	defer s.Close()
	res, err := s.ScanOnce(ctx, scheduler.ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Users != 3 || len(res.New) != 3 || len(res.Incompatible) != 1 || len(q.list) != 3 {
		t.Fatalf("first scan: users %d new %d incompatible %d enqueued %d; failures %v", res.Users, len(res.New), len(res.Incompatible), len(q.list), res.Failures)
	}
	withNew := map[string]bool{} // the databases with new tables get a second query, for the columns
	for _, d := range append(res.New, res.Incompatible...) {
		withNew[fmt.Sprint(d.UserID, d.Kind)] = true
	}
	if res.Queries != int64(6+len(withNew)) { // bob's databases are never reached
		t.Fatalf("first scan sent %d queries, want one per reachable database (6) and one more for each of the %d with new tables", res.Queries, len(withNew))
	}
	if len(res.Failures) != 3 || res.Failures[0].User != bob {
		t.Fatalf("failures: %+v", res.Failures)
	}
	inc := res.Incompatible[0]
	if inc.TableName != "notes" || !strings.Contains(inc.Reason, "missing") || !strings.Contains(inc.Reason, "notes") {
		t.Fatalf("incompatible record: %+v", inc)
	}
	for _, d := range res.New {
		if d.State != cg.DashboardPending || d.UID == "" || len(d.UID) > 40 {
			t.Fatalf("new record: %+v", d)
		}
	}

	// Nothing new: nothing recorded or enqueued again, one query per reachable database,
	// and the connections of the first scan are reused.
	res, err = s.ScanOnce(ctx, scheduler.ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.New) != 0 || len(res.Incompatible) != 0 || len(q.list) != 3 {
		t.Fatalf("second scan: new %d incompatible %d enqueued %d", len(res.New), len(res.Incompatible), len(q.list))
	}
	if res.Queries > 6 || res.Connects > 4 { // bob's three fail to connect again, and the try to read his server's counters; the rest are cached or unchanged
		t.Fatalf("second scan: %d queries, %d connects", res.Queries, res.Connects)
	}
	if open, peak, _, _ := s.ConnStats(); open > 8 || peak > 8 {
		t.Fatalf("connections open %d, peak %d: above the bound of 8", open, peak)
	}

	// A new table in one database is found by a scan of that user alone.
	if err := grafanatest.CreateRunTable(ctx, ownerConn(t, alice, cg.KindTiming), cg.KindTiming, "gcd_nangate45_run2", grafanatest.SampleRun{Seed: 2}); err != nil {
		t.Fatal(err)
	}
	res, err = s.ScanOnce(ctx, scheduler.ScanOptions{User: alice})
	if err != nil || res.Users != 1 || len(res.New) != 1 || res.New[0].TableName != "gcd_nangate45_run2" {
		t.Fatalf("scan of one user: %+v %v", res, err)
	}
}

func TestOnlyOneScanAtATimeAcrossReplicas(t *testing.T) {
	t.Parallel()
	env := commandstest.New(t)
	ctx := context.Background()
	// Another replica holds the scan lock.
	conn := dbtest.Connect(t, env.Database)
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", int64(0x63675f7363616e)); err != nil {
		t.Fatal(err)
	}
	s := scheduler.NewScanner(scheduler.ScannerConfig{DB: env.DB, Cipher: env.Cipher})
	defer s.Close()
	if _, err := s.ScanOnce(ctx, scheduler.ScanOptions{}); !errors.Is(err, scheduler.ErrScanRunning) {
		t.Fatalf("scan while another replica scans: %v", err)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_unlock($1)", int64(0x63675f7363616e)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ScanOnce(ctx, scheduler.ScanOptions{}); err != nil {
		t.Fatalf("scan after the lock is free: %v", err)
	}
}
