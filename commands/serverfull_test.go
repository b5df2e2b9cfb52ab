package commands_test

import (
	"context"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"

	"credential-grafana/cg"
	"credential-grafana/commands"
	"credential-grafana/commands/commandstest"
	"credential-grafana/db"
	"credential-grafana/db/dbtest"
)

// A user add started while the server has no free slot waits for one — first for the
// master pool's connection, then for each connection it opens — and, as slots free one
// at a time, makes the whole user. The "server" is the master role at its CONNECTION
// LIMIT: PostgreSQL answers it with the same SQLSTATE 53300 as a full server ("sorry,
// too many clients already"), without filling the shared test server (superusers are
// exempt from the limit, so the master role is an ordinary one with CREATEDB and
// CREATEROLE).
func TestUserAddWaitsWhileTheServerIsFullAndMakesTheWholeUser(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const limit = 3 // what user add holds at once: the pool's, the name lock's, one user database's
	_, master, masterURL := dbtest.LimitedOwner(t, "cgfullmaster_", "CREATEDB CREATEROLE", limit)

	// Migrate first, then fill the role's slots.
	d, err := db.Open(ctx, db.Config{URL: masterURL, MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	d.Close()
	cfg, err := pgx.ParseConfig(masterURL)
	if err != nil {
		t.Fatal(err)
	}
	var held []*pgx.Conn
	for range limit {
		c, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	defer func() {
		for _, c := range held {
			c.Close(ctx)
		}
	}()
	if _, err := pgx.ConnectConfig(ctx, cfg); !db.IsServerFull(err) {
		t.Fatalf("a connection over the limit: %v, want SQLSTATE 53300", err)
	}

	name := dbtest.UniqueName("cgfull_")
	commandstest.DropUserLater(t, name)
	log := &commandstest.SyncBuffer{}
	logger := zerolog.New(log)
	type outcome struct {
		res commands.CreateUserResult
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		// As the CLI's user add: the master pool is opened now, while the server is full.
		d, err := db.Open(ctx, db.Config{URL: masterURL, MaxConns: 1, SideConns: 1, Logger: logger})
		if err != nil {
			done <- outcome{err: err}
			return
		}
		defer d.Close()
		key := make([]byte, 32)
		_, _ = rand.Read(key)
		c, err := db.NewCipher(key)
		if err != nil {
			done <- outcome{err: err}
			return
		}
		s := commands.New(commands.Config{DB: d, Cipher: c, Logger: logger})
		res, err := s.CreateUser(ctx, commands.CLI, commands.CreateUserInput{Username: name})
		done <- outcome{res, err}
	}()

	// Free one slot each time the creation says it waits for one, until it ends.
	waits := 0
	var out outcome
	for finished := false; !finished; {
		select {
		case out = <-done:
			finished = true
		case <-time.After(20 * time.Millisecond):
			if n := strings.Count(log.String(), "PostgreSQL is full"); n > waits && len(held) > 0 {
				waits = n
				held[0].Close(ctx)
				held = held[1:]
			}
		}
	}
	if out.err != nil {
		t.Fatalf("user add while the server is full, as slots free: %v\nlog:\n%s", out.err, log.String())
	}
	if !strings.Contains(log.String(), `"database":"`+master+`"`) {
		t.Errorf("the master pool did not wait for a slot; log:\n%s", log.String())
	}
	if out.res.User.Status != cg.UserActive {
		t.Errorf("user %s is %s after user add, want %s", name, out.res.User.Status, cg.UserActive)
	}
	admin := dbtest.Connect(t, master)
	defer admin.Close(ctx)
	var status string
	var pending int
	if err := admin.QueryRow(ctx, "SELECT status, (SELECT count(*) FROM pending_databases WHERE username = $1) FROM users WHERE username = $1", name).Scan(&status, &pending); err != nil {
		t.Fatal(err)
	}
	if status != string(cg.UserActive) || pending != 0 {
		t.Errorf("stored user: status %s, %d databases pending; want %s and none", status, pending, cg.UserActive)
	}
	for _, k := range cg.Kinds {
		var n int
		if err := admin.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname = $1", k.DatabaseName(name)).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("database %s not made", k.DatabaseName(name))
		}
	}
}
