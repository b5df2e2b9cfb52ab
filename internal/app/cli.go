package app

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"text/tabwriter"

	"credential-grafana/cg"
	"credential-grafana/commands"
)

// Build is what only the main package knows: the version the linker stamped into it
// (-ldflags "-X main.version=…", see the Makefile) and the two files of the module root
// it embeds, out of this package's reach (go:embed sees only its own directory).
type Build struct {
	Version       string
	EnvExample    string // .env.example: the text `init` writes .env from
	SlackManifest string // slack-app-manifest.yaml: doctor checks the bot token against its scopes
}

const usage = `credential-grafana — EDA run tables to Grafana dashboards, GIFs and Slack posts.

Usage:
  credential-grafana <command> [arguments] [flags]

Service:
  serve                                   run the service (REST API, Slack bot, scanner)
  migrate                                 apply the master database's migrations and exit
  rekey                                   re-encrypt every stored secret under CREDENTIALS_KEY (values under
                                          CREDENTIALS_KEY_PREVIOUS are sealed again); says what is left
  init [--env-file .env]                  write .env from .env.example with fresh secrets, if it is missing
  version                                 print the version

Users:
  user add <name> [--slack-user U…] [--channel C…]
                                          create a user: its roles, three databases and default credentials;
                                          run it again to finish a creation that stopped part way
  user retry <name>                       finish a creation that stopped part way
  user list                               list users
  user show <name|id>                     show a user and its credentials (secrets masked)
  user key <name|id>                      issue a new API key (shown once) and revoke the old one
  user disable <name|id>                  stop scanning a user and refuse its API key
  user enable <name|id>                   undo disable
  user remove <name|id> [--drop-databases --yes]
                                          deactivate a user and delete its credentials; with both flags,
                                          also drop its three databases and roles for good

Runs and dashboards:
  scan --once [--user <name>]             scan now for new run tables (and queue their dashboards)
  dashboards <user> [TIMING|QOR|DRC]      list a user's run tables and where each is in the pipeline
  recapture <dashboard uid|id>            record a dashboard's GIF again and post it
  compare <table> <table>                 two recorded runs side by side: key figures, B − A, better or
                                          worse, and the comparison dashboard (user/KIND/table when ambiguous)
  status                                  database, Grafana, browser, last scan, queue, failures
  doctor                                  check PostgreSQL, Grafana and Slack for real: each line OK, or
                                          what is wrong and the command or setting that fixes it
  capture <url> -o out.gif [--frames N] [--delay ms] [--var name[=v1,v2,…]]
                                          record a dashboard by hand; --var steps through a variable
                                          (its values asked from Grafana when not given)
` + digestUsage + `
Credentials:
  cred list <user>                        list a user's credentials (secrets masked)
  cred set <user> <key> [value|-]         set a credential; without a value (or with -) it is read from
                                          standard input, so a secret stays out of your shell history:
                                          at a terminal a prompt (a secret is not shown and asked twice),
                                          otherwise all of standard input, one trailing newline removed
                                          (a second line is refused); a value that starts with - goes
                                          after -- (cred set alice db_pass -- -value)
  cred delete <user> <key>                delete a credential
  cred reveal <user> <key>                print one credential in full (audited)

` + ruleUsage + `
Flags:
  --json                                  print results as JSON
  --env-file <path>                       read configuration from this file (default .env)

Configuration comes from the environment and .env; see .env.example and the README.
`

// cliArgs holds positional arguments and flags given anywhere on the line.
type cliArgs struct {
	pos   []string
	flags map[string]string
}

var valueFlags = map[string]bool{"slack-user": true, "channel": true, "env-file": true, "user": true, "o": true, "frames": true, "delay": true, "var": true}

func parseArgs(args []string) (cliArgs, error) {
	a := cliArgs{flags: map[string]string{}}
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "-" || !strings.HasPrefix(arg, "-") {
			a.pos = append(a.pos, arg)
			continue
		}
		if arg == "--" {
			a.pos = append(a.pos, args[i+1:]...)
			break
		}
		name := strings.TrimLeft(arg, "-")
		name, val, hasVal := strings.Cut(name, "=")
		if valueFlags[name] && !hasVal {
			if i+1 >= len(args) {
				return a, cg.Errorf(cg.EINVALID, "flag --%s needs a value", name)
			}
			i++
			val = args[i]
		} else if !hasVal {
			val = "true"
		}
		a.flags[name] = val
	}
	return a, nil
}

func (a cliArgs) flag(name string) bool { return a.flags[name] == "true" }

