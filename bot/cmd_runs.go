package bot

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/slack-go/slack"

	"credential-grafana/commands"
)

func runScan(ctx context.Context, r *request) reply {
	user := ""
	if len(r.args) > 0 {
		user = r.args[0]
	}
	res, err := r.b.svc.Scan(ctx, r.actor(ctx), user)
	if err != nil {
		return r.b.errorReply(err, "scan")
	}
	return reply{Text: ":mag: Scan done: " + scanSummary(res) + "."}
}

func runDashboards(ctx context.Context, r *request) reply {
	kind := ""
	if len(r.args) > 1 {
		kind = r.args[1]
	}
	return r.b.dashboardsPage(ctx, r.userID, dashboardsMore{User: r.args[0], Kind: kind})
}

// dashboardsPerReply is how many runs one `dashboards` reply shows.
const dashboardsPerReply = 20

// pressDashboardsMore answers "Show more" under a runs list with the next page. The
// button's value names the user, kind and cursor; the press is checked as the command
// would be, for the presser.
func pressDashboardsMore(ctx context.Context, b *Bot, cb slack.InteractionCallback, act *slack.BlockAction) {
	var more dashboardsMore
	if err := json.Unmarshal([]byte(act.Value), &more); err != nil || more.User == "" {
		b.respond(ctx, cb.ResponseURL, reply{Text: fmt.Sprintf(":thinking_face: That button does not say which list goes on: run `%s dashboards <user>` again.", b.cfg.Command)})
		return
	}
	b.respond(ctx, cb.ResponseURL, b.dashboardsPage(ctx, cb.User.ID, more))
}

func (b *Bot) dashboardsPage(ctx context.Context, userID string, at dashboardsMore) reply {
	page, err := b.svc.ListDashboardsPage(ctx, b.actor(ctx, userID), at.User, at.Kind,
		commands.PageRequest{Limit: dashboardsPerReply, Cursor: at.Cursor, Count: true})
	if err != nil {
		return b.errorReply(err, "dashboards")
	}
	return dashboardsReply(b.cfg.Command, at.User, at.Kind, page)
}

func runRecapture(ctx context.Context, r *request) reply {
	return r.b.recapture(ctx, r.userID, r.args[0])
}

func runMute(ctx context.Context, r *request) reply { return r.b.mute(ctx, r.userID, r.args[0]) }

func runUnmute(ctx context.Context, r *request) reply {
	res, err := r.b.svc.UnmuteDesign(ctx, r.actor(ctx), r.args[0])
	if err != nil {
		return r.b.errorReply(err, "unmute")
	}
	return reply{Text: fmt.Sprintf(":loud_sound: %s runs of *%s* (%s) are posted again.", res.Kind, esc(res.Design), res.User)}
}

func runStatus(ctx context.Context, r *request) reply {
	st, err := r.b.svc.Status(ctx, r.actor(ctx))
	if err != nil {
		return r.b.errorReply(err, "status")
	}
	return statusReply(st)
}

// recapture re-records a dashboard's GIF for a Slack member (command or button).
func (b *Bot) recapture(ctx context.Context, userID, ref string) reply {
	d, err := b.svc.Recapture(ctx, b.actor(ctx, userID), ref)
	if err != nil {
		return b.errorReply(err, "recapture")
	}
	return reply{Text: fmt.Sprintf(":movie_camera: Recording `%s` (%s `%s`) again; the new GIF will be posted when it is ready.", d.UID, d.Kind, esc(d.TableName))}
}

// mute stops a design's posts for a Slack member (command or button).
func (b *Bot) mute(ctx context.Context, userID, ref string) reply {
	res, err := b.svc.MuteDesign(ctx, b.actor(ctx, userID), ref)
	if err != nil {
		return b.errorReply(err, "mute")
	}
	return reply{Text: fmt.Sprintf(":mute: Muted %s runs of *%s* (%s): they are still recorded but no longer posted. `%s unmute %s` undoes it.",
		res.Kind, esc(res.Design), res.User, b.cfg.Command, esc(ref))}
}
