// Package bot is credential-grafana's Slack front-end and its channel notifier.
//
// The Bot (New, Run, Check) holds a Socket Mode connection: it acks every envelope at
// once, answers the slash command (default /cg), opens and validates modals, publishes
// the App Home tab and handles the buttons of pipeline messages, doing every operation
// through package commands with an Actor built from the payload's user_id. Slow work runs
// in a bounded worker pool and answers through response_url or the Web API.
//
// The Notifier (NewNotifier) is what the scheduler's pipeline posts with: it uploads a
// dashboard's GIF to the user's channel, follows it with a Block Kit message carrying the
// key figures and buttons, finds an earlier post after a crash, and turns Slack's errors
// into ones the pipeline can act on (RetryAfter, Permanent).
package bot
