package bot_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"credential-grafana/bot"
	"credential-grafana/bot/slacktest"
	"credential-grafana/cg"
	"credential-grafana/commands"
	"credential-grafana/commands/commandstest"
	"credential-grafana/db"
	"credential-grafana/db/dbtest"
)

// nobodyID is a workspace member linked to no user and not an administrator.
const nobodyID = "U0NOBODY01"

// grafanaDown is a Grafana check that fails with an internal error naming a host.
func grafanaDown(cfg *commands.Config) {
	cfg.Checks = append(cfg.Checks, commands.HealthCheck{Name: "grafana", Run: func(context.Context) error {
		return errors.New("dial tcp 10.9.8.7:3000: connect: connection refused")
	}})
}

// runTable makes a table in user's database of kind, owned by the user's owner role.
func (h *harness) runTable(user string, kind cg.Kind, table string) {
	h.t.Helper()
	dbtest.Exec(h.t, kind.DatabaseName(user), "CREATE TABLE "+table+" (line text); ALTER TABLE "+table+" OWNER TO "+db.OwnerRole(user))
}

// failedDashboard records a run of user whose pipeline failed with lastError.
func (h *harness) failedDashboard(user, uid, lastError string) {
	h.t.Helper()
	_, err := h.env.DB.Pool.Exec(h.ctx, `INSERT INTO dashboards (user_id, kind, table_name, dashboard_uid, dashboard_url, state, last_error)
		SELECT id, 'TIMING', $3, $2, 'https://grafana.example.com/d/' || $2, 'failed', $4 FROM users WHERE username = $1`,
		user, uid, uid+"_table", lastError)
	if err != nil {
		h.t.Fatal(err)
	}
}

func mustLack(t *testing.T, what, got string, unwanted ...string) {
	t.Helper()
	for _, u := range unwanted {
		if strings.Contains(got, u) {
			t.Errorf("%s shows %q:\n%s", what, u, got)
		}
	}
}

// The finding: `/cg status` from any member listed every tenant's new and incompatible
// tables, unreachable databases with raw errors and hosts, and failures with links.
func TestStatusShowsAMemberOnlyTheUsersTheyManage(t *testing.T) {
	t.Parallel()
	h := startBotWith(t, []commandstest.Option{withScanner, grafanaDown})
	h.srv.AddUser(slacktest.User{ID: nobodyID, Name: "nobody"})
	alices := h.createUser("vis", aliceID)
	bobs := h.createUser("vis", bobID)
	lost := h.createUser("vis", "")
	h.runTable(alices, cg.KindQOR, "alice_notes")
	h.runTable(bobs, cg.KindQOR, "bob_secret_notes")
	dbtest.DropDatabase(t, cg.KindDRC.DatabaseName(lost)) // unreachable from now on
	h.failedDashboard(bobs, "cg-"+bobs+"-timing-0009", "capture failed at http://grafana.internal.example:3000/d/x")
	mustContain(t, "admin scan", all(h.answer(adminID, "scan")), "Scan done: 3 users", "bob_secret_notes", lost)

	admin := all(h.answer(adminID, "status"))
	mustContain(t, "admin status", admin, "alice_notes", "bob_secret_notes", lost, "10.9.8.7", "grafana.internal.example", "queue")

	nobody := all(h.answer(nobodyID, "status"))
	mustContain(t, "status of a member linked to no user", nobody, "credential-grafana status", "database", "grafana")
	mustLack(t, "status of a member linked to no user", nobody,
		alices, bobs, lost, "alice_notes", "bob_secret_notes", "10.9.8.7", "grafana.internal.example", "does not exist", "queue", "3 users")

	alice := all(h.answer(aliceID, "status"))
	mustContain(t, "alice's status", alice, "alice_notes")
	mustLack(t, "alice's status", alice, bobs, lost, "bob_secret_notes", "10.9.8.7", "grafana.internal.example", "queue", "3 users")

	bob := all(h.answer(bobID, "status"))
	mustContain(t, "bob's status", bob, "bob_secret_notes", "grafana.internal.example")
	mustLack(t, "bob's status", bob, alices, lost, "alice_notes", "10.9.8.7")
}

// A button's value is the payload's, so a member can press "Set credential" with any
// user's name: the form must not open for a user they may not manage.
func TestTheSetCredentialButtonOpensNoFormForAnotherUsersName(t *testing.T) {
	t.Parallel()
	h := startBot(t)
	bobs := h.createUser("visb", bobID)
	d, err := h.srv.SendBlockAction(h.ctx, slacktest.BlockAction{UserID: aliceID, ActionID: bot.ActionHomeSetCredential, Value: bobs, ChannelID: resultsChannel})
	if err != nil {
		t.Fatal(err)
	}
	vc := h.modalOpened(d.TriggerID)
	mustContain(t, "form for bob's user opened by alice", string(vc.View), "you may only manage your own user")
	mustLack(t, "form for bob's user opened by alice", string(vc.View), bot.CallbackCredSet)

	d, err = h.srv.SendBlockAction(h.ctx, slacktest.BlockAction{UserID: aliceID, ActionID: bot.ActionHomeSetCredential, Value: "", ChannelID: resultsChannel})
	if err != nil {
		t.Fatal(err)
	}
	vc = h.modalOpened(d.TriggerID)
	mustContain(t, "alice's user picker", string(vc.View), bot.CallbackCredSet, "no user you may manage")
	mustLack(t, "alice's user picker", string(vc.View), bobs)
}

// A dashboard UID of another user's is refused without saying whose it is, the same way
// as one that does not exist.
func TestAnotherUsersDashboardIsRefusedLikeAMissingOne(t *testing.T) {
	t.Parallel()
	h := startBot(t)
	bobs := h.createUser("visd", bobID)
	uid := "cg-visd-timing-0001"
	h.recordDashboard(bobs, uid)
	for _, cmd := range []string{"recapture ", "mute ", "unmute "} {
		got := all(h.answer(aliceID, cmd+uid))
		missing := all(h.answer(aliceID, cmd+"cg-visd-timing-9999"))
		mustLack(t, cmd+"of bob's dashboard by alice", got, bobs)
		if strings.ReplaceAll(got, uid, "X") != strings.ReplaceAll(missing, "cg-visd-timing-9999", "X") {
			t.Errorf("%s: bob's dashboard answers %q, a missing one %q", cmd, got, missing)
		}
	}
}
