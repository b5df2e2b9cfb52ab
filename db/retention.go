package db

import (
	"context"
	"fmt"
	"time"
)

// housekeepingLock is the advisory lock key that lets one replica do house-keeping at a
// time (pruning scan_runs, deleting old GIFs).
const housekeepingLock int64 = 0x6367_686b // "cghk"

// TryLockHousekeeping takes the house-keeping lock on a connection of its own. It
// reports false (holding nothing) when another replica holds it; unlock releases it.
func (d *DB) TryLockHousekeeping(ctx context.Context) (unlock func(), ok bool, err error) {
	return d.tryLock(ctx, "house-keeping", "SELECT pg_try_advisory_lock($1)", "SELECT pg_advisory_unlock($1)", housekeepingLock)
}

// PruneScans deletes the scans that started before since, but never the newest one (so
// that status always has a last scan to show). It returns how many it deleted.
func (d *DB) PruneScans(ctx context.Context, since time.Time) (int64, error) {
	tag, err := d.Pool.Exec(ctx, `DELETE FROM scan_runs WHERE started_at < $1
		AND id <> (SELECT max(id) FROM scan_runs)`, since)
	if err != nil {
		return 0, fmt.Errorf("prune scans before %s: %w", since.Format(time.RFC3339), err)
	}
	return tag.RowsAffected(), nil
}

// GIFAwaitsPost reports whether a dashboard whose GIF is path still has to post it
// (captured, or posting): such a GIF must stay however old it is.
func (d *DB) GIFAwaitsPost(ctx context.Context, path string) (bool, error) {
	var waiting bool
	err := d.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM dashboards
		WHERE local_snapshot_url = $1 AND state IN ('captured', 'posting'))`, path).Scan(&waiting)
	if err != nil {
		return false, fmt.Errorf("look up the dashboard of GIF %s: %w", path, err)
	}
	return waiting, nil
}

// ForgetGIF clears the GIF path of the dashboards that name path (after the file was
// deleted); the dashboards and their posts stay. It returns how many it changed.
func (d *DB) ForgetGIF(ctx context.Context, path string) (int64, error) {
	tag, err := d.Pool.Exec(ctx, `UPDATE dashboards SET local_snapshot_url = '', updated_at = now()
		WHERE local_snapshot_url = $1`, path)
	if err != nil {
		return 0, fmt.Errorf("forget GIF %s: %w", path, err)
	}
	return tag.RowsAffected(), nil
}

// scanLock is the advisory lock key that lets one replica scan at a time.
const scanLock int64 = 0x63675f7363616e // "cg_scan"

// TryLockScan takes the scan's lock on a connection of the pool, which it holds until
// unlock releases both; the scan reads the master database on held meanwhile, so that
// it needs no second connection. It reports false (holding nothing) when another
// replica scans.
func (d *DB) TryLockScan(ctx context.Context) (held Querier, unlock func(), ok bool, err error) {
	conn, err := d.Pool.Acquire(ctx)
	if err != nil {
		return nil, func() {}, false, fmt.Errorf("scan: acquire master connection: %w", err)
	}
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", scanLock).Scan(&ok); err != nil {
		conn.Release()
		return nil, func() {}, false, fmt.Errorf("scan: take lock: %w", err)
	}
	if !ok {
		conn.Release()
		return nil, func() {}, false, nil
	}
	return conn, func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", scanLock)
		conn.Release()
	}, true, nil
}
