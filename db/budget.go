package db

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/rs/zerolog"

	"credential-grafana/cg"
)

// Budget splits the connections one process may hold to the cluster (PG_CONNECTIONS)
// between its users, so that their sum never goes over it.
type Budget struct {
	// Master bounds the master pool, River's jobs and its one LISTEN connection
	// included (River takes that one out of the pool, so the pool gets Master-1 when
	// River runs).
	Master int
	// Scan bounds the scan's connections to user databases (SCAN_MAX_CONNS).
	Scan int
	// Side bounds the one-off connections: provisioning's DDL in users' databases and
	// the pipeline's reads of run tables.
	Side int
}

// Total is the sum of the budget.
func (b Budget) Total() int { return b.Master + b.Scan + b.Side }

// SplitBudget divides total connections between the master pool, the scan (scan of
// them) and the one-off connections. Returns an error naming both settings when scan
// leaves fewer than 3 (2 for the master pool and 1 for one-off connections).
func SplitBudget(total, scan int) (Budget, error) {
	rest := total - scan
	if rest < 3 {
		return Budget{}, fmt.Errorf("SCAN_MAX_CONNS (%d) leaves %d of PG_CONNECTIONS (%d) for the rest: at least 3 are needed (2 for the master pool and River, 1 for provisioning and the pipeline); lower SCAN_MAX_CONNS or raise PG_CONNECTIONS", scan, rest, total)
	}
	side := max(1, rest/4)
	return Budget{Master: rest - side, Scan: scan, Side: side}, nil
}

// CLIBudget is what a one-shot CLI command holds: one master connection and one
// one-off connection (a user's database during `user add`). `scan --once` needs a third
// (the scan lock, the master queries and one user database at a time).
var CLIBudget = Budget{Master: 1, Scan: 1, Side: 1}

// semaphore bounds open connections at the socket: a slot is taken before dialing and
// given back when the socket closes, whoever closes it.
type semaphore chan struct{}

type budgetedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *budgetedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// limit makes cfg dial through the semaphore: a connect waits (until ctx ends) for a
// free slot instead of going over the budget.
func (s semaphore) limit(cfg *pgconn.Config) {
	dial := cfg.DialFunc
	if dial == nil {
		dial = (&net.Dialer{KeepAlive: 5 * time.Minute}).DialContext
	}
	cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		select {
		case s <- struct{}{}:
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for a free connection of the budget (PG_CONNECTIONS): %w", ctx.Err())
		}
		c, err := dial(ctx, network, addr)
		if err != nil {
			<-s
			return nil, err
		}
		return &budgetedConn{Conn: c, release: func() { <-s }}, nil
	}
}

// IsServerFull reports whether err is PostgreSQL's too_many_connections (53300): the
// server ("sorry, too many clients already"), a role or a database is at its limit.
func IsServerFull(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "53300"
}

// ServerFullWait bounds how long Connect, and the master pool for each connection it
// opens (see Pool), wait for a full server. Defaults to 2 minutes.
var ServerFullWait = 2 * time.Minute

// Connect opens a connection, waiting and retrying with backoff (100 ms doubling to 5 s,
// with jitter, for at most ServerFullWait or until ctx ends) while the server answers
// that it is full, so that a burst of work waits for a slot instead of failing half way.
func Connect(ctx context.Context, cfg *pgx.ConnConfig, log zerolog.Logger) (*pgx.Conn, error) {
	var conn *pgx.Conn
	err := whileFull(ctx, log, cfg.Database, cfg.Host, func() (err error) {
		conn, err = pgx.ConnectConfig(ctx, cfg)
		return err
	})
	return conn, err
}

