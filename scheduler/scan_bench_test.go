package scheduler_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"credential-grafana/cg"
	"credential-grafana/commands/commandstest"
	"credential-grafana/db/dbtest"
	"credential-grafana/grafana/grafanatest"
	"credential-grafana/scheduler"
)

// benchSize reads a fleet size from the environment: CG_BENCH_USERS (default 10) and
// CG_BENCH_TABLES (tables in each of a user's three databases, default 20), so that CI
// runs a small fleet and a person measures a large one.
func benchSize(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("%s is %q: expected a whole number above 0", name, v)
	}
	return n
}

// withOwner runs f on a short-lived connection as the user's owner role.
func withOwner(b *testing.B, user string, kind cg.Kind, f func(*pgx.Conn) error) {
	b.Helper()
	conn := ownerConn(b, user, kind)
	defer conn.Close(context.Background())
	if err := f(conn); err != nil {
		b.Fatal(err)
	}
}

// benchFleet makes, once per benchmark run, CG_BENCH_USERS users (named cgbench_…, and
// dropped with their databases when the benchmark ends) with CG_BENCH_TABLES tables in
// each of their databases, made by the product's own user creation, all recorded by a
// first full sweep as after many scans.
func benchFleet(b *testing.B) (*commandstest.Env, []string) {
	b.Helper()
	users, tables := benchSize(b, "CG_BENCH_USERS", 10), benchSize(b, "CG_BENCH_TABLES", 20)
	env := commandstest.New(b)
	ctx := context.Background()
	names := make([]string, users)
	for i := range names {
		names[i] = env.UniqueUser(b, fmt.Sprintf("cgbench%04d_", i))
	}
	var sb strings.Builder
	for j := range tables {
		fmt.Fprintf(&sb, "CREATE TABLE run_%03d (stage text, corner text, check_type text, path_group text, startpoint text, endpoint text, arrival float8, required float8, slack float8);\n", j)
	}
	start := time.Now()
	work := make(chan string)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for u := range work {
				env.CreateUser(b, u)
				for _, kind := range cg.Kinds {
					withOwner(b, u, kind, func(conn *pgx.Conn) error {
						_, err := conn.Exec(ctx, sb.String())
						return err
					})
				}
			}
		}()
	}
	for _, u := range names {
		work <- u
	}
	close(work)
	wg.Wait()
	b.Logf("fleet: %d users, %d databases, %d tables made in %v", users, 3*users, 3*users*tables, time.Since(start).Round(time.Second))
	s := scheduler.NewScanner(scheduler.ScannerConfig{DB: env.DB, Cipher: env.Cipher, MaxConns: 4})
	if _, err := s.ScanOnce(ctx, scheduler.ScanOptions{}); err != nil { // record everything
		b.Fatal(err)
	}
	s.Close()
	return env, names
}

