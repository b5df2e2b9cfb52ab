package app

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"credential-grafana/db"
	"credential-grafana/grafana"
	"credential-grafana/grafana/grafanatest"
)

// TestServiceDashboardShowsRunsPostsFailuresAndQueue: at start the service provisions
// its own folder, a data source over the master database through a read-only role, and
// a dashboard whose every panel, run through Grafana (the fake runs the SQL against
// PostgreSQL as that role), returns the rows put into the master tables; the role can
// read neither credentials nor API key hashes, nor write.
func TestServiceDashboardShowsRunsPostsFailuresAndQueue(t *testing.T) {
	fake := grafanatest.New(t)
	env := serviceGrafanaEnv(t, fake)
	var logs bytes.Buffer
	m := startMain(t, env, &logs)
	ctx := context.Background()

	installation, err := m.DB.InstallationID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dash, ok := fake.Dashboard(grafana.ServiceDashboardUID(installation))
	if !ok {
		t.Fatalf("no service dashboard in Grafana; log:\n%s", logs.String())
	}
	var folderTitle string
	for _, f := range fake.Folders() {
		if f.UID == dash.FolderUID {
			folderTitle = f.Title
		}
	}
	if folderTitle != grafana.ServiceFolderTitle {
		t.Fatalf("dashboard in folder %q, want %q", folderTitle, grafana.ServiceFolderTitle)
	}
	ds, ok := fake.DataSource(grafana.ServiceDataSourceUID(installation))
	if !ok || ds.User != db.MonitorRole(installation) || ds.JSONData["database"] != m.DB.Database() {
		t.Fatalf("data source %+v, want the master database as role %s", ds, db.MonitorRole(installation))
	}

	// A small history: alice posted one run after an hour, one failed at capture, one
	// did not fit its kind; one job is waiting. All three were found yesterday at noon, so
	// they fall on one day whatever time the test runs (now() - 1 hour is yesterday just
	// after midnight).
	const yesterdayNoon = "(date_trunc('day', now()) - interval '12 hours')"
	for _, sql := range []string{
		`INSERT INTO users (username, status, api_key_hash) VALUES ('alice', 'active', '\x0102')`,
		`INSERT INTO dashboards (user_id, kind, table_name, dashboard_uid, state, step, created_at, slack_sent_at)
		 SELECT id, 'TIMING', 'gcd_run1', 'cg-a-1', 'posted', 'post', ` + yesterdayNoon + `, ` + yesterdayNoon + ` + interval '1 hour' FROM users WHERE username = 'alice'`,
		`INSERT INTO dashboards (user_id, kind, table_name, dashboard_uid, state, step, last_error, created_at)
		 SELECT id, 'QOR', 'gcd_run2', 'cg-a-2', 'failed', 'capture', 'capture timed out waiting for panel Area', ` + yesterdayNoon + ` FROM users WHERE username = 'alice'`,
		`INSERT INTO dashboards (user_id, kind, table_name, dashboard_uid, state, reason, created_at)
		 SELECT id, 'DRC', 'notes', 'cg-a-3', 'incompatible', 'table notes is missing columns rule (text)', ` + yesterdayNoon + ` FROM users WHERE username = 'alice'`,
		`INSERT INTO river_job (kind, args, max_attempts, queue, state, scheduled_at) VALUES ('record', '{}', 25, 'record', 'scheduled', now() + interval '1 hour')`,
	} {
		if _, err := m.DB.Pool.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}

	c, _, err := m.Grafana.For(nil)
	if err != nil {
		t.Fatal(err)
	}
	query := func(sql string) grafana.QueryResult {
		t.Helper()
		resp, err := c.Query(ctx, grafana.QueryRequest{Queries: []grafana.Query{{RefID: "A",
			DataSource: grafana.DataSourceRef{Type: grafana.PostgresType, UID: ds.UID}, RawSQL: sql}}})
		if err != nil {
			t.Fatal(err)
		}
		return resp.Results["A"]
	}
	cells := func(r grafana.QueryResult) string {
		var b strings.Builder
		for _, f := range r.Frames {
			for _, col := range f.Data.Values {
				fmt.Fprint(&b, col, " ")
			}
		}
		return b.String()
	}
	want := map[string][]string{ // a panel's title -> what its rows must show
		"Runs found (30 days)":        {"[3]"},
		"Posted (30 days)":            {"[1]"},
		"Failed now":                  {"[1]"},
		"Queue depth":                 {"[1]"},
		"Runs found per day":          {"[3]"},
		"Runs found per day and user": {"[alice]", "[3]", "[1]"},
		"Time from table to post":     {"[alice]", "[3600"},
		"Failures by step and reason": {"capture timed out waiting for panel Area", "scan", "table notes is missing columns rule (text)"},
		"Queue by job and state":      {"[record]", "[scheduled]"},
	}
	panels := grafana.Dashboard(dash.Model).Panels()
	if len(panels) != len(want) {
		t.Fatalf("%d panels, want %d", len(panels), len(want))
	}
	for _, p := range panels {
		for _, q := range p.Queries {
			res := query(q.RawSQL)
			if res.Error != "" || res.Rows() == 0 {
				t.Errorf("panel %q: %d rows, error %q", p.Title, res.Rows(), res.Error)
				continue
			}
			got := cells(res)
			for _, w := range want[p.Title] {
				if !strings.Contains(got, w) {
					t.Errorf("panel %q shows %s, want %s in it", p.Title, got, w)
				}
			}
		}
	}

	// What the role may not do.
	for _, sql := range []string{
		"SELECT value_cipher FROM credentials",
		"SELECT api_key_hash FROM users",
		"SELECT args FROM river_job",
		"SELECT value_cipher FROM service_secrets",
		"UPDATE users SET status = 'disabled'",
		"CREATE TEMP TABLE x (y int)",
	} {
		if res := query(sql); res.Error == "" {
			t.Errorf("the dashboard's role may run %q", sql)
		}
	}

	// A second pass (a restart) changes nothing but the dashboard's version, even when
	// the role's stored password no longer opens (here: another row's ciphertext, as
	// after a key that is no longer configured): the role gets a new one.
	if _, err := m.DB.Pool.Exec(ctx, `UPDATE service_secrets SET value_cipher =
		(SELECT value_cipher FROM service_secrets WHERE name = 'grafana_service_token') WHERE name = 'monitor_role_password'`); err != nil {
		t.Fatal(err)
	}
	if err := m.ensureServiceGrafana(ctx); err != nil {
		t.Fatal(err)
	}
	if res := query("SELECT count(*) FROM dashboards"); res.Error != "" {
		t.Fatalf("after a new role password the data source fails: %s", res.Error)
	}
	if n := len(fake.Folders()); n != 1 {
		t.Errorf("%d folders after a second pass, want 1", n)
	}
}
