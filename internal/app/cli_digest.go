package app

import (
	"context"
	"fmt"
	"time"

	"credential-grafana/cg"
	"credential-grafana/commands"
)

// digestUsage is the digest command's line in the CLI's help.
const digestUsage = `  digest <user> daily HH:MM | weekly mon HH:MM | timezone <zone> | list | off | remove <id>
                                          a message per period in the user's channel: every design run in
                                          it, its latest figures and trend, the rules broken
`

// runDigestCommand runs `digest <user> …` and reports whether args were one.
func runDigestCommand(ctx context.Context, m *Main, args cliArgs, out printer) (bool, error) {
	if args.pos[0] != "digest" {
		return false, nil
	}
	if len(args.pos) < 3 {
		return true, cg.Errorf(cg.EINVALID, "usage: credential-grafana %s", commands.DigestUsage)
	}
	d, err := m.Commands.Digest(ctx, commands.CLI, args.pos[1], args.pos[2:], time.Now())
	if err != nil {
		return true, err
	}
	if out.json {
		return true, out.encode(d)
	}
	if d.Changed != "" {
		fmt.Fprintf(out.w, "%s: %s\n", d.User, d.Changed)
	}
	fmt.Fprintf(out.w, "time zone %s\n", d.TimeZone)
	if len(d.Digests) == 0 {
		fmt.Fprintln(out.w, "no digests")
	}
	for _, g := range d.Digests {
		fmt.Fprintf(out.w, "%d\t%s\n", g.ID, g.Schedule)
	}
	return true, nil
}
