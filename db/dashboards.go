package db

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"credential-grafana/cg"
)

// Dashboards is the repository of run-table records: one per table found, carrying the
// pipeline's state (dashboard, GIF, Slack post) so that a restart resumes where it was.
type Dashboards struct{ db *DB }

// Dashboards returns the dashboards repository.
func (d *DB) Dashboards() Dashboards { return Dashboards{d} }

const dashboardColumns = `id, user_id, kind, table_name, dashboard_uid, dashboard_url, local_snapshot_url, state,
	step, last_error, reason, slack_file_id, slack_completed_at, posting_started_at, slack_sent_at, created_at, updated_at`

func scanDashboard(row pgx.Row) (cg.Dashboard, error) {
	var d cg.Dashboard
	var kind, state string
	err := row.Scan(&d.ID, &d.UserID, &kind, &d.TableName, &d.UID, &d.URL, &d.LocalSnapshotURL, &state,
		&d.Step, &d.LastError, &d.Reason, &d.SlackFileID, &d.SlackCompletedAt, &d.PostingStartedAt, &d.SlackSentAt, &d.CreatedAt, &d.UpdatedAt)
	d.Kind, d.State = cg.Kind(kind), cg.DashboardState(state)
	return d, err
}

// Known returns, per kind, the names of the user's tables that are already recorded.
func (r Dashboards) Known(ctx context.Context, userID int64) (map[cg.Kind][]string, error) {
	rows, err := r.db.Pool.Query(ctx, "SELECT kind, table_name FROM dashboards WHERE user_id = $1", userID)
	if err != nil {
		return nil, fmt.Errorf("list recorded tables of user %d: %w", userID, err)
	}
	defer rows.Close()
	out := map[cg.Kind][]string{}
	for rows.Next() {
		var kind, table string
		if err := rows.Scan(&kind, &table); err != nil {
			return nil, err
		}
		out[cg.Kind(kind)] = append(out[cg.Kind(kind)], table)
	}
	return out, rows.Err()
}

// Record adds a newly found table in the given state (pending, or incompatible with its
// reason), inside tx so that the job that follows it is enqueued atomically with it. It
// reports whether the record is new: a table recorded before (by another replica, or an
// earlier scan) is left as it is.
func (r Dashboards) Record(ctx context.Context, tx pgx.Tx, d cg.Dashboard) (cg.Dashboard, bool, error) {
	out, err := scanDashboard(tx.QueryRow(ctx, `
		INSERT INTO dashboards (user_id, kind, table_name, dashboard_uid, state, reason)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (user_id, kind, table_name) DO NOTHING
		RETURNING `+dashboardColumns, d.UserID, string(d.Kind), d.TableName, d.UID, string(d.State), d.Reason))
	if errors.Is(err, pgx.ErrNoRows) {
		return cg.Dashboard{}, false, nil
	}
	if err != nil {
		return cg.Dashboard{}, false, fmt.Errorf("record table %q: %w", d.TableName, err)
	}
	return out, true, nil
}

// Get returns one record. Returns cg.ENOTFOUND if there is none.
func (r Dashboards) Get(ctx context.Context, id int64) (cg.Dashboard, error) {
	return r.one(ctx, "id = $1", id)
}

// ByUID returns the record of a dashboard UID. Returns cg.ENOTFOUND if there is none.
func (r Dashboards) ByUID(ctx context.Context, uid string) (cg.Dashboard, error) {
	return r.one(ctx, "dashboard_uid = $1", uid)
}

func (r Dashboards) one(ctx context.Context, where string, arg any) (cg.Dashboard, error) {
	d, err := scanDashboard(r.db.Pool.QueryRow(ctx, "SELECT "+dashboardColumns+" FROM dashboards WHERE "+where, arg))
	if errors.Is(err, pgx.ErrNoRows) {
		return d, cg.Errorf(cg.ENOTFOUND, "no dashboard %v", arg)
	}
	if err != nil {
		return d, fmt.Errorf("read dashboard: %w", err)
	}
	return d, nil
}

