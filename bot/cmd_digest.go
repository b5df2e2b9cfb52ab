package bot

import (
	"context"
	"fmt"
	"strings"
	"time"

	"credential-grafana/commands"
)

func runDigest(ctx context.Context, r *request) reply {
	res, err := r.b.svc.Digest(ctx, r.actor(ctx), r.args[0], r.args[1:], time.Now())
	if err != nil {
		return r.b.errorReply(err, "digest")
	}
	return digestReply(res)
}

// digestReply lists a user's digests after a digest command.
func digestReply(d commands.Digests) reply {
	var b strings.Builder
	switch {
	case d.Changed == "added":
		b.WriteString(":calendar: Digest added. ")
	case d.Changed == "unchanged":
		b.WriteString(":calendar: That digest was already set. ")
	case strings.HasPrefix(d.Changed, "removed"):
		fmt.Fprintf(&b, ":wastebasket: %s digest(s) removed. ", strings.TrimPrefix(d.Changed, "removed "))
	case d.Changed == "time zone set":
		b.WriteString(":earth_africa: Time zone set. ")
	}
	fmt.Fprintf(&b, "Digests of *%s* (time zone `%s`):", esc(d.User), esc(d.TimeZone))
	if len(d.Digests) == 0 {
		b.WriteString(" none.")
	}
	for _, g := range d.Digests {
		fmt.Fprintf(&b, "\n• `%d` %s", g.ID, esc(g.Schedule.String()))
	}
	return reply{Text: b.String(), Blocks: sections(strings.Split(b.String(), "\n"))}
}
