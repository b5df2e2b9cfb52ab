package bot_test

import (
	"bytes"
	"context"
	"encoding/json"
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

func TestPostUploadsTheGIFThenTheMessageWithLinkFiguresAndMetadata(t *testing.T) {
	t.Parallel()
	srv, n := notifierSetup(t)
	srv.AddChannel(resultsChannel, "eda-results", slacktest.BotMember())
	ctx := ctxFor(t)
	p := timingPost(t, srv.BotToken(), resultsChannel, "cg-alice-timing-aaaa1111")
	fileID, err := n.Post(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	ups := srv.CompletedUploads()
	want, _ := os.ReadFile(p.GIFPath)
	if len(ups) != 1 || ups[0].FileID != fileID || ups[0].Channel != resultsChannel || !bytes.Equal(ups[0].Bytes, want) ||
		!strings.Contains(ups[0].Title, "[cg-alice-timing-aaaa1111]") {
		t.Fatalf("uploads = %+v, file %s", ups, fileID)
	}
	var card *slacktest.Message
	for _, m := range srv.Messages(resultsChannel) {
		if len(m.Blocks) > 0 {
			card = &m
		}
	}
	if card == nil {
		t.Fatalf("no Block Kit message in %+v", srv.Messages(resultsChannel))
	}
	blocks := string(card.Blocks)
	for _, s := range []string{p.DashboardURL, "`-0.123 ns`", "↑ +0.077 ns", "better", "worse", "no change", bot.ActionRecapture, bot.ActionMuteDesign} {
		if !strings.Contains(blocks, s) {
			t.Errorf("message blocks lack %q: %s", s, blocks)
		}
	}
	var md struct {
		EventType    string         `json:"event_type"`
		EventPayload map[string]any `json:"event_payload"`
	}
	if err := json.Unmarshal(card.Metadata, &md); err != nil || md.EventPayload["dashboard_uid"] != p.DashboardUID || md.EventPayload["file_id"] != fileID {
		t.Fatalf("metadata = %s (%v)", card.Metadata, err)
	}
}

func TestPostJoinsAPublicChannelItIsNotIn(t *testing.T) {
	t.Parallel()
	srv, n := notifierSetup(t)
	srv.AddChannel(resultsChannel, "eda-results")
	if _, err := n.Post(ctxFor(t), timingPost(t, srv.BotToken(), resultsChannel, "cg-alice-timing-join")); err != nil {
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
	_, err := n.Post(ctxFor(t), timingPost(t, srv.BotToken(), "G0PRIVATE1", "cg-alice-timing-priv"))
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
	_, err := n.Post(ctxFor(t), timingPost(t, srv.BotToken(), "C0NOSUCH01", "cg-alice-timing-none"))
	if !isPermanent(err) || !strings.Contains(err.Error(), "the channel ID C0NOSUCH01 does not exist or the bot cannot see it") {
		t.Fatalf("missing channel: %v", err)
	}
	srv.AddChannel(resultsChannel, "eda-results", slacktest.BotMember())
	srv.RevokeBotToken()
	_, err = n.Post(ctxFor(t), timingPost(t, srv.BotToken(), resultsChannel, "cg-alice-timing-rev"))
	if !isPermanent(err) || !strings.Contains(err.Error(), "token_revoked") {
		t.Fatalf("revoked token: %v", err)
	}
}

func TestPostRateLimitedReturnsRetryAfterWithoutRetrying(t *testing.T) {
	t.Parallel()
	srv, n := notifierSetup(t)
	srv.AddChannel(resultsChannel, "eda-results", slacktest.BotMember())
	srv.RateLimit("files.completeUploadExternal", 1, 7*time.Second)
	_, err := n.Post(ctxFor(t), timingPost(t, srv.BotToken(), resultsChannel, "cg-alice-timing-429"))
	var ra retryAfter
	if !errors.As(err, &ra) || ra.RetryAfter() != 7*time.Second || isPermanent(err) {
		t.Fatalf("err = %v, want RetryAfter 7s", err)
	}
	if c := srv.Calls("files.completeUploadExternal"); c != 1 {
		t.Fatalf("completeUploadExternal calls = %d, want 1 (no retry storm)", c)
	}
}

func TestPostFallsBackToPlainTextWhenSlackRefusesTheBlocks(t *testing.T) {
	t.Parallel()
	srv, n := notifierSetup(t)
	srv.AddChannel(resultsChannel, "eda-results", slacktest.BotMember())
	srv.FailNext("chat.postMessage", 1, "invalid_blocks")
	p := timingPost(t, srv.BotToken(), resultsChannel, "cg-alice-timing-fallback")
	if _, err := n.Post(ctxFor(t), p); err != nil {
		t.Fatal(err)
	}
	var texts []slacktest.Message
	for _, m := range srv.Messages(resultsChannel) {
		if len(m.Files) == 0 {
			texts = append(texts, m)
		}
	}
	if len(texts) != 1 || len(texts[0].Blocks) != 0 || !strings.Contains(texts[0].Text, p.DashboardURL) || !strings.Contains(texts[0].Text, "WNS -0.123 ns") {
		t.Fatalf("messages = %+v", texts)
	}
}

func TestFindPostFindsAnEarlierPostAndNotAForeignOne(t *testing.T) {
	t.Parallel()
	srv, n := notifierSetup(t, slacktest.WithFileProcessingDelay(0))
	srv.AddChannel(resultsChannel, "eda-results", slacktest.BotMember())
	srv.AddChannel("C0OTHER001", "elsewhere", slacktest.BotMember())
	ctx := ctxFor(t)
	since := time.Now()
	tok := cg.Secret(srv.BotToken())
	fileID, err := n.Post(ctx, timingPost(t, srv.BotToken(), resultsChannel, "cg-alice-timing-run2"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Post(ctx, timingPost(t, srv.BotToken(), "C0OTHER001", "cg-alice-timing-run3")); err != nil {
		t.Fatal(err)
	}
	got, found, err := n.FindPost(ctx, tok, resultsChannel, "cg-alice-timing-run2", since)
	if err != nil || !found || got != fileID {
		t.Fatalf("FindPost(run2) = %q, %v, %v; want %q", got, found, err, fileID)
	}
	for _, uid := range []string{"cg-alice-timing-run3", "cg-alice-timing-run", "cg-alice-timing-run22"} {
		if got, found, err := n.FindPost(ctx, tok, resultsChannel, uid, since); err != nil || found {
			t.Fatalf("FindPost(%s) = %q, %v, %v; want nothing", uid, got, found, err)
		}
	}
}

func TestFindPostFindsTheMessageMetadataWhenTheFileIsNotListed(t *testing.T) {
	t.Parallel()
	srv, n := notifierSetup(t, slacktest.WithFileProcessingDelay(time.Hour)) // files.list never shows it
	srv.AddChannel(resultsChannel, "eda-results", slacktest.BotMember())
	ctx := ctxFor(t)
	since := time.Now()
	fileID, err := n.Post(ctx, timingPost(t, srv.BotToken(), resultsChannel, "cg-alice-timing-md"))
	if err != nil {
		t.Fatal(err)
	}
	got, found, err := n.FindPost(ctx, cg.Secret(srv.BotToken()), resultsChannel, "cg-alice-timing-md", since)
	if err != nil || !found || got != fileID {
		t.Fatalf("FindPost = %q, %v, %v; want %q", got, found, err, fileID)
	}
}

func TestPostsToOneChannelAreSpacedByTheLimiter(t *testing.T) {
	t.Parallel()
	// The fake refuses (429) a post less than 40 ms after the previous one in a channel;
	// the notifier spaces its posts by 100 ms, so none is refused.
	srv := slacktest.New(t, slacktest.WithStrictChannelRate(40*time.Millisecond))
	srv.AddChannel(resultsChannel, "eda-results", slacktest.BotMember())
	n := bot.NewNotifier(bot.NotifierConfig{APIURL: srv.APIURL(), Logger: zerolog.Nop(), MinPostInterval: 100 * time.Millisecond})
	ctx := ctxFor(t)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := range 4 {
		p := timingPost(t, srv.BotToken(), resultsChannel, "cg-alice-timing-burst"+string(rune('a'+i)))
		wg.Go(func() {
			_, err := n.Post(ctx, p)
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
	eventually(t, ctx, "4 file shares and 4 messages", func() bool { return len(srv.Messages(resultsChannel)) == 8 })
	if c := srv.Calls("chat.postMessage") + srv.Calls("files.completeUploadExternal"); c != 8 {
		t.Fatalf("posts = %d, want 8: none refused and retried", c)
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
