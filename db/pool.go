package db

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"
)

// Pool is the master pool. Each connection it opens for a caller — when the pool grows
// under load, or again after idle ones were closed — waits and retries while the server
// is full, as the first one does (see Connect and whileFull), so that a user creation or
// a pipeline step waits for a slot instead of failing half way. pgxpool has no hook
// around its connect, so the methods that may connect are overridden here.
//
// The retry is safe because PostgreSQL sends too_many_connections (53300, IsServerFull)
// only while a connection starts, before the session exists (the postmaster's and the
// backend's checks of max_connections and of the role's and database's CONNECTION
// LIMIT); no statement of the service answers with it. So where a call fails with it,
// the pool could not open the connection the call needed and sent nothing; running the
// call again runs its statements once. Where a method's error shows later (QueryRow's
// at Scan) the retry is there; the ones that hand out a connection (Acquire,
// AcquireFunc, SendBatch) retry only the acquire.
//
// Everything else is the embedded *pgxpool.Pool, which is also what wants the raw pool
// (River's driver). Ping is not retried: it is the readiness check, which says now
// whether the database answers.
type Pool struct {
	*pgxpool.Pool
	log            zerolog.Logger
	database, host string
}

func (p *Pool) whileFull(ctx context.Context, call func() error) error {
	return whileFull(ctx, p.log, p.database, p.host, call)
}

// retryFull runs call, and again while the server is full, and returns its last result.
func retryFull[T any](p *Pool, ctx context.Context, call func() (T, error)) (T, error) {
	var v T
	err := p.whileFull(ctx, func() (err error) {
		v, err = call()
		return err
	})
	return v, err
}

// Acquire takes a connection from the pool, waiting while the server is full when the
// pool has to open one.
func (p *Pool) Acquire(ctx context.Context) (*pgxpool.Conn, error) {
	return retryFull(p, ctx, func() (*pgxpool.Conn, error) { return p.Pool.Acquire(ctx) })
}

// AcquireFunc runs f on a connection acquired as Acquire does, and releases it.
func (p *Pool) AcquireFunc(ctx context.Context, f func(*pgxpool.Conn) error) error {
	c, err := p.Acquire(ctx)
	if err != nil {
		return err
	}
	defer c.Release()
	return f(c)
}

// Exec is pgxpool's, waiting while the server is full.
func (p *Pool) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	return retryFull(p, ctx, func() (pgconn.CommandTag, error) { return p.Pool.Exec(ctx, sql, args...) })
}

// Query is pgxpool's, waiting while the server is full (a failed acquire is Query's
// error, not the rows').
func (p *Pool) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	return retryFull(p, ctx, func() (pgx.Rows, error) { return p.Pool.Query(ctx, sql, args...) })
}

// QueryRow is pgxpool's, waiting while the server is full. pgxpool reports a failed
// acquire at Scan, so the query runs now and, when Scan says the server was full,
// again from Scan.
func (p *Pool) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return &retryRow{first: p.Pool.QueryRow(ctx, sql, args...), p: p, ctx: ctx, sql: sql, args: args}
}

type retryRow struct {
	first pgx.Row
	p     *Pool
	ctx   context.Context
	sql   string
	args  []any
}

func (r *retryRow) Scan(dest ...any) error {
	first := r.first
	return r.p.whileFull(r.ctx, func() error {
		if first != nil {
			row := first
			first = nil
			return row.Scan(dest...)
		}
		return r.p.Pool.QueryRow(r.ctx, r.sql, r.args...).Scan(dest...)
	})
}

// Begin is pgxpool's, waiting while the server is full.
func (p *Pool) Begin(ctx context.Context) (pgx.Tx, error) {
	return p.BeginTx(ctx, pgx.TxOptions{})
}

// BeginTx is pgxpool's, waiting while the server is full.
func (p *Pool) BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error) {
	return retryFull(p, ctx, func() (pgx.Tx, error) { return p.Pool.BeginTx(ctx, opts) })
}

// CopyFrom is pgxpool's, waiting while the server is full.
func (p *Pool) CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error) {
	return retryFull(p, ctx, func() (int64, error) { return p.Pool.CopyFrom(ctx, table, columns, src) })
}

// SendBatch is pgxpool's on a connection acquired as Acquire does. pgxpool reports a
// failed acquire at the results, where the batch can no longer be sent again, so the
// acquire is done first here.
func (p *Pool) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	c, err := p.Acquire(ctx)
	if err != nil {
		return pgx.FailedBatchResults(b, err)
	}
	br := c.SendBatch(ctx, b)
	if tx := br.Tx(); tx != nil {
		// The transaction the batch began owns the connection, as pgxpool's does.
		return &batchResults{BatchResults: br, tx: &batchTx{Tx: tx, c: c}}
	}
	return &batchResults{BatchResults: br, c: c}
}

// batchResults gives the connection back to the pool at Close, unless the batch began
// a transaction, which gives it back at Commit or Rollback.
type batchResults struct {
	pgx.BatchResults
	c  *pgxpool.Conn
	tx *batchTx
}

func (br *batchResults) Close() error {
	err := br.BatchResults.Close()
	if br.c != nil {
		br.c.Release()
		br.c = nil
	}
	return err
}

func (br *batchResults) Tx() pgx.Tx {
	if br.tx == nil {
		return nil
	}
	return br.tx
}

type batchTx struct {
	pgx.Tx
	c *pgxpool.Conn
}

func (tx *batchTx) Commit(ctx context.Context) error {
	err := tx.Tx.Commit(ctx)
	tx.release()
	return err
}

func (tx *batchTx) Rollback(ctx context.Context) error {
	err := tx.Tx.Rollback(ctx)
	tx.release()
	return err
}

func (tx *batchTx) release() {
	if tx.c != nil {
		tx.c.Release()
		tx.c = nil
	}
}