// Run is the whole CLI: it parses argv (the arguments after the program's name), runs
// the command and returns the process's exit code. main only supplies the build, the
// process's streams and a context cancelled on SIGINT/SIGTERM, and exits with the code.
//
// The commands are dispatched below: the one-shot ones before the configuration is
// loaded, then serve and migrate, then each group's runXCommand (cli_keys.go,
// cli_pipeline.go; a new group adds its file and one call beside theirs), then
// runCommand for user and cred. A new command also goes into the list of known
// commands and its flags into known (and valueFlags when they take a value).
func Run(ctx context.Context, b Build, argv []string, stdin io.Reader, stdout, stderr io.Writer) int {
	args, err := parseArgs(argv)
	if err != nil {
		return fail(stderr, err)
	}
	if len(args.pos) == 0 || args.pos[0] == "help" || args.flag("help") || args.flag("h") {
		fmt.Fprint(stdout, usage)
		return 0
	}
	known := map[string]bool{"json": true, "env-file": true, "slack-user": true, "channel": true, "drop-databases": true, "yes": true,
		"once": true, "user": true, "o": true, "frames": true, "delay": true, "var": true}
	for _, f := range ruleFlags {
		known[f] = true
	}
	for f := range args.flags {
		if !known[f] {
			return fail(stderr, cg.Errorf(cg.EINVALID, "unknown flag --%s (see `credential-grafana help`; a value that starts with - goes after --: cred set alice db_pass -- -value)", f))
		}
	}
	envFile := ".env"
	if f, ok := args.flags["env-file"]; ok {
		envFile = f
	}
	switch args.pos[0] {
	case "version":
		fmt.Fprintln(stdout, "credential-grafana", b.Version)
		return 0
	case "init":
		return initEnv(b.EnvExample, envFile, stdout, stderr)
	case "serve", "migrate", "user", "cred", "scan", "dashboards", "recapture", "status", "doctor", "capture", "rekey", "compare", "digest", "rule":
	default:
		return fail(stderr, cg.Errorf(cg.EINVALID, "unknown command %q (see `credential-grafana help`)", args.pos[0]))
	}

	cfg, err := LoadConfig(envFile)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	cfg.command = args.pos[0] // a one-shot command holds at most 2 connections (see Config.Budget)
	cfg.slackManifest = b.SlackManifest
	if args.pos[0] != "serve" && cfg.LogLevel == "info" {
		cfg.LogLevel = "warn" // one-shot commands print results, not progress
	}
	m, err := NewMain(ctx, cfg, stderr)
	if err != nil {
		return fail(stderr, err)
	}
	defer m.Close()
	switch args.pos[0] {
	case "serve":
		if err := m.Serve(ctx); err != nil {
			return fail(stderr, err)
		}
		return 0
	case "migrate":
		fmt.Fprintln(stdout, "master database is up to date")
		return 0
	}
	out := printer{w: stdout, json: args.flag("json")}
	// Each command group's runner says whether the command was its own; a new group
	// goes in this list.
	for _, group := range []func(context.Context, *Main, cliArgs, printer) (bool, error){
		runKeyCommand, runCompareCommand, runDigestCommand, runPipelineCommand,
	} {
		if handled, err := group(ctx, m, args, out); handled {
			if err != nil {
				return fail(stderr, err)
			}
			return 0
		}
	}
	if err := runCommand(ctx, m.Commands, args, stdin, out); err != nil {
		return fail(stderr, err)
	}
	return 0
}

func fail(stderr io.Writer, err error) int {
	fmt.Fprintln(stderr, "error:", cliMessage(err))
	if cg.ErrorCode(err) == cg.EINVALID {
		return 2
	}
	return 1
}

// cliMessage is the message for the person at the terminal: the administrator, who may
// see the cause of an internal error.
func cliMessage(err error) string {
	if cg.ErrorCode(err) == cg.EINTERNAL {
		return err.Error()
	}
	return cg.ErrorMessage(err)
}

func need(args cliArgs, n int, usage string) error {
	if len(args.pos) != n {
		return cg.Errorf(cg.EINVALID, "usage: credential-grafana %s", usage)
	}
	return nil
}

