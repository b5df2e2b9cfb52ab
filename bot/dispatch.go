package bot

import (
	"context"
	"fmt"
	"strings"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"credential-grafana/commands"
)

// subcommand is one "/cg …" command: its usage for help and errors, how many positional
// arguments it takes, and its handler. form, when set, may answer an invocation with a
// modal instead (opened at once, within the trigger's 3 seconds); run does the work in
// the worker pool and returns the reply.
type subcommand struct {
	name    string // "user add"
	args    string // "<name> [@owner] [#channel]"
	about   string
	example string
	admin   bool // listed under "for administrators" in help
	minArgs int
	maxArgs int // -1: any
	form    func(r *request) modalOpener
	run     func(ctx context.Context, r *request) reply
}

// modalOpener opens a modal for a request with its trigger_id.
type modalOpener func(ctx context.Context, r *request) error

func (s *subcommand) usage(command string) string {
	u := command + " " + s.name
	if s.args != "" {
		u += " " + s.args
	}
	return u
}

// subcommands is the command table, in the order help lists it.
func subcommands() []*subcommand {
	return []*subcommand{
		{name: "help", about: "this help", example: "help", maxArgs: -1},
		{name: "user add", args: "<name> [@owner] [#channel]", about: "create a user with its three databases and an API key; without a name, opens a form",
			example: "user add alice @alice #eda-results", admin: true, maxArgs: 1, form: userAddForm, run: runUserAdd},
		{name: "user list", about: "the users you may manage", example: "user list", run: runUserList},
		{name: "user show", args: "<user>", about: "a user, its databases and credentials (secrets masked)", example: "user show alice", minArgs: 1, maxArgs: 1, run: runUserShow},
		{name: "user remove", args: "<user> [--drop-databases]", about: "deactivate a user (asks for confirmation); --drop-databases also drops its databases",
			example: "user remove alice", admin: true, minArgs: 1, maxArgs: 1, form: userRemoveForm},
		{name: "user disable", args: "<user>", about: "stop scanning a user and refuse its API key", example: "user disable alice", admin: true, minArgs: 1, maxArgs: 1, run: runUserDisable},
		{name: "user enable", args: "<user>", about: "undo disable", example: "user enable alice", admin: true, minArgs: 1, maxArgs: 1, run: runUserEnable},
		{name: "user key", args: "<user>", about: "issue a new API key, shown once and only to you, and revoke the old one", example: "user key alice", minArgs: 1, maxArgs: 1, run: runUserKey},
		{name: "user retry", args: "<user>", about: "finish a creation that stopped part way", example: "user retry alice", admin: true, minArgs: 1, maxArgs: 1, run: runUserRetry},
		{name: "cred list", args: "<user>", about: "a user's credentials, secrets masked", example: "cred list alice", minArgs: 1, maxArgs: 1, run: runCredList},
		{name: "cred set", args: "<user> [key] [value]", about: "set a credential; opens a form unless a non-secret value is given (secrets only in the form)",
			example: "cred set alice slack_channel_id C012AB3CD4E", minArgs: 1, maxArgs: 3, form: credSetForm, run: runCredSet},
		{name: "cred delete", args: "<user> <key>", about: "delete a credential", example: "cred delete alice grafana_url", minArgs: 2, maxArgs: 2, run: runCredDelete},
		{name: "cred reveal", args: "<user> <key>", about: "show a credential in full, only to you (audited)", example: "cred reveal alice db_pass", minArgs: 2, maxArgs: 2, run: runCredReveal},
		{name: "scan", args: "[user]", about: "look for new run tables now (every user: administrators only)", example: "scan alice", maxArgs: 1, run: runScan},
		{name: "dashboards", args: "<user> [kind]", about: "a user's newest run tables, their dashboards and post state", example: "dashboards alice timing", minArgs: 1, maxArgs: 2, run: runDashboards},
		{name: "recapture", args: "<dashboard>", about: "record a dashboard's GIF again and post it", example: "recapture cg-alice-timing-0123abcd", minArgs: 1, maxArgs: 1, run: runRecapture},
		{name: "mute", args: "<dashboard>", about: "stop posting further runs of that dashboard's design", example: "mute cg-alice-timing-0123abcd", minArgs: 1, maxArgs: 1, run: runMute},
		{name: "unmute", args: "<dashboard>", about: "post that design's runs again", example: "unmute cg-alice-timing-0123abcd", minArgs: 1, maxArgs: 1, run: runUnmute},
		{name: "compare", args: "<table> <table>", about: "two runs side by side: their key figures, the differences (B against A) and a comparison dashboard; qualify a table as user/table or user/KIND/table when its name is ambiguous",
			example: "compare gcd_run_11 gcd_run_12", minArgs: 2, maxArgs: 2, run: runCompare},
		{name: "digest", args: "<user> daily HH:MM | weekly mon HH:MM | timezone <zone> | list | off | remove <id>",
			about: "a message per day or week with every design run in it, its figures, trend and broken rules", example: "digest alice weekly mon 09:00",
			minArgs: 2, maxArgs: 4, run: runDigest},
		{name: "rule add", args: "<user> \"<rule>\" @who [--design <design>]", about: "mention @who (a member or user group) when a run breaks a regression rule: wns < -0.05 ns, drc > 0, area > +5% (against the previous run), tns worse by 10%",
			example: "rule add alice \"wns < -0.05 ns\" @alice --design gcd", minArgs: 2, maxArgs: -1, run: runRuleAdd},
		{name: "rule list", args: "<user>", about: "a user's regression rules, with their numbers", example: "rule list alice", minArgs: 1, maxArgs: 1, run: runRuleList},
		{name: "rule remove", args: "<user> <number>", about: "remove a regression rule", example: "rule remove alice 3", minArgs: 2, maxArgs: 2, run: runRuleRemove},
		{name: "status", about: "database, Grafana, browser, last scan, queue and failures", example: "status", run: runStatus},
	}
}

