package db

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"credential-grafana/cg"
)

// HistorySchema is the schema, in each user database, that holds the service's summary
// of every run recorded there (table HistorySchema.runs). It is owned by the service's
// own role: the tenant's owner role cannot write it, the viewer role (Grafana's data
// source) can read it. It is outside the public schema, so the scanner never takes it
// for a run table.
const HistorySchema = "cg_history"

// historyDDL makes the summary table. Figures are in fixed units, whatever the run
// table's: times in ns, area in µm², utilisation in %, power in mW.
const historyDDL = `CREATE TABLE IF NOT EXISTS cg_history.runs (
	table_name          text PRIMARY KEY,
	kind                text NOT NULL CHECK (kind IN ('TIMING', 'QOR', 'DRC')),
	design              text NOT NULL DEFAULT '',
	platform            text NOT NULL DEFAULT '',
	run_id              text NOT NULL DEFAULT '',
	stage               text NOT NULL DEFAULT '',
	recorded_at         timestamptz NOT NULL,
	dashboard_uid       text NOT NULL DEFAULT '',
	dashboard_url       text NOT NULL DEFAULT '',
	wns_ns              double precision,
	tns_ns              double precision,
	violating_endpoints bigint,
	area_um2            double precision,
	utilisation_pct     double precision,
	cells               bigint,
	power_mw            double precision,
	drc_violations      bigint
);
CREATE INDEX IF NOT EXISTS runs_design_idx ON cg_history.runs (design, platform, recorded_at)`

// RunSummary is one row of HistorySchema.runs: a run's key figures as the post shows
// them, with where its dashboard is.
type RunSummary struct {
	Table        string
	Kind         cg.Kind
	Design       string
	Platform     string
	RunID        string
	Stage        string
	RecordedAt   time.Time
	DashboardUID string
	DashboardURL string
	Figures      []cg.Figure
}

// EnsureHistory makes HistorySchema and its table in the database conn is connected to
// (as the service's own role), and lets viewer (and owner, if not "") read it. It is
// idempotent and safe to run from several processes at once.
func EnsureHistory(ctx context.Context, conn *pgx.Conn, owner, viewer string) error {
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		// CREATE SCHEMA IF NOT EXISTS races with itself (a unique violation): one at a time.
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext('credential-grafana history'))"); err != nil {
			return err
		}
		stmts := []string{
			"CREATE SCHEMA IF NOT EXISTS " + HistorySchema,
			"REVOKE ALL ON SCHEMA " + HistorySchema + " FROM PUBLIC",
			historyDDL,
			"REVOKE ALL ON " + HistorySchema + ".runs FROM PUBLIC",
		}
		for _, r := range []string{viewer, owner} {
			if r == "" {
				continue
			}
			stmts = append(stmts,
				"GRANT USAGE ON SCHEMA "+HistorySchema+" TO "+ident(r),
				"GRANT SELECT ON "+HistorySchema+".runs TO "+ident(r))
		}
		for _, s := range stmts {
			if _, err := tx.Exec(ctx, s); err != nil {
				return fmt.Errorf("make the run history in %s: %w", conn.Config().Database, err)
			}
		}
		return nil
	})
}

// historyColumn maps a figure's name to its column and the factor from the figure's
// unit to the column's.
func historyColumn(f cg.Figure) (string, float64, bool) {
	timeFactor := 1.0
	if f.Unit == "ps" {
		timeFactor = 0.001
	}
	switch f.Name {
	case "WNS":
		return "wns_ns", timeFactor, true
	case "TNS":
		return "tns_ns", timeFactor, true
	case "Violating endpoints":
		return "violating_endpoints", 1, true
	case "Area":
		return "area_um2", 1, true
	case "Utilisation":
		return "utilisation_pct", 1, true
	case "Cells":
		return "cells", 1, true
	case "Power":
		return "power_mw", 1, true
	case "DRC violations":
		return "drc_violations", 1, true
	}
	return "", 0, false
}

// RecordRun writes s into HistorySchema.runs over conn, replacing an earlier row of the
// same table (a recapture, a re-created table). Figures the table has no column for
// are left out.
func RecordRun(ctx context.Context, conn *pgx.Conn, s RunSummary) error {
	cols := []string{"table_name", "kind", "design", "platform", "run_id", "stage", "recorded_at", "dashboard_uid", "dashboard_url"}
	args := []any{s.Table, string(s.Kind), s.Design, s.Platform, s.RunID, s.Stage, s.RecordedAt, s.DashboardUID, s.DashboardURL}
	for _, f := range s.Figures {
		col, factor, ok := historyColumn(f)
		if !ok {
			continue
		}
		cols = append(cols, col)
		if col == "violating_endpoints" || col == "cells" || col == "drc_violations" {
			args = append(args, int64(f.Value))
		} else {
			args = append(args, f.Value*factor)
		}
	}
	all := []string{"wns_ns", "tns_ns", "violating_endpoints", "area_um2", "utilisation_pct", "cells", "power_mw", "drc_violations",
		"kind", "design", "platform", "run_id", "stage", "recorded_at", "dashboard_uid", "dashboard_url"}
	sql := "INSERT INTO " + HistorySchema + ".runs ("
	values := ""
	for i, c := range cols {
		if i > 0 {
			sql += ", "
			values += ", "
		}
		sql += c
		values += fmt.Sprintf("$%d", i+1)
	}
	sql += ") VALUES (" + values + ") ON CONFLICT (table_name) DO UPDATE SET "
	for i, c := range all {
		if i > 0 {
			sql += ", "
		}
		sql += c + " = EXCLUDED." + c // a figure the new row lacks becomes NULL
	}
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		return fmt.Errorf("record run %s in the run history of %s: %w", s.Table, conn.Config().Database, err)
	}
	return nil
}
