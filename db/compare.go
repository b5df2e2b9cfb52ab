package db

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"credential-grafana/cg"
)

// RecordedRun is a run-table record with what the pipeline recorded of its run
// (MarkCreated): the figures come from the record, never from a new read of the table.
type RecordedRun struct {
	cg.Dashboard
	RunFacts
	// HasFigures says the pipeline has recorded the run's figures (a record still
	// pending, or incompatible, has none).
	HasFigures bool
}

const recordedRunColumns = dashboardColumns + `, design, platform, run_id, stage, figures`

func scanRecordedRun(row pgx.Row) (RecordedRun, error) {
	var r RecordedRun
	var figures []byte
	var kind, state string
	d := &r.Dashboard
	err := row.Scan(&d.ID, &d.UserID, &kind, &d.TableName, &d.UID, &d.URL, &d.LocalSnapshotURL, &state,
		&d.Step, &d.LastError, &d.Reason, &d.SlackFileID, &d.SlackCompletedAt, &d.PostingStartedAt, &d.SlackSentAt, &d.CreatedAt, &d.UpdatedAt,
		&r.Design, &r.Platform, &r.RunID, &r.Stage, &figures)
	if err != nil {
		return r, err
	}
	d.Kind, d.State = cg.Kind(kind), cg.DashboardState(state)
	if len(figures) > 0 && figures[0] == '[' {
		if err := json.Unmarshal(figures, &r.Figures); err != nil {
			return r, fmt.Errorf("read figures of dashboard %d: %w", d.ID, err)
		}
		r.HasFigures = true
	}
	return r, nil
}

// RunsNamed returns the records of run tables named table among the given users' (any
// kind), oldest first; no users, no records.
func (r Dashboards) RunsNamed(ctx context.Context, userIDs []int64, table string) ([]RecordedRun, error) {
	rows, err := r.db.Pool.Query(ctx, "SELECT "+recordedRunColumns+` FROM dashboards
		WHERE user_id = ANY($1) AND table_name = $2 ORDER BY id`, userIDs, table)
	if err != nil {
		return nil, fmt.Errorf("find run table %q: %w", table, err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (RecordedRun, error) { return scanRecordedRun(row) })
}

// RecordedRunByID returns one record with its run. Returns cg.ENOTFOUND if there is none.
func (r Dashboards) RecordedRunByID(ctx context.Context, id int64) (RecordedRun, error) {
	run, err := scanRecordedRun(r.db.Pool.QueryRow(ctx, "SELECT "+recordedRunColumns+" FROM dashboards WHERE id = $1", id))
	if errors.Is(err, pgx.ErrNoRows) {
		return run, cg.Errorf(cg.ENOTFOUND, "no dashboard %d", id)
	}
	if err != nil {
		return run, fmt.Errorf("read dashboard %d: %w", id, err)
	}
	return run, nil
}

// OtherRuns returns up to limit other recorded runs (with figures) of d's design, in the
// same user database, newest first: those recorded before d first, then later ones.
func (r Dashboards) OtherRuns(ctx context.Context, d RecordedRun, limit int) ([]RecordedRun, error) {
	rows, err := r.db.Pool.Query(ctx, "SELECT "+recordedRunColumns+` FROM dashboards
		WHERE user_id = $1 AND kind = $2 AND design = $3 AND id <> $4 AND jsonb_typeof(figures) = 'array'
		ORDER BY (id > $4), id DESC LIMIT $5`, d.UserID, string(d.Kind), d.Design, d.ID, limit)
	if err != nil {
		return nil, fmt.Errorf("list the other runs of %s: %w", d.Design, err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (RecordedRun, error) { return scanRecordedRun(row) })
}
