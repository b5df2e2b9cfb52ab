package bot

import (
	"errors"
	"fmt"
	"time"

	"github.com/slack-go/slack"
)

// NotifyError is a Slack failure as the pipeline needs to see it: whether retrying can
// help, and after how long. Message is a sentence a person can act on.
type NotifyError struct {
	// Code is Slack's error code ("not_in_channel", "ratelimited", …), or "" when the
	// failure was not Slack's answer (network, file).
	Code    string
	Message string
	// After is Slack's Retry-After for a rate limit; zero otherwise.
	After time.Duration
	// Final is true when retrying cannot help until a person changes something.
	Final bool
	Err   error
}

// Error implements error.
func (e *NotifyError) Error() string {
	if e.Err != nil && e.Message == "" {
		return e.Err.Error()
	}
	return e.Message
}

// Unwrap returns the underlying error.
func (e *NotifyError) Unwrap() error { return e.Err }

// RetryAfter is how long to wait before trying again; zero unless rate limited.
func (e *NotifyError) RetryAfter() time.Duration { return e.After }

// Permanent reports whether retrying cannot help.
func (e *NotifyError) Permanent() bool { return e.Final }

// slackCode returns Slack's error code in err ("" if err is not a Slack answer).
func slackCode(err error) string {
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		return se.Err
	}
	var rl *slack.RateLimitedError
	if errors.As(err, &rl) {
		return "ratelimited"
	}
	return ""
}

// authFailures are the codes with which Slack refuses a token.
var authFailures = map[string]bool{
	"invalid_auth": true, "not_authed": true, "token_revoked": true, "token_expired": true,
	"account_inactive": true, "not_allowed_token_type": true, "missing_scope": true,
}

// classify turns a Slack error from an operation (what) in channel into a *NotifyError
// with a sentence a person can act on. botName is the bot's @name, for invitations.
func classify(what, channel, botName string, err error) *NotifyError {
	var rl *slack.RateLimitedError
	if errors.As(err, &rl) {
		return &NotifyError{Code: "ratelimited", After: rl.RetryAfter, Err: err,
			Message: fmt.Sprintf("%s: Slack rate-limited us in channel %s; retry after %s", what, channel, rl.RetryAfter)}
	}
	code := slackCode(err)
	ne := &NotifyError{Code: code, Err: err}
	switch {
	case code == "not_in_channel":
		ne.Final = true
		ne.Message = fmt.Sprintf("%s: the bot is not a member of channel %s and cannot join it by itself (a private channel): "+
			"invite it with `/invite @%s` in that channel", what, channel, botName)
	case code == "channel_not_found":
		ne.Final = true
		ne.Message = fmt.Sprintf("%s: the channel ID %s does not exist or the bot cannot see it: check slack_channel_id "+
			"(channel details → About → Channel ID), and if the channel is private, invite the bot with `/invite @%s`",
			what, channel, botName)
	case code == "is_archived":
		ne.Final = true
		ne.Message = fmt.Sprintf("%s: channel %s is archived: unarchive it or set another slack_channel_id", what, channel)
	case authFailures[code]:
		ne.Final = true
		ne.Message = fmt.Sprintf("%s: Slack refused the bot token (%s): set a valid xoxb- token in the user's "+
			"slack_bot_token credential or in SLACK_BOT_TOKEN, with the scopes of slack-app-manifest.yaml", what, code)
	case code != "":
		ne.Message = fmt.Sprintf("%s in channel %s: Slack answered %s", what, channel, code)
	default:
		ne.Message = fmt.Sprintf("%s in channel %s: %v", what, channel, err)
	}
	return ne
}
