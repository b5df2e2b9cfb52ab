package db

import (
	"context"
	"errors"
	"fmt"
	"time"
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
// The names are joined, not matched with = ANY: that compares every database of the
// cluster with every name (at a thousand users, 3,000 × 3,000 comparisons, most of an
// idle scan), where the join hashes the names once (a hash join, linear). The
// counters are those behind the pg_stat_database view (src/backend/catalog/
// system_views.sql), called for the matched databases only rather than computed by
// the view for every database of the cluster.
const activitySQL = `
SELECT d.datname, d.oid, pg_stat_get_db_tuples_inserted(d.oid), pg_stat_get_db_tuples_updated(d.oid),
       pg_stat_get_db_tuples_deleted(d.oid), coalesce(pg_stat_get_db_stat_reset_time(d.oid), 'epoch'::timestamptz),
       current_setting('track_counts')::bool
FROM unnest($1::text[]) AS n(name) JOIN pg_database d ON d.datname = n.name`

// ReadDatabaseActivity returns, by name, the counters of those of the named databases
// that exist on the server q is connected to (any database of that server will do:
// pg_stat_database covers the whole cluster). Returns ErrNoCounters when the server
// does not count.
func ReadDatabaseActivity(ctx context.Context, q Querier, databases []string) (map[string]DatabaseActivity, error) {
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
