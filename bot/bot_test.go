package bot_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"credential-grafana/bot"
	"credential-grafana/bot/slacktest"
	"credential-grafana/cg"
	"credential-grafana/commands"
	"credential-grafana/commands/commandstest"
	"credential-grafana/scheduler"
)

// Slack members of the tests: one administrator, two members who own users.
const (
	adminID = "U0ADMIN001"
	aliceID = "U0ALICE001"
	bobID   = "U0BOBBY001"
)

// harness is a running bot against the Slack fake and a real commands.Service.
type harness struct {
	t   *testing.T
	ctx context.Context
	srv *slacktest.Server
	env *commandstest.Env
	bot *bot.Bot
}

func withScanner(cfg *commands.Config) {
	cfg.Scanner = scheduler.NewScanner(scheduler.ScannerConfig{DB: cfg.DB, Cipher: cfg.Cipher, Logger: cfg.Logger})
}

func startBot(t *testing.T, configure ...func(*bot.Config)) *harness {
	t.Helper()
	return startBotWith(t, nil, configure...)
}

// startBotWith is startBot over a service with envOpts applied to its configuration.
func startBotWith(t *testing.T, envOpts []commandstest.Option, configure ...func(*bot.Config)) *harness {
	t.Helper()
	srv := slacktest.New(t, slacktest.WithPingInterval(200*time.Millisecond))
	srv.AddChannel(resultsChannel, "eda-results", slacktest.BotMember())
	for _, u := range []slacktest.User{{ID: adminID, Name: "ada"}, {ID: aliceID, Name: "alice"}, {ID: bobID, Name: "bob"}} {
		srv.AddUser(u)
	}
	env := commandstest.New(t, append([]commandstest.Option{withScanner}, envOpts...)...)
	cfg := bot.Config{
		Service: env.Service, BotToken: cg.Secret(srv.BotToken()), AppToken: cg.Secret(srv.AppToken()),
		APIURL: srv.APIURL(), AdminUsers: []string{adminID}, Logger: env.Logger,
		BackoffMin: 10 * time.Millisecond, BackoffMax: 80 * time.Millisecond, PingInterval: 5 * time.Second,
	}
	for _, c := range configure {
		c(&cfg)
	}
	b, err := bot.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	})
	if err := srv.WaitConnected(ctx, 1); err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, ctx: ctx, srv: srv, env: env, bot: b}
}

// slash runs "/cg text" as user and returns the delivery and its ack, which must be in time.
func (h *harness) slash(user, text string) (*slacktest.Delivery, slacktest.Ack) {
	h.t.Helper()
	d, err := h.srv.SendSlashCommand(h.ctx, slacktest.SlashCommand{Command: "/cg", Text: text, UserID: user, ChannelID: resultsChannel})
	if err != nil {
		h.t.Fatal(err)
	}
	ack, err := d.WaitAck(h.ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	if ack.Late {
		h.t.Fatalf("/cg %s: acked late (%s)", text, ack.Latency)
	}
	return d, ack
}

// answer runs "/cg text" and returns the first reply posted to its response_url.
func (h *harness) answer(user, text string) slacktest.ResponsePost {
	h.t.Helper()
	d, _ := h.slash(user, text)
	return h.firstPost(d, text)
}

func (h *harness) firstPost(d *slacktest.Delivery, what string) slacktest.ResponsePost {
	h.t.Helper()
	eventually(h.t, h.ctx, "a reply to "+what, func() bool { return len(d.ResponsePosts()) > 0 })
	p := d.ResponsePosts()[0]
	if p.ResponseType != "ephemeral" {
		h.t.Errorf("%s: reply is %s, want ephemeral", what, p.ResponseType)
	}
	return p
}

// all is a reply's text and the texts in its blocks, for looking things up.
func all(p slacktest.ResponsePost) string { return p.Text + "\n" + blockTexts(p.Blocks) }

// blockTexts collects every string in Block Kit JSON, one per line.
func blockTexts(raw json.RawMessage) string {
	var v any
	_ = json.Unmarshal(raw, &v)
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			out = append(out, x)
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	return strings.Join(out, "\n")
}

func mustContain(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("%s: %q lacks %q", what, got, w)
		}
	}
}

