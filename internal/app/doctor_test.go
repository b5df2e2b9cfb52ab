package app

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"credential-grafana/bot/slacktest"
	"credential-grafana/db/dbtest"
	"credential-grafana/grafana/grafanatest"
)

// doctorSetup is what one doctor run talks to.
type doctorSetup struct {
	grafanaToken string // defaults to the fake's token
	grafanaOpts  []grafanatest.Option
	slackOpts    []slackOption
	channelOpts  []slacktest.ChannelOption
	masterRole   string // defaults to the superuser of the test server
}

type slackOption = slacktest.Option

// runDoctor runs `credential-grafana doctor` against a fake Grafana, a fake Slack and a
// fresh master database, and returns its exit code and output.
func runDoctor(t *testing.T, s doctorSetup) (int, string, *grafanatest.Server) {
	t.Helper()
	fake := grafanatest.New(t, s.grafanaOpts...)
	slack := slacktest.New(t, s.slackOpts...)
	slack.AddChannel("C0RESULTS1", "eda-results", s.channelOpts...)
	name := dbtest.UniqueName("cgdoctor_")
	t.Cleanup(func() { dbtest.DropDatabase(t, name) })
	dbURL := dbtest.URLFor(name)
	if s.masterRole != "" {
		u, _ := url.Parse(dbURL)
		u.User = url.User(s.masterRole)
		dbURL = u.String()
	}
	token := s.grafanaToken
	if token == "" {
		token = fake.Token
	}
	env := fmt.Sprintf("CREDENTIALS_KEY=%s\nDATABASE_URL=%s\nLOG_FORMAT=json\nGRAFANA_BASE_URL=%s\nGRAFANA_API_KEY=%s\nGRAFANA_USER=%s\nGRAFANA_PASSWORD=%s\n"+
		"SLACK_BOT_TOKEN=%s\nSLACK_APP_TOKEN=%s\nSLACK_API_URL=%s\nSLACK_CHANNEL_ID=C0RESULTS1\nUSER_DB_HOST=127.0.0.1\nUSER_DB_PORT=5432\n",
		testKey, dbURL, fake.URL, token, fake.AdminUser, fake.AdminPassword, slack.BotToken(), slack.AppToken(), slack.APIURL())
	envFile := filepath.Join(t.TempDir(), ".env")
	if err := os.WriteFile(envFile, []byte(env), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"doctor", "--env-file", envFile}, strings.NewReader(""), &out, &errOut)
	return code, out.String() + errOut.String(), fake
}

// line returns the output line of one check, e.g. ("slack", "scopes").
func line(out, area, check string) string {
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) > 2 && f[1] == area && strings.HasPrefix(strings.Join(f[2:], " "), check) {
			return l
		}
	}
	return ""
}

// TestDoctorAllRight runs doctor against fakes where everything is right: every check
// passes, and the temporary folder, dashboard, data source and role are gone after.
func TestDoctorAllRight(t *testing.T) {
	t.Parallel()
	code, out, fake := runDoctor(t, doctorSetup{channelOpts: []slacktest.ChannelOption{slacktest.BotMember()}})
	if code != 0 {
		t.Fatalf("doctor exited %d:\n%s", code, out)
	}
	for _, c := range []struct{ area, check string }{
		{"postgres", "reachable"}, {"postgres", "master role"}, {"postgres", "connections"},
		{"grafana", "reachable"}, {"grafana", "version"}, {"grafana", "token"}, {"grafana", "postgres plugin"},
		{"grafana", "folders and dashboards"}, {"grafana", "data sources"}, {"grafana", "role"}, {"grafana", "server admin"},
		{"slack", "bot token"}, {"slack", "scopes"}, {"slack", "channel"}, {"slack", "socket mode"},
	} {
		if l := line(out, c.area, c.check); !strings.HasPrefix(l, "OK") {
			t.Errorf("%s %s: %q, want OK\n%s", c.area, c.check, l, out)
		}
	}
	if n, m, k := len(fake.Folders()), len(fake.Dashboards()), len(fake.DataSources()); n+m+k != 0 {
		t.Errorf("doctor left %d folders, %d dashboards and %d data sources in Grafana", n, m, k)
	}
	if fake.Requests("POST", "/api/datasources") != 1 || fake.Requests("GET", "/api/datasources/uid/") != 1 {
		t.Errorf("the test data source was not made and health-checked once")
	}
}

