package bot_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"credential-grafana/cg"
	"credential-grafana/commands"
	"credential-grafana/db"
)

func TestUserKeyRepliesWithANewKeyOnlyToTheAskerAndRevokesTheOld(t *testing.T) {
	h := startBot(t)
	name := h.env.UniqueUser(t, "key")
	res, err := h.env.Service.CreateUser(h.ctx, commands.CLI, commands.CreateUserInput{Username: name, SlackUserID: aliceID})
	if err != nil {
		t.Fatal(err)
	}
	p := h.answer(aliceID, "user key "+name) // answer fails the test unless the reply is ephemeral
	text := all(p)
	i := strings.Index(text, "`cgk_")
	if i < 0 || !strings.Contains(text, "shown this once") {
		t.Fatalf("user key reply: %s", text)
	}
	newKey, _, _ := strings.Cut(text[i+1:], "`")
	if _, err := h.env.Service.Authenticate(h.ctx, res.APIKey.Reveal()); cg.ErrorCode(err) != cg.EUNAUTHORIZED {
		t.Fatalf("the old key still authenticates: %v", err)
	}
	if a, err := h.env.Service.Authenticate(h.ctx, newKey); err != nil || a.UserID != res.User.ID {
		t.Fatalf("the new key does not authenticate: %+v %v", a, err)
	}
	if n := h.auditCount("slack:"+aliceID, "user.api_key_reissue"); n != 1 {
		t.Fatalf("audited %d times", n)
	}
	mustContain(t, "bob may not", all(h.answer(bobID, "user key "+name)), "only manage your own")
}

func TestCredListInSlackNamesAnUnreadableValueWithTheWayOut(t *testing.T) {
	h := startBot(t)
	name := h.env.UniqueUser(t, "unread")
	res, err := h.env.Service.CreateUser(h.ctx, commands.CLI, commands.CreateUserInput{Username: name, SlackUserID: aliceID})
	if err != nil {
		t.Fatal(err)
	}
	foreign, _ := db.NewCipher(bytes.Repeat([]byte{5}, 32)) // a key this installation does not have
	sealed, _ := foreign.Seal("lost", fmt.Sprintf("%d/db_pass", res.User.ID))
	if _, err := h.env.DB.Pool.Exec(h.ctx, "UPDATE credentials SET value_cipher = $2 WHERE user_id = $1 AND key_name = 'db_pass'", res.User.ID, sealed); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"cred list ", "user show "} {
		mustContain(t, cmd, all(h.answer(aliceID, cmd+name)), "`db_viewer_pass`", "(unreadable)", "CREDENTIALS_KEY_PREVIOUS", "cred set "+name+" db_pass")
	}
}
