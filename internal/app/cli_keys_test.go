package app

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"credential-grafana/commands/commandstest"
	"credential-grafana/db"
	"credential-grafana/db/dbtest"
)

// cliUser makes a CLI env with one user and returns the runner and the user's name.
func cliUser(t *testing.T) (string, string, func(stdin string, args ...string) (int, string, string)) {
	t.Helper()
	envFile, cli := cliEnv(t)
	user := dbtest.UniqueName("tty")
	commandstest.DropUserLater(t, user)
	if code, _, errOut := cli("", "user", "add", user); code != 0 {
		t.Fatalf("user add: %s", errOut)
	}
	return envFile, user, cli
}

func revealExact(t *testing.T, cli func(string, ...string) (int, string, string), user, key string) string {
	t.Helper()
	code, out, errOut := cli("", "cred", "reveal", user, key)
	if code != 0 {
		t.Fatalf("reveal %s: %d %s", key, code, errOut)
	}
	return strings.TrimSuffix(out, "\n")
}

func TestCredSetReadsAllOfStandardInputAndRefusesASecondLine(t *testing.T) {
	_, user, cli := cliUser(t)
	before := revealExact(t, cli, user, "db_pass")

	// printf 'first\nsecond\n' | cred set … db_pass stored "first" silently.
	code, _, errOut := cli("first\nsecond\n", "cred", "set", user, "db_pass")
	if code != 2 || !strings.Contains(errOut, "2 lines") || !strings.Contains(errOut, "nothing was changed") {
		t.Fatalf("multi-line value: %d %q", code, errOut)
	}
	if code, _, errOut = cli("only\n\n", "cred", "set", user, "db_pass", "-"); code != 2 || !strings.Contains(errOut, "line") {
		t.Fatalf("value and an empty line: %d %q", code, errOut)
	}
	if got := revealExact(t, cli, user, "db_pass"); got != before {
		t.Fatalf("a refused value changed db_pass to %q", got)
	}
	for stdin, want := range map[string]string{
		"one-line-value\n":  "one-line-value",
		"crlf-value\r\n":    "crlf-value",
		"no-newline-at-end": "no-newline-at-end",
		"  spaces kept  \n": "  spaces kept  ",
	} {
		if code, _, errOut := cli(stdin, "cred", "set", user, "db_pass"); code != 0 {
			t.Fatalf("cred set %q: %d %s", stdin, code, errOut)
		}
		if got := revealExact(t, cli, user, "db_pass"); got != want {
			t.Fatalf("stdin %q stored %q, want %q", stdin, got, want)
		}
	}
}

func TestCredSetTakesAValueStartingWithDashAfterDoubleDash(t *testing.T) {
	envFile, user, cli := cliUser(t)
	code, _, errOut := cli("", "cred", "set", user, "db_pass", "-starts-with-a-dash")
	if code != 2 || !strings.Contains(errOut, "--") || !strings.Contains(errOut, "after --") {
		t.Fatalf("a value starting with - without --: %d %q", code, errOut)
	}
	var out, stderr bytes.Buffer
	code = run(context.Background(), []string{"--env-file", envFile, "cred", "set", user, "db_pass", "--", "-starts-with-a-dash"},
		strings.NewReader(""), &out, &stderr)
	if code != 0 {
		t.Fatalf("cred set -- -value: %d %s", code, stderr.String())
	}
	if got := revealExact(t, cli, user, "db_pass"); got != "-starts-with-a-dash" {
		t.Fatalf("stored %q", got)
	}
	if code, out, _ := cli("", "help"); code != 0 || !strings.Contains(out, " -- ") || !strings.Contains(out, "standard input") {
		t.Fatalf("help does not document - and --:\n%s", out)
	}
}

// terminal runs the CLI with a pseudo-terminal as standard input and hands the test
// its other end, as a person at a terminal would type into it.
type terminal struct {
	master, tty *os.File
	shown       chan []byte // what the terminal shows, read from its master side
	typed       bytes.Buffer
}

func newTerminal(t *testing.T) *terminal {
	t.Helper()
	master, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal here: %v", err)
	}
	term := &terminal{master: master, tty: tty, shown: make(chan []byte, 64)}
	go func() { // a blocking read of the master ends when the tty side is closed (EIO)
		defer close(term.shown)
		for {
			buf := make([]byte, 256)
			n, err := master.Read(buf)
			if n > 0 {
				term.shown <- buf[:n]
			}
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { tty.Close(); master.Close() })
	return term
}