// ackPayload decodes an ack's payload.
func ackPayload(t *testing.T, ack slacktest.Ack) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(ack.Payload, &m); err != nil {
		t.Fatalf("ack payload %s: %v", ack.Payload, err)
	}
	return m
}

// modalOpened waits for the views.open of the delivery's trigger and returns the view ID.
func (h *harness) modalOpened(trigger string) slacktest.ViewCall {
	h.t.Helper()
	var vc slacktest.ViewCall
	eventually(h.t, h.ctx, "views.open", func() bool {
		for _, c := range h.srv.ViewCalls() {
			if c.Method == "views.open" && c.TriggerID == trigger {
				vc = c
				return true
			}
		}
		return false
	})
	return vc
}

// submit submits a modal as user and returns the ack, which must be in time.
func (h *harness) submit(viewID, user string, values map[string]map[string]slacktest.InputValue) slacktest.Ack {
	h.t.Helper()
	d, err := h.srv.SendViewSubmission(h.ctx, slacktest.ViewSubmission{ViewID: viewID, UserID: user, Values: values})
	if err != nil {
		h.t.Fatal(err)
	}
	ack, err := d.WaitAck(h.ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	if ack.Late {
		h.t.Fatalf("submission acked late (%s)", ack.Latency)
	}
	return ack
}

// viewText is a view's current content.
func (h *harness) viewText(viewID string) string {
	v, _, _ := h.srv.View(viewID)
	return string(v)
}

func (h *harness) auditCount(actor, action string) int {
	h.t.Helper()
	var n int
	if err := h.env.DB.Pool.QueryRow(h.ctx, "SELECT count(*) FROM audit_log WHERE actor = $1 AND action = $2", actor, action).Scan(&n); err != nil {
		h.t.Fatal(err)
	}
	return n
}

func (h *harness) createUser(prefix, slackOwner string) string {
	h.t.Helper()
	name := h.env.UniqueUser(h.t, prefix)
	if _, err := h.env.Service.CreateUser(h.ctx, commands.CLI, commands.CreateUserInput{Username: name, SlackUserID: slackOwner}); err != nil {
		h.t.Fatal(err)
	}
	return name
}

func TestHelpAndMalformedCommandsAnswerInTheAck(t *testing.T) {
	t.Parallel()
	h := startBot(t)
	_, ack := h.slash(aliceID, "help")
	p := ackPayload(t, ack)
	blocks, _ := json.Marshal(p["blocks"])
	mustContain(t, "help", blockTexts(blocks), "/cg user add &lt;name&gt;", "e.g. `/cg cred set alice slack_channel_id C012AB3CD4E`", "<@"+adminID+">")
	if p["response_type"] != "ephemeral" {
		t.Errorf("help is %v", p["response_type"])
	}
	_, ack = h.slash(aliceID, "usr lst")
	mustContain(t, "usr lst", ackPayload(t, ack)["text"].(string), "I understood `/cg usr lst`", "Did you mean `/cg user list`")
	_, ack = h.slash(aliceID, "cred reveal alice")
	mustContain(t, "cred reveal alice", ackPayload(t, ack)["text"].(string), "takes `&lt;user&gt; &lt;key&gt;`", "/cg cred reveal &lt;user&gt; &lt;key&gt;")
}

func TestEverySubcommandAnswersAsTheCommandsDo(t *testing.T) {
	t.Parallel()
	h := startBot(t)
	name := h.env.UniqueUser(t, "slk")

	added := all(h.answer(adminID, "user add "+name+" <@"+aliceID+"|alice> <#"+resultsChannel+"|eda-results>"))
	mustContain(t, "user add", added, "User *"+name+"* is ready", name+"-timing_report", "API key", "`cgk_")
	if i := strings.Index(added, "`cgk_"); i >= 0 {
		key := strings.SplitN(added[i+1:], "`", 2)[0]
		if strings.Contains(h.env.Log.String(), key) {
			t.Error("the new API key reached the log")
		}
	}
	u, err := h.env.Service.ShowUser(h.ctx, commands.CLI, name)
	if err != nil || u.SlackUserID != aliceID || u.Status != cg.UserActive {
		t.Fatalf("user after add: %+v, %v", u, err)
	}
	if n := h.auditCount("slack:"+adminID, "user.create"); n != 1 {
		t.Errorf("user.create audited %d times as slack:%s", n, adminID)
	}
	again := all(h.answer(adminID, "user add "+name))
	_, cliErr := h.env.Service.CreateUser(h.ctx, commands.CLI, commands.CreateUserInput{Username: name})
	mustContain(t, "user add again", again, cg.ErrorMessage(cliErr))
	bad := all(h.answer(adminID, "user add Bad.Name"))
	mustContain(t, "user add Bad.Name", bad, "invalid username", `use "bad-name"`)

	mustContain(t, "user list", all(h.answer(adminID, "user list")), "*"+name+"*", "owner <@"+aliceID+">")
	mustContain(t, "user list as alice", all(h.answer(aliceID, "user list")), "*"+name+"*")
	mustContain(t, "user show", all(h.answer(aliceID, "user show "+name)), "User "+name, "db_pass", "********")
	mustContain(t, "cred list", all(h.answer(aliceID, "cred list "+name)), "Credentials of "+name, "`slack_channel_id`", resultsChannel)

	mustContain(t, "scan", all(h.answer(aliceID, "scan "+name)), "Scan done: 1 users, 3 databases")
	mustContain(t, "cred set", all(h.answer(aliceID, "cred set "+name+" slack_channel_id C0ALICE0001")), "Set `slack_channel_id`", "C0ALICE0001")
	// Issue 9: a system key is nobody's to set, a connection key only an administrator's.
	mustContain(t, "cred set system key", all(h.answer(aliceID, "cred set "+name+" grafana_uid_timing cg-bob-timing")),
		"grafana_uid_timing is set by the service", "user retry "+name)
	mustContain(t, "cred set connection key", all(h.answer(aliceID, "cred set "+name+" db_host 169.254.169.254")),
		"db_host is a connection key", "only an administrator")
	mustContain(t, "cred set host not allowed", all(h.answer(adminID, "cred set "+name+" db_host 169.254.169.254")),
		"not in USER_DB_ALLOWED_HOSTS")
	if c, _ := h.env.Service.RevealCredential(h.ctx, commands.CLI, name, "db_host"); c.Value.Reveal() == "169.254.169.254" {
		t.Fatal("a refused db_host was stored")
	}
	before, _ := h.env.Service.RevealCredential(h.ctx, commands.CLI, name, "db_pass")
	d, _ := h.slash(aliceID, "cred set "+name+" db_pass hunter2-typed-inline")
	mustContain(t, "a secret typed inline opens the form", string(h.modalOpened(d.TriggerID).View), bot.CallbackCredSet, "db_pass")
	if after, _ := h.env.Service.RevealCredential(h.ctx, commands.CLI, name, "db_pass"); after.Value != before.Value {
		t.Fatal("a secret typed into the command was stored")
	}
	mustContain(t, "cred set bad port", all(h.answer(adminID, "cred set "+name+" db_port 99999")), "expected a port number from 1 to 65535")
	mustContain(t, "cred set unknown key", all(h.answer(aliceID, "cred set "+name+" db_hots x")), `did you mean "db_host"`)
	mustContain(t, "cred reveal", all(h.answer(aliceID, "cred reveal "+name+" slack_channel_id")), "```C0ALICE0001```", "only to you")
	mustContain(t, "cred delete", all(h.answer(aliceID, "cred delete "+name+" slack_channel_id")), "Deleted `slack_channel_id`")
	_, cliErr = h.env.Service.RevealCredential(h.ctx, commands.CLI, name, "slack_channel_id")
	mustContain(t, "cred reveal after delete", all(h.answer(aliceID, "cred reveal "+name+" slack_channel_id")), cg.ErrorMessage(cliErr))

	mustContain(t, "dashboards", all(h.answer(aliceID, "dashboards "+name)), "No run tables of "+name)
	mustContain(t, "dashboards bad kind", all(h.answer(aliceID, "dashboards "+name+" foo")), "unknown kind")
	mustContain(t, "scan all as alice", all(h.answer(aliceID, "scan")), "only an administrator may scan every user", "<@"+adminID+">")
	mustContain(t, "recapture", all(h.answer(aliceID, "recapture cg-nothing-here")), `no dashboard "cg-nothing-here"`)
	mustContain(t, "mute", all(h.answer(aliceID, "mute cg-nothing-here")), `no dashboard "cg-nothing-here"`)
	mustContain(t, "status", all(h.answer(aliceID, "status")), "credential-grafana status", "database")

	mustContain(t, "user retry", all(h.answer(adminID, "user retry "+name)), "User *"+name+"* is finished")
	mustContain(t, "user disable", all(h.answer(adminID, "user disable "+name)), "User *"+name+"* disabled", "disabled")
	mustContain(t, "user enable", all(h.answer(adminID, "user enable "+name)), "User *"+name+"* enabled", "active")

	d, _ = h.slash(adminID, "user remove "+name)
	vc := h.modalOpened(d.TriggerID)
	mustContain(t, "remove confirmation", string(vc.View), "Remove *"+name+"*?")
	ack := h.submit(vc.ViewID, adminID, nil)
	mustContain(t, "remove ack", string(ack.Payload), `"response_action":"update"`, "removed")
	if u, _ := h.env.Service.ShowUser(h.ctx, commands.CLI, name); u.Status != cg.UserRemoved {
		t.Fatalf("status after remove = %s", u.Status)
	}
	if n := h.auditCount("slack:"+adminID, "user.remove"); n != 1 {
		t.Errorf("user.remove audited %d times", n)
	}
}

func TestCredentialModalShowsErrorsOnTheFieldThenStoresEncrypted(t *testing.T) {
	t.Parallel()
	h := startBot(t)
	name := h.createUser("mod", aliceID)
	d, _ := h.slash(aliceID, "cred set "+name)
	vc := h.modalOpened(d.TriggerID)
	values := func(v string) map[string]map[string]slacktest.InputValue {
		return map[string]map[string]slacktest.InputValue{
			bot.BlockKey:   {"input": {Type: "static_select", SelectedOption: "grafana_api_key"}},
			bot.BlockValue: {"input": {Value: v}},
		}
	}
	ack := h.submit(vc.ViewID, aliceID, values("not-a-token"))
	var resp struct {
		Action string            `json:"response_action"`
		Errors map[string]string `json:"errors"`
	}
	if err := json.Unmarshal(ack.Payload, &resp); err != nil || resp.Action != "errors" ||
		!strings.Contains(resp.Errors[bot.BlockValue], "expected a Grafana service-account token") {
		t.Fatalf("invalid value: ack %s", ack.Payload)
	}
	if _, err := h.env.Service.RevealCredential(h.ctx, commands.CLI, name, "grafana_api_key"); cg.ErrorCode(err) != cg.ENOTFOUND {
		t.Fatalf("after a refused submission the key exists: %v", err)
	}

	const token = "glsa_0123456789abcdefXYZ"
	ack = h.submit(vc.ViewID, aliceID, values(token))
	mustContain(t, "valid value", string(ack.Payload), `"response_action":"update"`, "Saved `grafana_api_key`", "glsa_********")
	if strings.Contains(string(ack.Payload), token) {
		t.Fatal("the ack shows the secret")
	}
	c, err := h.env.Service.RevealCredential(h.ctx, commands.CLI, name, "grafana_api_key")
	if err != nil || c.Value.Reveal() != token {
		t.Fatalf("stored value: %v", err)
	}
	var plain *string
	var cipher []byte
	if err := h.env.DB.Pool.QueryRow(h.ctx, `SELECT value_plain, value_cipher FROM credentials c JOIN users u ON u.id = c.user_id
		WHERE u.username = $1 AND key_name = 'grafana_api_key'`, name).Scan(&plain, &cipher); err != nil {
		t.Fatal(err)
	}
	if plain != nil || len(cipher) == 0 || strings.Contains(string(cipher), token) {
		t.Fatalf("not encrypted at rest: plain %v, cipher %d bytes", plain, len(cipher))
	}
	if n := h.auditCount("slack:"+aliceID, "credential.create"); n != 1 {
		t.Errorf("credential.create audited %d times as slack:%s", n, aliceID)
	}
	if strings.Contains(h.env.Log.String(), token) {
		t.Error("the secret reached the log")
	}
}

func TestUserAddModalRefusesABadNameThenCreatesTheUser(t *testing.T) {
	t.Parallel()
	h := startBot(t)
	d, _ := h.slash(adminID, "user add")
	vc := h.modalOpened(d.TriggerID)
	name := h.env.UniqueUser(t, "form")
	values := func(n string) map[string]map[string]slacktest.InputValue {
		return map[string]map[string]slacktest.InputValue{
			bot.BlockName:    {"input": {Value: n}},
			bot.BlockOwner:   {"input": {Type: "users_select", SelectedUser: bobID}},
			bot.BlockChannel: {"input": {Type: "conversations_select", SelectedConversation: resultsChannel}},
		}
	}
	ack := h.submit(vc.ViewID, adminID, values("Not Valid!"))
	mustContain(t, "bad name", string(ack.Payload), `"response_action":"errors"`, `"`+bot.BlockName+`":"invalid username`)
	if users, _ := h.env.Service.ListUsers(h.ctx, commands.CLI); len(users) != 0 {
		t.Fatalf("users after a refused form: %+v", users)
	}
	ack = h.submit(vc.ViewID, adminID, values(name))
	mustContain(t, "good name", string(ack.Payload), `"response_action":"update"`)
	eventually(t, h.ctx, "the form to show the new user", func() bool { return strings.Contains(h.viewText(vc.ViewID), "API key") })
	u, err := h.env.Service.ShowUser(h.ctx, commands.CLI, name)
	if err != nil || u.SlackUserID != bobID || u.Status != cg.UserActive {
		t.Fatalf("user: %+v, %v", u, err)
	}
}

func TestANonAdminIsRefusedPolitelyAndNothingChanges(t *testing.T) {
	t.Parallel()
	h := startBot(t)
	bobs := h.createUser("bobs", bobID)
	for _, cmd := range []string{"user disable " + bobs, "user add " + h.env.UniqueUser(t, "nope"), "cred list " + bobs, "cred reveal " + bobs + " db_pass"} {
		mustContain(t, cmd, all(h.answer(aliceID, cmd)), "Sorry,", "Ask <@"+adminID+">")
	}
	if u, _ := h.env.Service.ShowUser(h.ctx, commands.CLI, bobs); u.Status != cg.UserActive {
		t.Fatalf("bob's user is %s", u.Status)
	}
	if users, _ := h.env.Service.ListUsers(h.ctx, commands.CLI); len(users) != 1 {
		t.Fatalf("users = %+v", users)
	}
	if n := h.auditCount("slack:"+aliceID, "credential.reveal"); n != 0 {
		t.Fatalf("a refused reveal was audited as done")
	}
}

// recordDashboard adds a posted run of user's design, as the pipeline would have.
func (h *harness) recordDashboard(user, uid string) {
	h.t.Helper()
	_, err := h.env.DB.Pool.Exec(h.ctx, `INSERT INTO dashboards (user_id, kind, table_name, dashboard_uid, dashboard_url, state, design)
		SELECT id, 'TIMING', 'gcd_run1', $2, 'https://grafana.example.com/d/' || $2, 'posted', 'gcd' FROM users WHERE username = $1`, user, uid)
	if err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) muted() int {
	var n int
	if err := h.env.DB.Pool.QueryRow(h.ctx, "SELECT count(*) FROM muted_designs").Scan(&n); err != nil {
		h.t.Fatal(err)
	}
	return n
}

func (h *harness) press(user, actionID, value string) slacktest.ResponsePost {
	h.t.Helper()
	d, err := h.srv.SendBlockAction(h.ctx, slacktest.BlockAction{UserID: user, ActionID: actionID, Value: value, ChannelID: resultsChannel})
	if err != nil {
		h.t.Fatal(err)
	}
	if ack, err := d.WaitAck(h.ctx); err != nil || ack.Late {
		h.t.Fatalf("button ack: %+v, %v", ack, err)
	}
	return h.firstPost(d, actionID)
}

func TestButtonsOnAnotherUsersDashboardAreRefused(t *testing.T) {
	t.Parallel()
	h := startBot(t)
	bobs := h.createUser("btn", bobID)
	uid := "cg-" + bobs + "-timing-0001"
	h.recordDashboard(bobs, uid)

	mustContain(t, "alice mutes bob's design", all(h.press(aliceID, bot.ActionMuteDesign, uid)), "no dashboard", "among the users you may manage")
	mustContain(t, "alice re-records bob's GIF", all(h.press(aliceID, bot.ActionRecapture, uid)), "no dashboard", "among the users you may manage")
	if n := h.muted(); n != 0 {
		t.Fatalf("muted designs after a refusal: %d", n)
	}
	mustContain(t, "bob mutes his design", all(h.press(bobID, bot.ActionMuteDesign, uid)), "Muted TIMING runs of *gcd*")
	if n := h.muted(); n != 1 {
		t.Fatalf("muted designs: %d", n)
	}
	if n := h.auditCount("slack:"+bobID, "design.mute"); n != 1 {
		t.Errorf("design.mute audited %d times", n)
	}
	mustContain(t, "bob re-records (no pipeline here)", all(h.press(bobID, bot.ActionRecapture, uid)), "the pipeline is not running in this process")
}

func TestAppHomeShowsTheViewersUsersOnceAndItsButtonsOpenForms(t *testing.T) {
	t.Parallel()
	h := startBot(t)
	bobs := h.createUser("home", bobID)
	h.recordDashboard(bobs, "cg-"+bobs+"-timing-0002")
	ev := slacktest.Event{EventID: "Ev0HOME0001", Event: map[string]any{"type": "app_home_opened", "user": bobID, "tab": "home", "channel": "D0BOBBY001"}}
	d, err := h.srv.SendEvent(h.ctx, ev)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.WaitAck(h.ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, h.ctx, "app home published", func() bool { _, ok := h.srv.HomeView(bobID); return ok })
	home, _ := h.srv.HomeView(bobID)
	mustContain(t, "home", string(home), "*"+bobs+"*", "gcd_run1", "https://grafana.example.com/d/cg-"+bobs, "Set credential", bot.ActionHomeSetCredential)
	if strings.Contains(string(home), bot.ActionHomeAddUser) {
		t.Error("a non-admin's home offers to add users")
	}
	// A redelivery of the same event publishes nothing more.
	d2, err := h.srv.Redeliver(h.ctx, d, "timeout")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d2.WaitAck(h.ctx); err != nil {
		t.Fatal(err)
	}
	h.slash(bobID, "help") // a later envelope: the redelivery has been handled by now
	if n := h.srv.Calls("views.publish"); n != 1 {
		t.Fatalf("views.publish calls = %d, want 1", n)
	}

	var homeID string
	for _, c := range h.srv.ViewCalls() {
		if c.Method == "views.publish" {
			homeID = c.ViewID
		}
	}
	pd, err := h.srv.SendBlockAction(h.ctx, slacktest.BlockAction{UserID: bobID, ActionID: bot.ActionHomeSetCredential, Value: bobs, ViewID: homeID})
	if err != nil {
		t.Fatal(err)
	}
	vc := h.modalOpened(pd.TriggerID)
	mustContain(t, "credential form from home", string(vc.View), bot.CallbackCredSet, "Credential of *"+bobs+"*")
}

func TestDisconnectRefreshRequestedReconnectsAndTheNextCommandWorks(t *testing.T) {
	t.Parallel()
	h := startBot(t)
	h.srv.Disconnect("refresh_requested")
	if err := h.srv.WaitConnected(h.ctx, 2); err != nil {
		t.Fatal(err)
	}
	mustContain(t, "after reconnect", all(h.answer(adminID, "user list")), "No users you may manage yet")
	eventually(t, h.ctx, "Check to say connected", func() bool { return h.bot.Check(h.ctx) == nil })
}

func TestRevokedAppTokenIsReportedAndRetriedWithBackoff(t *testing.T) {
	t.Parallel()
	h := startBot(t)
	eventually(t, h.ctx, "Check to say connected", func() bool { return h.bot.Check(h.ctx) == nil })
	opens := h.srv.Calls("apps.connections.open")
	h.srv.RevokeAppToken()
	eventually(t, h.ctx, "Check to report the revoked token", func() bool {
		err := h.bot.Check(h.ctx)
		return err != nil && strings.Contains(err.Error(), "Slack refused the app token (token_revoked)") && strings.Contains(err.Error(), "retrying in")
	})
	eventually(t, h.ctx, "the supervisor to keep retrying", func() bool { return h.srv.Calls("apps.connections.open") >= opens+3 })
	h.srv.RestoreToken(h.srv.AppToken())
	if err := h.srv.WaitConnected(h.ctx, 2); err != nil {
		t.Fatal(err)
	}
	eventually(t, h.ctx, "Check to recover", func() bool { return h.bot.Check(h.ctx) == nil })
	mustContain(t, "after the token is back", all(h.answer(adminID, "user list")), "No users")
}

func TestASlowSubmissionIsAckedWithAWorkingViewAndFinishedByUpdate(t *testing.T) {
	t.Parallel()
	h := startBot(t, func(c *bot.Config) { c.AckBudget = time.Nanosecond })
	d, _ := h.slash(adminID, "user add")
	vc := h.modalOpened(d.TriggerID)
	name := h.env.UniqueUser(t, "slow")
	ack := h.submit(vc.ViewID, adminID, map[string]map[string]slacktest.InputValue{bot.BlockName: {"input": {Value: name}}})
	mustContain(t, "ack", string(ack.Payload), `"response_action":"update"`, "Working")
	eventually(t, h.ctx, "views.update with the result", func() bool { return strings.Contains(h.viewText(vc.ViewID), "API key") })
	if u, err := h.env.Service.ShowUser(h.ctx, commands.CLI, name); err != nil || u.Status != cg.UserActive {
		t.Fatalf("user: %+v, %v", u, err)
	}
}

func TestMetricsCountEnvelopesAndTheConnection(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	h := startBot(t, func(c *bot.Config) { c.Registerer = reg })
	h.slash(aliceID, "help")
	eventually(t, h.ctx, "metrics", func() bool {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		var connected, slash, acks float64
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				switch mf.GetName() {
				case "cg_slack_connected":
					connected = m.GetGauge().GetValue()
				case "cg_slack_envelopes_total":
					if len(m.GetLabel()) == 1 && m.GetLabel()[0].GetValue() == "slash_commands" {
						slash = m.GetCounter().GetValue()
					}
				case "cg_slack_acks_total":
					acks += m.GetCounter().GetValue()
				}
			}
		}
		return connected == 1 && slash == 1 && acks >= 1
	})
}

