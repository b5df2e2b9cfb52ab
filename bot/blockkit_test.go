package bot

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"credential-grafana/bot/slacktest"
	"credential-grafana/cg"
	"credential-grafana/commands"
)

func TestCutMrkdwnNeverSplitsAnEntityOrALink(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		s    string
		n    int
		want string
	}{
		{"abc", 3, "abc"},
		{"abcd", 3, "ab…"},
		{"a &amp; b", 5, "a…"},
		{"ab&lt;", 5, "ab…"},
		{"see <https://x.example.com|x> now", 12, "see…"},
		{"see <https://x|x> now", 19, "see <https://x|x>…"},
	} {
		if got := cutMrkdwn(tc.s, tc.n); got != tc.want {
			t.Errorf("cutMrkdwn(%q, %d) = %q, want %q", tc.s, tc.n, got, tc.want)
		}
	}
}

// TestEverythingBuiltFromHostileDataIsAcceptedBySlack builds each message, reply and
// view from data far past every Block Kit limit, full of control characters, and sends
// it to the fake, which refuses what Slack refuses.
func TestEverythingBuiltFromHostileDataIsAcceptedBySlack(t *testing.T) {
	t.Parallel()
	srv := slacktest.New(t)
	srv.AddChannel("C0RESULTS1", "eda-results", slacktest.BotMember())
	srv.AddUser(slacktest.User{ID: "U0ALICE001", Name: "alice"})
	api := slack.New(srv.BotToken(), slack.OptionAPIURL(srv.APIURL()))
	long := func(unit string, n int) string { return strings.Repeat(unit, n) }
	at := time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)
	var users []cg.User
	recent := map[string][]cg.Dashboard{}
	var dashboards []cg.Dashboard
	for i := range 60 {
		name := fmt.Sprintf("user%02d", i)
		users = append(users, cg.User{ID: int64(i), Name: name, Status: cg.UserProvisioning, StatusReason: long("<!channel>&", 500), CreatedAt: at})
		for j := range 6 {
			d := cg.Dashboard{UID: fmt.Sprintf("cg-%s-timing-%08d", name, j), Kind: cg.KindTiming, TableName: long("t<", 40),
				URL: "https://grafana.example.com/d/x?a=1&b=|2", State: cg.DashboardFailed, LastError: long("<@U0BOBBY001>", 400)}
			recent[name] = append(recent[name], d)
			dashboards = append(dashboards, d)
		}
	}
	var creds []cg.Credential
	for i := range 80 {
		creds = append(creds, cg.Credential{Key: fmt.Sprintf("k%d", i), Masked: long("<x>", 400)})
	}
	figures := make([]cg.Figure, 45)
	for i := range figures {
		figures[i] = cg.Figure{Name: long("n>", 1500), Value: float64(i), Unit: long("u&", 100)}
	}
	post := cg.Post{User: "alice", Kind: cg.KindTiming, Database: "alice-timing_report", Table: long("t", 3000),
		Design: long("<!channel>", 800), Platform: long("<https://evil.example|x>", 300), RunID: long("r", 3000), Stage: long("s", 3000),
		DashboardUID: "cg-alice-timing-00000001", DashboardURL: "https://grafana.example.com/d/cg-alice-timing-00000001",
		Title: long("T", 500), PreviousTable: long("p", 3000), Figures: figures}

	check := func(what string, err error) {
		t.Helper()
		if err != nil {
			var se slack.SlackErrorResponse
			errors.As(err, &se)
			t.Errorf("%s: Slack refused it: %v %q", what, err, se.ResponseMetadata.Messages)
		}
	}
	// Only the bot's own links (to Grafana) may be control sequences.
	noHostileControls := func(what string, controls []string) {
		t.Helper()
		for _, c := range controls {
			if !strings.HasPrefix(c, "<https://grafana.example.com/") {
				t.Errorf("%s: Slack would act on %q", what, c)
				return
			}
		}
	}
	_, _, err := api.PostMessage("C0RESULTS1", slack.MsgOptionText(PostText(post), false), slack.MsgOptionBlocks(PostBlocks(post)...))
	check("pipeline message", err)
	for _, m := range srv.Messages("C0RESULTS1") {
		noHostileControls("pipeline message", m.Controls())
	}
	replies := map[string]reply{
		"user list":  userListReply("/cg", commands.UserPage{Users: users, NextCursor: long("c", 100), Total: len(users) + 7, More: 7}),
		"cred list":  credListReply("/cg", long("c", 500), creds),
		"user show":  userShowReply("/cg", commands.UserDetail{User: users[0], Credentials: creds}),
		"dashboards": dashboardsReply("/cg", long("d", 500), "TIMING", commands.DashboardPage{Dashboards: dashboards, NextCursor: long("c", 100), More: 3}),
		"status":     statusReply(commands.Status{Failures: dashboards}),
	}
	for what, r := range replies {
		p := r.payload()
		blocks, _ := p["blocks"].([]slack.Block)
		url := srv.NewResponseURL("C0RESULTS1", "U0ALICE001")
		_, _, err := api.PostMessage("", slack.MsgOptionResponseURL(url, slack.ResponseTypeEphemeral),
			slack.MsgOptionText(p["text"].(string), false), slack.MsgOptionBlocks(blocks...))
		check(what, err)
		if posts := srv.ResponsePosts(url); len(posts) != 1 || len(posts[0].Blocks) == 0 {
			t.Errorf("%s: posted %+v", what, posts)
		} else {
			noHostileControls(what, posts[0].Controls())
		}
	}
	users[0].Name = long("u", 100)
	views := map[string]slack.ModalViewRequest{
		"add user":                 UserAddModal(),
		"set credential":           CredSetModal("", "db_host", users),
		"set credential of a user": CredSetModal(long("<u>", 300), "", nil),
		"remove":                   RemoveModal(long("<u>", 300), true),
		"message":                  *messageView(long("title ", 10), long("<!channel> ", 500)),
	}
	for what, v := range views {
		_, err := api.OpenView(srv.IssueTrigger("U0ALICE001"), v)
		check(what, err)
	}
	home := slack.HomeTabViewRequest{Type: slack.VTHomeTab, Blocks: slack.Blocks{BlockSet: HomeBlocks("/cg", commands.Actor{Admin: true}, commands.UserPage{Users: users, More: 40}, recent, "Ask someone.")}}
	_, err = api.PublishView("U0ALICE001", home, "")
	check("app home", err)
	raw, _ := srv.HomeView("U0ALICE001")
	for _, text := range slacktest.MrkdwnTexts(raw) {
		noHostileControls("app home", slacktest.Controls(text))
	}
}
