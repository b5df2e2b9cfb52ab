package rest_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"credential-grafana/cg"
	"credential-grafana/commands"
	"credential-grafana/commands/commandstest"
	"credential-grafana/grafana/grafanatest"
	"credential-grafana/rest"
)

// setupWithGrafana is setup with the Grafana fake behind the service, so users get their
// data sources (and grafana_uid_* credentials) and a grafana_url.
func setupWithGrafana(t *testing.T) (*bundle, *grafanatest.Server) {
	t.Helper()
	fake := grafanatest.New(t)
	env := commandstest.New(t, commandstest.WithGrafana(fake.URL, fake.Token))
	h := rest.New(rest.Config{Service: env.Service, AdminToken: cg.Secret(adminToken), MaxBodyBytes: 4096, Logger: env.Logger})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &bundle{env: env, srv: srv}, fake
}

// credentialValues is every credential of user in full, to tell whether a request
// changed any.
func credentialValues(t *testing.T, b *bundle, user string) string {
	t.Helper()
	list, err := b.env.Service.ListCredentials(context.Background(), commands.CLI, user)
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	for _, c := range list {
		full, err := b.env.Service.RevealCredential(context.Background(), commands.CLI, user, c.Key)
		if err != nil {
			t.Fatal(err)
		}
		sb.WriteString(c.Key + "=" + full.Value.Reveal() + ";")
	}
	return sb.String()
}

// The findings of issue 9: with alice's own API key, pointing her dashboards at bob's data
// source, her scans at any host and her recordings at any Grafana all answered 200.
func TestATenantKeyCannotSetSystemOrConnectionKeys(t *testing.T) {
	t.Parallel()
	b, _ := setupWithGrafana(t)
	alice := b.env.UniqueUser(t, "alice")
	bob := b.env.UniqueUser(t, "bob")
	aliceKey := b.env.CreateUser(t, alice).APIKey.Reveal()
	b.env.CreateUser(t, bob)
	bobUID, err := b.env.Service.RevealCredential(context.Background(), commands.CLI, bob, "grafana_uid_timing")
	if err != nil {
		t.Fatal(err)
	}
	cred := "/api/v1/users/" + alice + "/credentials/"
	cases := []struct {
		name, method, path, token, body string
		message                         []string
	}{
		{"tenant rebinds to bob's data source", "PUT", cred + "grafana_uid_timing", aliceKey, `{"key_value":"` + bobUID.Value.Reveal() + `"}`,
			[]string{"grafana_uid_timing is set by the service", "user retry " + alice}},
		{"tenant deletes its data source UID", "DELETE", cred + "grafana_uid_qor", aliceKey, "", []string{"grafana_uid_qor is set by the service"}},
		{"tenant names the metadata service", "PUT", cred + "db_host", aliceKey, `{"key_value":"169.254.169.254"}`,
			[]string{"db_host is a connection key", "only an administrator"}},
		{"tenant names another Grafana", "PUT", cred + "grafana_url", aliceKey, `{"key_value":"http://127.0.0.1:9/"}`,
			[]string{"grafana_url is a connection key", "only an administrator"}},
		{"tenant changes the port", "PUT", cred + "db_port", aliceKey, `{"key_value":"6432"}`, []string{"db_port is a connection key"}},
		{"tenant renames its role", "PUT", cred + "db_user", aliceKey, `{"key_value":"` + bob + `_owner"}`, []string{"db_user is set by the service"}},
		{"tenant renames its database", "PUT", cred + "db_qor", aliceKey, `{"key_value":"` + bob + `-QOR"}`, []string{"db_qor is set by the service"}},
		{"admin rebinds to bob's data source", "PUT", cred + "grafana_uid_timing", adminToken, `{"key_value":"` + bobUID.Value.Reveal() + `"}`,
			[]string{"grafana_uid_timing is set by the service", "not even an administrator"}},
		{"admin names a host not allowed", "PUT", cred + "db_host", adminToken, `{"key_value":"169.254.169.254"}`,
			[]string{"169.254.169.254 is not in USER_DB_ALLOWED_HOSTS"}},
		{"admin names a Grafana not allowed", "PUT", cred + "grafana_url", adminToken, `{"key_value":"http://127.0.0.1:9/"}`,
			[]string{"http://127.0.0.1:9 is not in GRAFANA_ALLOWED_URLS"}},
	}
	before := credentialValues(t, b, alice)
	for _, c := range cases {
		r := b.do(t, c.method, c.path, c.token, c.body)
		if r.status != 403 {
			t.Errorf("%s: %d %s; want 403", c.name, r.status, r.raw)
		}
		for _, m := range c.message {
			if !strings.Contains(r.errorMessage(), m) {
				t.Errorf("%s: message %q does not say %q", c.name, r.errorMessage(), m)
			}
		}
		if after := credentialValues(t, b, alice); after != before {
			t.Fatalf("%s changed alice's credentials:\n%s\n->\n%s", c.name, before, after)
		}
	}
	// Her own keys are still hers.
	if r := b.do(t, "POST", "/api/v1/users/"+alice+"/credentials", aliceKey, `{"key_name":"slack_channel_id","key_value":"C0ALICE0001"}`); r.status != 201 {
		t.Fatalf("tenant sets its channel: %d %s", r.status, r.raw)
	}
}

// An administrator may name an allowed Grafana in any spelling: the host's case and the
// scheme's default port do not matter.
func TestAnAdministratorMayNameAnAllowedGrafanaInAnySpelling(t *testing.T) {
	t.Parallel()
	b, fake := setupWithGrafana(t)
	alice := b.env.UniqueUser(t, "alice")
	b.env.CreateUser(t, alice)
	spelled := strings.Replace(fake.URL, "http://", "HTTP://", 1) + "/"
	if r := b.do(t, "PUT", "/api/v1/users/"+alice+"/credentials/grafana_url", adminToken, `{"key_value":"`+spelled+`"}`); r.status != 200 {
		t.Fatalf("admin sets an allowed grafana_url: %d %s", r.status, r.raw)
	}
	if r := b.do(t, "PUT", "/api/v1/users/"+alice+"/credentials/db_host", adminToken, `{"key_value":"127.0.0.1"}`); r.status != 200 {
		t.Fatalf("admin sets an allowed db_host: %d %s", r.status, r.raw)
	}
}