// settled scans until a scan lists no database: the statistics of the fleet's
// making reach the server a little after its connections close.
func settled(b *testing.B, s *scheduler.Scanner) {
	b.Helper()
	for range 100 {
		res, err := s.ScanOnce(context.Background(), scheduler.ScanOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if !res.Full && res.Databases == 0 {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	b.Fatal("the fleet's counters never stopped moving")
}

// flushNow makes the writer's backend publish its statistics (PostgreSQL 15+; the
// product cannot ask users' writers to do this) and waits until the counters show it.
func flushNow(b *testing.B, conn *pgx.Conn, before int64) {
	b.Helper()
	ctx := context.Background()
	if _, err := conn.Exec(ctx, "SELECT pg_stat_force_next_flush()"); err != nil {
		b.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "SELECT 1"); err != nil {
		b.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); inserted(b, conn.Config().Database) == before; {
		if time.Now().After(deadline) {
			b.Fatal("the counters did not move")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func inserted(b testing.TB, database string) int64 {
	var n int64
	conn := dbtest.Connect(b, "postgres")
	defer conn.Close(context.Background())
	if err := conn.QueryRow(context.Background(), "SELECT coalesce(tup_inserted, 0) FROM pg_stat_database WHERE datname = $1", database).Scan(&n); err != nil {
		b.Fatal(err)
	}
	return n
}

func BenchmarkScan(b *testing.B) {
	env, users := benchFleet(b)
	ctx := context.Background()
	newScanner := func(b *testing.B, q *enqueued) *scheduler.Scanner {
		cfg := scheduler.ScannerConfig{DB: env.DB, Cipher: env.Cipher, MaxConns: 4, Concurrency: 4}
		if q != nil {
			cfg.Enqueue = q.enqueue
		}
		s := scheduler.NewScanner(cfg)
		b.Cleanup(s.Close)
		return s
	}
	report := func(b *testing.B, s *scheduler.Scanner, res *scheduler.ScanResult) {
		_, peak, _, _ := s.ConnStats()
		b.ReportMetric(float64(res.Databases), "databases_listed/scan")
		b.ReportMetric(float64(res.Connects), "connects/scan")
		b.ReportMetric(float64(res.Queries), "queries/scan")
		b.ReportMetric(float64(peak), "peak_conns")
	}
	b.Run("full_sweep_maxconns_4", func(b *testing.B) {
		s := newScanner(b, nil)
		var res *scheduler.ScanResult
		for b.Loop() {
			var err error
			if res, err = s.ScanOnce(ctx, scheduler.ScanOptions{Full: true}); err != nil {
				b.Fatal(err)
			}
		}
		report(b, s, res)
	})
	b.Run("idle_changed_only", func(b *testing.B) {
		s := newScanner(b, nil)
		settled(b, s)
		var res *scheduler.ScanResult
		for b.Loop() {
			var err error
			if res, err = s.ScanOnce(ctx, scheduler.ScanOptions{}); err != nil {
				b.Fatal(err)
			}
			if res.Full || len(res.New) != 0 {
				b.Fatalf("full %v, %d new", res.Full, len(res.New))
			}
		}
		report(b, s, res)
		b.ReportMetric(float64(res.Servers), "pg_stat_database_queries/scan")
	})
	i := 0 // across runs of the sub-benchmark (-count): each new table has a new name
	b.Run("one_new_table_found_and_enqueued_after_the_counters_show_it", func(b *testing.B) {
		var q enqueued
		s := newScanner(b, &q)
		settled(b, s)
		var res *scheduler.ScanResult
		for b.Loop() {
			b.StopTimer()
			u := users[i%len(users)]
			withOwner(b, u, cg.KindTiming, func(conn *pgx.Conn) error {
				before := inserted(b, conn.Config().Database)
				if err := grafanatest.CreateRunTable(ctx, conn, cg.KindTiming, fmt.Sprintf("new_run_%d", i), grafanatest.SampleRun{Endpoints: 2}); err != nil {
					return err
				}
				flushNow(b, conn, before)
				return nil
			})
			i++
			b.StartTimer()
			var err error
			if res, err = s.ScanOnce(ctx, scheduler.ScanOptions{}); err != nil {
				b.Fatal(err)
			}
			if len(res.New) != 1 {
				b.Fatalf("found %d new tables, want 1", len(res.New))
			}
		}
		report(b, s, res)
	})
}

// BenchmarkStatsFlushDelay measures how long a CREATE TABLE takes to show in
// pg_stat_database on this server: PostgreSQL 15 publishes a backend's statistics at
// most once a second, and a backend that goes idle less than a second after its last
// flush holds them for up to 10 s (PGSTAT_IDLE_INTERVAL) unless it does more work or
// disconnects.
func BenchmarkStatsFlushDelay(b *testing.B) {
	env := commandstest.New(b)
	user := env.UniqueUser(b, "cgbenchflush_")
	env.CreateUser(b, user)
	ctx := context.Background()
	i := 0
	measure := func(b *testing.B, conn *pgx.Conn, after func()) time.Duration {
		database := conn.Config().Database
		before := inserted(b, database)
		if _, err := conn.Exec(ctx, fmt.Sprintf("CREATE TABLE t_%d (a int)", i)); err != nil {
			b.Fatal(err)
		}
		i++
		committed := time.Now()
		if after != nil {
			after()
		}
		for inserted(b, database) == before {
			if time.Since(committed) > 2*time.Minute {
				b.Fatal("no change within 2 minutes")
			}
			time.Sleep(2 * time.Millisecond)
		}
		return time.Since(committed)
	}
	for _, c := range []struct {
		name string
		run  func(b *testing.B) time.Duration
	}{
		{"writer_idle_last_flush_over_1s_before", func(b *testing.B) time.Duration {
			conn := ownerConn(b, user, cg.KindTiming)
			time.Sleep(1100 * time.Millisecond)
			return measure(b, conn, nil)
		}},
		{"writer_flushed_just_before_then_idle", func(b *testing.B) time.Duration {
			conn := ownerConn(b, user, cg.KindTiming)
			time.Sleep(1100 * time.Millisecond)
			if _, err := conn.Exec(ctx, "CREATE TEMP TABLE warm (a int)"); err != nil { // flushes now
				b.Fatal(err)
			}
			return measure(b, conn, nil)
		}},
		{"writer_disconnects", func(b *testing.B) time.Duration {
			conn := ownerConn(b, user, cg.KindTiming)
			time.Sleep(1100 * time.Millisecond)
			if _, err := conn.Exec(ctx, "CREATE TEMP TABLE warm (a int)"); err != nil {
				b.Fatal(err)
			}
			return measure(b, conn, func() { conn.Close(ctx) })
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			var total, worst time.Duration
			n := 0
			for b.Loop() {
				d := c.run(b)
				total += d
				worst = max(worst, d)
				n++
			}
			b.ReportMetric(float64(total.Milliseconds())/float64(n), "ms_to_show")
			b.ReportMetric(float64(worst.Milliseconds()), "worst_ms")
		})
	}
}
