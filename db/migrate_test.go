package db_test

import (
	"context"
	"sync"
	"testing"

	"credential-grafana/db"
	"credential-grafana/db/dbtest"
)

func TestMigrateIsSafeWhenTwoProcessesStartAtOnce(t *testing.T) {
	t.Parallel()
	_, url := dbtest.NewDatabase(t)
	ctx := context.Background()
	const n = 4
	var wg sync.WaitGroup
	applied := make([][]string, n)
	errs := make([]error, n)
	for i := range n {
		d, err := db.Open(ctx, db.Config{URL: url})
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			applied[i], errs[i] = d.Migrate(ctx)
		}()
	}
	wg.Wait()
	total := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("migrate %d: %v", i, errs[i])
		}
		total += len(applied[i])
	}
	all, err := db.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if total <= len(all) { // ours and River's
		t.Fatalf("%d migrations applied in all, want each of ours (%d) and River's once", total, len(all))
	}
	if again, err := func() ([]string, error) {
		d, _ := db.Open(ctx, db.Config{URL: url})
		defer d.Close()
		return d.Migrate(ctx)
	}(); err != nil || len(again) != 0 {
		t.Fatalf("migrating again applied %v (%v), want nothing", again, err)
	}
	d, _ := db.Open(ctx, db.Config{URL: url})
	defer d.Close()
	var rows int
	if err := d.Pool.QueryRow(ctx, "SELECT count(*) FROM schema_migrations").Scan(&rows); err != nil || rows != len(all) {
		t.Fatalf("schema_migrations has %d rows (%v), want %d", rows, err, len(all))
	}
}

func TestOpenCreatesAMissingMasterDatabase(t *testing.T) {
	t.Parallel()
	name := dbtest.UniqueName("cgmaster_")
	t.Cleanup(func() { dbtest.DropDatabase(t, name) })
	d, err := db.Open(context.Background(), db.Config{URL: dbtest.URLFor(name), CreateDatabase: true})
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	if _, err := db.Open(context.Background(), db.Config{URL: dbtest.URLFor(dbtest.UniqueName("cgnone_"))}); err == nil {
		t.Fatal("Open without CreateDatabase made a database")
	}
}
