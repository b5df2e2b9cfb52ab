package db_test

import (
	"context"
	"testing"
	"time"

	"credential-grafana/cg"
	"credential-grafana/db"
	"credential-grafana/db/dbtest"
)

// The summary table is the service's: the viewer reads it, the owner cannot write it,
// and a second record of the same table replaces the first.
func TestRunHistory(t *testing.T) {
	ctx := context.Background()
	viewer := dbtest.UniqueName("hist_viewer")
	owner := dbtest.UniqueName("hist_owner")
	dbtest.Exec(t, "postgres", "CREATE ROLE "+viewer+" LOGIN")
	dbtest.Exec(t, "postgres", "CREATE ROLE "+owner+" LOGIN")
	t.Cleanup(func() { dbtest.DropRole(t, viewer); dbtest.DropRole(t, owner) })
	name, _ := dbtest.NewDatabase(t) // dropped before the roles
	dbtest.Exec(t, "postgres", "GRANT CONNECT ON DATABASE "+name+" TO "+viewer+", "+owner)
	conn := dbtest.Connect(t, name)
	for range 2 {
		if err := db.EnsureHistory(ctx, conn, owner, viewer); err != nil {
			t.Fatal(err)
		}
	}
	s := db.RunSummary{Table: "run_1", Kind: cg.KindTiming, Design: "gcd", Platform: "nangate45", RunID: "r1", Stage: "finish",
		RecordedAt: time.Now(), Figures: []cg.Figure{{Name: "WNS", Value: -120, Unit: "ps"}, {Name: "Violating endpoints", Value: 3}}}
	if err := db.RecordRun(ctx, conn, s); err != nil {
		t.Fatal(err)
	}
	s.Figures = []cg.Figure{{Name: "WNS", Value: -0.05, Unit: "ns"}}
	if err := db.RecordRun(ctx, conn, s); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "SET ROLE "+viewer); err != nil {
		t.Fatal(err)
	}
	var wns float64
	var nve *int64
	if err := conn.QueryRow(ctx, "SELECT wns_ns, violating_endpoints FROM cg_history.runs WHERE table_name = 'run_1'").Scan(&wns, &nve); err != nil {
		t.Fatalf("the viewer cannot read the history: %v", err)
	}
	if wns != -0.05 || nve != nil {
		t.Errorf("history row = wns %v, endpoints %v; want the second record's -0.05 and none", wns, nve)
	}
	if _, err := conn.Exec(ctx, "RESET ROLE; SET ROLE "+owner); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "DELETE FROM cg_history.runs"); err == nil {
		t.Error("the owner role could delete from the service's run history")
	}
}