// request is one slash command as the handlers see it.
type request struct {
	b           *Bot
	userID      string
	channelID   string
	responseURL string
	triggerID   string
	args        []string          // positional arguments after the command's name
	flags       map[string]string // --flag or --flag value
	users       []string          // member IDs mentioned (<@U…>)
	channels    []string          // channel IDs mentioned (<#C…>)
	text        string            // the whole text as typed (unescaped), for "what I understood"
	raw         string            // the whole text as Slack sent it (escaped)
}

// actor is the Actor of the request, from the payload's user_id.
func (r *request) actor(ctx context.Context) commands.Actor { return r.b.actor(ctx, r.userID) }

// valueFlags take the next word as their value.
var valueFlags = map[string]bool{"owner": true, "slack-user": true, "channel": true}

// parseWords splits a command's text, escaped as Slack sends it (see slashWord), into
// words, flags and mentions, each as typed. Mentions go to users and channels as IDs; a
// flag's value may be a mention (its ID) or a plain ID.
func parseWords(text string) (words []string, flags map[string]string, users, channels []string) {
	flags = map[string]string{}
	fields := splitSlashText(text)
	for i := 0; i < len(fields); i++ {
		f := fields[i]
		if name, ok := strings.CutPrefix(f.raw, "--"); ok && name != "" {
			rawName, rawVal, hasVal := strings.Cut(name, "=")
			name = strings.ToLower(unescapeSlashText(rawName))
			val := readSlashWord(rawVal)
			if !hasVal && valueFlags[name] && i+1 < len(fields) {
				i++
				val = fields[i]
			}
			flags[name] = firstOf(val.user, val.channel, val.text)
			continue
		}
		switch {
		case f.user != "":
			users = append(users, f.user)
		case f.channel != "":
			channels = append(channels, f.channel)
		default:
			words = append(words, f.text)
		}
	}
	return words, flags, users, channels
}

// groups are the first words that take a verb after them.
var groups = map[string]string{"user": "user", "users": "user", "cred": "cred", "creds": "cred", "credential": "cred", "credentials": "cred", "rule": "rule", "rules": "rule"}

