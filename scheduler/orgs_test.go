package scheduler_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"credential-grafana/bot"
	"credential-grafana/bot/slacktest"
	"credential-grafana/cg"
	"credential-grafana/commands"
	"credential-grafana/commands/commandstest"
	"credential-grafana/grafana"
	"credential-grafana/grafana/grafanatest"
	"credential-grafana/scheduler"
)

func TestInOrgIsolationTheDashboardIsMadeInTheUsersOrgAndItsLinksCarryTheOrg(t *testing.T) {
	t.Parallel()
	w := &world{grafana: grafanatest.New(t), slack: slacktest.New(t)}
	w.slack.AddChannel(channel, "eda-results", slacktest.BotMember())
	w.env = commandstest.New(t, commandstest.WithGrafanaOrgs(w.grafana.URL, w.grafana.Token, w.grafana.AdminUser, w.grafana.AdminPassword))
	w.browser = browser(t)
	w.user = w.env.UniqueUser(t, "olga")
	w.env.CreateUser(t, w.user)
	if _, err := w.env.Service.SetCredential(context.Background(), commands.CLI, w.user, "slack_channel_id", channel, commands.Upsert); err != nil {
		t.Fatal(err)
	}
	var orgID int64
	for _, o := range w.grafana.Orgs() {
		if o.Name == grafana.OrgName(w.user) {
			orgID = o.ID
		}
	}
	if orgID <= 1 {
		t.Fatalf("no org of its own for %s: %+v", w.user, w.grafana.Orgs())
	}
	var mu sync.Mutex
	var pages []string
	w.grafana.SetHook(func(_ http.ResponseWriter, r *http.Request) bool {
		if strings.HasPrefix(r.URL.Path, "/d/") {
			mu.Lock()
			pages = append(pages, r.URL.RawQuery)
			mu.Unlock()
		}
		return false
	})
	w.pipeline = w.newPipelineWith(t, func(c *scheduler.PipelineConfig) {
		c.Grafana = grafana.Config{BaseURL: w.grafana.URL, Token: cg.Secret(w.grafana.Token), BasicUser: w.grafana.AdminUser,
			BasicPassword: cg.Secret(w.grafana.AdminPassword), OrgID: 1, Isolation: grafana.IsolationOrg, RetryBackoff: time.Millisecond, MaxRetries: 1}
		c.Notifier = bot.NewNotifier(bot.NotifierConfig{APIURL: w.slack.APIURL(), MinPostInterval: 20 * time.Millisecond})
	})
	w.scanner = scheduler.NewScanner(scheduler.ScannerConfig{DB: w.env.DB, Cipher: w.env.Cipher, Enqueue: w.pipeline.Enqueue, Logger: w.env.Logger})
	t.Cleanup(w.scanner.Close)

	w.createTable(t, cg.KindTiming, "gcd_nangate45_org1", grafanatest.SampleRun{Design: "gcd", Platform: "nangate45", RunID: "org1"})
	if res := w.scan(t); len(res.New) != 1 {
		t.Fatalf("scan: %d new", len(res.New))
	}
	list := w.waitPosted(t, 1, 2*time.Minute)

	dashboards := runDashboards(w)
	if len(dashboards) != 1 || dashboards[0].OrgID != orgID {
		t.Fatalf("dashboards: %+v, want one in org %d", dashboards, orgID)
	}
	want := "orgId=" + strconv.FormatInt(orgID, 10)
	if !strings.HasSuffix(list[0].URL, "?"+want) {
		t.Fatalf("dashboard link %s does not carry %s", list[0].URL, want)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(pages) == 0 {
		t.Fatal("the capture opened no dashboard page")
	}
	for _, q := range pages {
		if !strings.Contains("&"+q+"&", "&"+want+"&") {
			t.Fatalf("the capture opened ?%s, without %s", q, want)
		}
	}
}
