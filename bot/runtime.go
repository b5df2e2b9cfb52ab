package bot

import (
	"context"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"
)

// drain reads the socketmode client's events at once until ctx ends, so the reader never
// stalls: each envelope is acked here or in a goroutine of its own within the 3-second
// budget, and its slow work goes to the worker pool. It reports whether the client
// connected at some point.
func (b *Bot) drain(ctx context.Context, smc *socketmode.Client) bool {
	connected := false
	for {
		select {
		case <-ctx.Done():
			return connected
		case ev := <-smc.Events:
			if b.onEvent(ctx, smc, ev) {
				connected = true
			}
		}
	}
}

// onEvent handles one socketmode event and reports whether it says the client connected.
func (b *Bot) onEvent(ctx context.Context, smc *socketmode.Client, ev socketmode.Event) bool {
	switch ev.Type {
	case socketmode.EventTypeConnected:
		b.setState(connState{connected: true})
		b.metrics.connected.Set(1)
		b.log.Info().Msg("slack socket mode connected")
		return true
	case socketmode.EventTypeConnectionError:
		if ce, ok := ev.Data.(*slack.ConnectionErrorEvent); ok {
			b.setState(connState{err: ce.ErrorObj, retryAt: time.Now().Add(ce.Backoff)})
			b.log.Warn().Err(ce.ErrorObj).Dur("retry_in", ce.Backoff).Msg("slack socket mode connection failed")
		}
		b.metrics.connected.Set(0)
	case socketmode.EventTypeIncomingError, socketmode.EventTypeErrorBadMessage, socketmode.EventTypeErrorWriteFailed:
		b.log.Warn().Str("event_type", string(ev.Type)).Interface("detail", ev.Data).Msg("slack socket mode problem")
	case socketmode.EventTypeSlashCommand:
		b.metrics.envelopes.WithLabelValues("slash_commands").Inc()
		if cmd, ok := ev.Data.(slack.SlashCommand); ok {
			b.onSlashCommand(ctx, smc, ev.Request, cmd)
		} else {
			b.ack(smc, ev.Request, nil)
		}
	case socketmode.EventTypeInteractive:
		b.metrics.envelopes.WithLabelValues("interactive").Inc()
		if cb, ok := ev.Data.(slack.InteractionCallback); ok {
			b.onInteraction(ctx, smc, ev.Request, cb)
		} else {
			b.ack(smc, ev.Request, nil)
		}
	case socketmode.EventTypeEventsAPI:
		b.metrics.envelopes.WithLabelValues("events_api").Inc()
		b.ack(smc, ev.Request, nil)
		if e, ok := ev.Data.(slackevents.EventsAPIEvent); ok {
			b.onEventsAPI(ctx, e)
		}
	}
	return false
}

// ack acknowledges an envelope, with payload when it is not nil.
func (b *Bot) ack(smc *socketmode.Client, req *socketmode.Request, payload any) {
	if req == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := smc.AckCtx(ctx, req.EnvelopeID, payload); err != nil {
		b.metrics.acks.WithLabelValues("error").Inc()
		b.log.Error().Err(err).Str("envelope_id", req.EnvelopeID).Msg("slack ack failed")
		return
	}
	b.metrics.acks.WithLabelValues("ok").Inc()
}

// onEventsAPI handles an Events API event once, whatever Slack's redeliveries.
func (b *Bot) onEventsAPI(ctx context.Context, e slackevents.EventsAPIEvent) {
	cb, ok := e.Data.(*slackevents.EventsAPICallbackEvent)
	if ok && !b.seen.first(cb.EventID) {
		b.log.Debug().Str("event_id", cb.EventID).Msg("slack event seen before; ignored")
		return
	}
	switch inner := e.InnerEvent.Data.(type) {
	case *slackevents.AppHomeOpenedEvent:
		if inner.Tab != "" && inner.Tab != "home" {
			return
		}
		user := inner.User
		b.background(ctx, "app_home_opened", func(ctx context.Context) { b.publishHome(ctx, user) })
	}
}

// background runs work in the pool, or logs that the pool is full.
func (b *Bot) background(_ context.Context, handler string, work func(context.Context)) bool {
	if b.pool.submit(work) {
		return true
	}
	b.metrics.handlerErrors.WithLabelValues(handler).Inc()
	b.log.Warn().Str("handler", handler).Msg("slack worker pool full; request dropped")
	return false
}
