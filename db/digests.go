package db

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"credential-grafana/cg"
)

// DigestRecord is one stored digest.
type DigestRecord struct {
	ID       int64             `json:"id"`
	UserID   int64             `json:"user_id"`
	User     string            `json:"user"`
	Schedule cg.DigestSchedule `json:"schedule"`
	// TimeZone is the user's time zone, which the schedule is in.
	TimeZone string `json:"time_zone"`
	// LastPeriodEnd is the end of the latest period done (posted, or without runs).
	LastPeriodEnd time.Time `json:"last_period_end"`
	CreatedBy     string    `json:"created_by"`
	CreatedAt     time.Time `json:"created_at"`
}

// Digests is the repository of digests and users' time zones.
type Digests struct{ db *DB }

// Digests returns the digests repository.
func (d *DB) Digests() Digests { return Digests{d} }

const digestColumns = `g.id, g.user_id, u.username, g.every, g.weekday, g.at_minute, u.time_zone, g.last_period_end, g.created_by, g.created_at`

func scanDigest(row pgx.Row) (DigestRecord, error) {
	var r DigestRecord
	var weekday, minute int16
	err := row.Scan(&r.ID, &r.UserID, &r.User, &r.Schedule.Every, &weekday, &minute, &r.TimeZone, &r.LastPeriodEnd, &r.CreatedBy, &r.CreatedAt)
	r.Schedule.Weekday, r.Schedule.Minute = time.Weekday(weekday), int(minute)
	return r, err
}

// Add stores a digest for userID whose first period is the one after lastEnd, and
// reports whether it is new: the same schedule stored before is returned as it is.
func (r Digests) Add(ctx context.Context, userID int64, s cg.DigestSchedule, lastEnd time.Time, by string) (DigestRecord, bool, error) {
	var id int64
	err := r.db.Pool.QueryRow(ctx, `INSERT INTO digests (user_id, every, weekday, at_minute, last_period_end, created_by)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (user_id, every, weekday, at_minute) DO NOTHING RETURNING id`,
		userID, s.Every, int16(s.Weekday), int16(s.Minute), lastEnd, by).Scan(&id)
	created := err == nil
	if errors.Is(err, pgx.ErrNoRows) {
		err = r.db.Pool.QueryRow(ctx, `SELECT id FROM digests WHERE user_id = $1 AND every = $2 AND weekday = $3 AND at_minute = $4`,
			userID, s.Every, int16(s.Weekday), int16(s.Minute)).Scan(&id)
	}
	if err != nil {
		return DigestRecord{}, false, fmt.Errorf("store digest %s of user %d: %w", s, userID, err)
	}
	d, err := r.Get(ctx, id)
	return d, created, err
}

// Get returns one digest. Returns cg.ENOTFOUND if there is none.
func (r Digests) Get(ctx context.Context, id int64) (DigestRecord, error) {
	d, err := scanDigest(r.db.Pool.QueryRow(ctx, "SELECT "+digestColumns+" FROM digests g JOIN users u ON u.id = g.user_id WHERE g.id = $1", id))
	if errors.Is(err, pgx.ErrNoRows) {
		return d, cg.Errorf(cg.ENOTFOUND, "no digest %d", id)
	}
	if err != nil {
		return d, fmt.Errorf("read digest %d: %w", id, err)
	}
	return d, nil
}

// List returns a user's digests (every user's when userID is 0), oldest first.
func (r Digests) List(ctx context.Context, userID int64) ([]DigestRecord, error) {
	rows, err := r.db.Pool.Query(ctx, "SELECT "+digestColumns+` FROM digests g JOIN users u ON u.id = g.user_id
		WHERE $1 = 0 OR g.user_id = $1 ORDER BY g.id`, userID)
	if err != nil {
		return nil, fmt.Errorf("list digests: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (DigestRecord, error) { return scanDigest(row) })
}

// Remove deletes a user's digest and reports whether there was one.
func (r Digests) Remove(ctx context.Context, userID, id int64) (bool, error) {
	tag, err := r.db.Pool.Exec(ctx, "DELETE FROM digests WHERE id = $1 AND user_id = $2", id, userID)
	if err != nil {
		return false, fmt.Errorf("remove digest %d: %w", id, err)
	}
	return tag.RowsAffected() == 1, nil
}

// RemoveAll deletes all of a user's digests and returns how many there were.
func (r Digests) RemoveAll(ctx context.Context, userID int64) (int64, error) {
	tag, err := r.db.Pool.Exec(ctx, "DELETE FROM digests WHERE user_id = $1", userID)
	if err != nil {
		return 0, fmt.Errorf("remove digests of user %d: %w", userID, err)
	}
	return tag.RowsAffected(), nil
}

// TimeZone returns a user's time zone.
func (r Digests) TimeZone(ctx context.Context, userID int64) (string, error) {
	var tz string
	if err := r.db.Pool.QueryRow(ctx, "SELECT time_zone FROM users WHERE id = $1", userID).Scan(&tz); err != nil {
		return "", fmt.Errorf("read time zone of user %d: %w", userID, err)
	}
	return tz, nil
}

// SetTimeZone sets a user's time zone and, in the same transaction, moves each of its
// digests' last period end to at least latestEnd(schedule) in the new zone, so that a
// period the change skips over is not posted late.
func (r Digests) SetTimeZone(ctx context.Context, userID int64, tz string, latestEnd func(cg.DigestSchedule) time.Time) error {
	return pgx.BeginFunc(ctx, r.db.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "UPDATE users SET time_zone = $2, updated_at = now() WHERE id = $1", userID, tz); err != nil {
			return fmt.Errorf("set time zone of user %d: %w", userID, err)
		}
		rows, err := tx.Query(ctx, "SELECT "+digestColumns+" FROM digests g JOIN users u ON u.id = g.user_id WHERE g.user_id = $1 FOR UPDATE OF g", userID)
		if err != nil {
			return err
		}
		all, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (DigestRecord, error) { return scanDigest(row) })
		if err != nil {
			return fmt.Errorf("read digests of user %d: %w", userID, err)
		}
		for _, d := range all {
			if _, err := tx.Exec(ctx, "UPDATE digests SET last_period_end = greatest(last_period_end, $2) WHERE id = $1",
				d.ID, latestEnd(d.Schedule)); err != nil {
				return fmt.Errorf("move digest %d to the new time zone: %w", d.ID, err)
			}
		}
		return nil
	})
}

