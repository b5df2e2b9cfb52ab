package db_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"credential-grafana/db"
	"credential-grafana/db/dbtest"
)

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// fullServer is a master database whose role is an ordinary one with CONNECTION LIMIT
// limit: at the limit PostgreSQL answers it with the same SQLSTATE 53300 as a full
// server ("sorry, too many clients already"), without filling the shared test server
// (superusers are exempt from the limit).
type fullServer struct {
	role, url string
	cfg       *pgx.ConnConfig
	limit     int
}

func newFullServer(t *testing.T, limit int) fullServer {
	t.Helper()
	role, _, masterURL := dbtest.LimitedOwner(t, "cgpoolfull_", "", limit)
	cfg, err := pgx.ParseConfig(masterURL)
	if err != nil {
		t.Fatal(err)
	}
	return fullServer{role: role, url: masterURL, cfg: cfg, limit: limit}
}

// open opens the master database as the role; the pool keeps its first connection.
func (s fullServer) open(t *testing.T, log *syncBuffer) *db.DB {
	t.Helper()
	d, err := db.Open(context.Background(), db.Config{URL: s.url, MaxConns: int32(s.limit), Logger: zerolog.New(log)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	return d
}

// fill holds n connections of the role outside the pool. It waits for the slots the
// previous test gave back (a closed connection's backend leaves a moment later).
func (s fullServer) fill(t *testing.T, n int) []*pgx.Conn {
	t.Helper()
	var held []*pgx.Conn
	for range n {
		c, err := db.Connect(context.Background(), s.cfg, zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close(context.Background()) })
		held = append(held, c)
	}
	return held
}

// holdPoolConn takes the pool's one open connection, so that the next piece of work
// on the pool needs a new one.
func holdPoolConn(t *testing.T, d *db.DB) {
	t.Helper()
	if open := d.Pool.Stat().TotalConns(); open != 1 {
		t.Fatalf("the pool holds %d connections, want its first one only", open)
	}
	c, err := d.Pool.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Release)
}

