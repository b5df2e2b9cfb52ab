package commands_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"credential-grafana/cg"
	"credential-grafana/commands"
	"credential-grafana/commands/commandstest"
	"credential-grafana/grafana"
	"credential-grafana/grafana/grafanatest"
)

func withGrafanaOrgs(g *grafanatest.Server) commandstest.Option {
	return commandstest.WithGrafanaOrgs(g.URL, g.Token, g.AdminUser, g.AdminPassword)
}

// orgOf returns the fake's org of user, failing the test when there is not exactly one.
func orgOf(t *testing.T, g *grafanatest.Server, user string) grafanatest.Org {
	t.Helper()
	var found []grafanatest.Org
	for _, o := range g.Orgs() {
		if o.Name == grafana.OrgName(user) {
			found = append(found, o)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d orgs named %q, want 1 (orgs: %+v)", len(found), grafana.OrgName(user), g.Orgs())
	}
	return found[0]
}

// getAs sends GET path to the fake with a Bearer token and an optional org header.
func getAs(t *testing.T, g *grafanatest.Server, token, path string, orgID int64) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, g.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if orgID != 0 {
		req.Header.Set("X-Grafana-Org-Id", strconv.FormatInt(orgID, 10))
	}
	resp, err := g.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

func TestOrgIsolationGivesEachUserAnOrgWhoseTokenCannotReachAnotherUsersDataSources(t *testing.T) {
	t.Parallel()
	g := grafanatest.New(t)
	env := commandstest.New(t, withGrafanaOrgs(g))
	ctx := context.Background()
	alice, bob := env.UniqueUser(t, "alice"), env.UniqueUser(t, "bob")
	for _, name := range []string{alice, bob} {
		if res := env.CreateUser(t, name); !res.Grafana || res.User.Status != cg.UserActive {
			t.Fatalf("create %s: %+v", name, res)
		}
	}
	aliceOrg, bobOrg := orgOf(t, g, alice), orgOf(t, g, bob)
	if aliceOrg.ID == bobOrg.ID || aliceOrg.ID == 1 || bobOrg.ID == 1 {
		t.Fatalf("orgs: alice %d, bob %d", aliceOrg.ID, bobOrg.ID)
	}
	credsOf := func(name string) map[string]string {
		u, err := env.DB.Users().ByName(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		m, err := env.DB.Credentials(env.Cipher).Map(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	aliceCreds, bobCreds := credsOf(alice), credsOf(bob)
	aliceToken, bobToken := aliceCreds["grafana_api_key"], bobCreds["grafana_api_key"]
	if !strings.HasPrefix(aliceToken, "glsa_") || !strings.HasPrefix(bobToken, "glsa_") || aliceToken == bobToken {
		t.Fatalf("tokens: alice %q, bob %q", cg.Mask(aliceToken), cg.Mask(bobToken))
	}
	// The token is stored as a secret (encrypted, masked when shown).
	shown, err := env.Service.ListCredentials(ctx, commands.CLI, alice)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range shown {
		if c.Key == "grafana_api_key" && (!c.Secret || strings.Contains(c.Value.Reveal(), aliceToken)) {
			t.Fatalf("grafana_api_key shown as %+v", c)
		}
	}
	// Each org has the user's folder, three data sources and one service account with
	// one token; nothing of either user is in the main org.
	for _, u := range []struct {
		name string
		org  int64
	}{{alice, aliceOrg.ID}, {bob, bobOrg.ID}} {
		n := 0
		for _, ds := range g.DataSources() {
			if strings.HasPrefix(ds.Name, u.name+"-") {
				n++
				if ds.OrgID != u.org {
					t.Fatalf("%s's data source %s is in org %d, want %d", u.name, ds.UID, ds.OrgID, u.org)
				}
			}
		}
		if n != 3 {
			t.Fatalf("%s has %d data sources, want 3", u.name, n)
		}
		sas := g.ServiceAccounts(u.org)
		if len(sas) != 1 || len(sas[0].Tokens) != 1 || sas[0].Role != "Editor" {
			t.Fatalf("%s's service accounts: %+v", u.name, sas)
		}
	}
	for _, f := range g.Folders() {
		if f.OrgID == 1 {
			t.Fatalf("a folder in the main org: %+v", f)
		}
	}

	// alice's own token lists only her data sources, and cannot get, query or reach
	// (with bob's org header) bob's.
	status, body := getAs(t, g, aliceToken, "/api/datasources", 0)
	var listed []struct{ UID, Name string }
	if err := json.Unmarshal(body, &listed); status != http.StatusOK || err != nil || len(listed) != 3 {
		t.Fatalf("alice lists: %d %s", status, body)
	}
	for _, ds := range listed {
		if !strings.HasPrefix(ds.Name, alice+"-") {
			t.Fatalf("alice's token lists %s", ds.Name)
		}
	}
	bobUID := bobCreds[cg.KindTiming.DataSourceCredentialKey()]
	if status, body := getAs(t, g, aliceToken, "/api/datasources/uid/"+bobUID, 0); status != http.StatusNotFound {
		t.Fatalf("alice gets bob's data source: %d %s", status, body)
	}
	if status, body := getAs(t, g, aliceToken, "/api/datasources", bobOrg.ID); status != http.StatusUnauthorized || !strings.Contains(string(body), "api-key.organization-mismatch") {
		t.Fatalf("alice in bob's org: %d %s", status, body)
	}
	aliceClient, err := grafana.New(grafana.Config{BaseURL: g.URL, Token: cg.Secret(aliceToken), MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	query := func(uid string) error {
		_, err := aliceClient.Query(ctx, grafana.QueryRequest{Queries: []grafana.Query{{RefID: "A",
			DataSource: grafana.DataSourceRef{Type: grafana.PostgresType, UID: uid}, RawSQL: "SELECT 1 AS one", Format: "table"}}})
		return err
	}
	if err := query(bobUID); !errors.Is(err, grafana.ErrNotFound) {
		t.Fatalf("alice queries bob's data source: %v", err)
	}
	if err := query(aliceCreds[cg.KindTiming.DataSourceCredentialKey()]); err != nil {
		t.Fatalf("alice queries her own data source: %v", err)
	}
	// Her token cannot make an org, nor change her own data sources.
	if _, err := aliceClient.CreateOrg(ctx, "mine"); !errors.Is(err, grafana.ErrForbidden) {
		t.Fatalf("alice creates an org: %v", err)
	}
	if err := aliceClient.DeleteDataSource(ctx, aliceCreds[cg.KindQOR.DataSourceCredentialKey()]); !errors.Is(err, grafana.ErrForbidden) {
		t.Fatalf("alice deletes a data source: %v", err)
	}
	// Nor can she be given bob's token.
	_, err = env.Service.SetCredential(ctx, commands.CLI, alice, "grafana_api_key", bobToken, commands.Upsert)
	if cg.ErrorCode(err) != cg.EINVALID || !strings.Contains(cg.ErrorMessage(err), grafana.OrgName(alice)) {
		t.Fatalf("alice given bob's token: %v", err)
	}
	if credsOf(alice)["grafana_api_key"] != aliceToken {
		t.Fatal("a refused token was stored")
	}

	// Removing alice deletes her org and her token with it; bob keeps his.
	if _, err := env.Service.RemoveUser(ctx, commands.CLI, alice, commands.RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, o := range g.Orgs() {
		if o.ID == aliceOrg.ID {
			t.Fatalf("alice's org is still there: %+v", g.Orgs())
		}
	}
	if status, _ := getAs(t, g, aliceToken, "/api/datasources", 0); status != http.StatusUnauthorized {
		t.Fatalf("alice's token after removal: %d", status)
	}
	if status, _ := getAs(t, g, bobToken, "/api/datasources/uid/"+bobUID, 0); status != http.StatusOK {
		t.Fatalf("bob's token after alice's removal: %d", status)
	}
}

func TestOrgProvisioningThatFailsMidwayIsFinishedByARetryWithoutDuplicates(t *testing.T) {
	t.Parallel()
	g := grafanatest.New(t)
	env := commandstest.New(t, withGrafanaOrgs(g))
	ctx := context.Background()
	name := env.UniqueUser(t, "carol")

	// The org and data sources are made, then making the service account fails.
	g.FailNext("/api/serviceaccounts", http.StatusInternalServerError, 20)
	_, err := env.Service.CreateUser(ctx, commands.CLI, commands.CreateUserInput{Username: name})
	if cg.ErrorCode(err) != cg.EUNAVAILABLE || !strings.Contains(cg.ErrorMessage(err), "still provisioning") {
		t.Fatalf("create while Grafana fails: %v", err)
	}
	org := orgOf(t, g, name)
	g.ClearFailures()
	if _, err := env.Service.RetryUser(ctx, commands.CLI, name); err != nil {
		t.Fatalf("retry: %v", err)
	}
	check := func(when string) string {
		t.Helper()
		if o := orgOf(t, g, name); o.ID != org.ID {
			t.Fatalf("%s: org %d, want %d", when, o.ID, org.ID)
		}
		n := 0
		for _, ds := range g.DataSources() {
			if ds.OrgID == org.ID {
				n++
			}
		}
		sas := g.ServiceAccounts(org.ID)
		if n != 3 || len(g.Folders()) != 1 || len(sas) != 1 || len(sas[0].Tokens) != 1 {
			t.Fatalf("%s: %d data sources, %d folders, service accounts %+v", when, n, len(g.Folders()), sas)
		}
		u, _ := env.DB.Users().ByName(ctx, name)
		creds, err := env.DB.Credentials(env.Cipher).Map(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if creds["grafana_api_key"] != sas[0].Tokens[0].Key {
			t.Fatalf("%s: the stored token is not the account's token", when)
		}
		return creds["grafana_api_key"]
	}
	token := check("after the retry")

	// A retry of an active user keeps a token that works.
	if _, err := env.Service.RetryUser(ctx, commands.CLI, name); err != nil {
		t.Fatal(err)
	}
	if again := check("after a second retry"); again != token {
		t.Fatal("a working token was replaced")
	}
	// A token Grafana no longer knows (deleted there, say) is replaced, and the
	// account keeps one token.
	u, _ := env.DB.Users().ByName(ctx, name)
	if _, err := env.DB.Credentials(env.Cipher).Set(ctx, u.ID, "grafana_api_key", "glsa_unknown0123456789abcdef_01234567", true); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Service.RetryUser(ctx, commands.CLI, name); err != nil {
		t.Fatal(err)
	}
	if replaced := check("after a retry with a lost token"); replaced == token {
		t.Fatal("the old token was kept")
	}
}

func TestFolderIsolationKeepsEveryUserInTheMainOrg(t *testing.T) {
	t.Parallel()
	g := grafanatest.New(t)
	env := commandstest.New(t, withGrafana(g))
	env.CreateUser(t, env.UniqueUser(t, "dora"))
	if orgs := g.Orgs(); len(orgs) != 1 || orgs[0].ID != 1 {
		t.Fatalf("orgs: %+v", orgs)
	}
	for _, ds := range g.DataSources() {
		if ds.OrgID != 1 {
			t.Fatalf("data source in org %d", ds.OrgID)
		}
	}
}
