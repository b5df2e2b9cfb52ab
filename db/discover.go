package db

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Column is one column of a run table, with its PostgreSQL type as format_type gives it.
type Column struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// Table is a run table found in a user database. Columns are filled only for tables
// the caller did not already know.
type Table struct {
	Name    string
	Comment string
	Columns []Column
}

// discoverSQL lists the ordinary and partitioned tables of the public schema in one
// round trip, with the columns of the tables not in $1 (the ones already recorded), so a
// scan that finds nothing new moves only names.
const discoverSQL = `
SELECT c.relname,
       coalesce(obj_description(c.oid, 'pg_class'), ''),
       CASE WHEN c.relname = ANY($1::text[]) THEN NULL ELSE (
           SELECT json_agg(json_build_object('name', a.attname, 'type', format_type(a.atttypid, a.atttypmod)) ORDER BY a.attnum)
           FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped)
       END
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
ORDER BY c.relname`

// DiscoverTables lists the run tables of one user database with a single query; known
// names come back without columns.
func DiscoverTables(ctx context.Context, q Querier, known []string) ([]Table, error) {
	if known == nil {
		known = []string{}
	}
	rows, err := q.Query(ctx, discoverSQL, known)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Table, error) {
		var t Table
		err := row.Scan(&t.Name, &t.Comment, &t.Columns)
		return t, err
	})
}
