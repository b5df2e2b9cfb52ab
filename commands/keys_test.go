package commands_test

import (
	"context"
	"strings"
	"testing"

	"credential-grafana/cg"
	"credential-grafana/commands"
	"credential-grafana/commands/commandstest"
	"credential-grafana/db"
	"credential-grafana/grafana/grafanatest"
)

func rolePassword(t *testing.T, env *commandstest.Env, role string) string {
	t.Helper()
	var verifier string
	if err := env.DB.Pool.QueryRow(context.Background(), "SELECT coalesce(rolpassword, '') FROM pg_authid WHERE rolname = $1", role).Scan(&verifier); err != nil {
		t.Fatal(err)
	}
	return verifier
}

func TestATenantRotatingDBPassChangesItsOwnerRolesPassword(t *testing.T) {
	t.Parallel()
	env := commandstest.New(t)
	ctx := context.Background()
	name := env.UniqueUser(t, "rot")
	u := env.CreateUser(t, name).User
	tenant := commands.Actor{Name: "api:user:" + name, UserID: u.ID}
	before := rolePassword(t, env, db.OwnerRole(name))
	if _, err := env.Service.SetCredential(ctx, tenant, name, "db_pass", "a-new-password-of-the-tenant", commands.Upsert); err != nil {
		t.Fatal(err)
	}
	after := rolePassword(t, env, db.OwnerRole(name))
	if after == "" || after == before {
		t.Fatalf("the owner role's password did not change with db_pass")
	}
	if c, _ := env.Service.RevealCredential(ctx, tenant, name, "db_pass"); c.Value.Reveal() != "a-new-password-of-the-tenant" {
		t.Fatal("db_pass was not stored")
	}
}

func TestRetryDerivesTheSystemKeysAgain(t *testing.T) {
	t.Parallel()
	env := commandstest.New(t)
	ctx := context.Background()
	name := env.UniqueUser(t, "drv")
	u := env.CreateUser(t, name).User
	// Values written before the keys had classes, straight into the store.
	tampered := map[string]string{"db_user": "postgres", "db_viewer_user": "postgres", "db_qor": "postgres"}
	for k, v := range tampered {
		if _, err := env.DB.Credentials(env.Cipher).Set(ctx, u.ID, k, v, false); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := env.Service.RetryUser(ctx, commands.CLI, name); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"db_user": db.OwnerRole(name), "db_viewer_user": db.ViewerRole(name), "db_qor": cg.KindQOR.DatabaseName(name)}
	for k, v := range want {
		if c, err := env.Service.RevealCredential(ctx, commands.CLI, name, k); err != nil || c.Value.Reveal() != v {
			t.Errorf("%s after retry: %q %v, want %q", k, c.Value.Reveal(), err, v)
		}
	}
}

func TestEveryKeyHasTheClassTheIssueGivesIt(t *testing.T) {
	want := map[string]commands.KeyClass{
		"db_user": commands.SystemKey, "db_viewer_user": commands.SystemKey, "db_viewer_pass": commands.SystemKey,
		"db_timing_report": commands.SystemKey, "db_qor": commands.SystemKey, "db_drc": commands.SystemKey,
		"grafana_uid_timing": commands.SystemKey, "grafana_uid_qor": commands.SystemKey, "grafana_uid_drc": commands.SystemKey,
		"db_host": commands.ConnectionKey, "db_port": commands.ConnectionKey, "grafana_url": commands.ConnectionKey,
		"db_pass": commands.TenantKey, "grafana_api_key": commands.TenantKey, "slack_bot_token": commands.TenantKey, "slack_channel_id": commands.TenantKey,
	}
	if len(want) != len(commands.Keys) {
		t.Fatalf("%d keys, the issue classes %d", len(commands.Keys), len(want))
	}
	for _, k := range commands.Keys {
		if c, ok := want[k.Name]; !ok || c != k.Class {
			t.Errorf("%s is a %s key, want %s", k.Name, k.Class, c)
		}
	}
	if !strings.Contains(commands.SystemKey.String(), "system") {
		t.Error("SystemKey does not name itself")
	}
}

// A db_host already in the database but not allowed is not handed to Grafana either.
func TestGrafanaIsNeverGivenADBHostNotAllowed(t *testing.T) {
	t.Parallel()
	g := grafanatest.New(t)
	env := commandstest.New(t, withGrafana(g))
	ctx := context.Background()
	name := env.UniqueUser(t, "dsh")
	u := env.CreateUser(t, name).User
	if _, err := env.DB.Credentials(env.Cipher).Set(ctx, u.ID, "db_host", "169.254.169.254", false); err != nil {
		t.Fatal(err)
	}
	_, err := env.Service.RetryUser(ctx, commands.CLI, name)
	if cg.ErrorCode(err) != cg.EFORBIDDEN || !strings.Contains(cg.ErrorMessage(err), "not in USER_DB_ALLOWED_HOSTS") {
		t.Fatalf("retry with a db_host not allowed: %v", err)
	}
	for _, ds := range g.DataSources() {
		if strings.Contains(ds.URL, "169.254.169.254") {
			t.Fatalf("Grafana was given the data source %s", ds.URL)
		}
	}
}