// whileFull runs connect, and again with backoff (100 ms doubling to 5 s, with jitter,
// for at most ServerFullWait or until ctx ends) while it fails because the server,
// the role or the database is at its connection limit (IsServerFull). It returns
// connect's last error. connect is a connect (Connect, the master pool's first
// connection) or a call on the master pool that failed to open its connection (see
// Pool): either way nothing was sent yet, so running it again is safe.
func whileFull(ctx context.Context, log zerolog.Logger, database, host string, connect func() error) error {
	delay := 100 * time.Millisecond
	deadline := time.Now().Add(ServerFullWait)
	for attempt := 1; ; attempt++ {
		err := connect()
		if err == nil || !IsServerFull(err) || time.Now().After(deadline) {
			return err
		}
		wait := delay + rand.N(delay/2)
		log.Warn().Err(err).Str("database", database).Str("host", host).Int("attempt", attempt).Dur("retry_in", wait).
			Msg("PostgreSQL is full: waiting for a free connection")
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return fmt.Errorf("connect to %s while the server is full: %w", database, ctx.Err())
		}
		delay = min(2*delay, 5*time.Second)
	}
}

// ConnectionRoom is the server's room for connections.
type ConnectionRoom struct {
	// Max is max_connections; Reserved the slots only superusers (and, from PostgreSQL
	// 16, roles with pg_use_reserved_connections) may take; Open the client
	// connections open now, this process's included.
	Max, Reserved, Open int
}

// ConnectionSum is how the service's connections and what else may connect add up
// against the server: what doctor and status print, and serve logs at start.
type ConnectionSum struct {
	// Budget is the PG_CONNECTIONS split of the service (as serve opens it).
	Budget Budget
	ConnectionRoom
	// DataSources counts the Grafana data sources the product made (one per kind of
	// each user not removed); PerDataSource is the maxOpenConns each is given, so that
	// Grafana may hold DataSources×PerDataSource while every dashboard is queried at
	// once, and none when idle (maxIdleConns 0).
	DataSources, PerDataSource int
}

// Available is max_connections less the reserved slots.
func (s ConnectionSum) Available() int { return s.Max - s.Reserved }

// Grafana is the most Grafana's data sources may hold at once.
func (s ConnectionSum) Grafana() int { return s.DataSources * s.PerDataSource }

// Fits reports whether the service's budget fits in what is free now (the slots not
// reserved and not open).
func (s ConnectionSum) Fits() bool { return s.Budget.Total() <= s.Available()-s.Open }

// String is the sum on one line.
func (s ConnectionSum) String() string {
	return fmt.Sprintf("PG_CONNECTIONS %d (master pool %d, side %d, scans %d) + Grafana's data sources up to %d (%d × maxOpenConns %d, none when idle) = %d, against max_connections %d less %d reserved = %d; %d open now",
		s.Budget.Total(), s.Budget.Master, s.Budget.Side, s.Budget.Scan, s.Grafana(), s.DataSources, s.PerDataSource,
		s.Budget.Total()+s.Grafana(), s.Max, s.Reserved, s.Available(), s.Open)
}

// ConnectionSum reads the server's room and counts the data sources the product made,
// and adds them up with the budget b and perDataSource, each data source's maxOpenConns.
func (d *DB) ConnectionSum(ctx context.Context, b Budget, perDataSource int) (ConnectionSum, error) {
	room, err := d.ConnectionRoom(ctx)
	if err != nil {
		return ConnectionSum{}, err
	}
	var users int
	if err := d.Pool.QueryRow(ctx, "SELECT count(*) FROM users WHERE status <> 'removed'").Scan(&users); err != nil {
		return ConnectionSum{}, fmt.Errorf("count users' data sources: %w", err)
	}
	return ConnectionSum{Budget: b, ConnectionRoom: room, DataSources: users * len(cg.Kinds), PerDataSource: perDataSource}, nil
}

// ConnectionRoom reads max_connections, the reserved slots and the client connections
// open now.
func (d *DB) ConnectionRoom(ctx context.Context) (ConnectionRoom, error) {
	var r ConnectionRoom
	err := d.Pool.QueryRow(ctx, `SELECT current_setting('max_connections')::int,
		current_setting('superuser_reserved_connections')::int + coalesce(current_setting('reserved_connections', true)::int, 0),
		(SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::int`).Scan(&r.Max, &r.Reserved, &r.Open)
	if err != nil {
		return r, fmt.Errorf("read max_connections: %w", err)
	}
	return r, nil
}
