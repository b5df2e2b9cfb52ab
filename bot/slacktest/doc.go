// Package slacktest is a fake of Slack's wire protocols for tests: the HTTP Web API and the
// Socket Mode WebSocket, served by an httptest server that the real slack-go client talks to.
//
// A test starts one with New, points slack-go at it with slack.OptionAPIURL(srv.APIURL()),
// uses srv.BotToken() and srv.AppToken(), adds the channels and users it needs, and then
// drives the bot from the Slack side (SendSlashCommand, SendBlockAction, SendViewSubmission,
// SendEvent, Disconnect, RevokeAppToken, FailNext, FailNextError, RateLimit) and inspects what the bot did
// (Messages, Uploads, Ephemerals, ViewCalls, ResponsePosts, Acks, Calls). Controls and Display
// read mrkdwn as Slack does: what it would turn into a link or a mention, and what a person sees.
//
// The fake honours the Slack facts the project depends on (see SLACK.md): channel IDs only,
// bot membership (not_in_channel, and channel_not_found for private channels it cannot see),
// the bot token's scopes (missing_scope, x-oauth-scopes), the three-step file upload with an
// exact byte count, one completion per file, and a share that appears (files.info shares,
// files.list by channel, the channel's history) only 1 s after the completion
// (WithFileProcessingDelay; Slack takes 1–3 s), single-use trigger_ids that die after about 3
// seconds, response_urls that work 5 times, Block Kit and modal limits (each field, and
// msg_blocks_too_long), slash-command text escaped as Slack escapes it (WithSlashCommandEscaping),
// 429 with Retry-After, token types and revoked tokens, and a Socket Mode server that says hello,
// sends WebSocket PINGs, delivers envelopes
// to one connection, records acks, and asks for a refresh with a disconnect frame.
//
// A typical test:
//
//	srv := slacktest.New(t, slacktest.WithPingInterval(100*time.Millisecond))
//	srv.AddChannel("C0RESULTS1", "eda-results")              // public, bot not a member
//	srv.AddUser(slacktest.User{ID: "U0ALICE001", Name: "alice"})
//	api := slack.New(srv.BotToken(), slack.OptionAPIURL(srv.APIURL()),
//		slack.OptionAppLevelToken(srv.AppToken()))
//	// ... start the bot with api (socketmode.New(api)) ...
//	d, err := srv.SendSlashCommand(ctx, slacktest.SlashCommand{
//		Command: "/cg", Text: "user list", UserID: "U0ALICE001", ChannelID: "C0RESULTS1"})
//	ack, err := d.WaitAck(ctx)     // ack.Payload is what the bot acked with
//	posts := d.ResponsePosts()     // what it later posted to the response_url
//	ups := srv.CompletedUploads()  // files shared with files.completeUploadExternal
//
// Users that users.info, slash commands and views.publish should know are added with
// AddUser; channels with AddChannel (BotMember, Private, Members).
//
// Everything it records is safe to read from any goroutine; reads return copies.
package slacktest
