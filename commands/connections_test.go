package commands_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"credential-grafana/commands"
	"credential-grafana/commands/commandstest"
	"credential-grafana/db"
	"credential-grafana/db/dbtest"
)

// Status and doctor print one connection sum: the service's PG_CONNECTIONS split, what
// Grafana's data sources may hold (maxOpenConns 5 for each of the three per user), and
// max_connections less the reserved slots. Only administrators see it in status.
func TestStatusAndDoctorPrintTheSameConnectionSum(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	budget := db.Budget{Master: 11, Side: 3, Scan: 4}
	env := commandstest.New(t, func(c *commands.Config) { c.Doctor = commands.DoctorConfig{Budget: budget} })
	for _, p := range []string{"cgsum_a_", "cgsum_b_"} {
		env.CreateUser(t, env.UniqueUser(t, p))
	}
	var maxConns, reserved int
	conn := dbtest.Connect(t, "postgres")
	defer conn.Close(ctx)
	if err := conn.QueryRow(ctx, `SELECT current_setting('max_connections')::int,
		current_setting('superuser_reserved_connections')::int + coalesce(current_setting('reserved_connections', true)::int, 0)`).Scan(&maxConns, &reserved); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("PG_CONNECTIONS 18 (master pool 11, side 3, scans 4) + Grafana's data sources up to 30 (6 × maxOpenConns 5, none when idle) = 48, against max_connections %d less %d reserved = %d; ",
		maxConns, reserved, maxConns-reserved)

	st, err := env.Service.Status(ctx, commands.CLI)
	if err != nil {
		t.Fatal(err)
	}
	findings, err := env.Service.Doctor(ctx, commands.CLI)
	if err != nil {
		t.Fatal(err)
	}
	doctor := ""
	for _, f := range findings {
		if f.Area == "postgres" && f.Check == "connections" {
			doctor = f.Detail
		}
	}
	for what, got := range map[string]string{"status": st.Connections, "doctor": doctor} {
		if !strings.HasPrefix(got, want) || !strings.Contains(got, " open now") {
			t.Errorf("%s's connection sum:\n%q\nwant it to start\n%q\nand end with what is open now", what, got, want)
		}
	}

	other, err := env.Service.Status(ctx, commands.Actor{Name: "slack:U0NOBODY01", SlackUserID: "U0NOBODY01"})
	if err != nil {
		t.Fatal(err)
	}
	if other.Connections != "" {
		t.Errorf("a non-administrator's status shows the connection sum: %q", other.Connections)
	}
}
