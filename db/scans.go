package db

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// ScanRun is one scan as recorded: its counts, and the scanner's whole result as JSON.
type ScanRun struct {
	StartedAt  time.Time
	FinishedAt time.Time
	Users      int
	TablesNew  int
	Failures   int
	Detail     json.RawMessage
}

// RecordScan stores a finished scan, so that any process can report the last one.
func (d *DB) RecordScan(ctx context.Context, q Querier, r ScanRun) error {
	if _, err := q.Exec(ctx, `INSERT INTO scan_runs (started_at, finished_at, users, tables_new, failures, detail)
		VALUES ($1, $2, $3, $4, $5, $6)`, r.StartedAt, r.FinishedAt, r.Users, r.TablesNew, r.Failures, r.Detail); err != nil {
		return fmt.Errorf("record scan: %w", err)
	}
	return nil
}

// LastScan returns the newest recorded scan; found is false when there was none.
func (d *DB) LastScan(ctx context.Context) (r ScanRun, found bool, err error) {
	err = d.Pool.QueryRow(ctx, `SELECT started_at, finished_at, users, tables_new, failures, detail
		FROM scan_runs ORDER BY id DESC LIMIT 1`).Scan(&r.StartedAt, &r.FinishedAt, &r.Users, &r.TablesNew, &r.Failures, &r.Detail)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, false, nil
	}
	if err != nil {
		return r, false, fmt.Errorf("read the last scan: %w", err)
	}
	return r, true, nil
}
