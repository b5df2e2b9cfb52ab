package commandstest

import (
	"context"
	"testing"
	"time"

	"credential-grafana/cg"
	"credential-grafana/db"
	"credential-grafana/db/dbtest"
	"credential-grafana/grafana"
)

// RecordRun records run table of user's database of kind as the pipeline leaves a
// posted run: its record in the master database with the figures read (f), and its row
// in the run history (db.HistorySchema.runs, made if needed) of the user's database.
// The user's databases must exist (CreateUser). It returns the record's id.
func (e *Env) RecordRun(t testing.TB, user string, kind cg.Kind, table string, f db.RunFacts) int64 {
	t.Helper()
	return RecordRunIn(t, e.DB, user, kind, table, f)
}

// RecordRunIn is Env.RecordRun over the master database d.
func RecordRunIn(t testing.TB, d *db.DB, user string, kind cg.Kind, table string, f db.RunFacts) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	uid := grafana.DashboardUID(user, kind, table)
	url := "https://grafana.example.com/d/" + uid
	var id int64
	err := d.Pool.QueryRow(ctx, `INSERT INTO dashboards (user_id, kind, table_name, dashboard_uid, state)
		SELECT id, $2, $3, $4, 'pending' FROM users WHERE username = $1 RETURNING id`, user, string(kind), table, uid).Scan(&id)
	if err != nil {
		t.Fatalf("record run %s of %s: %v", table, user, err)
	}
	if err := d.Dashboards().MarkCreated(ctx, d.Pool, id, url, uid, f); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Pool.Exec(ctx, "UPDATE dashboards SET state = 'posted', slack_sent_at = now() WHERE id = $1", id); err != nil {
		t.Fatal(err)
	}
	conn := dbtest.Connect(t, kind.DatabaseName(user))
	if err := db.EnsureHistory(ctx, conn, db.OwnerRole(user), db.ViewerRole(user)); err != nil {
		t.Fatal(err)
	}
	if err := db.RecordRun(ctx, conn, db.RunSummary{Table: table, Kind: kind, Design: f.Design, Platform: f.Platform, RunID: f.RunID,
		Stage: f.Stage, RecordedAt: time.Now(), DashboardUID: uid, DashboardURL: url, Figures: f.Figures}); err != nil {
		t.Fatal(err)
	}
	return id
}
