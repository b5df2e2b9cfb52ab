package bot

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/slack-go/slack"

	"credential-grafana/cg"
	"credential-grafana/internal/lru"
	"credential-grafana/scheduler"
)

// The pipeline posts through a Notifier.
var _ scheduler.Notifier = (*Notifier)(nil)

// NotifierConfig configures a Notifier.
type NotifierConfig struct {
	// APIURL is Slack's Web API base URL (SLACK_API_URL): GovSlack, a proxy, or a test
	// server. Defaults to Slack's.
	APIURL string
	Logger zerolog.Logger
	// MinPostInterval is the least time between two posts to one channel. Defaults to
	// 1 second, Slack's rate for chat.postMessage.
	MinPostInterval time.Duration
	// HTTPClient makes the Web API calls. Defaults to slack-go's.
	HTTPClient *http.Client
}

// Notifier posts recorded dashboards to Slack channels. It implements the scheduler's
// Notifier interface. It is safe for concurrent use.
//
// A post is ONE message: the GIF's own share message carries the card (title, figures,
// dashboard link and buttons) as the blocks of files.completeUploadExternal, so a person
// sees one post and two runs' posts cannot pair a card with the wrong GIF. Slack's
// reference for files.completeUploadExternal documents `blocks` (ignored when
// initial_comment is set); interactive buttons work there: Slack's own node SDK
// maintainers added `blocks` with an actions block and a button as the example
// (node-slack-sdk#2261, fixing #2208), and slack-go#1435 ("rich blocks and buttons
// during the file upload process", confirmed working) is what UploadFileParameters.Blocks
// and CompleteUploadExternalParameters.Blocks come from. If Slack refuses the blocks
// (invalid_blocks, msg_blocks_too_long), the same completion carries the card's plain
// text as initial_comment instead.
//
// The three upload steps are called one by one (Upload, then Share) so that the caller
// can record the file ID in between: after any failure, ShareState (files.info) on that
// ID says whether the share exists, so nothing is searched for and nothing is uploaded
// twice. Slack shares a completed upload asynchronously, 1–3 s later (bolt-js#2115,
// python-slack-sdk#1277): ShareState answers SharePending until then.
type Notifier struct {
	apiURL string
	http   *http.Client
	log    zerolog.Logger
	limit  *channelLimiter

	clients *lru.Cache[[32]byte, *tokenClient]
}

// tokenClient is the Web API client of one bot token, with the bot's name once known.
type tokenClient struct {
	api *slack.Client

	once sync.Once
	name string
}

// NewNotifier returns a notifier.
func NewNotifier(cfg NotifierConfig) *Notifier {
	if cfg.MinPostInterval <= 0 {
		cfg.MinPostInterval = time.Second
	}
	return &Notifier{
		apiURL:  apiBase(cfg.APIURL),
		http:    cfg.HTTPClient,
		log:     cfg.Logger,
		limit:   newChannelLimiter(cfg.MinPostInterval),
		clients: lru.New[[32]byte, *tokenClient](MaxCachedTokens),
	}
}

// apiBase gives slack.OptionAPIURL the trailing slash it needs.
func apiBase(u string) string {
	if u != "" && !strings.HasSuffix(u, "/") {
		u += "/"
	}
	return u
}

// slackOptions are the client options for an API URL and HTTP client.
func slackOptions(apiURL string, hc *http.Client) []slack.Option {
	var opts []slack.Option
	if apiURL != "" {
		opts = append(opts, slack.OptionAPIURL(apiURL))
	}
	if hc != nil {
		opts = append(opts, slack.OptionHTTPClient(hc))
	}
	return opts
}

// MaxCachedTokens bounds the per-token clients a Notifier keeps: beyond it the least
// recently used is dropped and made again when next needed.
const MaxCachedTokens = 256

// Cached is how many per-token clients are cached.
func (n *Notifier) Cached() int { return n.clients.Len() }

// client returns the cached client of a token; the cache is keyed by the token's hash.
func (n *Notifier) client(token cg.Secret) *tokenClient {
	key := sha256.Sum256([]byte(token.Reveal()))
	c, _ := n.clients.GetOrAdd(key, func() (*tokenClient, error) {
		return &tokenClient{api: slack.New(token.Reveal(), slackOptions(n.apiURL, n.http)...)}, nil
	})
	return c
}

