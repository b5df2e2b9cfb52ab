package db

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrNoCounters means the server keeps no activity counters (track_counts is off), so
// they cannot say which databases changed.
var ErrNoCounters = errors.New("the server keeps no activity counters (track_counts is off)")

// DatabaseActivity is what pg_stat_database says about one database: enough to tell
// whether anything was written to it since it was last read. A CREATE TABLE inserts
// catalog rows, so it moves TupInserted; a scan only reads, so it moves none of them
// (xact_commit moves for every query, a scan's own too, so it is no signal).
type DatabaseActivity struct {
	OID         uint32
	TupInserted int64
	TupUpdated  int64
	TupDeleted  int64
	// StatsReset is when the counters were last reset; zero if never.
	StatsReset time.Time
}

// activitySQL reads the write counters of the named databases, in one round trip for
// the whole server. A database that exists but has no statistics yet reads as zeros.
const activitySQL = `
SELECT d.datname, d.oid, coalesce(s.tup_inserted, 0), coalesce(s.tup_updated, 0), coalesce(s.tup_deleted, 0),
       coalesce(s.stats_reset, 'epoch'::timestamptz), current_setting('track_counts')::bool
FROM pg_database d LEFT JOIN pg_stat_database s ON s.datid = d.oid
WHERE d.datname = ANY($1::text[])`

// QueryRower is what ReadDatabaseActivity needs: a pgx connection or pool.
type QueryRower interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// ReadDatabaseActivity returns, by name, the counters of those of the named databases
// that exist on the server q is connected to (any database of that server will do:
// pg_stat_database covers the whole cluster). Returns ErrNoCounters when the server
// does not count.
func ReadDatabaseActivity(ctx context.Context, q QueryRower, databases []string) (map[string]DatabaseActivity, error) {
	rows, err := q.Query(ctx, activitySQL, databases)
	if err != nil {
		return nil, fmt.Errorf("read pg_stat_database: %w", err)
	}
	defer rows.Close()
	out := make(map[string]DatabaseActivity, len(databases))
	for rows.Next() {
		var name string
		var a DatabaseActivity
		var counting bool
		if err := rows.Scan(&name, &a.OID, &a.TupInserted, &a.TupUpdated, &a.TupDeleted, &a.StatsReset, &counting); err != nil {
			return nil, fmt.Errorf("read pg_stat_database: %w", err)
		}
		if !counting {
			return nil, ErrNoCounters
		}
		if a.StatsReset.Unix() == 0 {
			a.StatsReset = time.Time{}
		}
		out[name] = a
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read pg_stat_database: %w", err)
	}
	return out, nil
}