// TestDoctorNamesEachFault injects one fault at a time and checks that doctor fails,
// names it, and says how to fix it.
func TestDoctorNamesEachFault(t *testing.T) {
	t.Parallel()
	member := []slacktest.ChannelOption{slacktest.BotMember()}
	noFilesRead := slices.DeleteFunc(append([]string{}, slacktest.DefaultBotScopes...), func(s string) bool { return s == "files:read" })
	for _, tc := range []struct {
		name        string
		setup       func(t *testing.T) doctorSetup
		area, check string
		says, fix   string
	}{
		{"wrong Grafana token", func(t *testing.T) doctorSetup {
			return doctorSetup{grafanaToken: "glsa_wrong_" + strings.Repeat("x", 24), channelOpts: member}
		}, "grafana", "token", "does not work", "GRAFANA_API_KEY"},
		{"no PostgreSQL plugin", func(t *testing.T) doctorSetup {
			return doctorSetup{grafanaOpts: []grafanatest.Option{grafanatest.WithoutPostgresPlugin()}, channelOpts: member}
		}, "grafana", "postgres plugin", "not installed", "grafana cli plugins install grafana-postgresql-datasource"},
		{"unsupported Grafana", func(t *testing.T) doctorSetup {
			return doctorSetup{grafanaOpts: []grafanatest.Option{grafanatest.WithVersion("10.4.2")}, channelOpts: member}
		}, "grafana", "version", "10.4.2", "upgrade Grafana"},
		{"missing scope", func(t *testing.T) doctorSetup {
			return doctorSetup{slackOpts: []slackOption{slacktest.WithBotScopes(noFilesRead...)}, channelOpts: member}
		}, "slack", "scopes", "lacks files:read", "Bot Token Scopes"},
		{"bot not in the channel", func(t *testing.T) doctorSetup { return doctorSetup{} },
			"slack", "channel", "not a member of C0RESULTS1", "/invite @credential-grafana"},
		{"no CREATEROLE", func(t *testing.T) doctorSetup {
			role := dbtest.UniqueName("cgdocrole_")
			dbtest.Exec(t, "postgres", "CREATE ROLE "+role+" LOGIN CREATEDB")
			t.Cleanup(func() { dbtest.DropRole(t, role) })
			return doctorSetup{masterRole: role, channelOpts: member}
		}, "postgres", "master role", "lacks [CREATEROLE]", "ALTER ROLE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, out, _ := runDoctor(t, tc.setup(t))
			if code == 0 {
				t.Fatalf("doctor exited 0 with a fault:\n%s", out)
			}
			l := line(out, tc.area, tc.check)
			if !strings.HasPrefix(l, "FAIL") || !strings.Contains(l, tc.says) {
				t.Errorf("%s %s: %q, want FAIL saying %q\n%s", tc.area, tc.check, l, tc.says, out)
			}
			if !strings.Contains(out, "fix: ") || !strings.Contains(out, tc.fix) {
				t.Errorf("no fix naming %q:\n%s", tc.fix, out)
			}
			if !strings.Contains(out, "checks failed") {
				t.Errorf("no summary of the failures:\n%s", out)
			}
		})
	}
}

func TestManifestScopes(t *testing.T) {
	got := manifestScopes(testBuild.SlackManifest)
	if len(got) < 5 || !slices.Contains(got, "chat:write") || !slices.Contains(got, "files:write") || slices.Contains(got, "") {
		t.Errorf("manifest scopes %v", got)
	}
	for _, s := range got {
		if !slices.Contains(slacktest.DefaultBotScopes, s) {
			t.Errorf("the manifest asks for %s, which the Slack fake's default token lacks", s)
		}
	}
}
