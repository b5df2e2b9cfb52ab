// Package bot is credential-grafana's Slack front-end and its channel notifier.
//
// The Bot (New, Run, Check) holds a Socket Mode connection: it acks every envelope at
// once, answers the slash command (default /cg), opens and validates modals, publishes
// the App Home tab and handles the buttons of pipeline messages, doing every operation
// through package commands with an Actor built from the payload's user_id. Slow work runs
// in a bounded worker pool and answers through response_url or the Web API.
//
// The Notifier (NewNotifier) is what the scheduler's pipeline posts with: it uploads a
// dashboard's GIF (Upload) and shares it into the user's channel as one message whose
// blocks carry the key figures, the link and the buttons (Share), says from files.info
// whether an upload's share exists (ShareState), and turns Slack's errors into ones the
// pipeline can act on (RetryAfter, Permanent, with a sentence saying what to do).
package bot