// List returns a user's records, newest first; kind "" means every kind.
func (r Dashboards) List(ctx context.Context, userID int64, kind cg.Kind, limit int) ([]cg.Dashboard, error) {
	rows, err := r.db.Pool.Query(ctx, "SELECT "+dashboardColumns+` FROM dashboards
		WHERE user_id = $1 AND ($2 = '' OR kind = $2) ORDER BY id DESC LIMIT $3`, userID, string(kind), limit)
	if err != nil {
		return nil, fmt.Errorf("list dashboards of user %d: %w", userID, err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (cg.Dashboard, error) { return scanDashboard(row) })
}

// Page returns at most limit of a user's records with an id below beforeID (0: from the
// newest), newest first; kind "" means every kind. Keyset pagination on the primary key,
// so a page costs the same at any depth.
func (r Dashboards) Page(ctx context.Context, userID int64, kind cg.Kind, beforeID int64, limit int) ([]cg.Dashboard, error) {
	rows, err := r.db.Pool.Query(ctx, "SELECT "+dashboardColumns+` FROM dashboards
		WHERE user_id = $1 AND ($2 = '' OR kind = $2) AND ($3 = 0 OR id < $3) ORDER BY id DESC LIMIT $4`,
		userID, string(kind), beforeID, limit)
	if err != nil {
		return nil, fmt.Errorf("list dashboards of user %d before id %d: %w", userID, beforeID, err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (cg.Dashboard, error) { return scanDashboard(row) })
}

// Count counts a user's records of kind ("" for every kind), and those of them with an
// id below beforeID.
func (r Dashboards) Count(ctx context.Context, userID int64, kind cg.Kind, beforeID int64) (total, before int, err error) {
	err = r.db.Pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE id < $3) FROM dashboards
		WHERE user_id = $1 AND ($2 = '' OR kind = $2)`, userID, string(kind), beforeID).Scan(&total, &before)
	if err != nil {
		return 0, 0, fmt.Errorf("count dashboards of user %d: %w", userID, err)
	}
	return total, before, nil
}

// CountByState counts records per state, for status and metrics.
func (r Dashboards) CountByState(ctx context.Context) (map[cg.DashboardState]int, error) {
	rows, err := r.db.Pool.Query(ctx, "SELECT state, count(*) FROM dashboards GROUP BY state")
	if err != nil {
		return nil, err
	}
	return collectStateCounts(rows)
}

// CountByStateOf counts the records of the given users per state; no users, no counts.
func (r Dashboards) CountByStateOf(ctx context.Context, userIDs []int64) (map[cg.DashboardState]int, error) {
	rows, err := r.db.Pool.Query(ctx, "SELECT state, count(*) FROM dashboards WHERE user_id = ANY($1) GROUP BY state", userIDs)
	if err != nil {
		return nil, fmt.Errorf("count dashboards of %d users: %w", len(userIDs), err)
	}
	return collectStateCounts(rows)
}

func collectStateCounts(rows pgx.Rows) (map[cg.DashboardState]int, error) {
	defer rows.Close()
	out := map[cg.DashboardState]int{}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return nil, err
		}
		out[cg.DashboardState(s)] = n
	}
	return out, rows.Err()
}

func (r Dashboards) exec(ctx context.Context, what string, sql string, args ...any) error {
	if _, err := r.db.Pool.Exec(ctx, sql, args...); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// DBTX is what the pipeline's writes run on: the pool, or a transaction that also
// enqueues the next job.
type DBTX interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// RunFacts is what the pipeline read from a run table: who ran it, and its key figures
// at Stage.
type RunFacts struct {
	Design, Platform, RunID string
	Stage                   string
	Figures                 []cg.Figure
}

// MarkCreated records, in q, that Grafana has the dashboard at url under uid, with
// what the table says about its run.
func (r Dashboards) MarkCreated(ctx context.Context, q DBTX, id int64, url, uid string, f RunFacts) error {
	figures, err := json.Marshal(f.Figures)
	if err != nil {
		return err
	}
	if _, err := q.Exec(ctx, `UPDATE dashboards SET dashboard_url = $2, dashboard_uid = $3, step = 'dashboard',
		state = 'created', last_error = '', design = $4, platform = $5, run_id = $6, stage = $7, figures = $8,
		updated_at = now() WHERE id = $1`, id, url, uid, f.Design, f.Platform, f.RunID, f.Stage, figures); err != nil {
		return fmt.Errorf("mark dashboard %d created: %w", id, err)
	}
	return nil
}

// MarkCaptured records, in q, the GIF's path.
func (r Dashboards) MarkCaptured(ctx context.Context, q DBTX, id int64, path string) error {
	if _, err := q.Exec(ctx, `UPDATE dashboards SET local_snapshot_url = $2, step = 'capture', state = 'captured',
		last_error = '', updated_at = now() WHERE id = $1`, id, path); err != nil {
		return fmt.Errorf("mark dashboard %d captured: %w", id, err)
	}
	return nil
}

// Reset sets a posted (or failed) dashboard back to "created" for a recapture, in q, and
// returns its new generation.
func (r Dashboards) Reset(ctx context.Context, q DBTX, id int64) (int, error) {
	var gen int
	err := q.QueryRow(ctx, `UPDATE dashboards SET state = 'created', generation = generation + 1,
		slack_sent_at = NULL, posting_started_at = NULL, slack_file_id = '', slack_completed_at = NULL, last_error = '', attempts = 0, updated_at = now()
		WHERE id = $1 RETURNING generation`, id).Scan(&gen)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, cg.Errorf(cg.ENOTFOUND, "no dashboard %d", id)
	}
	if err != nil {
		return 0, fmt.Errorf("reset dashboard %d: %w", id, err)
	}
	return gen, nil
}

// Facts returns what MarkCreated recorded of a dashboard's run.
func (r Dashboards) Facts(ctx context.Context, id int64) (RunFacts, error) {
	var f RunFacts
	var figures []byte
	if err := r.db.Pool.QueryRow(ctx, "SELECT design, platform, run_id, stage, figures FROM dashboards WHERE id = $1", id).
		Scan(&f.Design, &f.Platform, &f.RunID, &f.Stage, &figures); err != nil {
		return f, fmt.Errorf("read run of dashboard %d: %w", id, err)
	}
	if err := json.Unmarshal(figures, &f.Figures); err != nil {
		return f, fmt.Errorf("read figures of dashboard %d: %w", id, err)
	}
	return f, nil
}

// Previous returns the table and figures of the latest earlier run of the same design
// in the same user database as d, if there is one.
func (r Dashboards) Previous(ctx context.Context, d cg.Dashboard, design string) (string, []cg.Figure, bool, error) {
	var table string
	var figures []byte
	err := r.db.Pool.QueryRow(ctx, `SELECT table_name, figures FROM dashboards
		WHERE user_id = $1 AND kind = $2 AND design = $3 AND id < $4 AND jsonb_typeof(figures) = 'array'
		ORDER BY id DESC LIMIT 1`, d.UserID, string(d.Kind), design, d.ID).Scan(&table, &figures)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil, false, nil
	}
	if err != nil {
		return "", nil, false, fmt.Errorf("read the previous run of %s: %w", design, err)
	}
	var out []cg.Figure
	if err := json.Unmarshal(figures, &out); err != nil {
		return "", nil, false, err
	}
	return table, out, true, nil
}

// RunPoint is one recorded run of a design, as the master database's dashboards table
// keeps it: what trends, digests and comparisons read.
type RunPoint struct {
	DashboardID  int64
	Table        string
	Platform     string
	RunID        string
	Stage        string
	DashboardUID string
	DashboardURL string
	// CreatedAt is when the service found the table.
	CreatedAt time.Time
	Figures   []cg.Figure
}

// History returns the last n runs of design in userID's database of kind, oldest first,
// that were found up to the record throughID (0: up to the newest), that one included:
// the records whose figures were read (MarkCreated), in the order the service found
// their tables, as Previous orders them. n <= 0 returns every one.
func (r Dashboards) History(ctx context.Context, userID int64, kind cg.Kind, design string, throughID int64, n int) ([]RunPoint, error) {
	limit := any(nil)
	if n > 0 {
		limit = n
	}
	rows, err := r.db.Pool.Query(ctx, `SELECT * FROM (
			SELECT id, table_name, platform, run_id, stage, dashboard_uid, dashboard_url, created_at, figures FROM dashboards
			WHERE user_id = $1 AND kind = $2 AND design = $3 AND ($4 = 0 OR id <= $4) AND jsonb_typeof(figures) = 'array'
			ORDER BY id DESC LIMIT $5) last
		ORDER BY id`, userID, string(kind), design, throughID, limit)
	if err != nil {
		return nil, fmt.Errorf("read the run history of %s: %w", design, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (RunPoint, error) {
		var p RunPoint
		var figures []byte
		if err := row.Scan(&p.DashboardID, &p.Table, &p.Platform, &p.RunID, &p.Stage, &p.DashboardUID, &p.DashboardURL, &p.CreatedAt, &figures); err != nil {
			return p, err
		}
		return p, json.Unmarshal(figures, &p.Figures)
	})
	if err != nil {
		return nil, fmt.Errorf("read the run history of %s: %w", design, err)
	}
	return out, nil
}

// FigureRange is the lowest and highest value one figure took over a design's runs, in
// Unit (a design whose runs changed time unit has one range per unit).
type FigureRange struct {
	Name, Unit string
	Min, Max   float64
}

// Ranges returns, per figure name and unit, the lowest and highest value over every run
// of design in userID's database of kind found up to the record throughID (0: the
// newest), that one included: the best so far is one end, by the figure's
// HigherIsBetter.
func (r Dashboards) Ranges(ctx context.Context, userID int64, kind cg.Kind, design string, throughID int64) ([]FigureRange, error) {
	rows, err := r.db.Pool.Query(ctx, `SELECT f->>'name', coalesce(f->>'unit', ''), min((f->>'value')::float8), max((f->>'value')::float8)
		FROM dashboards, jsonb_array_elements(figures) f
		WHERE user_id = $1 AND kind = $2 AND design = $3 AND ($4 = 0 OR id <= $4) AND jsonb_typeof(figures) = 'array'
		  AND jsonb_typeof(f->'value') = 'number'
		GROUP BY 1, 2 ORDER BY 1, 2`, userID, string(kind), design, throughID)
	if err != nil {
		return nil, fmt.Errorf("read the best figures of %s: %w", design, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (FigureRange, error) {
		var f FigureRange
		err := row.Scan(&f.Name, &f.Unit, &f.Min, &f.Max)
		return f, err
	})
	if err != nil {
		return nil, fmt.Errorf("read the best figures of %s: %w", design, err)
	}
	return out, nil
}

// HistoryToBackfill returns, per user and kind not yet marked backfilled
// (MarkBackfilled), the records whose figures were read: the runs recorded before the
// service wrote a history row with each.
func (r Dashboards) HistoryToBackfill(ctx context.Context) (map[int64]map[cg.Kind][]RecordedRun, error) {
	rows, err := r.db.Pool.Query(ctx, "SELECT "+recordedRunColumns+` FROM dashboards d
		WHERE jsonb_typeof(figures) = 'array'
		  AND NOT EXISTS (SELECT 1 FROM history_backfilled b WHERE b.user_id = d.user_id AND b.kind = d.kind)
		ORDER BY user_id, kind, id`)
	if err != nil {
		return nil, fmt.Errorf("list the runs to backfill into the run history: %w", err)
	}
	defer rows.Close()
	out := map[int64]map[cg.Kind][]RecordedRun{}
	for rows.Next() {
		run, err := scanRecordedRun(rows)
		if err != nil {
			return nil, fmt.Errorf("list the runs to backfill into the run history: %w", err)
		}
		if out[run.UserID] == nil {
			out[run.UserID] = map[cg.Kind][]RecordedRun{}
		}
		out[run.UserID][run.Kind] = append(out[run.UserID][run.Kind], run)
	}
	return out, rows.Err()
}

// MarkBackfilled records that the run history of userID's database of kind holds the
// rows of its earlier runs (runs of them), so that the backfill never runs there again.
func (r Dashboards) MarkBackfilled(ctx context.Context, userID int64, kind cg.Kind, runs int) error {
	return r.exec(ctx, "mark the run history backfilled", `INSERT INTO history_backfilled (user_id, kind, runs) VALUES ($1, $2, $3)
		ON CONFLICT (user_id, kind) DO NOTHING`, userID, string(kind), runs)
}

// MarkBackfilledWithoutRuns marks backfilled every user and kind that has no record
// with figures: there is nothing to backfill there, and every run found from now on
// writes its own history row.
func (r Dashboards) MarkBackfilledWithoutRuns(ctx context.Context) error {
	return r.exec(ctx, "mark the empty run histories backfilled", `INSERT INTO history_backfilled (user_id, kind, runs)
		SELECT u.id, k.kind, 0 FROM users u CROSS JOIN (VALUES ('TIMING'), ('QOR'), ('DRC')) k (kind)
		WHERE NOT EXISTS (SELECT 1 FROM dashboards d WHERE d.user_id = u.id AND d.kind = k.kind AND jsonb_typeof(d.figures) = 'array')
		ON CONFLICT (user_id, kind) DO NOTHING`)
}

// BeginPosting moves a captured (or failed) record to "posting", stamped with the time
// and channel, and reports whether it did. A record found already "posting" was left by
// a process that stopped mid-post. Either way the record's slack_file_id, when set, is
// the upload to go on with (RecordUpload), never a new one. Posted and muted records are
// refused.
func (r Dashboards) BeginPosting(ctx context.Context, id int64, channel string) (cg.Dashboard, bool, error) {
	d, err := scanDashboard(r.db.Pool.QueryRow(ctx, `UPDATE dashboards
		SET state = 'posting', step = 'post', posting_started_at = now(), slack_channel_id = $2, updated_at = now()
		WHERE id = $1 AND state IN ('captured', 'failed') AND slack_sent_at IS NULL
		RETURNING `+dashboardColumns, id, channel))
	if errors.Is(err, pgx.ErrNoRows) {
		d, err = r.Get(ctx, id)
		return d, false, err
	}
	return d, err == nil, err
}

// RecordUpload records the Slack file ID of a post's upload, before the upload is
// completed (shared): from then on, whatever happens, the post goes on with this file.
// It clears slack_completed_at, for a new upload that replaces one Slack lost.
func (r Dashboards) RecordUpload(ctx context.Context, id int64, fileID string) error {
	return r.exec(ctx, "record the slack upload", `UPDATE dashboards SET slack_file_id = $2, slack_completed_at = NULL,
		updated_at = now() WHERE id = $1`, id, fileID)
}

// MarkUploadCompleted records that Slack accepted the completion of the recorded upload:
// its share is then only waited for, never asked for again.
func (r Dashboards) MarkUploadCompleted(ctx context.Context, id int64) error {
	return r.exec(ctx, "record the slack upload completed", `UPDATE dashboards SET slack_completed_at = now(),
		updated_at = now() WHERE id = $1`, id)
}

// MarkPosted records the post: the Slack file and the time.
func (r Dashboards) MarkPosted(ctx context.Context, id int64, fileID string, at time.Time) error {
	return r.exec(ctx, "mark dashboard posted", `UPDATE dashboards SET state = 'posted', step = 'post', slack_file_id = $2,
		slack_sent_at = $3, last_error = '', updated_at = now() WHERE id = $1`, id, fileID, at)
}

// MarkError records a step's error without changing the state, for a retry to come.
func (r Dashboards) MarkError(ctx context.Context, id int64, step, msg string) error {
	return r.exec(ctx, "record dashboard error", `UPDATE dashboards SET step = $2, last_error = $3, attempts = attempts + 1,
		updated_at = now() WHERE id = $1`, id, step, msg)
}

// MarkFailed records that a step gave up: the record waits for a person (recapture).
func (r Dashboards) MarkFailed(ctx context.Context, id int64, step, msg string) error {
	return r.exec(ctx, "mark dashboard failed", `UPDATE dashboards SET state = 'failed', step = $2, last_error = $3,
		updated_at = now() WHERE id = $1 AND state NOT IN ('posted', 'muted')`, id, step, msg)
}

// SetState forces a record's state (recapture, mute).
func (r Dashboards) SetState(ctx context.Context, id int64, state cg.DashboardState) error {
	return r.exec(ctx, "set dashboard state", `UPDATE dashboards SET state = $2, updated_at = now() WHERE id = $1`, id, string(state))
}

// Design returns the design a record's table names (empty when it says none).
func (r Dashboards) Design(ctx context.Context, id int64) (string, error) {
	var design string
	err := r.db.Pool.QueryRow(ctx, "SELECT design FROM dashboards WHERE id = $1", id).Scan(&design)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", cg.Errorf(cg.ENOTFOUND, "no dashboard %d", id)
	}
	return design, err
}

// Mute stops posts of a design's further runs.
func (r Dashboards) Mute(ctx context.Context, userID int64, kind cg.Kind, design, by string) error {
	return r.exec(ctx, "mute design", `INSERT INTO muted_designs (user_id, kind, design, muted_by) VALUES ($1, $2, $3, $4)
		ON CONFLICT DO NOTHING`, userID, string(kind), design, by)
}

// Unmute undoes Mute.
func (r Dashboards) Unmute(ctx context.Context, userID int64, kind cg.Kind, design string) error {
	return r.exec(ctx, "unmute design", "DELETE FROM muted_designs WHERE user_id = $1 AND kind = $2 AND design = $3", userID, string(kind), design)
}

// Muted reports whether a design's posts are muted.
func (r Dashboards) Muted(ctx context.Context, userID int64, kind cg.Kind, design string) (bool, error) {
	var muted bool
	err := r.db.Pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM muted_designs WHERE user_id = $1 AND kind = $2 AND design = $3)",
		userID, string(kind), design).Scan(&muted)
	return muted, err
}

// Failed returns the newest failed records.
func (r Dashboards) Failed(ctx context.Context, limit int) ([]cg.Dashboard, error) {
	rows, err := r.db.Pool.Query(ctx, "SELECT "+dashboardColumns+" FROM dashboards WHERE state = 'failed' ORDER BY updated_at DESC LIMIT $1", limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (cg.Dashboard, error) { return scanDashboard(row) })
}

// FailedOf returns the newest failed records of the given users; no users, no records.
func (r Dashboards) FailedOf(ctx context.Context, userIDs []int64, limit int) ([]cg.Dashboard, error) {
	rows, err := r.db.Pool.Query(ctx, "SELECT "+dashboardColumns+` FROM dashboards
		WHERE state = 'failed' AND user_id = ANY($1) ORDER BY updated_at DESC LIMIT $2`, userIDs, limit)
	if err != nil {
		return nil, fmt.Errorf("list failed dashboards of %d users: %w", len(userIDs), err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (cg.Dashboard, error) { return scanDashboard(row) })
}

// QueueDepth counts the pipeline's jobs waiting or running (River's table).
func (d *DB) QueueDepth(ctx context.Context) (int, error) {
	var n int
	err := d.Pool.QueryRow(ctx, `SELECT count(*) FROM river_job
		WHERE state IN ('available', 'running', 'retryable', 'scheduled', 'pending')`).Scan(&n)
	return n, err
}

// UserJobs returns the ids of the pipeline jobs of userID's dashboards that are waiting
// or running, for cancelling them when the user is disabled or removed.
func (d *DB) UserJobs(ctx context.Context, userID int64) ([]int64, error) {
	rows, err := d.Pool.Query(ctx, `SELECT j.id FROM river_job j
		WHERE j.state IN ('available', 'running', 'retryable', 'scheduled', 'pending')
		  AND j.args ? 'dashboard_id'
		  AND (j.args->>'dashboard_id')::bigint IN (SELECT id FROM dashboards WHERE user_id = $1)
		ORDER BY j.id`, userID)
	if err != nil {
		return nil, fmt.Errorf("list jobs of user %d: %w", userID, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("list jobs of user %d: %w", userID, err)
	}
	return ids, nil
}
