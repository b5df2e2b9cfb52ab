package scheduler_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"credential-grafana/cg"
	"credential-grafana/commands"
	"credential-grafana/db"
	"credential-grafana/grafana/grafanatest"
	"credential-grafana/scheduler"
)

// A user's own slack_bot_token that no longer decrypts: the dashboard and the GIF are
// still made from the user's other credentials, and the post stops naming the key
// instead of posting with the service's token.
func TestAnUnreadableSecretStopsOnlyTheStepThatNeedsItAndIsNamed(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	if _, err := w.env.Service.SetCredential(ctx, commands.CLI, w.user, "slack_bot_token", "xoxb-users-own-0123456789", commands.Upsert); err != nil {
		t.Fatal(err)
	}
	u, err := w.env.DB.Users().ByName(ctx, w.user)
	if err != nil {
		t.Fatal(err)
	}
	foreign, _ := db.NewCipher(bytes.Repeat([]byte{6}, 32)) // a key this installation does not have
	sealed, _ := foreign.Seal("xoxb-users-own-0123456789", fmt.Sprintf("%d/slack_bot_token", u.ID))
	if _, err := w.env.DB.Pool.Exec(ctx, "UPDATE credentials SET value_cipher = $2 WHERE user_id = $1 AND key_name = 'slack_bot_token'", u.ID, sealed); err != nil {
		t.Fatal(err)
	}
	w.createTable(t, cg.KindDRC, "gcd_asap7_unreadable", grafanatest.SampleRun{Platform: "asap7"})
	res := w.scan(t)
	if len(res.New) != 1 || len(res.Failures) != 0 {
		t.Fatalf("scan: %+v", res)
	}
	d := w.waitFor(t, res.New[0].ID, func(d cg.Dashboard) bool { return d.State == cg.DashboardFailed || d.State == cg.DashboardPosted })
	if d.State != cg.DashboardFailed || d.Step != scheduler.StepPost || d.LocalSnapshotURL == "" ||
		!strings.Contains(d.LastError, "slack_bot_token") || !strings.Contains(d.LastError, "CREDENTIALS_KEY_PREVIOUS") {
		t.Fatalf("record: state %s step %s GIF %q error %q", d.State, d.Step, d.LocalSnapshotURL, d.LastError)
	}
	if n := w.slack.Calls("files.getUploadURLExternal"); n != 0 {
		t.Fatalf("%d uploads tried with another token than the user's", n)
	}
}