// match finds the subcommand of the words and its arguments, or says what is wrong.
func (b *Bot) match(words []string) (*subcommand, []string, *reply) {
	if len(words) == 0 {
		return b.find("help"), nil, nil
	}
	first := strings.ToLower(words[0])
	name, rest := first, words[1:]
	if g, ok := groups[first]; ok {
		if len(words) < 2 {
			r := b.usageReply(strings.Join(words, " "), "", b.nearest(g+" list"))
			return nil, nil, &r
		}
		name, rest = g+" "+strings.ToLower(words[1]), words[2:]
	}
	if first == "dashboard" {
		name = "dashboards"
	}
	sub := b.find(name)
	if sub == nil {
		near := b.nearest(strings.ToLower(strings.Join(words[:min(2, len(words))], " ")))
		r := b.usageReply(strings.Join(words, " "), fmt.Sprintf("there is no `%s` command", name), near)
		return nil, nil, &r
	}
	if len(rest) < sub.minArgs || (sub.maxArgs >= 0 && len(rest) > sub.maxArgs) {
		why := fmt.Sprintf("`%s` takes %s", sub.name, argCount(sub))
		r := b.usageReply(strings.Join(words, " "), why, sub)
		return nil, nil, &r
	}
	return sub, rest, nil
}

func argCount(s *subcommand) string {
	switch {
	case s.maxArgs == 0:
		return "no arguments"
	case s.args != "":
		return "`" + s.args + "`"
	}
	return "other arguments"
}

func (b *Bot) find(name string) *subcommand {
	for _, s := range b.slash {
		if s.name == name {
			return s
		}
	}
	return nil
}

// nearest is the subcommand whose name is closest to what was typed.
func (b *Bot) nearest(typed string) *subcommand {
	names := make([]string, len(b.slash))
	for i, s := range b.slash {
		names[i] = s.name
		if !strings.Contains(typed, " ") {
			names[i], _, _ = strings.Cut(s.name, " ")
		}
	}
	if _, i := commands.Nearest(typed, names); i >= 0 {
		return b.slash[i]
	}
	return nil
}

// usageReply says what was understood, what is wrong, and how the nearest command is used.
func (b *Bot) usageReply(understood, problem string, near *subcommand) reply {
	var sb strings.Builder
	fmt.Fprintf(&sb, ":thinking_face: I understood `%s %s`", b.cfg.Command, esc(understood))
	if problem != "" {
		sb.WriteString(", but " + esc(problem))
	}
	sb.WriteString(".")
	if near != nil {
		fmt.Fprintf(&sb, "\nDid you mean `%s`? %s.\nExample: `%s %s`", esc(near.usage(b.cfg.Command)), esc(capitalize(near.about)), b.cfg.Command, esc(near.example))
	}
	fmt.Fprintf(&sb, "\n`%s help` lists every command.", b.cfg.Command)
	return reply{Text: sb.String()}
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// onSlashCommand acks at once: help and usage problems in the ack itself; a form is opened
// right after the ack, before any slow work; everything else runs in the worker pool and
// answers through the response_url.
func (b *Bot) onSlashCommand(ctx context.Context, smc *socketmode.Client, req *socketmode.Request, cmd slack.SlashCommand) {
	words, flags, users, channels := parseWords(cmd.Text)
	sub, args, problem := b.match(words)
	if problem != nil {
		b.ack(smc, req, problem.payload())
		return
	}
	r := &request{b: b, userID: cmd.UserID, channelID: cmd.ChannelID, responseURL: cmd.ResponseURL, triggerID: cmd.TriggerID,
		args: args, flags: flags, users: users, channels: channels, text: unescapeSlashText(cmd.Text), raw: cmd.Text}
	b.log.Info().Str("slack_user", cmd.UserID).Str("command", sub.name).Msg("slack command")
	if sub.name == "help" {
		b.ack(smc, req, b.helpReply().payload())
		return
	}
	if sub.form != nil {
		if open := sub.form(r); open != nil {
			b.ack(smc, req, nil)
			go func() {
				ctx, cancel := detached(ctx)
				defer cancel()
				if err := open(ctx, r); err != nil {
					b.metrics.handlerErrors.WithLabelValues(sub.name).Inc()
					b.respond(ctx, r.responseURL, b.errorReply(err, sub.name))
				}
			}()
			return
		}
	}
	b.ack(smc, req, nil)
	if !b.background(ctx, sub.name, func(ctx context.Context) { b.respond(ctx, r.responseURL, sub.run(ctx, r)) }) {
		go func() {
			ctx, cancel := detached(ctx)
			defer cancel()
			b.respond(ctx, r.responseURL, busyReply())
		}()
	}
}

// detached is a context for work started from the event loop that must outlive the
// connection it came on, bounded by jobTimeout.
func detached(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), jobTimeout)
}