func TestANonAdminAskingToRemoveAUserIsRefusedBeforeAnyForm(t *testing.T) {
	t.Parallel()
	h := startBot(t)
	name := h.env.UniqueUser(t, "rem")
	h.env.CreateUser(t, name)
	mustContain(t, "remove as alice", all(h.answer(aliceID, "user remove "+name)), "only an administrator may remove users", "<@"+adminID+">")
	if n := h.srv.Calls("views.open"); n != 0 {
		t.Fatalf("a confirmation form was opened %d times for a refused removal", n)
	}
	if u, _ := h.env.Service.ShowUser(h.ctx, commands.CLI, name); u.Status != cg.UserActive {
		t.Fatalf("user is %s after a refused removal", u.Status)
	}
}

func TestMembersOfTheAdminUserGroupAreAdministrators(t *testing.T) {
	t.Parallel()
	const groupID, carolID = "S0ADMINS001", "U0CAROL001"
	h := startBot(t, func(c *bot.Config) { c.AdminGroup = groupID })
	h.srv.AddUser(slacktest.User{ID: carolID, Name: "carol"})
	h.srv.AddUserGroup(groupID, carolID)
	if got := all(h.answer(carolID, "scan")); strings.Contains(got, "only an administrator") {
		t.Fatalf("a member of the admin group was refused: %s", got)
	}
	mustContain(t, "scan as bob", all(h.answer(bobID, "scan")), "only an administrator may scan every user")
	if h.srv.Calls("usergroups.users.list") == 0 {
		t.Fatal("the admin group was never read")
	}
}