// Claim takes (digest id, period end) for this replica and reports whether it did: only
// when the period is not done yet and nobody holds it, or the one who holds it claimed it
// before staleBefore (it died mid-post).
func (r Digests) Claim(ctx context.Context, id int64, end, now, staleBefore time.Time) (bool, error) {
	tag, err := r.db.Pool.Exec(ctx, `UPDATE digests SET claimed_end = $2, claimed_at = $3
		WHERE id = $1 AND last_period_end < $2
		AND (claimed_end IS NULL OR claimed_end < $2 OR claimed_at < $4)`, id, end, now, staleBefore)
	if err != nil {
		return false, fmt.Errorf("claim digest %d for %s: %w", id, end.Format(time.RFC3339), err)
	}
	return tag.RowsAffected() == 1, nil
}

// Done records that the period ending at end is done (posted, or without runs) and drops
// the claim.
func (r Digests) Done(ctx context.Context, id int64, end time.Time) error {
	if _, err := r.db.Pool.Exec(ctx, `UPDATE digests SET last_period_end = greatest(last_period_end, $2),
		claimed_end = NULL, claimed_at = NULL WHERE id = $1`, id, end); err != nil {
		return fmt.Errorf("mark digest %d done for %s: %w", id, end.Format(time.RFC3339), err)
	}
	return nil
}

// Release drops the claim on the period ending at end, so that the next pass tries again.
func (r Digests) Release(ctx context.Context, id int64, end time.Time) error {
	if _, err := r.db.Pool.Exec(ctx, `UPDATE digests SET claimed_end = NULL, claimed_at = NULL
		WHERE id = $1 AND claimed_end = $2`, id, end); err != nil {
		return fmt.Errorf("release digest %d: %w", id, err)
	}
	return nil
}

// PeriodRun is one recorded run, as a digest reads it.
type PeriodRun struct {
	ID           int64
	Kind         cg.Kind
	Table        string
	Design       string
	Platform     string
	RunID        string
	Stage        string
	DashboardURL string
	Figures      []cg.Figure
	Broken       []cg.BrokenRule
	At           time.Time
}

const periodRunColumns = "id, kind, table_name, design, platform, run_id, stage, dashboard_url, figures, rules_broken, created_at"

func scanPeriodRun(row pgx.CollectableRow) (PeriodRun, error) {
	var p PeriodRun
	var kind string
	var figures, broken []byte
	if err := row.Scan(&p.ID, &kind, &p.Table, &p.Design, &p.Platform, &p.RunID, &p.Stage, &p.DashboardURL, &figures, &broken, &p.At); err != nil {
		return p, err
	}
	p.Kind = cg.Kind(kind)
	if err := json.Unmarshal(figures, &p.Figures); err != nil {
		return p, fmt.Errorf("read figures of dashboard %d: %w", p.ID, err)
	}
	if err := json.Unmarshal(broken, &p.Broken); err != nil {
		return p, fmt.Errorf("read broken rules of dashboard %d: %w", p.ID, err)
	}
	return p, nil
}

// PeriodRuns returns a user's runs found in [start, end) whose figures were read (the
// table was not incompatible), oldest first, leaving out muted designs.
func (r Digests) PeriodRuns(ctx context.Context, userID int64, start, end time.Time) ([]PeriodRun, error) {
	rows, err := r.db.Pool.Query(ctx, "SELECT "+periodRunColumns+` FROM dashboards d
		WHERE user_id = $1 AND created_at >= $2 AND created_at < $3 AND jsonb_typeof(figures) = 'array'
		AND NOT EXISTS (SELECT 1 FROM muted_designs m WHERE m.user_id = d.user_id AND m.kind = d.kind AND m.design = d.design)
		ORDER BY created_at, id`, userID, start, end)
	if err != nil {
		return nil, fmt.Errorf("read runs of user %d from %s: %w", userID, start.Format(time.RFC3339), err)
	}
	return pgx.CollectRows(rows, scanPeriodRun)
}

// RecentRuns returns the last n runs with figures of one design (user, kind, design,
// platform) found before end, oldest first.
func (r Digests) RecentRuns(ctx context.Context, userID int64, kind cg.Kind, design, platform string, end time.Time, n int) ([]PeriodRun, error) {
	rows, err := r.db.Pool.Query(ctx, "SELECT "+periodRunColumns+` FROM (SELECT * FROM dashboards
		WHERE user_id = $1 AND kind = $2 AND design = $3 AND platform = $4 AND created_at < $5 AND jsonb_typeof(figures) = 'array'
		ORDER BY created_at DESC, id DESC LIMIT $6) d ORDER BY created_at, id`, userID, string(kind), design, platform, end, n)
	if err != nil {
		return nil, fmt.Errorf("read recent runs of %s: %w", design, err)
	}
	return pgx.CollectRows(rows, scanPeriodRun)
}
