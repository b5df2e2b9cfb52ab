package bot_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"credential-grafana/bot"
	"credential-grafana/bot/slacktest"
	"credential-grafana/cg"
)

const resultsChannel = "C0RESULTS1"

func ctxFor(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// eventually waits until cond holds; the test's context bounds the wait.
func eventually(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("gave up waiting: %s", what)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func notifierSetup(t *testing.T, opts ...slacktest.Option) (*slacktest.Server, *bot.Notifier) {
	t.Helper()
	srv := slacktest.New(t, opts...)
	n := bot.NewNotifier(bot.NotifierConfig{APIURL: srv.APIURL(), Logger: zerolog.Nop(), MinPostInterval: 5 * time.Millisecond})
	return srv, n
}

func f64(v float64) *float64 { return &v }

func timingPost(t *testing.T, token, channel, uid string) cg.Post {
	t.Helper()
	gif := filepath.Join(t.TempDir(), uid+".gif")
	if err := os.WriteFile(gif, []byte("GIF89a not really an animation "+uid), 0o600); err != nil {
		t.Fatal(err)
	}
	return cg.Post{
		Token: cg.Secret(token), Channel: channel, GIFPath: gif, User: "alice", Kind: cg.KindTiming,
		Database: "alice-timing_report", Table: "gcd_nangate45_run2", Design: "gcd", Platform: "nangate45",
		RunID: "run2", Stage: "6_final", DashboardUID: uid, DashboardURL: "https://grafana.example.com/d/" + uid,
		Title: "TIMING gcd on nangate45 — run2", PreviousTable: "gcd_nangate45_run1",
		Figures: []cg.Figure{
			{Name: "WNS", Value: -0.123, Unit: "ns", Previous: f64(-0.2), HigherIsBetter: true, Decimals: 3},
			{Name: "TNS", Value: -1.5, Unit: "ns", Previous: f64(-1.0), HigherIsBetter: true, Decimals: 2},
			{Name: "Violating endpoints", Value: 12, Previous: f64(12), Decimals: 0},
		},
	}
}

// post uploads p's GIF and shares it, as the pipeline does (which records the file ID in
// between), and returns the file ID.
func post(ctx context.Context, n *bot.Notifier, p cg.Post) (string, error) {
	fileID, err := n.Upload(ctx, p)
	if err != nil {
		return "", err
	}
	return fileID, n.Share(ctx, p, fileID)
}

// waitShared waits until files.info shows fileID shared in channel.
func waitShared(t *testing.T, ctx context.Context, n *bot.Notifier, token, channel, fileID string) {
	t.Helper()
	eventually(t, ctx, "the share of "+fileID, func() bool {
		st, err := n.ShareState(ctx, cg.Secret(token), channel, fileID)
		if err != nil {
			t.Fatal(err)
		}
		return st == cg.ShareDone
	})
}

func TestAPostIsOneMessageTheGIFWithItsFiguresLinkAndButtons(t *testing.T) {
	t.Parallel()
	srv, n := notifierSetup(t, slacktest.WithFileProcessingDelay(0))
	srv.AddChannel(resultsChannel, "eda-results", slacktest.BotMember())
	ctx := ctxFor(t)
	p := timingPost(t, srv.BotToken(), resultsChannel, "cg-alice-timing-aaaa1111")
	fileID, err := post(ctx, n, p)
	if err != nil {
		t.Fatal(err)
	}
	ups := srv.CompletedUploads()
	want, _ := os.ReadFile(p.GIFPath)
	if len(ups) != 1 || ups[0].FileID != fileID || ups[0].Channel != resultsChannel || !bytes.Equal(ups[0].Bytes, want) {
		t.Fatalf("uploads = %+v, file %s", ups, fileID)
	}
	msgs := srv.Messages(resultsChannel)
	if len(msgs) != 1 || len(msgs[0].Files) != 1 || msgs[0].Files[0] != fileID {
		t.Fatalf("messages = %+v, want one: the GIF's share", msgs)
	}
	blocks := string(msgs[0].Blocks)
	for _, s := range []string{p.DashboardURL, "`-0.123 ns`", "↑ +0.077 ns", "better", "worse", "no change", bot.ActionRecapture, bot.ActionMuteDesign} {
		if !strings.Contains(blocks, s) {
			t.Errorf("the post's blocks lack %q: %s", s, blocks)
		}
	}
}

func TestThreePostsAtOnceUnderASlowShareAreThreeMessagesEachWithItsOwnGIF(t *testing.T) {
	t.Parallel()
	srv, n := notifierSetup(t, slacktest.WithFileProcessingDelay(3*time.Second))
	srv.AddChannel(resultsChannel, "eda-results", slacktest.BotMember())
	ctx := ctxFor(t)
	var wg sync.WaitGroup
	files := make([]string, 3)
	posts := make([]cg.Post, 3)
	errs := make([]error, 3)
	for i := range posts {
		posts[i] = timingPost(t, srv.BotToken(), resultsChannel, "cg-alice-timing-burst"+string(rune('a'+i)))
		posts[i].Table = "gcd_nangate45_run" + string(rune('a'+i))
		wg.Go(func() { files[i], errs[i] = post(ctx, n, posts[i]) })
	}
	wg.Wait()
	for i := range posts {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		waitShared(t, ctx, n, srv.BotToken(), resultsChannel, files[i])
	}
	msgs := srv.Messages(resultsChannel)
	if len(msgs) != 3 {
		t.Fatalf("%d messages, want 3: %+v", len(msgs), msgs)
	}
	ups := srv.CompletedUploads()
	for i, p := range posts {
		var m *slacktest.Message
		for k := range msgs {
			if len(msgs[k].Files) == 1 && msgs[k].Files[0] == files[i] {
				m = &msgs[k]
			}
		}
		if m == nil || !strings.Contains(string(m.Blocks), p.Table) || !strings.Contains(string(m.Blocks), `"value":"`+p.DashboardUID+`"`) {
			t.Fatalf("the message with file %s does not carry the card of %s: %+v", files[i], p.DashboardUID, m)
		}
		gif, _ := os.ReadFile(p.GIFPath)
		for _, u := range ups {
			if u.FileID == files[i] && !bytes.Equal(u.Bytes, gif) {
				t.Fatalf("file %s carries another run's GIF", files[i])
			}
		}
	}
}

func TestAShareIsPendingUntilSlackShowsItAndAnUploadNeverCompletedIsUnknown(t *testing.T) {
	t.Parallel()
	srv, n := notifierSetup(t, slacktest.WithFileProcessingDelay(time.Hour))
	srv.AddChannel(resultsChannel, "eda-results", slacktest.BotMember())
	ctx := ctxFor(t)
	tok := cg.Secret(srv.BotToken())
	p := timingPost(t, srv.BotToken(), resultsChannel, "cg-alice-timing-pending")
	fileID, err := n.Upload(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := n.ShareState(ctx, tok, resultsChannel, fileID); err != nil || st != cg.ShareUnknown {
		t.Fatalf("before the completion: %s, %v; want unknown", st, err)
	}
	if err := n.Share(ctx, p, fileID); err != nil {
		t.Fatal(err)
	}
	if st, err := n.ShareState(ctx, tok, resultsChannel, fileID); err != nil || st != cg.SharePending {
		t.Fatalf("after the completion: %s, %v; want pending", st, err)
	}
	if st, err := n.ShareState(ctx, tok, "C0OTHER001", fileID); err != nil || st != cg.SharePending {
		t.Fatalf("in another channel: %s, %v; want pending (no share there)", st, err)
	}
	// Completing it again is refused: Slack takes a completion once.
	if err := n.Share(ctx, p, fileID); !errors.Is(err, cg.ErrUploadGone) {
		t.Fatalf("a second completion: %v", err)
	}
	if c := srv.Calls("files.getUploadURLExternal"); c != 1 {
		t.Fatalf("%d uploads, want 1", c)
	}
}

func TestPostJoinsAPublicChannelItIsNotIn(t *testing.T) {
	t.Parallel()
	srv, n := notifierSetup(t)
	srv.AddChannel(resultsChannel, "eda-results")
	if _, err := post(ctxFor(t), n, timingPost(t, srv.BotToken(), resultsChannel, "cg-alice-timing-join")); err != nil {
		t.Fatal(err)
	}
	if j := srv.Joins(); len(j) != 1 || j[0] != resultsChannel {
		t.Fatalf("joins = %v", j)
	}
	if ups := srv.CompletedUploads(); len(ups) != 1 || ups[0].Channel != resultsChannel {
		t.Fatalf("uploads = %+v", ups)
	}
}

type permanent interface{ Permanent() bool }
type retryAfter interface{ RetryAfter() time.Duration }

func isPermanent(err error) bool {
	var p permanent
	return errors.As(err, &p) && p.Permanent()
}

func TestPostToAPrivateChannelWithoutTheBotIsPermanentAndSaysToInvite(t *testing.T) {
	t.Parallel()
	srv, n := notifierSetup(t)
	srv.AddChannel("G0PRIVATE1", "eda-private", slacktest.Private())
	_, err := post(ctxFor(t), n, timingPost(t, srv.BotToken(), "G0PRIVATE1", "cg-alice-timing-priv"))
	if !isPermanent(err) || !strings.Contains(err.Error(), "/invite @"+slacktest.BotUserName) || !strings.Contains(err.Error(), "G0PRIVATE1") {
		t.Fatalf("err = %v, want a permanent error asking to /invite the bot", err)
	}
	if ups := srv.CompletedUploads(); len(ups) != 0 {
		t.Fatalf("uploads = %+v", ups)
	}
}

func TestPostToAMissingChannelOrWithARevokedTokenIsPermanent(t *testing.T) {
	t.Parallel()
	srv, n := notifierSetup(t)
	_, err := post(ctxFor(t), n, timingPost(t, srv.BotToken(), "C0NOSUCH01", "cg-alice-timing-none"))
	if !isPermanent(err) || !strings.Contains(err.Error(), "the channel ID C0NOSUCH01 does not exist or the bot cannot see it") {
		t.Fatalf("missing channel: %v", err)
	}
	srv.AddChannel(resultsChannel, "eda-results", slacktest.BotMember())
	srv.RevokeBotToken()
	_, err = post(ctxFor(t), n, timingPost(t, srv.BotToken(), resultsChannel, "cg-alice-timing-rev"))
	if !isPermanent(err) || !strings.Contains(err.Error(), "token_revoked") {
		t.Fatalf("revoked token: %v", err)
	}
}

func TestARateLimitedCompletionReturnsRetryAfterAndTheSameFileCompletesLater(t *testing.T) {
	t.Parallel()
	srv, n := notifierSetup(t, slacktest.WithFileProcessingDelay(0))
	srv.AddChannel(resultsChannel, "eda-results", slacktest.BotMember())
	srv.RateLimit("files.completeUploadExternal", 1, 7*time.Second)
	ctx := ctxFor(t)
	p := timingPost(t, srv.BotToken(), resultsChannel, "cg-alice-timing-429")
	fileID, err := post(ctx, n, p)
	var ra retryAfter
	if !errors.As(err, &ra) || ra.RetryAfter() != 7*time.Second || isPermanent(err) {
		t.Fatalf("err = %v, want RetryAfter 7s", err)
	}
	if c := srv.Calls("files.completeUploadExternal"); c != 1 {
		t.Fatalf("completeUploadExternal calls = %d, want 1 (no retry storm)", c)
	}
	if err := n.Share(ctx, p, fileID); err != nil {
		t.Fatal(err)
	}
	if c, u := srv.CompletedUploads(), srv.Uploads(); len(c) != 1 || len(u) != 1 || c[0].FileID != fileID {
		t.Fatalf("completed %+v of %d uploads, want the one file %s", c, len(u), fileID)
	}
}

func TestSlackRefusingTheBlocksSharesTheGIFWithThePlainTextInstead(t *testing.T) {
	t.Parallel()
	for _, code := range []string{"invalid_blocks", "msg_blocks_too_long"} {
		t.Run(code, func(t *testing.T) {
			t.Parallel()
			srv, n := notifierSetup(t, slacktest.WithFileProcessingDelay(0))
			srv.AddChannel(resultsChannel, "eda-results", slacktest.BotMember())
			srv.FailNext("files.completeUploadExternal", 1, code)
			p := timingPost(t, srv.BotToken(), resultsChannel, "cg-alice-timing-fallback")
			fileID, err := post(ctxFor(t), n, p)
			if err != nil {
				t.Fatal(err)
			}
			msgs := srv.Messages(resultsChannel)
			if len(msgs) != 1 || len(msgs[0].Blocks) != 0 || len(msgs[0].Files) != 1 || msgs[0].Files[0] != fileID ||
				!strings.Contains(msgs[0].Text, p.DashboardURL) || !strings.Contains(msgs[0].Text, "WNS -0.123 ns") {
				t.Fatalf("messages = %+v, want the GIF with the card's text", msgs)
			}
			if u := srv.Uploads(); len(u) != 1 {
				t.Fatalf("%d uploads, want 1", len(u))
			}
		})
	}
}

func TestEveryDocumentedPermanentErrorStopsAtOnceAndSaysWhatToDo(t *testing.T) {
	t.Parallel()
	const upload, complete = "files.getUploadURLExternal", "files.completeUploadExternal"
	cases := []struct {
		method, code, hint string
	}{
		// not_in_channel: TestPostToAPrivateChannelWithoutTheBotIsPermanentAndSaysToInvite
		{complete, "channel_not_found", "check slack_channel_id"},
		{complete, "is_archived", "unarchive it"},
		{complete, "posting_to_channel_denied", "Posting permissions"},
		{complete, "restricted_action", "allow apps to post there"},
		{complete, "ekm_access_denied", "Enterprise Key Management"},
		{upload, "file_uploads_disabled", "allow file uploads"},
		{complete, "file_type_not_allowed", "allow the .gif type"},
		{upload, "invalid_auth", "set a valid xoxb- token"},
		{upload, "token_revoked", "set a valid xoxb- token"},
		{upload, "account_inactive", "set a valid xoxb- token"},
		{upload, "missing_scope", "lacks a scope of slack-app-manifest.yaml"},
	}
	for _, c := range cases {
		t.Run(c.code, func(t *testing.T) {
			t.Parallel()
			srv, n := notifierSetup(t)
			srv.AddChannel(resultsChannel, "eda-results", slacktest.BotMember())
			srv.FailNext(c.method, 1, c.code)
			_, err := post(ctxFor(t), n, timingPost(t, srv.BotToken(), resultsChannel, "cg-alice-timing-"+c.code))
			if !isPermanent(err) || !strings.Contains(err.Error(), c.hint) {
				t.Fatalf("err = %v, want a permanent error saying %q", err, c.hint)
			}
			if calls := srv.Calls(c.method); calls != 1 {
				t.Fatalf("%s called %d times, want once", c.method, calls)
			}
			if len(srv.CompletedUploads()) != 0 {
				t.Fatal("something was shared")
			}
		})
	}
}

func TestMissingScopeNamesTheScopeSlackSaysIsNeeded(t *testing.T) {
	t.Parallel()
	srv, n := notifierSetup(t)
	srv.AddChannel(resultsChannel, "eda-results", slacktest.BotMember())
	srv.FailNextError("files.info", 1, slacktest.Error{Code: "missing_scope", Needed: "files:read", Provided: "chat:write,files:write"})
	_, err := n.ShareState(ctxFor(t), cg.Secret(srv.BotToken()), resultsChannel, "F000000001")
	if !isPermanent(err) || !strings.Contains(err.Error(), "lacks the scope files:read") {
		t.Fatalf("err = %v", err)
	}
}

func TestPostsToOneChannelAreSpacedByTheLimiter(t *testing.T) {
	t.Parallel()
	// The fake refuses (429) a post less than 40 ms after the previous one in a channel;
	// the notifier spaces its posts by 100 ms, so none is refused.
	srv := slacktest.New(t, slacktest.WithStrictChannelRate(40*time.Millisecond), slacktest.WithFileProcessingDelay(0))
	srv.AddChannel(resultsChannel, "eda-results", slacktest.BotMember())
	n := bot.NewNotifier(bot.NotifierConfig{APIURL: srv.APIURL(), Logger: zerolog.Nop(), MinPostInterval: 100 * time.Millisecond})
	ctx := ctxFor(t)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := range 4 {
		p := timingPost(t, srv.BotToken(), resultsChannel, "cg-alice-timing-burst"+string(rune('a'+i)))
		wg.Go(func() {
			_, err := post(ctx, n, p)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if ups := srv.CompletedUploads(); len(ups) != 4 {
		t.Fatalf("uploads = %d, want 4", len(ups))
	}
	if c := srv.Calls("files.completeUploadExternal"); c != 4 {
		t.Fatalf("completions = %d, want 4: none refused and retried", c)
	}
}

func TestTellPostsAPlainMessage(t *testing.T) {
	t.Parallel()
	srv, n := notifierSetup(t)
	srv.AddChannel(resultsChannel, "eda-results")
	if err := n.Tell(ctxFor(t), cg.Secret(srv.BotToken()), resultsChannel, "dashboard of run2 has a failing panel"); err != nil {
		t.Fatal(err)
	}
	if m := srv.Messages(resultsChannel); len(m) != 1 || m[0].Text != "dashboard of run2 has a failing panel" {
		t.Fatalf("messages = %+v", m)
	}
}