// botName is the bot's @name for sentences such as "invite @name"; auth.test is asked once.
func (c *tokenClient) botName(ctx context.Context) string {
	c.once.Do(func() {
		c.name = "credential-grafana"
		if res, err := c.api.AuthTestContext(ctx); err == nil && res.User != "" {
			c.name = res.User
		}
	})
	return c.name
}

func permanentf(format string, args ...any) *NotifyError {
	return &NotifyError{Final: true, Message: fmt.Sprintf(format, args...)}
}

// check refuses a post that cannot be made whatever Slack says.
func (n *Notifier) check(p cg.Post) (int64, error) {
	switch {
	case p.Channel == "":
		return 0, permanentf("post dashboard %s: no Slack channel: set the user's slack_channel_id or SLACK_CHANNEL_ID", p.DashboardUID)
	case p.Token.Empty():
		return 0, permanentf("post dashboard %s: no Slack bot token: set SLACK_BOT_TOKEN or the user's slack_bot_token", p.DashboardUID)
	}
	st, err := os.Stat(p.GIFPath)
	if err != nil || st.Size() == 0 {
		return 0, &NotifyError{Final: true, Err: err,
			Message: fmt.Sprintf("post dashboard %s: the GIF %s is missing or empty: record it again", p.DashboardUID, p.GIFPath)}
	}
	return st.Size(), nil
}

// fileTitle is the GIF's title in Slack.
func fileTitle(p cg.Post) string { return truncate(postTitle(p), 250) }

// Upload sends p's GIF to Slack without sharing it: files.getUploadURLExternal, then the
// bytes to the upload URL. It returns the file's ID, which the caller records before
// Share. Errors are *NotifyError (Permanent when a person must act, RetryAfter when
// Slack rate-limited us).
func (n *Notifier) Upload(ctx context.Context, p cg.Post) (string, error) {
	size, err := n.check(p)
	if err != nil {
		return "", err
	}
	tc := n.client(p.Token)
	u, err := tc.api.GetUploadURLExternalContext(ctx, slack.GetUploadURLExternalParameters{
		FileName: p.DashboardUID + ".gif", FileSize: int(size),
		AltTxt: truncate("Animated recording of the Grafana dashboard "+postTitle(p), 1000),
	})
	if err != nil {
		n.log.Warn().Err(err).Str("dashboard_uid", p.DashboardUID).Msg("slack upload URL refused")
		return "", classify("upload the GIF of "+p.DashboardUID, p.Channel, tc.botName(ctx), err)
	}
	f, err := os.Open(p.GIFPath)
	if err != nil {
		return "", &NotifyError{Final: true, Err: err, Message: fmt.Sprintf("open the GIF of %s: %v", p.DashboardUID, err)}
	}
	defer f.Close()
	if err := tc.api.UploadToURL(ctx, slack.UploadToURLParameters{UploadURL: u.UploadURL, Reader: f, Filename: p.DashboardUID + ".gif"}); err != nil {
		n.log.Warn().Err(err).Str("dashboard_uid", p.DashboardUID).Str("file_id", u.FileID).Msg("slack upload of the GIF's bytes failed")
		return "", classify("upload the GIF of "+p.DashboardUID, p.Channel, tc.botName(ctx), err)
	}
	return u.FileID, nil
}

// join makes the bot a member of a public channel.
func (n *Notifier) join(ctx context.Context, tc *tokenClient, channel string) error {
	if _, _, _, err := tc.api.JoinConversationContext(ctx, channel); err != nil {
		n.log.Warn().Err(err).Str("channel", channel).Msg("slack join failed")
		return fmt.Errorf("join channel %s: %w", channel, err)
	}
	n.log.Info().Str("channel", channel).Msg("joined slack channel")
	return nil
}

// refusedBlocks are the codes with which Slack refuses a message's blocks; the card's
// plain text goes in their place.
var refusedBlocks = map[string]bool{
	"invalid_blocks": true, "invalid_blocks_format": true, "msg_blocks_too_long": true, "msg_too_long": true,
}

