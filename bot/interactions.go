package bot

import (
	"context"
	"sync"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
)

// Action IDs of the App Home buttons.
const (
	ActionHomeAddUser       = "cg_home_add_user"
	ActionHomeSetCredential = "cg_home_set_credential"
)

// Action IDs of the "Show more" buttons under a cut list; the value says where the list
// goes on (see userListReply and dashboardsReply).
const (
	ActionUserListMore   = "cg_user_list_more"
	ActionDashboardsMore = "cg_dashboards_more"
)

// actionHandler handles one button. Handlers that open a modal run at once (the trigger
// dies in 3 seconds); the others run in the worker pool.
type actionHandler struct {
	opensModal bool
	handle     func(ctx context.Context, b *Bot, cb slack.InteractionCallback, act *slack.BlockAction)
}

func actionHandlers() map[string]actionHandler {
	return map[string]actionHandler{
		ActionOpenDashboard:     {handle: func(context.Context, *Bot, slack.InteractionCallback, *slack.BlockAction) {}}, // a link: Slack opens it
		ActionOpenTrend:         {handle: func(context.Context, *Bot, slack.InteractionCallback, *slack.BlockAction) {}}, // a link too
		ActionRecapture:         {handle: pressRecapture},
		ActionMuteDesign:        {handle: pressMute},
		ActionHomeAddUser:       {opensModal: true, handle: pressAddUser},
		ActionHomeSetCredential: {opensModal: true, handle: pressSetCredential},
		ActionUserListMore:      {handle: pressUserListMore},
		ActionDashboardsMore:    {handle: pressDashboardsMore},
		ActionCompareWith:       {handle: pressCompareWith},
		ActionComparePick:       {handle: pressComparePick},
	}
}

// onInteraction acks block actions at once and hands them on; a modal submission is
// acked with its answer (see onViewSubmission).
func (b *Bot) onInteraction(ctx context.Context, smc *socketmode.Client, req *socketmode.Request, cb slack.InteractionCallback) {
	if cb.Type == slack.InteractionTypeViewSubmission {
		b.onViewSubmission(ctx, smc, req, cb)
		return
	}
	b.ack(smc, req, nil)
	if cb.Type != slack.InteractionTypeBlockActions {
		return
	}
	for _, act := range cb.ActionCallback.BlockActions {
		h, ok := b.actions[act.ActionID]
		if !ok {
			b.log.Debug().Str("action_id", act.ActionID).Msg("slack action without a handler")
			continue
		}
		b.log.Info().Str("slack_user", cb.User.ID).Str("action_id", act.ActionID).Msg("slack button")
		if h.opensModal {
			go func() {
				ctx, cancel := detached(ctx)
				defer cancel()
				h.handle(ctx, b, cb, act)
			}()
			continue
		}
		if !b.background(ctx, act.ActionID, func(ctx context.Context) { h.handle(ctx, b, cb, act) }) {
			go func() {
				ctx, cancel := detached(ctx)
				defer cancel()
				b.respond(ctx, cb.ResponseURL, busyReply())
			}()
		}
	}
}

func pressRecapture(ctx context.Context, b *Bot, cb slack.InteractionCallback, act *slack.BlockAction) {
	b.respond(ctx, cb.ResponseURL, b.recapture(ctx, cb.User.ID, act.Value))
}

func pressMute(ctx context.Context, b *Bot, cb slack.InteractionCallback, act *slack.BlockAction) {
	b.respond(ctx, cb.ResponseURL, b.mute(ctx, cb.User.ID, act.Value))
}

func pressAddUser(ctx context.Context, b *Bot, cb slack.InteractionCallback, _ *slack.BlockAction) {
	if err := b.openUserAddModal(ctx, cb.TriggerID); err != nil {
		b.log.Error().Err(err).Msg("open the add-user form from app home")
	}
}

func pressSetCredential(ctx context.Context, b *Bot, cb slack.InteractionCallback, act *slack.BlockAction) {
	if err := b.openCredSetModal(ctx, cb.TriggerID, b.actor(ctx, cb.User.ID), act.Value, ""); err != nil {
		b.log.Error().Err(err).Msg("open the credential form from app home")
	}
}

// pendingAck is a modal submission waiting for its answer: the first of the answer and
// the ack budget's end decides the ack.
type pendingAck struct {
	mu     sync.Mutex
	acked  bool
	answer chan *slack.ViewSubmissionResponse
}

// onViewSubmission runs the submission in the worker pool, with the actor from the
// payload's user_id (never from private_metadata), and acks with its answer — errors on
// the fields, or the next view — if it comes within the ack budget. If it does not, the
// ack shows a "working" view and the answer replaces it with views.update when it comes.
func (b *Bot) onViewSubmission(ctx context.Context, smc *socketmode.Client, req *socketmode.Request, cb slack.InteractionCallback) {
	h, ok := b.submissions[cb.View.CallbackID]
	if !ok {
		b.ack(smc, req, nil)
		return
	}
	b.log.Info().Str("slack_user", cb.User.ID).Str("callback_id", cb.View.CallbackID).Msg("slack form submitted")
	p := &pendingAck{answer: make(chan *slack.ViewSubmissionResponse, 1)}
	viewID := cb.View.ID
	queued := b.background(ctx, cb.View.CallbackID, func(ctx context.Context) {
		answer := h(ctx, b, cb, b.actor(ctx, cb.User.ID))
		p.mu.Lock()
		late := p.acked
		if !late {
			p.answer <- answer
		}
		p.mu.Unlock()
		if late {
			b.finishLate(ctx, viewID, answer)
		}
	})
	if !queued {
		b.ack(smc, req, slack.NewUpdateViewSubmissionResponse(messageView("Busy", busyReply().Text)))
		return
	}
	go func() {
		t := time.NewTimer(b.cfg.AckBudget)
		defer t.Stop()
		select {
		case answer := <-p.answer:
			b.ack(smc, req, answer)
			return
		case <-t.C:
		}
		p.mu.Lock()
		select {
		case answer := <-p.answer:
			p.mu.Unlock()
			b.ack(smc, req, answer)
			return
		default:
		}
		p.acked = true
		p.mu.Unlock()
		b.ack(smc, req, slack.NewUpdateViewSubmissionResponse(messageView("Working…", ":hourglass_flowing_sand: Working on it; this form will show the result.")))
	}()
}

// finishLate shows a submission's answer that came after the ack.
func (b *Bot) finishLate(ctx context.Context, viewID string, answer *slack.ViewSubmissionResponse) {
	view := answer.View
	if answer.ResponseAction == slack.RAErrors {
		text := ":warning:"
		for _, msg := range answer.Errors {
			text += " " + msg
		}
		view = messageView("Not done", text)
	}
	if view == nil {
		return
	}
	if _, err := b.api.UpdateViewContext(ctx, *view, "", "", viewID); err != nil {
		b.log.Error().Err(err).Str("view_id", viewID).Msg("slack views.update failed")
	}
}
