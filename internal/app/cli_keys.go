package app

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"credential-grafana/cg"
	"credential-grafana/commands"
	"credential-grafana/db"
)

// maxStdinValue is the most cred set reads from standard input: a little more than the
// longest value a key takes (4096), so a longer one is refused by the key's own check.
const maxStdinValue = 8192

// readCredentialValue reads the value of key for `cred set <user> <key>` given without
// a value (or with -). On a terminal it prompts on the terminal and reads a line; for a
// secret key it reads without echo and asks twice, refusing two different entries. On
// anything else it reads the whole of in and strips one trailing newline (\n or \r\n);
// a value that still has a line break is refused (every key takes one line), so a
// second line is never cut off silently. Returns cg.EINVALID for an unknown key and for
// refused input; nothing is stored then.
func readCredentialValue(in io.Reader, user, key string) (string, error) {
	spec, err := commands.LookupKey(key)
	if err != nil {
		return "", err
	}
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return promptValue(f, user, spec)
	}
	if in == nil {
		in = strings.NewReader("")
	}
	b, err := io.ReadAll(io.LimitReader(in, maxStdinValue+1))
	if err != nil {
		return "", fmt.Errorf("read the value of %s from standard input: %w", spec.Name, err)
	}
	if len(b) > maxStdinValue {
		return "", cg.Errorf(cg.EINVALID, "standard input has more than %d bytes; %s takes at most 4096 characters: nothing was changed", maxStdinValue, spec.Name)
	}
	value := string(b)
	if v, ok := strings.CutSuffix(value, "\n"); ok {
		value = strings.TrimSuffix(v, "\r")
	}
	if strings.ContainsAny(value, "\r\n") {
		lines := strings.Count(strings.ReplaceAll(value, "\r\n", "\n"), "\n") + 1
		return "", cg.Errorf(cg.EINVALID, "standard input has %d lines, and %s takes one: nothing was changed (give the value alone, with at most one newline at its end)", lines, spec.Name)
	}
	return value, nil
}

// promptValue asks for the value at the terminal tty.
func promptValue(tty *os.File, user string, spec commands.KeySpec) (string, error) {
	if !spec.Secret {
		fmt.Fprintf(tty, "%s for %s: ", spec.Name, user)
		line, err := bufio.NewReader(tty).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read %s from the terminal: %w", spec.Name, err)
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
	read := func(prompt string) (string, error) {
		fmt.Fprint(tty, prompt)
		b, err := term.ReadPassword(int(tty.Fd()))
		fmt.Fprintln(tty) // the typed newline was not echoed either
		if err != nil {
			return "", fmt.Errorf("read %s from the terminal: %w", spec.Name, err)
		}
		return string(b), nil
	}
	first, err := read(fmt.Sprintf("%s for %s (not shown as you type): ", spec.Name, user))
	if err != nil {
		return "", err
	}
	second, err := read(fmt.Sprintf("%s again, to be sure: ", spec.Name))
	if err != nil {
		return "", err
	}
	if first != second {
		return "", cg.Errorf(cg.EINVALID, "the two entries of %s differ: nothing was changed; run cred set again", spec.Name)
	}
	return first, nil
}

// printUnreadable says, under a credentials table, which values do not decrypt and
// what to do about each.
func printUnreadable(w io.Writer, list []cg.Credential) {
	for _, c := range list {
		if c.Unreadable != "" {
			fmt.Fprintf(w, "%s is unreadable: %s\n", c.Key, c.Unreadable)
		}
	}
}

// runKeyCommand runs rekey and user key; it reports whether argv named one of them.
func runKeyCommand(ctx context.Context, m *Main, args cliArgs, out printer) (bool, error) {
	switch {
	case args.pos[0] == "rekey":
		if len(args.pos) != 1 {
			return true, cg.Errorf(cg.EINVALID, "usage: credential-grafana rekey")
		}
		res, err := m.Commands.Rekey(ctx, commands.CLI, 0)
		if err != nil {
			fmt.Fprintf(out.w, "rekey stopped after %d values (they are under CREDENTIALS_KEY; the rest are readable as before): run it again to finish\n", res.Resealed)
			return true, err
		}
		if out.json {
			if err := out.encode(res); err != nil {
				return true, err
			}
		} else {
			keyID := "?"
			if c, err := m.Config.Cipher(); err == nil {
				keyID = c.CurrentKeyID()
			}
			fmt.Fprintf(out.w, "re-encrypted %d values under CREDENTIALS_KEY (key %s); %d were under it already\n", res.Resealed, keyID, res.Current)
			for _, name := range res.Service {
				fmt.Fprintf(out.w, "  resealed  the service's own %s\n", name)
			}
			for _, l := range res.Left {
				if l.Service {
					fmt.Fprintf(out.w, "  left  the service's own %s: %s\n", l.Key, l.Reason)
					continue
				}
				fmt.Fprintf(out.w, "  left  %s %s: %s\n", l.User, l.Key, l.Reason)
			}
			if len(res.Left) == 0 {
				fmt.Fprintln(out.w, "no value needs CREDENTIALS_KEY_PREVIOUS any more: you may remove it")
			}
		}
		if len(res.Left) > 0 {
			return true, cg.Errorf(cg.ECONFLICT, "%d values are left under keys that are not configured: put those keys in CREDENTIALS_KEY_PREVIOUS and run rekey again, or do what the line of each says", len(res.Left))
		}
		return true, nil
	case args.pos[0] == "user" && len(args.pos) > 1 && args.pos[1] == "key":
		if err := need(args, 3, "user key <name|id>"); err != nil {
			return true, err
		}
		res, err := m.Commands.NewAPIKey(ctx, commands.CLI, args.pos[2])
		if err != nil {
			return true, err
		}
		if out.json {
			return true, out.encode(map[string]any{"user": res.User, "api_key": res.APIKey.Reveal()})
		}
		fmt.Fprintf(out.w, "new API key of %s (shown once, store it now; the old one no longer works): %s\n", res.User.Name, res.APIKey.Reveal())
		return true, nil
	}
	return false, nil
}

// printSecretCounts is status's line on the stored secrets' keys.
func printSecretCounts(w io.Writer, k db.KeyCounts) {
	fmt.Fprintf(w, "secrets    %d under CREDENTIALS_KEY", k.Current)
	if k.Previous > 0 {
		fmt.Fprintf(w, ", %d under an old key (run `credential-grafana rekey`)", k.Previous)
	}
	if k.Unknown > 0 {
		fmt.Fprintf(w, ", %d under a key that is not configured (unreadable: `credential-grafana rekey` lists them)", k.Unknown)
	}
	fmt.Fprintln(w)
}