// waitFor reads what the terminal shows until it has shown want. It gives up after a
// long while (a bound for a CLI that never prompts, not a measure of speed).
func (term *terminal) waitFor(t *testing.T, want string) {
	t.Helper()
	giveUp := time.After(30 * time.Second)
	for !strings.Contains(term.typed.String(), want) {
		select {
		case b, ok := <-term.shown:
			if !ok {
				t.Fatalf("the terminal closed before showing %q; it showed %q", want, term.typed.String())
			}
			term.typed.Write(b)
		case <-giveUp:
			t.Fatalf("the terminal never showed %q; it showed %q", want, term.typed.String())
		}
	}
}

// waitEchoOff waits until the terminal no longer echoes what is typed. It gives up
// after a long while: a read that keeps echo on never switches it off.
func (term *terminal) waitEchoOff(t *testing.T) {
	t.Helper()
	for i := 0; i < 2000; i++ {
		tio, err := unix.IoctlGetTermios(int(term.tty.Fd()), unix.TCGETS)
		if err != nil {
			t.Fatal(err)
		}
		if tio.Lflag&unix.ECHO == 0 {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("echo is still on at the prompt; the terminal showed %q", term.typed.String())
}

// drain returns all the terminal showed, once the CLI has finished with it.
func (term *terminal) drain() string {
	term.tty.Close()
	for b := range term.shown {
		term.typed.Write(b)
	}
	return term.typed.String()
}

func TestCredSetOnATerminalPromptsTwiceWithoutEcho(t *testing.T) {
	envFile, user, cli := cliUser(t)
	term := newTerminal(t)
	const secret = "typed-at-the-terminal-0123"
	done := make(chan int, 1)
	var out, stderr bytes.Buffer
	go func() {
		done <- run(context.Background(), []string{"cred", "set", user, "db_pass", "--env-file", envFile}, term.tty, &out, &stderr)
	}()
	term.waitFor(t, "db_pass")
	term.waitEchoOff(t)
	term.master.WriteString(secret + "\n")
	term.waitFor(t, "again")
	term.waitEchoOff(t)
	term.master.WriteString(secret + "\n")
	if code := <-done; code != 0 {
		t.Fatalf("cred set on a terminal: %d %s", code, stderr.String())
	}
	tio, err := unix.IoctlGetTermios(int(term.tty.Fd()), unix.TCGETS)
	if err != nil || tio.Lflag&unix.ECHO == 0 {
		t.Fatalf("echo was left off (%v)", err)
	}
	shown := term.drain()
	if strings.Contains(shown, secret) || strings.Contains(out.String(), secret) || strings.Contains(stderr.String(), secret) {
		t.Fatalf("the secret was echoed: terminal %q, stdout %q", shown, out.String())
	}
	if got := revealExact(t, cli, user, "db_pass"); got != secret {
		t.Fatalf("stored %q", got)
	}
}

func TestCredSetOnATerminalRefusesTwoDifferentEntries(t *testing.T) {
	envFile, user, cli := cliUser(t)
	before := revealExact(t, cli, user, "db_pass")
	term := newTerminal(t)
	done := make(chan int, 1)
	var stderr bytes.Buffer
	go func() {
		done <- run(context.Background(), []string{"cred", "set", user, "db_pass", "--env-file", envFile}, term.tty, io.Discard, &stderr)
	}()
	term.waitFor(t, "db_pass")
	term.waitEchoOff(t)
	term.master.WriteString("first-entry-of-the-secret\n")
	term.waitFor(t, "again")
	term.waitEchoOff(t)
	term.master.WriteString("second-entry-differs\n")
	if code := <-done; code != 2 || !strings.Contains(stderr.String(), "differ") {
		t.Fatalf("two different entries: %d %s", code, stderr.String())
	}
	if got := revealExact(t, cli, user, "db_pass"); got != before {
		t.Fatalf("db_pass changed to %q", got)
	}
}

// sealUnderForeignKey replaces the stored value of key with one sealed under a key this
// installation does not have (as after CREDENTIALS_KEY was changed without keeping the
// old one in CREDENTIALS_KEY_PREVIOUS), and returns that key.
func sealUnderForeignKey(t *testing.T, envFile, user, key string) []byte {
	t.Helper()
	master := masterDatabase(t, envFile)
	conn := dbtest.Connect(t, master)
	var id int64
	if err := conn.QueryRow(context.Background(), "SELECT id FROM users WHERE username = $1", user).Scan(&id); err != nil {
		t.Fatal(err)
	}
	foreign := bytes.Repeat([]byte{7}, 32)
	c, err := db.NewCipher(foreign)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := c.Seal("value-under-a-lost-key", fmt.Sprintf("%d/%s", id, key))
	if err != nil {
		t.Fatal(err)
	}
	tag, err := conn.Exec(context.Background(), "UPDATE credentials SET value_cipher = $3 WHERE user_id = $1 AND key_name = $2", id, key, sealed)
	if err != nil || tag.RowsAffected() != 1 {
		t.Fatalf("seal %s under a foreign key: %v %v", key, tag, err)
	}
	return foreign
}

func TestAValueThatDoesNotDecryptLeavesTheRestOfTheUserReadable(t *testing.T) {
	envFile, user, cli := cliUser(t)
	sealUnderForeignKey(t, envFile, user, "db_pass")

	for _, args := range [][]string{{"cred", "list", user}, {"user", "show", user}} {
		code, out, errOut := cli("", args...)
		if code != 0 || !strings.Contains(out, "db_viewer_pass") || !strings.Contains(out, "db_host") {
			t.Fatalf("%v with one unreadable value: %d\n%s\n%s", args, code, out, errOut)
		}
		if !strings.Contains(out, "db_pass") || !strings.Contains(out, "unreadable") ||
			!strings.Contains(out, "CREDENTIALS_KEY_PREVIOUS") || !strings.Contains(out, "cred set "+user+" db_pass") {
			t.Fatalf("%v does not name the unreadable key and what to do:\n%s", args, out)
		}
	}
	code, out, _ := cli("", "cred", "list", user, "--json")
	if code != 0 || !strings.Contains(out, `"unreadable"`) {
		t.Fatalf("cred list --json: %d %s", code, out)
	}
	// The scan reads the user's credentials as the pipeline does: it reaches all three
	// databases with the viewer's password, which still opens.
	code, out, errOut := cli("", "scan", "--once", "--user", user)
	if code != 0 || !strings.Contains(out, "0 unreachable") {
		t.Fatalf("scan with one unreadable value: %d\n%s\n%s", code, out, errOut)
	}
	// Setting the value again is the way out.
	if code, _, errOut := cli("new-password\n", "cred", "set", user, "db_pass"); code != 0 {
		t.Fatalf("set again: %s", errOut)
	}
	if got := revealExact(t, cli, user, "db_pass"); got != "new-password" {
		t.Fatalf("db_pass is %q after setting it again", got)
	}
}

func TestRekeyFromTheCLIResealsOldValuesReportsLostOnesAndStatusCountsThem(t *testing.T) {
	envFile, user, cli := cliUser(t)
	sealUnderForeignKey(t, envFile, user, "db_pass")
	viewerPass := revealExact(t, cli, user, "db_viewer_pass")
	// The service's own Grafana token, under the key that becomes the previous one.
	serviceToken := "glsa_made_by_the_service_0123456789"
	conn := dbtest.Connect(t, masterDatabase(t, envFile))
	oldKey, err := base64.StdEncoding.DecodeString(testKey)
	if err != nil {
		t.Fatal(err)
	}
	oldCipher, err := db.NewCipher(oldKey)
	if err != nil {
		t.Fatal(err)
	}
	sealedToken, err := oldCipher.Seal(serviceToken, "service/"+db.SecretGrafanaToken)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(context.Background(), "INSERT INTO service_secrets (name, value_cipher) VALUES ($1, $2)", db.SecretGrafanaToken, sealedToken); err != nil {
		t.Fatal(err)
	}
	content, err := os.ReadFile(envFile)
	if err != nil {
		t.Fatal(err)
	}
	newKey := "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI="
	rotated := strings.Replace(string(content), "CREDENTIALS_KEY="+testKey, "CREDENTIALS_KEY="+newKey+"\nCREDENTIALS_KEY_PREVIOUS="+testKey, 1)
	if rotated == string(content) {
		t.Fatal("the env file has no CREDENTIALS_KEY line to rotate")
	}
	if err := os.WriteFile(envFile, []byte(rotated), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := cli("", "status")
	if code != 0 || !strings.Contains(out, "secrets    0 under CREDENTIALS_KEY, 2 under an old key") || !strings.Contains(out, "1 under a key that is not configured") {
		t.Fatalf("status before rekey: %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = cli("", "rekey")
	if code != 1 || !strings.Contains(out, "re-encrypted 2 values") || !strings.Contains(out, "resealed  the service's own "+db.SecretGrafanaToken) ||
		!strings.Contains(out, "left  "+user+" db_pass") ||
		!strings.Contains(errOut, "CREDENTIALS_KEY_PREVIOUS") {
		t.Fatalf("rekey: %d\n%s\n%s", code, out, errOut)
	}
	if code, out, _ = cli("", "rekey"); code != 1 || !strings.Contains(out, "re-encrypted 0 values") || !strings.Contains(out, "2 were under it already") {
		t.Fatalf("second rekey: %d\n%s", code, out)
	}
	if code, out, _ = cli("", "status"); code != 0 || !strings.Contains(out, "secrets    2 under CREDENTIALS_KEY, 1 under a key") || strings.Contains(out, "old key") {
		t.Fatalf("status after rekey: %d\n%s", code, out)
	}
	// The old key can go: the resealed value opens with the new key alone.
	onlyNew := strings.Replace(rotated, "CREDENTIALS_KEY_PREVIOUS="+testKey+"\n", "", 1)
	if err := os.WriteFile(envFile, []byte(onlyNew), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := revealExact(t, cli, user, "db_viewer_pass"); got != viewerPass {
		t.Fatalf("db_viewer_pass after rekey is %q", got)
	}
	var resealedToken []byte
	if err := conn.QueryRow(context.Background(), "SELECT value_cipher FROM service_secrets WHERE name = $1", db.SecretGrafanaToken).Scan(&resealedToken); err != nil {
		t.Fatal(err)
	}
	newCipher, _ := db.NewCipher(bytes.Repeat([]byte{2}, 32)) // newKey
	if got, err := newCipher.Open(resealedToken, "service/"+db.SecretGrafanaToken); err != nil || got != serviceToken {
		t.Fatalf("the service's Grafana token after rekey, with the new key alone: %q %v", got, err)
	}
	var audited int
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM audit_log WHERE action = 'credentials.rekey'").Scan(&audited); err != nil || audited != 2 {
		t.Fatalf("audited rekeys: %d %v", audited, err)
	}
}

func TestUserKeyIssuesANewAPIKeyAndRevokesTheOld(t *testing.T) {
	envFile, cli := cliEnv(t)
	user := dbtest.UniqueName("key")
	commandstest.DropUserLater(t, user)
	code, out, errOut := cli("", "user", "add", user, "--json")
	if code != 0 {
		t.Fatalf("user add: %s", errOut)
	}
	_, oldKey, _ := strings.Cut(out, `"api_key": "`)
	oldKey, _, _ = strings.Cut(oldKey, `"`)
	code, out, errOut = cli("", "user", "key", user)
	if code != 0 || !strings.Contains(out, "shown once") {
		t.Fatalf("user key: %d %s %s", code, out, errOut)
	}
	newKey := out[strings.LastIndex(out, " ")+1 : len(out)-1]
	if !strings.HasPrefix(newKey, "cgk_") || newKey == oldKey || !strings.HasPrefix(oldKey, "cgk_") {
		t.Fatalf("keys: old %q new %q", oldKey, newKey)
	}
	conn := dbtest.Connect(t, masterDatabase(t, envFile))
	var matches int
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM users WHERE username = $1 AND api_key_hash = sha256(convert_to($2, 'UTF8'))`,
		user, newKey).Scan(&matches); err != nil || matches != 1 {
		t.Fatalf("the new key is not the stored one: %d %v", matches, err)
	}
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM users WHERE api_key_hash = sha256(convert_to($1, 'UTF8'))`,
		oldKey).Scan(&matches); err != nil || matches != 0 {
		t.Fatalf("the old key still matches: %d %v", matches, err)
	}
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM audit_log WHERE action = 'user.api_key_reissue' AND target_user = $1", user).Scan(&matches); err != nil || matches != 1 {
		t.Fatalf("not audited: %d %v", matches, err)
	}
}