func runCommand(ctx context.Context, svc *commands.Service, args cliArgs, stdin io.Reader, out printer) error {
	actor := commands.CLI
	sub := ""
	if len(args.pos) > 1 {
		sub = args.pos[1]
	}
	switch args.pos[0] + " " + sub {
	case "user add":
		if err := need(args, 3, "user add <name> [--slack-user U…] [--channel C…]"); err != nil {
			return err
		}
		res, err := svc.CreateUser(ctx, actor, commands.CreateUserInput{
			Username: args.pos[2], SlackUserID: args.flags["slack-user"], SlackChannelID: args.flags["channel"]})
		if err != nil {
			return err
		}
		return out.createdUser(res)
	case "user retry":
		if err := need(args, 3, "user retry <name>"); err != nil {
			return err
		}
		res, err := svc.RetryUser(ctx, actor, args.pos[2])
		if err != nil {
			return err
		}
		return out.createdUser(res)
	case "user list":
		return out.users(func(fn func(cg.User) error) error { return svc.EachUser(ctx, actor, fn) })
	case "user show":
		if err := need(args, 3, "user show <name|id>"); err != nil {
			return err
		}
		d, err := svc.ShowUser(ctx, actor, args.pos[2])
		if err != nil {
			return err
		}
		return out.userDetail(d)
	case "user disable", "user enable":
		if err := need(args, 3, "user "+sub+" <name|id>"); err != nil {
			return err
		}
		op := svc.DisableUser
		if sub == "enable" {
			op = svc.EnableUser
		}
		u, err := op(ctx, actor, args.pos[2])
		if err != nil {
			return err
		}
		return out.message(u, "user %s is %s", u.Name, u.Status)
	case "user remove":
		if err := need(args, 3, "user remove <name|id> [--drop-databases --yes]"); err != nil {
			return err
		}
		res, err := svc.RemoveUser(ctx, actor, args.pos[2], commands.RemoveOptions{DropDatabases: args.flag("drop-databases"), Yes: args.flag("yes")})
		if err != nil {
			return err
		}
		if res.DroppedDatabases {
			return out.message(res, "user %s removed; its databases and roles were dropped", res.User.Name)
		}
		return out.message(res, "user %s removed; its databases are kept (drop them with --drop-databases --yes)", res.User.Name)
	case "cred list":
		if err := need(args, 3, "cred list <user>"); err != nil {
			return err
		}
		list, err := svc.ListCredentials(ctx, actor, args.pos[2])
		if err != nil {
			return err
		}
		return out.credentials(list)
	case "cred set":
		if len(args.pos) != 4 && len(args.pos) != 5 {
			return cg.Errorf(cg.EINVALID, "usage: credential-grafana cred set <user> <key> [value|-]")
		}
		var value string
		var err error
		if len(args.pos) == 5 && args.pos[4] != "-" {
			value = args.pos[4]
		} else if value, err = readCredentialValue(stdin, args.pos[2], args.pos[3]); err != nil {
			return err
		}
		c, err := svc.SetCredential(ctx, actor, args.pos[2], args.pos[3], value, commands.Upsert)
		if err != nil {
			return err
		}
		return out.message(c, "%s of %s set to %s", c.Key, args.pos[2], c.Masked)
	case "cred delete":
		if err := need(args, 4, "cred delete <user> <key>"); err != nil {
			return err
		}
		if err := svc.DeleteCredential(ctx, actor, args.pos[2], args.pos[3]); err != nil {
			return err
		}
		return out.message(map[string]string{"deleted": args.pos[3]}, "%s of %s deleted", args.pos[3], args.pos[2])
	case "cred reveal":
		if err := need(args, 4, "cred reveal <user> <key>"); err != nil {
			return err
		}
		c, err := svc.RevealCredential(ctx, actor, args.pos[2], args.pos[3])
		if err != nil {
			return err
		}
		if out.json {
			return out.encode(map[string]string{"key_name": c.Key, "key_value": c.Value.Reveal()})
		}
		fmt.Fprintln(out.w, c.Value.Reveal())
		return nil
	}
	if args.pos[0] == "rule" && sub != "" {
		return runRuleCommand(ctx, svc, args, out)
	}
	if sub == "" {
		return cg.Errorf(cg.EINVALID, "%q needs a subcommand (see `credential-grafana help`)", args.pos[0])
	}
	return cg.Errorf(cg.EINVALID, "unknown command %q (see `credential-grafana help`)", args.pos[0]+" "+sub)
}

type printer struct {
	w    io.Writer
	json bool
}

