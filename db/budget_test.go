package db_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"

	"credential-grafana/db"
	"credential-grafana/db/dbtest"
)

// A role at its CONNECTION LIMIT gets the same SQLSTATE 53300 as a full server ("sorry,
// too many clients already"), without filling the shared test server.
func TestConnectWaitsWhileTheServerIsFull(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	role := dbtest.UniqueName("cgfull_")
	admin := dbtest.Connect(t, "postgres")
	if _, err := admin.Exec(ctx, "CREATE ROLE "+role+" LOGIN CONNECTION LIMIT 1"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dbtest.DropRole(t, role) })
	cfg, err := pgx.ParseConfig(dbtest.URLFor("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.User = role
	held, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pgx.ConnectConfig(ctx, cfg); !db.IsServerFull(err) {
		t.Fatalf("a second connection at the limit: %v, want SQLSTATE 53300", err)
	}
	go func() {
		time.Sleep(300 * time.Millisecond)
		held.Close(ctx)
	}()
	conn, err := db.Connect(ctx, cfg, zerolog.Nop())
	if err != nil {
		t.Fatalf("connect while full, until a slot frees: %v", err)
	}
	conn.Close(ctx)
}

func TestOneOffConnectionsWaitForTheirShareOfTheBudget(t *testing.T) {
	t.Parallel()
	name, url := dbtest.NewDatabase(t)
	ctx := context.Background()
	d, err := db.Open(ctx, db.Config{URL: url, MaxConns: 1, SideConns: 1, ApplicationName: "cgbudgettest"})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	first, err := d.ConnectTo(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	var app string
	if err := first.QueryRow(ctx, "SELECT current_setting('application_name')").Scan(&app); err != nil || app != "cgbudgettest provision" {
		t.Fatalf("application_name %q %v", app, err)
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if _, err := d.ConnectTo(short, name); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a second one-off connection over a share of 1: %v", err)
	}
	first.Close(ctx)
	second, err := d.ConnectTo(ctx, name)
	if err != nil {
		t.Fatalf("after the first closed: %v", err)
	}
	second.Close(ctx)
}
