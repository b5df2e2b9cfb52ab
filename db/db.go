package db

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"
)

// Config says how to reach the master database.
type Config struct {
	// URL is the master database's connection URL (postgres://user:pass@host:port/name).
	// Required.
	URL string
	// MaxConns bounds the pool. Defaults to 10. The master connections are bounded at
	// the socket to MaxConns+1: River takes its LISTEN connection out of the pool.
	MaxConns int32
	// SideConns bounds the one-off connections, ConnectTo and ConnectSide together.
	// Defaults to 4.
	SideConns int
	// ApplicationName starts the application_name of every connection (the pool's is
	// exactly it; others add " provision", " scan", " pipeline"), so that they can be
	// counted in pg_stat_activity. Defaults to "credential-grafana".
	ApplicationName string
	// CreateDatabase creates the master database when it does not exist yet, through
	// the server's "postgres" database. Defaults to false.
	CreateDatabase bool
	// Logger receives one event per notable thing. Defaults to a disabled logger.
	Logger zerolog.Logger
}

// Querier is a connection, a pool or a transaction: what a repository function takes
// when it runs on a connection its caller holds (the scan does all its master reads
// on the connection that holds its lock, so an idle scan holds one connection).
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// DB is the master database: its pool and the repositories over it.
type DB struct {
	// Pool waits while the server is full for each connection it opens (see Pool);
	// Pool.Pool is pgxpool's, for what needs it (River's driver).
	Pool    *Pool
	config  *pgxpool.Config
	log     zerolog.Logger
	appName string
	side    semaphore
}

// Open connects to the master database, creating it first when cfg.CreateDatabase is
// set and the server says it does not exist.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	pc, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("parse master database URL: %w", err)
	}
	if cfg.MaxConns > 0 {
		pc.MaxConns = cfg.MaxConns
	} else {
		pc.MaxConns = 10
	}
	if cfg.SideConns <= 0 {
		cfg.SideConns = 4
	}
	if cfg.ApplicationName == "" {
		cfg.ApplicationName = "credential-grafana"
	}
	pc.ConnConfig.RuntimeParams["application_name"] = cfg.ApplicationName
	make(semaphore, pc.MaxConns+1).limit(&pc.ConnConfig.Config)
	d := &DB{config: pc, log: cfg.Logger, appName: cfg.ApplicationName, side: make(semaphore, cfg.SideConns)}
	if err := d.connect(ctx); err != nil {
		var pgErr *pgconn.PgError
		if cfg.CreateDatabase && errors.As(err, &pgErr) && pgErr.Code == "3D000" {
			if cerr := d.createMasterDatabase(ctx); cerr != nil {
				return nil, cerr
			}
			err = d.connect(ctx)
		}
		if err != nil {
			return nil, fmt.Errorf("connect to master database %q on %s:%d as %q: %w",
				pc.ConnConfig.Database, pc.ConnConfig.Host, pc.ConnConfig.Port, pc.ConnConfig.User, err)
		}
	}
	return d, nil
}

// connect makes the pool and its first connection, waiting while the server is full
// (see Connect): a CLI command or a replica started while the server has no free slot
// waits for one instead of failing, and keeps that connection for its work. The
// connections the pool opens later wait the same way (see Pool).
func (d *DB) connect(ctx context.Context) error {
	pool, err := pgxpool.NewWithConfig(ctx, d.config)
	if err != nil {
		return err
	}
	cc := d.config.ConnConfig
	err = whileFull(ctx, d.log, cc.Database, cc.Host, func() error {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		return pool.Ping(pctx)
	})
	if err != nil {
		pool.Close()
		return err
	}
	d.Pool = &Pool{Pool: pool, log: d.log, database: cc.Database, host: cc.Host}
	return nil
}

func (d *DB) createMasterDatabase(ctx context.Context) error {
	name := d.config.ConnConfig.Database
	conn, err := d.ConnectTo(ctx, "postgres")
	if err != nil {
		return fmt.Errorf("create master database %q: %w", name, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "42P04" { // duplicate_database: another process won
			return fmt.Errorf("create master database %q: %w", name, err)
		}
	}
	d.log.Info().Str("database", name).Msg("created master database")
	return nil
}

// ConnectTo opens a single connection to another database of the master server with
// the master role's credentials (for DDL inside a user's database).
// It counts against the one-off connections (waiting for a free one) and waits while
// the server is full (see Connect).
func (d *DB) ConnectTo(ctx context.Context, database string) (*pgx.Conn, error) {
	cc := d.config.ConnConfig.Copy()
	cc.Database = database
	cc.DialFunc = nil // the pool's bound is not this connection's
	return d.ConnectSide(ctx, cc, "provision")
}

// ConnectSide opens a one-off connection with cfg (a user's database, say), named
// ApplicationName+" "+role: it waits for a free one of the one-off connections, and
// while the server is full (see Connect).
func (d *DB) ConnectSide(ctx context.Context, cfg *pgx.ConnConfig, role string) (*pgx.Conn, error) {
	cc := cfg.Copy()
	cc.RuntimeParams["application_name"] = d.AppName(role)
	d.side.limit(&cc.Config)
	return Connect(ctx, cc, d.log)
}

// AppName is the application_name of the service's connections of the given role
// ("scan", "pipeline"); "" gives the master pool's.
func (d *DB) AppName(role string) string {
	if role == "" {
		return d.appName
	}
	return d.appName + " " + role
}

// Host and Port of the master server, as the service reaches it.
func (d *DB) Host() string { return d.config.ConnConfig.Host }

// Port of the master server.
func (d *DB) Port() uint16 { return d.config.ConnConfig.Port }

// Database is the master database's name.
func (d *DB) Database() string { return d.config.ConnConfig.Database }

// Ping checks that the master database answers. It does not wait while the server is
// full (see Pool): it is the readiness check.
func (d *DB) Ping(ctx context.Context) error { return d.Pool.Ping(ctx) }

// Close closes the pool.
func (d *DB) Close() {
	if d.Pool != nil {
		d.Pool.Close()
	}
}

// isUniqueViolation reports whether err is PostgreSQL's unique_violation.
func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}
