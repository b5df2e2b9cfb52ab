package scheduler_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"credential-grafana/cg"
	"credential-grafana/commands/commandstest"
	"credential-grafana/db"
	"credential-grafana/grafana/grafanatest"
	"credential-grafana/scheduler"
)

const (
	benchUsers  = 30
	benchTables = 200
	// benchBound keeps most of the 90 databases warm while leaving room under the
	// server's max_connections (100 on a default PostgreSQL) for everything else.
	benchBound = 64
)

// withOwner runs f on a short-lived connection as the user's owner role.
func withOwner(b *testing.B, user string, kind cg.Kind, f func(*pgx.Conn) error) {
	b.Helper()
	conn := ownerConn(b, user, kind)
	defer conn.Close(context.Background())
	if err := f(conn); err != nil {
		b.Fatal(err)
	}
}

// benchFleet makes benchUsers users with benchTables tables in each of their three
// databases, all already recorded, as after many scans.
func benchFleet(b *testing.B) (*commandstest.Env, []string) {
	b.Helper()
	env := commandstest.New(b)
	ctx := context.Background()
	var users []string
	for i := range benchUsers {
		u := env.UniqueUser(b, fmt.Sprintf("bench%02d_", i))
		env.CreateUser(b, u)
		users = append(users, u)
		for _, kind := range cg.Kinds {
			var sb strings.Builder
			for j := range benchTables {
				fmt.Fprintf(&sb, "CREATE TABLE run_%03d (stage text, corner text, check_type text, path_group text, startpoint text, endpoint text, arrival float8, required float8, slack float8);\n", j)
			}
			withOwner(b, u, kind, func(conn *pgx.Conn) error {
				_, err := conn.Exec(ctx, sb.String())
				return err
			})
		}
	}
	s := scheduler.NewScanner(scheduler.ScannerConfig{DB: env.DB, Cipher: env.Cipher, MaxConns: 16})
	if _, err := s.ScanOnce(ctx, scheduler.ScanOptions{}); err != nil { // record everything
		b.Fatal(err)
	}
	s.Close()
	return env, users
}

// baselineScan is the straightforward scan: one database after the other, a new
// connection for each, every table and column read, the diff done in Go.
func baselineScan(ctx context.Context, b *testing.B, env *commandstest.Env, users []string) (queries, connects int) {
	for _, name := range users {
		u, err := env.DB.Users().ByName(ctx, name)
		if err != nil {
			b.Fatal(err)
		}
		creds, err := env.DB.Credentials(env.Cipher).Map(ctx, u.ID)
		if err != nil {
			b.Fatal(err)
		}
		known, err := env.DB.Dashboards().Known(ctx, u.ID)
		if err != nil {
			b.Fatal(err)
		}
		for _, kind := range cg.Kinds {
			cfg, err := scheduler.UserDatabase(creds, kind, []string{env.DB.Host()})
			if err != nil {
				b.Fatal(err)
			}
			conn, err := pgx.ConnectConfig(ctx, cfg)
			if err != nil {
				b.Fatal(err)
			}
			connects++
			tables, err := db.DiscoverTables(ctx, conn, nil)
			queries++
			if err != nil {
				b.Fatal(err)
			}
			seen := map[string]bool{}
			for _, t := range known[kind] {
				seen[t] = true
			}
			for _, t := range tables {
				_ = seen[t.Name]
			}
			conn.Close(ctx)
		}
	}
	return queries, connects
}

func BenchmarkScan(b *testing.B) {
	env, users := benchFleet(b)
	ctx := context.Background()
	b.Run("baseline_sequential_nothing_new", func(b *testing.B) {
		var q, c int
		for b.Loop() {
			q, c = baselineScan(ctx, b, env, users)
		}
		b.ReportMetric(float64(q), "queries/scan")
		b.ReportMetric(float64(c), "connects/scan")
	})
	for _, bound := range []int{benchBound, 24} {
		b.Run(fmt.Sprintf("scanner_maxconns_%d_nothing_new", bound), func(b *testing.B) {
			s := scheduler.NewScanner(scheduler.ScannerConfig{DB: env.DB, Cipher: env.Cipher, MaxConns: bound, Concurrency: 4})
			defer s.Close()
			if _, err := s.ScanOnce(ctx, scheduler.ScanOptions{}); err != nil { // warm
				b.Fatal(err)
			}
			var res *scheduler.ScanResult
			for b.Loop() {
				var err error
				if res, err = s.ScanOnce(ctx, scheduler.ScanOptions{}); err != nil {
					b.Fatal(err)
				}
				if len(res.New) != 0 {
					b.Fatalf("found %d new tables", len(res.New))
				}
			}
			_, peak, _, _ := s.ConnStats()
			b.ReportMetric(float64(res.Queries), "queries/scan")
			b.ReportMetric(float64(res.Connects), "connects/scan")
			b.ReportMetric(float64(peak), "peak_conns")
		})
	}
	b.Run(fmt.Sprintf("scanner_maxconns_%d_one_new_table_each", benchBound), func(b *testing.B) {
		s := scheduler.NewScanner(scheduler.ScannerConfig{DB: env.DB, Cipher: env.Cipher, MaxConns: benchBound, Concurrency: 4})
		defer s.Close()
		if _, err := s.ScanOnce(ctx, scheduler.ScanOptions{}); err != nil {
			b.Fatal(err)
		}
		i := 0
		var res *scheduler.ScanResult
		var elapsed time.Duration
		for b.Loop() {
			b.StopTimer()
			for _, u := range users {
				withOwner(b, u, cg.KindTiming, func(conn *pgx.Conn) error {
					return grafanatest.CreateRunTable(ctx, conn, cg.KindTiming, fmt.Sprintf("new_run_%d", i), grafanatest.SampleRun{Endpoints: 2})
				})
			}
			i++
			b.StartTimer()
			start := time.Now()
			var err error
			if res, err = s.ScanOnce(ctx, scheduler.ScanOptions{}); err != nil {
				b.Fatal(err)
			}
			elapsed += time.Since(start)
			if len(res.New) != benchUsers {
				b.Fatalf("found %d new tables, want %d", len(res.New), benchUsers)
			}
		}
		_, peak, _, _ := s.ConnStats()
		b.ReportMetric(float64(res.Queries), "queries/scan")
		b.ReportMetric(float64(peak), "peak_conns")
	})
}
