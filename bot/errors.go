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
	// ChannelWorks is true when, despite the failure, the channel takes plain messages
	// (a workspace refuses file uploads, not the bot): a person there can be told.
	ChannelWorks bool
	Err          error
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

// ChannelTakesMessages reports whether the channel still takes plain messages.
func (e *NotifyError) ChannelTakesMessages() bool { return e.ChannelWorks }

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
	"account_inactive": true, "not_allowed_token_type": true, "team_access_not_granted": true,
}

// workspacePolicies are the documented errors of files.getUploadURLExternal,
// files.completeUploadExternal and chat.postMessage (their Errors tables at
// https://api.slack.com/methods) that come from a setting of the workspace or the channel
// rather than the request, with what a person must do. The channel still takes plain
// messages when channelWorks is set.
var workspacePolicies = map[string]struct {
	todo         string
	channelWorks bool
}{
	"posting_to_channel_denied": {todo: "only some members may post in channel %[1]s: let the bot post there " +
		"(channel details → Settings → Posting permissions) or set another slack_channel_id"},
	"posting_to_general_channel_denied": {todo: "only admins may post in the workspace's general channel %[1]s: " +
		"set another slack_channel_id"},
	"restricted_action": {todo: "the workspace settings keep the bot from posting in channel %[1]s: ask a workspace " +
		"admin to allow apps to post there (workspace settings → Permissions), or set another slack_channel_id"},
	"ekm_access_denied": {todo: "Enterprise Key Management has revoked access to channel %[1]s: ask your organisation's " +
		"Slack admin to restore it, or set another slack_channel_id"},
	"file_uploads_disabled": {channelWorks: true, todo: "file uploads are turned off in this workspace, so the GIF " +
		"cannot be posted: ask a workspace admin to allow file uploads (workspace settings → Permissions → Messaging)"},
	"file_uploads_except_images_disabled": {channelWorks: true, todo: "this workspace allows only image uploads and " +
		"refused the GIF: ask a workspace admin to allow file uploads (workspace settings → Permissions → Messaging)"},
	"file_type_not_allowed": {channelWorks: true, todo: "this workspace does not allow GIF files: ask a workspace " +
		"admin to allow the .gif type (workspace settings → Permissions → Messaging → file types)"},
	"storage_limit_reached": {channelWorks: true, todo: "the workspace's file storage is full: ask a workspace " +
		"admin to free space or raise the limit"},
}

// classify turns a Slack error from an operation (what) in channel into a *NotifyError
// with a sentence a person can act on. botName is the bot's @name, for invitations.
// Every documented permanent error is Final: retrying it would only upload orphans.
func classify(what, channel, botName string, err error) *NotifyError {
	var rl *slack.RateLimitedError
	if errors.As(err, &rl) {
		return &NotifyError{Code: "ratelimited", After: rl.RetryAfter, Err: err,
			Message: fmt.Sprintf("%s: Slack rate-limited us in channel %s; retry after %s", what, channel, rl.RetryAfter)}
	}
	code := slackCode(err)
	ne := &NotifyError{Code: code, Err: err, Final: true}
	policy, isPolicy := workspacePolicies[code]
	switch {
	case code == "not_in_channel":
		ne.Message = fmt.Sprintf("%s: the bot is not a member of channel %s and cannot join it by itself (a private channel): "+
			"invite it with `/invite @%s` in that channel", what, channel, botName)
	case code == "channel_not_found" || code == "invalid_channel":
		ne.Message = fmt.Sprintf("%s: the channel ID %s does not exist or the bot cannot see it: check slack_channel_id "+
			"(channel details → About → Channel ID), and if the channel is private, invite the bot with `/invite @%s`",
			what, channel, botName)
	case code == "is_archived" || code == "channel_is_archived":
		ne.Message = fmt.Sprintf("%s: channel %s is archived: unarchive it or set another slack_channel_id", what, channel)
	case isPolicy:
		ne.ChannelWorks = policy.channelWorks
		ne.Message = fmt.Sprintf("%s: Slack answered %s: %s", what, code, fmt.Sprintf(policy.todo, channel))
	case code == "missing_scope":
		needed := "a scope of slack-app-manifest.yaml"
		var se slack.SlackErrorResponse
		if errors.As(err, &se) && se.Needed != "" {
			needed = "the scope " + se.Needed
		}
		ne.Message = fmt.Sprintf("%s: the bot token lacks %s (missing_scope): add it to the Slack app (OAuth & Permissions, "+
			"or update the app from slack-app-manifest.yaml), reinstall the app and set the new token", what, needed)
	case authFailures[code]:
		ne.Message = fmt.Sprintf("%s: Slack refused the bot token (%s): set a valid xoxb- token in the user's "+
			"slack_bot_token credential or in SLACK_BOT_TOKEN, with the scopes of slack-app-manifest.yaml", what, code)
	case code != "":
		ne.Final = false
		ne.Message = fmt.Sprintf("%s in channel %s: Slack answered %s", what, channel, code)
	default:
		ne.Final = false
		ne.Message = fmt.Sprintf("%s in channel %s: %v", what, channel, err)
	}
	return ne
}