func (p printer) encode(v any) error {
	enc := json.NewEncoder(p.w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func (p printer) message(v any, format string, args ...any) error {
	if p.json {
		return p.encode(v)
	}
	_, err := fmt.Fprintf(p.w, format+"\n", args...)
	return err
}

func (p printer) createdUser(res commands.CreateUserResult) error {
	if p.json {
		return p.encode(map[string]any{"user": res.User, "api_key": res.APIKey.Reveal(), "databases": res.Databases, "resumed": res.Resumed})
	}
	verb := "created"
	if res.Resumed {
		verb = "finished creating"
	}
	fmt.Fprintf(p.w, "%s user %s (id %d, %s)\n", verb, res.User.Name, res.User.ID, res.User.Status)
	for _, k := range cg.Kinds {
		fmt.Fprintf(p.w, "  %-7s database %s\n", k, res.Databases[k])
	}
	if res.APIKey != "" {
		fmt.Fprintf(p.w, "API key (shown once, store it now): %s\n", res.APIKey.Reveal())
	}
	return nil
}

// users prints every user each yields, as it yields them (a page at a time), so that a
// long list never sits in memory whole: --json as one array; text as a table whose
// columns are aligned within each page of commands.MaxPageLimit users.
func (p printer) users(each func(fn func(cg.User) error) error) error {
	if p.json {
		n := 0
		err := each(func(u cg.User) error {
			b, err := json.MarshalIndent(u, "  ", "  ")
			if err != nil {
				return err
			}
			sep := ",\n  "
			if n == 0 {
				sep = "[\n  "
			}
			n++
			_, err = fmt.Fprintf(p.w, "%s%s", sep, b)
			return err
		})
		if err != nil {
			return err
		}
		end := "\n]\n"
		if n == 0 {
			end = "[]\n"
		}
		_, err = io.WriteString(p.w, end)
		return err
	}
	tw := tabwriter.NewWriter(p.w, 0, 4, 2, ' ', 0)
	n := 0
	err := each(func(u cg.User) error {
		if n == 0 {
			fmt.Fprintln(tw, "ID\tNAME\tSTATUS\tSLACK\tCREATED")
		}
		status := string(u.Status)
		if u.StatusReason != "" {
			status += " (" + u.StatusReason + ")"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", u.ID, u.Name, status, u.SlackUserID, u.CreatedAt.Format("2006-01-02 15:04"))
		if n++; n%commands.MaxPageLimit == 0 {
			return tw.Flush()
		}
		return nil
	})
	if ferr := tw.Flush(); err == nil {
		err = ferr
	}
	if err == nil && n == 0 {
		_, err = fmt.Fprintln(p.w, "no users yet: `user add <name>` creates one")
	}
	return err
}

func (p printer) userDetail(d commands.UserDetail) error {
	if p.json {
		return p.encode(d)
	}
	fmt.Fprintf(p.w, "user %s (id %d): %s\n", d.Name, d.ID, d.Status)
	if d.StatusReason != "" {
		fmt.Fprintf(p.w, "  reason: %s\n", d.StatusReason)
	}
	if d.SlackUserID != "" {
		fmt.Fprintf(p.w, "  slack member: %s\n", d.SlackUserID)
	}
	return p.credentials(d.Credentials)
}

func (p printer) credentials(list []cg.Credential) error {
	if p.json {
		if list == nil {
			list = []cg.Credential{}
		}
		return p.encode(list)
	}
	if len(list) == 0 {
		_, err := fmt.Fprintln(p.w, "no credentials: `cred set <user> <key> <value>` adds one")
		return err
	}
	tw := tabwriter.NewWriter(p.w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tVALUE\tUPDATED")
	for _, c := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", c.Key, c.Masked, c.UpdatedAt.Format("2006-01-02 15:04"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	printUnreadable(p.w, list)
	return nil
}

var generatedLine = regexp.MustCompile(`(?m)^(CREDENTIALS_KEY|ADMIN_API_TOKEN)=.*$`)

// initEnv writes envFile from envExample (.env.example's text) with a fresh
// CREDENTIALS_KEY and ADMIN_API_TOKEN, unless it exists.
func initEnv(envExample, envFile string, stdout, stderr io.Writer) int {
	if _, err := os.Stat(envFile); err == nil {
		fmt.Fprintf(stdout, "%s exists; leaving it as it is\n", envFile)
		return 0
	}
	if envExample == "" {
		return fail(stderr, fmt.Errorf("this binary was built without .env.example: copy the file from the source and set CREDENTIALS_KEY and ADMIN_API_TOKEN in it"))
	}
	text := generatedLine.ReplaceAllStringFunc(envExample, func(line string) string {
		name, _, _ := strings.Cut(line, "=")
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		if name == "ADMIN_API_TOKEN" {
			return name + "=" + base64.RawURLEncoding.EncodeToString(b)
		}
		return name + "=" + base64.StdEncoding.EncodeToString(b)
	})
	if err := os.WriteFile(envFile, []byte(text), 0o600); err != nil {
		return fail(stderr, fmt.Errorf("write %s: %w", envFile, err))
	}
	fmt.Fprintf(stdout, "wrote %s from .env.example with a fresh CREDENTIALS_KEY and ADMIN_API_TOKEN.\n"+
		"Keep CREDENTIALS_KEY safe: if it is lost, the secrets stored with it cannot be read again.\n"+
		"Set GRAFANA_* and SLACK_* there to switch those parts on.\n", envFile)
	return 0
}