// Share completes the upload of fileID into p.Channel with the card as the blocks of
// the file's own message (or its plain text if Slack refuses the blocks), joining a
// public channel the bot is not in once. A rate limit is returned as RetryAfter, without
// retrying here: the caller calls Share again with the same file. If Slack no longer
// knows the upload (file_not_found: never completed and discarded), the error wraps
// cg.ErrUploadGone and only a new Upload can go on.
func (n *Notifier) Share(ctx context.Context, p cg.Post, fileID string) error {
	if _, err := n.check(p); err != nil {
		return err
	}
	tc := n.client(p.Token)
	params := slack.CompleteUploadExternalParameters{
		Files:   []slack.FileSummary{{ID: fileID, Title: fileTitle(p)}},
		Channel: p.Channel,
		Blocks:  slack.Blocks{BlockSet: PostBlocks(p)},
	}
	joined := false
	for {
		if err := n.limit.wait(ctx, p.Channel); err != nil {
			return err
		}
		_, err := tc.api.CompleteUploadExternalContext(ctx, params)
		code := slackCode(err)
		switch {
		case err == nil:
			n.log.Info().Str("dashboard_uid", p.DashboardUID).Str("channel", p.Channel).Str("file_id", fileID).Msg("slack upload completed")
			return nil
		case code == "not_in_channel" && !joined:
			joined = true
			if n.join(ctx, tc, p.Channel) == nil {
				continue
			}
		case refusedBlocks[code] && params.InitialComment == "":
			n.log.Warn().Err(err).Str("dashboard_uid", p.DashboardUID).Msg("slack refused the card's blocks; sharing the GIF with its plain text")
			params.InitialComment = PostText(p)
			continue
		case code == "file_not_found":
			return &NotifyError{Code: code, Err: fmt.Errorf("%w: %w", cg.ErrUploadGone, err),
				Message: fmt.Sprintf("share the GIF of %s: Slack no longer knows the upload %s", p.DashboardUID, fileID)}
		}
		n.log.Warn().Err(err).Str("dashboard_uid", p.DashboardUID).Str("channel", p.Channel).Str("file_id", fileID).Msg("slack upload completion failed")
		return classify("share the GIF of "+p.DashboardUID, p.Channel, tc.botName(ctx), err)
	}
}

// ShareState asks files.info whether fileID is shared in channel: ShareUnknown when
// Slack answers file_not_found, SharePending while the file has no share there yet
// (Slack shares a completed upload 1–3 s after the completion), ShareDone once it has.
func (n *Notifier) ShareState(ctx context.Context, token cg.Secret, channel, fileID string) (cg.ShareState, error) {
	tc := n.client(token)
	f, _, _, err := tc.api.GetFileInfoContext(ctx, fileID, 1, 1)
	switch {
	case slackCode(err) == "file_not_found":
		return cg.ShareUnknown, nil
	case err != nil:
		return cg.ShareUnknown, classify("look up the GIF "+fileID, channel, tc.botName(ctx), err)
	case len(f.Shares.Public[channel]) > 0 || len(f.Shares.Private[channel]) > 0:
		return cg.ShareDone, nil
	}
	return cg.SharePending, nil
}

// send posts a message within the channel's rate, up to attempts times while Slack
// rate-limits it (waiting its Retry-After), and never for any other error.
func (n *Notifier) send(ctx context.Context, tc *tokenClient, channel string, attempts int, opts ...slack.MsgOption) error {
	for i := 1; ; i++ {
		if err := n.limit.wait(ctx, channel); err != nil {
			return err
		}
		_, _, err := tc.api.PostMessageContext(ctx, channel, opts...)
		var rl *slack.RateLimitedError
		if err == nil || !errors.As(err, &rl) || i >= attempts {
			return err
		}
		t := time.NewTimer(rl.RetryAfter)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Tell posts a short plain message to channel, joining it first if it is public and the
// bot is not in it. text is shown as it is (escaped: it may quote a table or Grafana). It
// is not retried: the caller decides, with RetryAfter.
func (n *Notifier) Tell(ctx context.Context, token cg.Secret, channel, text string) error {
	if channel == "" || token.Empty() {
		return permanentf("tell channel %q: no channel or no bot token configured", channel)
	}
	tc := n.client(token)
	text = fitText(esc(text))
	err := n.send(ctx, tc, channel, 1, slack.MsgOptionText(text, false))
	if slackCode(err) == "not_in_channel" && n.join(ctx, tc, channel) == nil {
		err = n.send(ctx, tc, channel, 1, slack.MsgOptionText(text, false))
	}
	if err != nil {
		return classify("post a message", channel, tc.botName(ctx), err)
	}
	return nil
}
