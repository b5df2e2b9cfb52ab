package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"credential-grafana/cg"
	"credential-grafana/commands"
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
