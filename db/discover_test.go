package db_test

import (
	"context"
	"testing"

	"credential-grafana/db"
	"credential-grafana/db/dbtest"
)

// DiscoverTables names every table of the public schema in order, with the columns of
// the new ones only: a table without columns has an empty list (recorded, not taken
// for known), and partitions, views and other schemas' tables are not run tables.
func TestDiscoverTablesDescribesOnlyTheNewOnes(t *testing.T) {
	t.Parallel()
	name, _ := dbtest.NewDatabase(t)
	dbtest.Exec(t, name, `
		CREATE TABLE b_run (stage text, slack float8);
		CREATE TABLE a_run (stage text);
		CREATE TABLE empty_run ();
		CREATE TABLE parted (stage text) PARTITION BY LIST (stage);
		CREATE TABLE parted_one PARTITION OF parted FOR VALUES IN ('x');
		CREATE VIEW v AS SELECT 1 AS one;
		CREATE SCHEMA other; CREATE TABLE other.hidden (a int);
		COMMENT ON TABLE b_run IS 'run b';`)
	conn := dbtest.Connect(t, name)
	ctx := context.Background()

	all, sent, err := db.DiscoverTables(ctx, conn, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tb := range all {
		names = append(names, tb.Name)
	}
	if got := len(names); got != 4 || names[0] != "a_run" || names[1] != "b_run" || names[2] != "empty_run" || names[3] != "parted" || sent != 2 {
		t.Fatalf("tables %v in %d queries: want a_run, b_run, empty_run, parted in 2", names, sent)
	}
	if c := all[1].Columns; len(c) != 2 || c[0] != (db.Column{Name: "stage", Type: "text"}) || c[1] != (db.Column{Name: "slack", Type: "double precision"}) || all[1].Comment != "run b" {
		t.Fatalf("b_run: %+v", all[1])
	}
	if all[2].Columns == nil || len(all[2].Columns) != 0 {
		t.Fatalf("empty_run columns %#v: want an empty list", all[2].Columns)
	}

	some, sent, err := db.DiscoverTables(ctx, conn, []string{"a_run", "empty_run", "parted"})
	if err != nil {
		t.Fatal(err)
	}
	if len(some) != 4 || some[0].Columns != nil || some[1].Columns == nil || some[2].Columns != nil || sent != 2 {
		t.Fatalf("with three known: %+v in %d queries; want columns for b_run only", some, sent)
	}
	none, sent, err := db.DiscoverTables(ctx, conn, []string{"a_run", "b_run", "empty_run", "parted"})
	if err != nil {
		t.Fatal(err)
	}
	if len(none) != 4 || sent != 1 {
		t.Fatalf("all known: %d tables in %d queries; want 4 in one query", len(none), sent)
	}
	for _, tb := range none {
		if tb.Columns != nil {
			t.Fatalf("known table %s came with columns", tb.Name)
		}
	}
}
