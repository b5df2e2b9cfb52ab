package bot

import (
	"context"
	"crypto/rand"
	"encoding/hex"

	"github.com/slack-go/slack"

	"credential-grafana/cg"
)

// reply is an answer to a slash command or a button: ephemeral (only the asker sees it)
// unless InChannel. Text is the whole answer or, with Blocks, its notification text.
type reply struct {
	Text      string
	Blocks    []slack.Block
	InChannel bool
}

func (r reply) responseType() string {
	if r.InChannel {
		return slack.ResponseTypeInChannel
	}
	return slack.ResponseTypeEphemeral
}

// payload is the reply as a slash command's ack payload, fitted to Slack's limits.
func (r reply) payload() map[string]any {
	p := map[string]any{"response_type": r.responseType(), "text": fitText(r.Text)}
	if len(r.Blocks) > 0 {
		p["blocks"] = fitReply(r.Blocks)
	}
	return p
}

// respond posts a reply to a response_url. If Slack refuses the blocks, the text alone is
// posted; other failures are logged, never reported back into Slack.
func (b *Bot) respond(ctx context.Context, responseURL string, r reply) {
	if responseURL == "" {
		return
	}
	opts := []slack.MsgOption{slack.MsgOptionResponseURL(responseURL, r.responseType()), slack.MsgOptionText(fitText(r.Text), false)}
	if len(r.Blocks) > 0 {
		opts = append(opts, slack.MsgOptionBlocks(fitReply(r.Blocks)...))
	}
	_, _, err := b.api.PostMessageContext(ctx, "", opts...)
	if err != nil && len(r.Blocks) > 0 {
		b.log.Warn().Err(err).Msg("slack refused a reply's blocks; sending its text")
		_, _, err = b.api.PostMessageContext(ctx, "", slack.MsgOptionResponseURL(responseURL, r.responseType()),
			slack.MsgOptionText(fitText(r.Text), false))
	}
	if err != nil {
		b.log.Error().Err(err).Msg("slack reply failed")
	}
}

// errorReply turns an operation's error into an answer: the cg.Error's message (as text:
// it may quote what was typed), with who can help for a refusal, and only an error ID to
// quote for an internal failure (whose detail goes to the log).
func (b *Bot) errorReply(err error, what string) reply {
	switch cg.ErrorCode(err) {
	case cg.EFORBIDDEN:
		return reply{Text: ":no_entry: Sorry, " + esc(cg.ErrorMessage(err)) + ". " + b.admins.whoCanHelp()}
	case cg.EINTERNAL:
		id := errorID()
		b.metrics.handlerErrors.WithLabelValues(what).Inc()
		b.log.Error().Err(err).Str("error_id", id).Str("command", what).Msg("slack command failed")
		return reply{Text: ":x: Something went wrong on our side while running `" + what + "`. Quote error `" + id +
			"` to an administrator. " + b.admins.whoCanHelp()}
	}
	return reply{Text: ":warning: " + esc(cg.ErrorMessage(err))}
}

func errorID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func busyReply() reply {
	return reply{Text: ":hourglass: credential-grafana is busy with other requests; please try again in a minute."}
}
