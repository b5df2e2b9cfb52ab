package commands_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"credential-grafana/cg"
	"credential-grafana/commands"
	"credential-grafana/commands/commandstest"
	"credential-grafana/db"
	"credential-grafana/grafana"
	"credential-grafana/grafana/grafanatest"
)

func withGrafana(g *grafanatest.Server) commandstest.Option {
	return commandstest.WithGrafana(g.URL, g.Token)
}

func TestCreateUserAddsAFolderAndThreeDataSourcesInGrafana(t *testing.T) {
	t.Parallel()
	g := grafanatest.New(t)
	env := commandstest.New(t, withGrafana(g))
	ctx := context.Background()
	name := env.UniqueUser(t, "gina")
	res := env.CreateUser(t, name)
	if !res.Grafana || res.User.Status != cg.UserActive {
		t.Fatalf("create: %+v", res)
	}
	if folders := g.Folders(); len(folders) != 1 || folders[0].UID != grafana.FolderUID(name) {
		t.Fatalf("folders: %+v", folders)
	}
	sources := g.DataSources()
	if len(sources) != 3 {
		t.Fatalf("%d data sources, want 3", len(sources))
	}
	creds, err := env.DB.Credentials(env.Cipher).Map(ctx, res.User.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range cg.Kinds {
		uid := creds[kind.DataSourceCredentialKey()]
		ds, ok := g.DataSource(uid)
		if !ok {
			t.Fatalf("%s: credential %s = %q names no data source", kind, kind.DataSourceCredentialKey(), uid)
		}
		if ds.Type != "grafana-postgresql-datasource" || ds.User != db.ViewerRole(name) ||
			ds.JSONData["database"] != kind.DatabaseName(name) || !strings.HasSuffix(ds.URL, ":"+creds["db_port"]) {
			t.Fatalf("%s data source: %+v", kind, ds)
		}
		if n, ok := ds.JSONData["maxOpenConns"].(float64); !ok || n > 10 {
			t.Fatalf("%s maxOpenConns = %v, want a small number", kind, ds.JSONData["maxOpenConns"])
		}
	}
	// Removing the user removes them.
	if _, err := env.Service.RemoveUser(ctx, commands.CLI, name, commands.RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	if len(g.Folders()) != 0 || len(g.DataSources()) != 0 {
		t.Fatalf("left in Grafana after removal: %v folders, %v data sources", g.Folders(), g.DataSources())
	}
}

func TestGrafanaFailuresLeaveTheUserProvisioningAndARetryFinishesWithoutDuplicates(t *testing.T) {
	t.Parallel()
	g := grafanatest.New(t)
	env := commandstest.New(t, withGrafana(g))
	ctx := context.Background()
	name := env.UniqueUser(t, "hugo")

	// Grafana answers 500 to data-source creation for longer than the client retries.
	g.FailNext("/api/datasources", http.StatusInternalServerError, 20)
	_, err := env.Service.CreateUser(ctx, commands.CLI, commands.CreateUserInput{Username: name})
	if cg.ErrorCode(err) != cg.EUNAVAILABLE || !strings.Contains(cg.ErrorMessage(err), "still provisioning") {
		t.Fatalf("create while Grafana fails: %v", err)
	}
	u, _ := env.Service.ShowUser(ctx, commands.CLI, name)
	if u.Status != cg.UserProvisioning || !strings.Contains(u.StatusReason, "Grafana") {
		t.Fatalf("after failure: %s %q", u.Status, u.StatusReason)
	}
	g.ClearFailures()
	res, err := env.Service.RetryUser(ctx, commands.CLI, name)
	if err != nil || res.User.Status != cg.UserActive || res.APIKey == "" {
		t.Fatalf("retry: %+v %v", res, err)
	}
	if len(g.DataSources()) != 3 || len(g.Folders()) != 1 {
		t.Fatalf("after retry: %d data sources, %d folders; want 3 and 1", len(g.DataSources()), len(g.Folders()))
	}
	// Provisioning again (an active user) finds everything and duplicates nothing.
	if _, err := env.Service.RetryUser(ctx, commands.CLI, name); err != nil {
		t.Fatal(err)
	}
	if len(g.DataSources()) != 3 || len(g.Folders()) != 1 {
		t.Fatalf("after a second run: %d data sources, %d folders", len(g.DataSources()), len(g.Folders()))
	}
}

func TestARefusedGrafanaTokenSaysSo(t *testing.T) {
	t.Parallel()
	g := grafanatest.New(t)
	env := commandstest.New(t, func(c *commands.Config) {
		c.Grafana = grafana.NewClients(grafana.Config{BaseURL: g.URL, Token: "glsa_not_the_token_000000"})
	})
	name := env.UniqueUser(t, "ida")
	_, err := env.Service.CreateUser(context.Background(), commands.CLI, commands.CreateUserInput{Username: name})
	if !strings.Contains(cg.ErrorMessage(err), "refused the token") {
		t.Fatalf("create with a bad token: %v", err)
	}
	u, _ := env.Service.ShowUser(context.Background(), commands.CLI, name)
	if u.Status != cg.UserProvisioning || !strings.Contains(u.StatusReason, "refused the token") {
		t.Fatalf("status %s %q", u.Status, u.StatusReason)
	}
}

func TestAUsersOwnGrafanaIsProvisionedWhenItsCredentialsAreSet(t *testing.T) {
	t.Parallel()
	shared := grafanatest.New(t)
	own := grafanatest.New(t)
	env := commandstest.New(t, withGrafana(shared), func(c *commands.Config) {
		// GRAFANA_ALLOWED_URLS=own.URL: the commands check it when it is set, the clients when it is used.
		c.Allowed.GrafanaURLs = []string{own.URL}
		c.Grafana = grafana.NewClients(grafana.Config{BaseURL: shared.URL, Token: cg.Secret(shared.Token), RetryBackoff: time.Millisecond, AllowedURLs: []string{own.URL}})
	})
	ctx := context.Background()
	name := env.UniqueUser(t, "jan")
	env.CreateUser(t, name)
	if _, err := env.Service.SetCredential(ctx, commands.CLI, name, "grafana_url", own.URL, commands.Upsert); err != nil {
		t.Fatal(err)
	}
	if len(own.DataSources()) != 0 {
		t.Fatal("provisioned before the token was given")
	}
	// A wrong token is refused and not saved.
	_, err := env.Service.SetCredential(ctx, commands.CLI, name, "grafana_api_key", "glsa_wrong_token_0000000000", commands.Upsert)
	if !strings.Contains(cg.ErrorMessage(err), "grafana_api_key was not saved") || !strings.Contains(cg.ErrorMessage(err), "refused the token") {
		t.Fatalf("wrong token: %v", err)
	}
	if _, err := env.Service.RevealCredential(ctx, commands.CLI, name, "grafana_api_key"); cg.ErrorCode(err) != cg.ENOTFOUND {
		t.Fatalf("a refused token was saved: %v", err)
	}
	if _, err := env.Service.SetCredential(ctx, commands.CLI, name, "grafana_api_key", own.Token, commands.Upsert); err != nil {
		t.Fatal(err)
	}
	if len(own.DataSources()) != 3 || len(own.Folders()) != 1 {
		t.Fatalf("own Grafana: %d data sources, %d folders", len(own.DataSources()), len(own.Folders()))
	}
	u, _ := env.Service.ShowUser(ctx, commands.CLI, name)
	for _, c := range u.Credentials {
		if c.Key == "grafana_uid_timing" {
			if _, ok := own.DataSource(c.Masked); !ok {
				t.Fatalf("grafana_uid_timing %q is not the own Grafana's data source", c.Masked)
			}
		}
	}
}