// The connections the master pool opens after its first (the pool grows under load,
// or opens one again after idle ones were closed) wait while the server is full, for
// each way the callers use the pool, and the work succeeds once a slot frees.
func TestPoolWaitsWhileTheServerIsFull(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newFullServer(t, 2) // the pool's first connection and one held outside it
	setup, err := pgx.ConnectConfig(ctx, s.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := setup.Exec(ctx, "CREATE TABLE copied (n int)"); err != nil {
		t.Fatal(err)
	}
	setup.Close(ctx)
	// p is DB.Pool's type, whichever it is: each piece of work is written as the
	// callers write it.
	type pool interface {
		Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
		Query(context.Context, string, ...any) (pgx.Rows, error)
		QueryRow(context.Context, string, ...any) pgx.Row
		Begin(context.Context) (pgx.Tx, error)
		BeginTx(context.Context, pgx.TxOptions) (pgx.Tx, error)
		Acquire(context.Context) (*pgxpool.Conn, error)
		AcquireFunc(context.Context, func(*pgxpool.Conn) error) error
		SendBatch(context.Context, *pgx.Batch) pgx.BatchResults
		CopyFrom(context.Context, pgx.Identifier, []string, pgx.CopyFromSource) (int64, error)
	}
	work := []struct {
		name string
		do   func(ctx context.Context, p pool) error
	}{
		{"Exec", func(ctx context.Context, p pool) error {
			_, err := p.Exec(ctx, "INSERT INTO copied VALUES (1)")
			return err
		}},
		{"Query", func(ctx context.Context, p pool) error {
			rows, err := p.Query(ctx, "SELECT n FROM copied")
			if err != nil {
				return err
			}
			_, err = pgx.CollectRows(rows, pgx.RowTo[int])
			return err
		}},
		{"QueryRow", func(ctx context.Context, p pool) error {
			var n int
			return p.QueryRow(ctx, "SELECT count(*) FROM copied").Scan(&n)
		}},
		{"Begin", func(ctx context.Context, p pool) error {
			tx, err := p.Begin(ctx)
			if err != nil {
				return err
			}
			defer tx.Rollback(ctx)
			if _, err := tx.Exec(ctx, "INSERT INTO copied VALUES (2)"); err != nil {
				return err
			}
			return tx.Commit(ctx)
		}},
		{"BeginFunc", func(ctx context.Context, p pool) error {
			return pgx.BeginFunc(ctx, p, func(tx pgx.Tx) error {
				_, err := tx.Exec(ctx, "INSERT INTO copied VALUES (3)")
				return err
			})
		}},
		{"BeginTx", func(ctx context.Context, p pool) error {
			tx, err := p.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
			if err != nil {
				return err
			}
			defer tx.Rollback(ctx)
			var n int
			return tx.QueryRow(ctx, "SELECT count(*) FROM copied").Scan(&n)
		}},
		{"Acquire", func(ctx context.Context, p pool) error {
			c, err := p.Acquire(ctx)
			if err != nil {
				return err
			}
			defer c.Release()
			_, err = c.Exec(ctx, "SELECT 1")
			return err
		}},
		{"AcquireFunc", func(ctx context.Context, p pool) error {
			return p.AcquireFunc(ctx, func(c *pgxpool.Conn) error {
				_, err := c.Exec(ctx, "SELECT 1")
				return err
			})
		}},
		{"SendBatch", func(ctx context.Context, p pool) error {
			b := &pgx.Batch{}
			b.Queue("INSERT INTO copied VALUES (4)")
			b.Queue("SELECT count(*) FROM copied")
			return p.SendBatch(ctx, b).Close()
		}},
		{"SendBatch in a transaction", func(ctx context.Context, p pool) error {
			b := &pgx.Batch{}
			b.BeginTx(pgx.TxOptions{})
			b.Queue("INSERT INTO copied VALUES (5)")
			br := p.SendBatch(ctx, b)
			tx := br.Tx()
			defer tx.Rollback(ctx)
			if err := br.Close(); err != nil {
				return err
			}
			return tx.Commit(ctx)
		}},
		{"CopyFrom", func(ctx context.Context, p pool) error {
			_, err := p.CopyFrom(ctx, pgx.Identifier{"copied"}, []string{"n"}, pgx.CopyFromRows([][]any{{6}, {7}}))
			return err
		}},
	}
	for _, w := range work {
		t.Run(w.name, func(t *testing.T) {
			var log syncBuffer
			d := s.open(t, &log)
			holdPoolConn(t, d)
			held := s.fill(t, 1)
			if _, err := pgx.ConnectConfig(ctx, s.cfg); !db.IsServerFull(err) {
				t.Fatalf("a connection over the role's limit: %v, want SQLSTATE 53300", err)
			}
			before := len(log.String())

			wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- w.do(wctx, d.Pool) }()

			waited := func() bool { return strings.Contains(log.String()[before:], "PostgreSQL is full") }
			for start := time.Now(); !waited(); time.Sleep(10 * time.Millisecond) {
				select {
				case err := <-done:
					t.Fatalf("%s on the pool while the server is full ended without waiting for a slot: %v\nlog:\n%s", w.name, err, log.String())
				default:
				}
				if time.Since(start) > 10*time.Second {
					t.Fatalf("%s on the pool while the server is full: no wait logged in 10 s\nlog:\n%s", w.name, log.String())
				}
			}
			select {
			case err := <-done:
				t.Fatalf("%s on the pool ended while the server was still full: %v", w.name, err)
			case <-time.After(300 * time.Millisecond):
			}
			if !strings.Contains(log.String()[before:], `"database":"`+s.cfg.Database+`"`) {
				t.Errorf("the wait does not name the database; log:\n%s", log.String())
			}
			held[0].Close(ctx)
			if err := <-done; err != nil {
				t.Fatalf("%s on the pool once a slot freed: %v\nlog:\n%s", w.name, err, log.String())
			}
		})
	}
	// What was written after waiting was written once.
	check, err := db.Connect(ctx, s.cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer check.Close(ctx)
	var rows string
	if err := check.QueryRow(ctx, "SELECT coalesce(string_agg(n::text, ',' ORDER BY n), '') FROM copied").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if want := "1,2,3,4,5,6,7"; rows != want {
		t.Errorf("rows written after waiting: %s, want %s", rows, want)
	}
}

// A pool connection still refused after ServerFullWait fails with the server's 53300.
// Not parallel: it shortens ServerFullWait, which the parallel tests then find restored.
func TestPoolGivesUpAfterServerFullWait(t *testing.T) {
	ctx := context.Background()
	s := newFullServer(t, 2)
	var log syncBuffer
	d := s.open(t, &log)
	holdPoolConn(t, d)
	s.fill(t, 1)
	defer func(wait time.Duration) { db.ServerFullWait = wait }(db.ServerFullWait)
	db.ServerFullWait = 500 * time.Millisecond

	start := time.Now()
	var n int
	err := d.Pool.QueryRow(ctx, "SELECT 1").Scan(&n)
	took := time.Since(start)
	if !db.IsServerFull(err) {
		t.Fatalf("a query on the pool while the server stays full: %v, want SQLSTATE 53300", err)
	}
	if took < db.ServerFullWait || took > db.ServerFullWait+10*time.Second {
		t.Errorf("gave up after %v, want about ServerFullWait (%v)", took, db.ServerFullWait)
	}
	if waits := strings.Count(log.String(), "PostgreSQL is full"); waits < 2 {
		t.Errorf("%d waits logged before giving up, want several; log:\n%s", waits, log.String())
	}
}

// A pool connection refused for another reason than a full server fails at once.
func TestPoolDoesNotRetryOtherConnectErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newFullServer(t, 2)
	var log syncBuffer
	d := s.open(t, &log)
	holdPoolConn(t, d)
	dbtest.Exec(t, "postgres", "ALTER ROLE "+s.role+" NOLOGIN")

	start := time.Now()
	_, err := d.Pool.Exec(ctx, "SELECT 1")
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "28000" { // invalid_authorization_specification
		t.Fatalf("a query on the pool when the role may no longer log in: %v, want SQLSTATE 28000", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("failed after %v, want at once", took)
	}
	if strings.Contains(log.String(), "PostgreSQL is full") {
		t.Errorf("waited as if the server were full; log:\n%s", log.String())
	}
}
