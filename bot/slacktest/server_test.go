package slacktest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"

	"credential-grafana/bot/slacktest"
)

const (
	publicChannel  = "C0PUBLIC01"
	privateChannel = "G0PRIVATE1"
	alice          = "U0ALICE001"
)

func setup(t *testing.T, opts ...slacktest.Option) (*slacktest.Server, *slack.Client) {
	t.Helper()
	srv := slacktest.New(t, opts...)
	srv.AddChannel(publicChannel, "eda-results")
	srv.AddChannel(privateChannel, "eda-private", slacktest.Private())
	srv.AddUser(slacktest.User{ID: alice, Name: "alice", RealName: "Alice"})
	api := slack.New(srv.BotToken(), slack.OptionAPIURL(srv.APIURL()), slack.OptionAppLevelToken(srv.AppToken()))
	return srv, api
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func slackErr(err error) string {
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		return se.Err
	}
	return ""
}

func TestAuthTestAnswersWithTheBotIdentity(t *testing.T) {
	t.Parallel()
	srv, api := setup(t)
	res, err := api.AuthTestContext(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if res.UserID != slacktest.BotUserID || res.TeamID != srv.TeamID() || res.BotID != slacktest.BotID {
		t.Fatalf("auth.test = %+v", res)
	}
	bad := slack.New("xoxb-wrong", slack.OptionAPIURL(srv.APIURL()))
	if _, err := bad.AuthTestContext(ctxT(t)); slackErr(err) != "invalid_auth" {
		t.Fatalf("unknown token: %v, want invalid_auth", err)
	}
	srv.RevokeBotToken()
	if _, err := api.AuthTestContext(ctxT(t)); slackErr(err) != "token_revoked" {
		t.Fatalf("revoked token: %v, want token_revoked", err)
	}
}

func TestPostMessageNeedsMembershipAndAChannelID(t *testing.T) {
	t.Parallel()
	srv, api := setup(t)
	ctx := ctxT(t)
	if _, _, err := api.PostMessageContext(ctx, publicChannel, slack.MsgOptionText("hi", false)); slackErr(err) != "not_in_channel" {
		t.Fatalf("post before join: %v, want not_in_channel", err)
	}
	if _, _, err := api.PostMessageContext(ctx, "#eda-results", slack.MsgOptionText("hi", false)); slackErr(err) != "channel_not_found" {
		t.Fatalf("post to a name: %v, want channel_not_found", err)
	}
	if _, _, err := api.PostMessageContext(ctx, privateChannel, slack.MsgOptionText("hi", false)); slackErr(err) != "channel_not_found" {
		t.Fatalf("post to a private channel: %v, want channel_not_found", err)
	}
	if _, _, _, err := api.JoinConversationContext(ctx, privateChannel); slackErr(err) != "channel_not_found" {
		t.Fatalf("join an invisible private channel: %v, want channel_not_found", err)
	}
	if _, _, _, err := api.JoinConversationContext(ctx, publicChannel); err != nil {
		t.Fatal(err)
	}
	md := slack.SlackMetadata{EventType: "dashboard_posted", EventPayload: map[string]any{"uid": "cg-alice-timing-run1"}}
	_, ts, err := api.PostMessageContext(ctx, publicChannel, slack.MsgOptionText("hi", false), slack.MsgOptionMetadata(md))
	if err != nil {
		t.Fatal(err)
	}
	msgs := srv.Messages(publicChannel)
	if len(msgs) != 1 || msgs[0].Text != "hi" || msgs[0].TS != ts {
		t.Fatalf("messages = %+v", msgs)
	}
	if got := srv.Joins(); len(got) != 1 || got[0] != publicChannel {
		t.Fatalf("joins = %v", got)
	}
	hist, err := api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: publicChannel, IncludeAllMetadata: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(hist.Messages) != 1 || hist.Messages[0].Metadata.EventPayload["uid"] != "cg-alice-timing-run1" {
		t.Fatalf("history = %+v", hist.Messages)
	}
	srv.AddChannel("G0PRIVATE2", "members-only", slacktest.Private(), slacktest.BotMember())
	if _, _, _, err := api.JoinConversationContext(ctx, "G0PRIVATE2"); slackErr(err) != "method_not_supported_for_channel_type" {
		t.Fatalf("join a private channel: %v, want method_not_supported_for_channel_type", err)
	}
	if got := srv.Calls("chat.postMessage"); got != 4 {
		t.Fatalf("chat.postMessage calls = %d, want 4", got)
	}
}

func TestMessageBlockLimitsAnswerInvalidBlocks(t *testing.T) {
	t.Parallel()
	srv, api := setup(t)
	srv.AddChannel("C0MEMBER01", "bot-here", slacktest.BotMember())
	ctx := ctxT(t)
	many := make([]slack.Block, 51)
	for i := range many {
		many[i] = slack.NewDividerBlock()
	}
	if _, _, err := api.PostMessageContext(ctx, "C0MEMBER01", slack.MsgOptionBlocks(many...)); slackErr(err) != "invalid_blocks" {
		t.Fatalf("51 blocks: %v, want invalid_blocks", err)
	}
	long := slack.NewSectionBlock(slack.NewTextBlockObject("mrkdwn", strings.Repeat("x", 3001), false, false), nil, nil)
	if _, _, err := api.PostMessageContext(ctx, "C0MEMBER01", slack.MsgOptionBlocks(long)); slackErr(err) != "invalid_blocks" {
		t.Fatalf("3001-character section: %v, want invalid_blocks", err)
	}
	header := slack.NewHeaderBlock(slack.NewTextBlockObject("plain_text", strings.Repeat("h", 151), false, false))
	if _, _, err := api.PostMessageContext(ctx, "C0MEMBER01", slack.MsgOptionBlocks(header)); slackErr(err) != "invalid_blocks" {
		t.Fatalf("151-character header: %v, want invalid_blocks", err)
	}
	if _, _, err := api.PostMessageContext(ctx, "C0MEMBER01", slack.MsgOptionText(strings.Repeat("y", 40001), false)); slackErr(err) != "msg_too_long" {
		t.Fatalf("40001-character text: %v, want msg_too_long", err)
	}
	if _, _, err := api.PostMessageContext(ctx, "C0MEMBER01", slack.MsgOptionBlocks(many[:50]...)); err != nil {
		t.Fatalf("50 blocks: %v", err)
	}
}

func TestUploadFileLandsBytesTitleAndChannel(t *testing.T) {
	t.Parallel()
	srv, api := setup(t, slacktest.WithFileProcessingDelay(50*time.Millisecond))
	srv.AddChannel("C0MEMBER01", "bot-here", slacktest.BotMember())
	ctx := ctxT(t)
	gif := []byte("GIF89a fake animation bytes")
	sum, err := api.UploadFileContext(ctx, slack.UploadFileParameters{
		Reader: bytes.NewReader(gif), FileSize: len(gif), Filename: "timing.gif",
		Title: "cg-alice-timing-run1", Channel: "C0MEMBER01", InitialComment: "WNS -0.12 ns",
	})
	if err != nil {
		t.Fatal(err)
	}
	ups := srv.CompletedUploads()
	if len(ups) != 1 {
		t.Fatalf("uploads = %+v", ups)
	}
	u := ups[0]
	if u.FileID != sum.ID || !bytes.Equal(u.Bytes, gif) || u.Title != "cg-alice-timing-run1" ||
		u.Channel != "C0MEMBER01" || u.InitialComment != "WNS -0.12 ns" || u.Filename != "timing.gif" {
		t.Fatalf("upload = %+v", u)
	}

	// Shares appear once processing is done: poll files.info as the notifier does.
	var file *slack.File
	for {
		file, _, _, err = api.GetFileInfoContext(ctx, sum.ID, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(file.Shares.Public["C0MEMBER01"]) > 0 || ctx.Err() != nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	share := file.Shares.Public["C0MEMBER01"]
	if len(share) != 1 || share[0].Ts == "" {
		t.Fatalf("shares = %+v", file.Shares)
	}
	msgs := srv.Messages("C0MEMBER01")
	if len(msgs) != 1 || msgs[0].TS != share[0].Ts || msgs[0].Files[0] != sum.ID {
		t.Fatalf("share message = %+v, share %+v", msgs, share)
	}
	files, _, err := api.ListFilesContext(ctx, slack.ListFilesParameters{Channel: "C0MEMBER01"})
	if err != nil || len(files) != 1 || files[0].Title != "cg-alice-timing-run1" {
		t.Fatalf("files.list = %+v, %v", files, err)
	}
}

func TestUploadRefusesAWrongLengthAndAChannelWithoutTheBot(t *testing.T) {
	t.Parallel()
	srv, api := setup(t)
	ctx := ctxT(t)
	_, err := api.UploadFileContext(ctx, slack.UploadFileParameters{
		Reader: strings.NewReader("12345"), FileSize: 6, Filename: "a.gif", Channel: publicChannel,
	})
	var status slack.StatusCodeError
	if !errors.As(err, &status) || status.Code != http.StatusBadRequest {
		t.Fatalf("wrong length: %v, want a 400 from the upload URL", err)
	}
	u, err := api.GetUploadURLExternalContext(ctx, slack.GetUploadURLExternalParameters{FileName: "b.gif", FileSize: 3})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(u.UploadURL, srv.URL()) {
		t.Fatalf("upload_url %s is not on the fake's host", u.UploadURL)
	}
	complete := slack.CompleteUploadExternalParameters{Files: []slack.FileSummary{{ID: u.FileID, Title: "b"}}, Channel: publicChannel}
	if _, err := api.CompleteUploadExternalContext(ctx, complete); slackErr(err) != "not_in_channel" {
		t.Fatalf("complete in a channel without the bot: %v, want not_in_channel", err)
	}
	complete.Channel = ""
	if _, err := api.CompleteUploadExternalContext(ctx, complete); slackErr(err) != "file_not_found" {
		t.Fatalf("complete before upload: %v, want file_not_found", err)
	}
	if len(srv.CompletedUploads()) != 0 {
		t.Fatalf("uploads = %+v", srv.CompletedUploads())
	}
}

func TestRateLimitSurfacesAsRateLimitedError(t *testing.T) {
	t.Parallel()
	srv, api := setup(t)
	srv.AddChannel("C0MEMBER01", "bot-here", slacktest.BotMember())
	srv.RateLimit("chat.postMessage", 1, 2*time.Second)
	srv.FailNext("chat.postMessage", 1, "fatal_error")
	ctx := ctxT(t)
	_, _, err := api.PostMessageContext(ctx, "C0MEMBER01", slack.MsgOptionText("hi", false))
	var rl *slack.RateLimitedError
	if !errors.As(err, &rl) || rl.RetryAfter != 2*time.Second {
		t.Fatalf("err = %v, want RateLimitedError after 2s", err)
	}
	if _, _, err := api.PostMessageContext(ctx, "C0MEMBER01", slack.MsgOptionText("hi", false)); slackErr(err) != "fatal_error" {
		t.Fatalf("err = %v, want fatal_error", err)
	}
	if _, _, err := api.PostMessageContext(ctx, "C0MEMBER01", slack.MsgOptionText("hi", false)); err != nil {
		t.Fatal(err)
	}
}

// runSocketMode runs a real slack-go Socket Mode client against the fake and hands its
// events to the test; RunContext's result arrives on the error channel.
func runSocketMode(t *testing.T, srv *slacktest.Server) (*socketmode.Client, <-chan socketmode.Event, <-chan error) {
	t.Helper()
	api := slack.New(srv.BotToken(), slack.OptionAPIURL(srv.APIURL()), slack.OptionAppLevelToken(srv.AppToken()))
	client := socketmode.New(api)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		errc <- client.RunContext(ctx)
	}()
	events := make(chan socketmode.Event, 256)
	go func() {
		for {
			select {
			case e := <-client.Events:
				select {
				case events <- e:
				case <-ctx.Done():
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return client, events, errc
}

// next waits for the next event of the type, skipping others.
func next(t *testing.T, ctx context.Context, events <-chan socketmode.Event, typ socketmode.EventType) socketmode.Event {
	t.Helper()
	for {
		select {
		case e := <-events:
			if e.Type == typ {
				return e
			}
		case <-ctx.Done():
			t.Fatalf("no %s event: %v", typ, ctx.Err())
		}
	}
}

func TestSocketModeSlashCommandIsAckedWithAPayload(t *testing.T) {
	t.Parallel()
	srv, _ := setup(t, slacktest.WithPingInterval(100*time.Millisecond))
	client, events, _ := runSocketMode(t, srv)
	ctx := ctxT(t)
	next(t, ctx, events, socketmode.EventTypeHello)

	d, err := srv.SendSlashCommand(ctx, slacktest.SlashCommand{Command: "/cg", Text: "user list", UserID: alice, ChannelID: publicChannel})
	if err != nil {
		t.Fatal(err)
	}
	e := next(t, ctx, events, socketmode.EventTypeSlashCommand)
	cmd := e.Data.(slack.SlashCommand)
	if cmd.Command != "/cg" || cmd.Text != "user list" || cmd.UserID != alice || cmd.TeamID != srv.TeamID() ||
		cmd.ResponseURL != d.ResponseURL || cmd.TriggerID != d.TriggerID || cmd.APIAppID != slacktest.AppID {
		t.Fatalf("slash command = %+v", cmd)
	}
	if err := client.Ack(*e.Request, map[string]any{"response_type": "ephemeral", "text": "no users yet"}); err != nil {
		t.Fatal(err)
	}
	ack, err := d.WaitAck(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var payload struct {
		ResponseType string `json:"response_type"`
		Text         string `json:"text"`
	}
	if err := json.Unmarshal(ack.Payload, &payload); err != nil || payload.Text != "no users yet" || payload.ResponseType != "ephemeral" {
		t.Fatalf("ack payload = %s (%v)", ack.Payload, err)
	}
	if ack.EnvelopeID != d.EnvelopeID || ack.ReceivedAt.IsZero() || ack.Latency <= 0 {
		t.Fatalf("ack = %+v", ack)
	}
	if acks := srv.Acks(); len(acks) != 1 || acks[0].EnvelopeID != d.EnvelopeID {
		t.Fatalf("recorded acks = %+v", acks)
	}
}

func TestDisconnectRefreshRequestedMakesTheClientReconnect(t *testing.T) {
	t.Parallel()
	srv, _ := setup(t, slacktest.WithPingInterval(100*time.Millisecond))
	client, events, _ := runSocketMode(t, srv)
	ctx := ctxT(t)
	next(t, ctx, events, socketmode.EventTypeHello)

	srv.Disconnect("refresh_requested")
	if err := srv.WaitConnected(ctx, 2); err != nil {
		t.Fatal(err)
	}
	d, err := srv.SendSlashCommand(ctx, slacktest.SlashCommand{Command: "/cg", Text: "help", UserID: alice, ChannelID: publicChannel})
	if err != nil {
		t.Fatal(err)
	}
	e := next(t, ctx, events, socketmode.EventTypeSlashCommand)
	if err := client.Ack(*e.Request); err != nil {
		t.Fatal(err)
	}
	ack, err := d.WaitAck(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ack.Payload != nil {
		t.Fatalf("ack payload = %s, want none", ack.Payload)
	}
}

func TestRevokedAppTokenEndsRunContextWithAnAuthError(t *testing.T) {
	t.Parallel()
	srv, _ := setup(t, slacktest.WithPingInterval(100*time.Millisecond))
	_, events, errc := runSocketMode(t, srv)
	ctx := ctxT(t)
	next(t, ctx, events, socketmode.EventTypeHello)

	srv.RevokeAppToken()
	select {
	case err := <-errc:
		if slackErr(err) != "token_revoked" {
			t.Fatalf("RunContext = %v, want token_revoked", err)
		}
	case <-ctx.Done():
		t.Fatal("RunContext did not return after the app token was revoked")
	}
}

func TestEventRedeliveryCarriesTheSameEventID(t *testing.T) {
	t.Parallel()
	srv, _ := setup(t, slacktest.WithPingInterval(100*time.Millisecond))
	_, events, _ := runSocketMode(t, srv)
	ctx := ctxT(t)
	first, err := srv.SendEvent(ctx, slacktest.Event{Event: map[string]any{"type": "app_home_opened", "user": alice, "tab": "home"}})
	if err != nil {
		t.Fatal(err)
	}
	again, err := srv.Redeliver(ctx, first, "timeout")
	if err != nil {
		t.Fatal(err)
	}
	var got []socketmode.Event
	for range 2 {
		got = append(got, next(t, ctx, events, socketmode.EventTypeEventsAPI))
	}
	for i, e := range got {
		ev := e.Data.(slackevents.EventsAPIEvent)
		cb := ev.Data.(*slackevents.EventsAPICallbackEvent)
		if cb.EventID != first.EventID || e.Request.RetryAttempt != i {
			t.Fatalf("delivery %d: event_id %s retry_attempt %d", i, cb.EventID, e.Request.RetryAttempt)
		}
		if _, ok := ev.InnerEvent.Data.(*slackevents.AppHomeOpenedEvent); !ok {
			t.Fatalf("inner event = %T", ev.InnerEvent.Data)
		}
	}
	if again.EnvelopeID == first.EnvelopeID || got[1].Request.RetryReason != "timeout" {
		t.Fatalf("redelivery = %+v", got[1].Request)
	}
}

func TestViewsOpenTriggerIsSingleUse(t *testing.T) {
	t.Parallel()
	srv, api := setup(t)
	ctx := ctxT(t)
	trig := srv.IssueTrigger(alice)
	modal := slack.ModalViewRequest{
		Type:   slack.VTModal,
		Title:  slack.NewTextBlockObject("plain_text", "Add user", false, false),
		Submit: slack.NewTextBlockObject("plain_text", "Add", false, false),
		Blocks: slack.Blocks{BlockSet: []slack.Block{
			slack.NewInputBlock("name", slack.NewTextBlockObject("plain_text", "Name", false, false), nil,
				slack.NewPlainTextInputBlockElement(nil, "name")),
		}},
		PrivateMetadata: "m",
	}
	res, err := api.OpenViewContext(ctx, trig, modal)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := api.OpenViewContext(ctx, trig, modal); slackErr(err) != "exchanged_trigger_id" {
		t.Fatalf("reused trigger: %v, want exchanged_trigger_id", err)
	}
	long := modal
	long.Title = slack.NewTextBlockObject("plain_text", strings.Repeat("t", 25), false, false)
	if _, err := api.OpenViewContext(ctx, srv.IssueTrigger(alice), long); slackErr(err) != "invalid_arguments" {
		t.Fatalf("25-character title: %v, want invalid_arguments", err)
	}
	calls := srv.ViewCalls()
	if len(calls) != 1 || calls[0].ViewID != res.View.ID || calls[0].UserID != alice {
		t.Fatalf("view calls = %+v", calls)
	}

	// The user submits it: the submission carries the values and the ack its errors.
	client, events, _ := runSocketMode(t, srv)
	d, err := srv.SendViewSubmission(ctx, slacktest.ViewSubmission{
		ViewID: res.View.ID, Values: map[string]map[string]slacktest.InputValue{"name": {"name": {Value: "Bad Name"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	e := next(t, ctx, events, socketmode.EventTypeInteractive)
	cb := e.Data.(slack.InteractionCallback)
	if cb.Type != slack.InteractionTypeViewSubmission || cb.View.State.Values["name"]["name"].Value != "Bad Name" || cb.User.ID != alice {
		t.Fatalf("submission = %+v", cb)
	}
	if err := client.Ack(*e.Request, slack.NewErrorsViewSubmissionResponse(map[string]string{"name": "lower case only"})); err != nil {
		t.Fatal(err)
	}
	ack, err := d.WaitAck(ctx)
	if err != nil || !strings.Contains(string(ack.Payload), `"response_action":"errors"`) {
		t.Fatalf("ack = %s, %v", ack.Payload, err)
	}

	// A valid value: the bot answers with an update, and the fake's view changes.
	d, err = srv.SendViewSubmission(ctx, slacktest.ViewSubmission{
		ViewID: res.View.ID, Values: map[string]map[string]slacktest.InputValue{"name": {"name": {Value: "alice"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	e = next(t, ctx, events, socketmode.EventTypeInteractive)
	done := slack.ModalViewRequest{
		Type: slack.VTModal, Title: slack.NewTextBlockObject("plain_text", "User added", false, false),
		Blocks: slack.Blocks{BlockSet: []slack.Block{slack.NewDividerBlock()}},
	}
	if err := client.Ack(*e.Request, slack.NewUpdateViewSubmissionResponse(&done)); err != nil {
		t.Fatal(err)
	}
	if _, err := d.WaitAck(ctx); err != nil {
		t.Fatal(err)
	}
	if v, _, _ := srv.View(res.View.ID); !strings.Contains(string(v), "User added") {
		t.Fatalf("view after response_action update = %s", v)
	}
}

func TestResponseURLWorksFiveTimes(t *testing.T) {
	t.Parallel()
	srv, api := setup(t)
	_, events, _ := runSocketMode(t, srv)
	ctx := ctxT(t)
	d, err := srv.SendSlashCommand(ctx, slacktest.SlashCommand{Command: "/cg", Text: "status", UserID: alice, ChannelID: publicChannel})
	if err != nil {
		t.Fatal(err)
	}
	next(t, ctx, events, socketmode.EventTypeSlashCommand)
	for i := range 5 {
		if _, _, err := api.PostMessageContext(ctx, "", slack.MsgOptionResponseURL(d.ResponseURL, slack.ResponseTypeEphemeral),
			slack.MsgOptionText("status part", false)); err != nil {
			t.Fatalf("post %d: %v", i+1, err)
		}
	}
	if _, _, err := api.PostMessageContext(ctx, "", slack.MsgOptionResponseURL(d.ResponseURL, slack.ResponseTypeEphemeral),
		slack.MsgOptionText("one too many", false)); err == nil {
		t.Fatal("sixth post to the response_url succeeded")
	}
	posts := d.ResponsePosts()
	if len(posts) != 5 || posts[0].Text != "status part" || posts[0].ResponseType != "ephemeral" {
		t.Fatalf("posts = %+v", posts)
	}
}

func runSocketModeWith(t *testing.T, srv *slacktest.Server, opts ...socketmode.Option) <-chan socketmode.Event {
	t.Helper()
	api := slack.New(srv.BotToken(), slack.OptionAPIURL(srv.APIURL()), slack.OptionAppLevelToken(srv.AppToken()))
	client := socketmode.New(api, opts...)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = client.RunContext(ctx)
	}()
	t.Cleanup(func() { cancel(); <-done })
	return client.Events
}

func TestPingFramesKeepAnIdleClientConnected(t *testing.T) {
	t.Parallel()
	srv, _ := setup(t, slacktest.WithPingInterval(10*time.Millisecond))
	// The client gives up on a connection that has not been PINGed for 250ms; the fake's
	// PINGs every 10ms must keep the first connection alive across several such windows.
	events := runSocketModeWith(t, srv, socketmode.OptionPingInterval(250*time.Millisecond))
	go func() {
		for range events {
		}
	}()
	ctx := ctxT(t)
	if err := srv.WaitPongs(ctx, 60); err != nil {
		t.Fatal(err)
	}
	if got := srv.Connects(); got != 1 {
		t.Fatalf("connections accepted = %d, want 1 (the client reconnected)", got)
	}
}

func TestExpiredTriggerIsRefused(t *testing.T) {
	t.Parallel()
	srv, api := setup(t, slacktest.WithTriggerLifetime(time.Nanosecond))
	modal := slack.ModalViewRequest{
		Type: slack.VTModal, Title: slack.NewTextBlockObject("plain_text", "Hi", false, false),
		Blocks: slack.Blocks{BlockSet: []slack.Block{slack.NewDividerBlock()}},
	}
	if _, err := api.OpenViewContext(ctxT(t), srv.IssueTrigger(alice), modal); slackErr(err) != "expired_trigger_id" {
		t.Fatalf("expired trigger: %v, want expired_trigger_id", err)
	}
	if _, err := api.OpenViewContext(ctxT(t), "123.456.abc", modal); slackErr(err) != "invalid_trigger_id" {
		t.Fatalf("unknown trigger: %v, want invalid_trigger_id", err)
	}
}

func TestViewsUpdateAndPublishKeepHashes(t *testing.T) {
	t.Parallel()
	srv, api := setup(t)
	ctx := ctxT(t)
	modal := slack.ModalViewRequest{
		Type: slack.VTModal, Title: slack.NewTextBlockObject("plain_text", "Working", false, false),
		Blocks: slack.Blocks{BlockSet: []slack.Block{slack.NewDividerBlock()}}, ExternalID: "cg-modal-1",
	}
	opened, err := api.OpenViewContext(ctx, srv.IssueTrigger(alice), modal)
	if err != nil {
		t.Fatal(err)
	}
	modal.Title = slack.NewTextBlockObject("plain_text", "Done", false, false)
	updated, err := api.UpdateViewContext(ctx, modal, "", opened.View.Hash, opened.View.ID)
	if err != nil || updated.View.Title.Text != "Done" {
		t.Fatalf("views.update = %+v, %v", updated, err)
	}
	if _, err := api.UpdateViewContext(ctx, modal, "", opened.View.Hash, opened.View.ID); slackErr(err) != "hash_conflict" {
		t.Fatalf("stale hash: %v, want hash_conflict", err)
	}
	if _, err := api.UpdateViewContext(ctx, modal, "cg-modal-1", "", ""); err != nil {
		t.Fatalf("update by external_id: %v", err)
	}
	metadata := strings.Repeat("m", 3001)
	modal.PrivateMetadata = metadata
	if _, err := api.UpdateViewContext(ctx, modal, "", "", opened.View.ID); slackErr(err) != "invalid_arguments" {
		t.Fatalf("3001-character private_metadata: %v, want invalid_arguments", err)
	}

	home := slack.HomeTabViewRequest{Type: slack.VTHomeTab, Blocks: slack.Blocks{BlockSet: []slack.Block{
		slack.NewSectionBlock(slack.NewTextBlockObject("mrkdwn", "*Your users*", false, false), nil, nil),
	}}}
	if _, err := api.PublishViewContext(ctx, slack.PublishViewContextRequest{UserID: alice, View: home}); err != nil {
		t.Fatal(err)
	}
	if v, ok := srv.HomeView(alice); !ok || !strings.Contains(string(v), "Your users") {
		t.Fatalf("home view = %s", v)
	}
	if v, user, ok := srv.View(opened.View.ID); !ok || user != alice || !strings.Contains(string(v), "Done") {
		t.Fatalf("view = %s for %s", v, user)
	}
}

func TestEphemeralUpdateAndBlockActionWithResponseURL(t *testing.T) {
	t.Parallel()
	srv, api := setup(t)
	srv.AddChannel("C0MEMBER01", "bot-here", slacktest.BotMember(), slacktest.Members(alice))
	ctx := ctxT(t)
	if _, err := api.PostEphemeralContext(ctx, "C0MEMBER01", alice, slack.MsgOptionText("only you", false)); err != nil {
		t.Fatal(err)
	}
	if _, err := api.PostEphemeralContext(ctx, "C0MEMBER01", "U0STRANGER", slack.MsgOptionText("x", false)); slackErr(err) != "user_not_in_channel" {
		t.Fatalf("ephemeral to a non-member: %v, want user_not_in_channel", err)
	}
	if e := srv.Ephemerals("C0MEMBER01"); len(e) != 1 || e[0].User != alice || e[0].Text != "only you" {
		t.Fatalf("ephemerals = %+v", e)
	}
	_, ts, err := api.PostMessageContext(ctx, "C0MEMBER01", slack.MsgOptionText("dashboard ready", false))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := api.UpdateMessageContext(ctx, "C0MEMBER01", ts, slack.MsgOptionText("dashboard muted", false)); err != nil {
		t.Fatal(err)
	}
	if m := srv.Messages("C0MEMBER01"); len(m) != 1 || m[0].Text != "dashboard muted" || !m[0].Edited {
		t.Fatalf("messages = %+v", m)
	}

	_, events, _ := runSocketMode(t, srv)
	d, err := srv.SendBlockAction(ctx, slacktest.BlockAction{UserID: alice, ActionID: "mute", Value: "design-1", ChannelID: "C0MEMBER01", MessageTS: ts})
	if err != nil {
		t.Fatal(err)
	}
	cb := next(t, ctx, events, socketmode.EventTypeInteractive).Data.(slack.InteractionCallback)
	if cb.Type != slack.InteractionTypeBlockActions || len(cb.ActionCallback.BlockActions) != 1 ||
		cb.ActionCallback.BlockActions[0].Value != "design-1" || cb.Message.Text != "dashboard muted" ||
		cb.ResponseURL != d.ResponseURL || cb.TriggerID == "" || cb.Container.MessageTs != ts {
		t.Fatalf("block action = %+v", cb)
	}
	if _, _, err := api.PostMessageContext(ctx, "", slack.MsgOptionResponseURL(cb.ResponseURL, slack.ResponseTypeInChannel),
		slack.MsgOptionText("muted by alice", false)); err != nil {
		t.Fatal(err)
	}
	if m := srv.Messages("C0MEMBER01"); len(m) != 2 || m[1].Text != "muted by alice" {
		t.Fatalf("in_channel response not in the channel: %+v", m)
	}
}

func TestImageBlockWithSlackFileNeedsAProcessedFile(t *testing.T) {
	t.Parallel()
	srv, api := setup(t, slacktest.WithFileProcessingDelay(time.Hour))
	srv.AddChannel("C0MEMBER01", "bot-here", slacktest.BotMember())
	ctx := ctxT(t)
	sum, err := api.UploadFileContext(ctx, slack.UploadFileParameters{Content: "GIF89a", FileSize: 6, Filename: "a.gif", Channel: "C0MEMBER01"})
	if err != nil {
		t.Fatal(err)
	}
	img := slack.NewImageBlockSlackFile(&slack.SlackFileObject{ID: sum.ID}, "timing", "", nil)
	if _, _, err := api.PostMessageContext(ctx, "C0MEMBER01", slack.MsgOptionBlocks(img)); slackErr(err) != "invalid_blocks" {
		t.Fatalf("image of an unprocessed file: %v, want invalid_blocks", err)
	}
	file, _, _, err := api.GetFileInfoContext(ctx, sum.ID, 0, 0)
	if err != nil || len(file.Shares.Public) != 0 {
		t.Fatalf("unprocessed file has shares %+v (%v)", file.Shares, err)
	}
	if files, _, err := api.ListFilesContext(ctx, slack.ListFilesParameters{Channel: "C0MEMBER01"}); err != nil || len(files) != 0 {
		t.Fatalf("files.list lists an unprocessed file: %+v, %v", files, err)
	}
}

func TestHistoryAndFilesListFilterByTime(t *testing.T) {
	t.Parallel()
	srv, api := setup(t, slacktest.WithFileProcessingDelay(0))
	srv.AddChannel("C0MEMBER01", "bot-here", slacktest.BotMember())
	ctx := ctxT(t)
	var stamps []string
	for _, text := range []string{"one", "two", "three"} {
		_, ts, err := api.PostMessageContext(ctx, "C0MEMBER01", slack.MsgOptionText(text, false))
		if err != nil {
			t.Fatal(err)
		}
		stamps = append(stamps, ts)
	}
	hist, err := api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: "C0MEMBER01", Oldest: stamps[0]})
	if err != nil || len(hist.Messages) != 2 || hist.Messages[0].Text != "three" {
		t.Fatalf("history after the first = %+v, %v", hist, err)
	}
	if _, err := api.UploadFileContext(ctx, slack.UploadFileParameters{Content: "abc", FileSize: 3, Filename: "x.gif", Title: "cg-uid-1", Channel: "C0MEMBER01"}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().Unix()
	files, _, err := api.GetFilesContext(ctx, slack.GetFilesParameters{Channel: "C0MEMBER01", TimestampFrom: slack.JSONTime(now - 60)})
	if err != nil || len(files) != 1 || files[0].Title != "cg-uid-1" {
		t.Fatalf("files.list = %+v, %v", files, err)
	}
	files, _, err = api.GetFilesContext(ctx, slack.GetFilesParameters{Channel: "C0MEMBER01", TimestampTo: slack.JSONTime(now - 60)})
	if err != nil || len(files) != 0 {
		t.Fatalf("files.list before the upload = %+v, %v", files, err)
	}
}

func TestConnectionsOpenNeedsTheAppToken(t *testing.T) {
	t.Parallel()
	srv, _ := setup(t)
	botOnly := slack.New(srv.BotToken(), slack.OptionAPIURL(srv.APIURL()), slack.OptionAppLevelToken(srv.BotToken()))
	if _, _, err := botOnly.StartSocketModeContext(ctxT(t)); slackErr(err) != "not_allowed_token_type" {
		t.Fatalf("connections.open with the bot token: %v, want not_allowed_token_type", err)
	}
	app := slack.New(srv.BotToken(), slack.OptionAPIURL(srv.APIURL()), slack.OptionAppLevelToken(srv.AppToken()))
	_, url, err := app.StartSocketModeContext(ctxT(t))
	if err != nil || !strings.HasPrefix(url, "ws://") {
		t.Fatalf("connections.open = %q, %v", url, err)
	}
}

func TestStrictChannelRateAnswers429ForASecondPostTooSoon(t *testing.T) {
	t.Parallel()
	srv, api := setup(t, slacktest.WithStrictChannelRate(time.Hour))
	srv.AddChannel("C0MEMBER01", "bot-here", slacktest.BotMember())
	srv.AddChannel("C0MEMBER02", "other", slacktest.BotMember())
	ctx := ctxT(t)
	if _, _, err := api.PostMessageContext(ctx, "C0MEMBER01", slack.MsgOptionText("one", false)); err != nil {
		t.Fatal(err)
	}
	_, err := api.UploadFileContext(ctx, slack.UploadFileParameters{Content: "abc", FileSize: 3, Filename: "x.gif", Channel: "C0MEMBER01"})
	var rl *slack.RateLimitedError
	if !errors.As(err, &rl) || rl.RetryAfter <= 0 {
		t.Fatalf("second post in the channel: %v, want RateLimitedError", err)
	}
	if _, _, err := api.PostMessageContext(ctx, "C0MEMBER02", slack.MsgOptionText("one", false)); err != nil {
		t.Fatalf("another channel: %v", err)
	}
}

func TestByDefaultAShareAppearsOnlyAfterTheCompletionAndCarriesItsBlocks(t *testing.T) {
	t.Parallel()
	srv, api := setup(t) // the default share delay: 1 s, as Slack's 1–3 s
	srv.AddChannel("C0MEMBER01", "bot-here", slacktest.BotMember())
	ctx := ctxT(t)
	u, err := api.GetUploadURLExternalContext(ctx, slack.GetUploadURLExternalParameters{FileName: "a.gif", FileSize: 6})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := api.GetFileInfoContext(ctx, u.FileID, 1, 1); slackErr(err) != "file_not_found" {
		t.Fatalf("files.info of an upload not completed: %v, want file_not_found", err)
	}
	if err := api.UploadToURL(ctx, slack.UploadToURLParameters{UploadURL: u.UploadURL, Content: "GIF89a", Filename: "a.gif"}); err != nil {
		t.Fatal(err)
	}
	card := slack.NewActionBlock("cg_post_actions", slack.NewButtonBlockElement("cg_recapture", "uid-1", slack.NewTextBlockObject(slack.PlainTextType, "Re-record GIF", false, false)))
	complete := slack.CompleteUploadExternalParameters{Files: []slack.FileSummary{{ID: u.FileID, Title: "a"}}, Channel: "C0MEMBER01", Blocks: slack.Blocks{BlockSet: []slack.Block{card}}}
	if _, err := api.CompleteUploadExternalContext(ctx, complete); err != nil {
		t.Fatal(err)
	}
	file, _, _, err := api.GetFileInfoContext(ctx, u.FileID, 1, 1)
	if err != nil || len(file.Shares.Public) != 0 || len(srv.Messages("C0MEMBER01")) != 0 {
		t.Fatalf("right after the completion: shares %+v, messages %+v, %v; want none yet", file.Shares, srv.Messages("C0MEMBER01"), err)
	}
	if _, err := api.CompleteUploadExternalContext(ctx, complete); slackErr(err) != "file_not_found" {
		t.Fatalf("a second completion: %v, want it refused (a completion is made once)", err)
	}
	for len(srv.Messages("C0MEMBER01")) == 0 && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	msgs := srv.Messages("C0MEMBER01")
	if len(msgs) != 1 || !strings.Contains(string(msgs[0].Blocks), `"action_id":"cg_recapture"`) || msgs[0].Files[0] != u.FileID {
		t.Fatalf("share message = %+v", msgs)
	}
	if file, _, _, err = api.GetFileInfoContext(ctx, u.FileID, 1, 1); err != nil || file.Shares.Public["C0MEMBER01"][0].Ts != msgs[0].TS {
		t.Fatalf("shares %+v, %v", file.Shares, err)
	}
}

func TestAnArchivedChannelRefusesPostsSharesAndJoins(t *testing.T) {
	t.Parallel()
	srv, api := setup(t)
	srv.AddChannel("C0ARCHIVE1", "old-runs", slacktest.Archived(), slacktest.BotMember())
	srv.AddChannel("C0ARCHIVE2", "older-runs", slacktest.Archived())
	ctx := ctxT(t)
	if _, _, err := api.PostMessageContext(ctx, "C0ARCHIVE1", slack.MsgOptionText("hi", false)); slackErr(err) != "is_archived" {
		t.Fatalf("post: %v", err)
	}
	if _, err := api.UploadFileContext(ctx, slack.UploadFileParameters{Content: "GIF89a", FileSize: 6, Filename: "a.gif", Channel: "C0ARCHIVE1"}); slackErr(err) != "is_archived" {
		t.Fatalf("share: %v", err)
	}
	if _, _, _, err := api.JoinConversationContext(ctx, "C0ARCHIVE2"); slackErr(err) != "is_archived" {
		t.Fatalf("join: %v", err)
	}
}

func TestFailNextErrorCarriesTheNeededScope(t *testing.T) {
	t.Parallel()
	srv, api := setup(t)
	srv.FailNextError("files.info", 1, slacktest.Error{Code: "missing_scope", Needed: "files:read", Provided: "chat:write"})
	_, _, _, err := api.GetFileInfoContext(ctxT(t), "F000000001", 1, 1)
	var se slack.SlackErrorResponse
	if !errors.As(err, &se) || se.Err != "missing_scope" || se.Needed != "files:read" || se.Provided != "chat:write" {
		t.Fatalf("err = %#v", err)
	}
}
