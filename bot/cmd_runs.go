package bot

import (
	"context"
	"fmt"
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
	list, err := r.b.svc.ListDashboards(ctx, r.actor(ctx), r.args[0], kind, 20)
	if err != nil {
		return r.b.errorReply(err, "dashboards")
	}
	return dashboardsReply(r.b.cfg.Command, r.args[0], list)
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
