package bot

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/slack-go/slack"

	"credential-grafana/cg"
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
// A post is two messages: the GIF, uploaded with UploadFileContext to the channel with
// the dashboard UID in its title, then a Block Kit message with the figures, the buttons
// and the UID in its metadata. One message with an image block (slack_file) was the
// alternative; it needs the upload to finish Slack's asynchronous processing first (polling
// files.info) and, being unshared, the file is then invisible to files.list by channel, so
// a crash could not be detected from the files alone. Uploading to the channel makes the
// GIF the durable proof of the post (FindPost finds it by title with files:read only), keeps
// the GIF full-size and animated in the channel, and the message after it carries
// everything that may need Block Kit; if Slack refuses the blocks, a plain-text message
// with the link takes its place.
type Notifier struct {
	apiURL string
	http   *http.Client
	log    zerolog.Logger
	limit  *channelLimiter

	mu      sync.Mutex
	clients map[[32]byte]*tokenClient
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
		clients: map[[32]byte]*tokenClient{},
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

// client returns the cached client of a token; the cache is keyed by the token's hash.
func (n *Notifier) client(token cg.Secret) *tokenClient {
	key := sha256.Sum256([]byte(token.Reveal()))
	n.mu.Lock()
	defer n.mu.Unlock()
	c := n.clients[key]
	if c == nil {
		c = &tokenClient{api: slack.New(token.Reveal(), slackOptions(n.apiURL, n.http)...)}
		n.clients[key] = c
	}
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

// Post uploads p's GIF to p.Channel, then posts the message with the figures and buttons,
// and returns the Slack file's ID. Errors are *NotifyError: Permanent when a person must
// act (the message says what to do), RetryAfter when Slack rate-limited the upload.
func (n *Notifier) Post(ctx context.Context, p cg.Post) (string, error) {
	switch {
	case p.Channel == "":
		return "", permanentf("post dashboard %s: no Slack channel: set the user's slack_channel_id or SLACK_CHANNEL_ID", p.DashboardUID)
	case p.Token.Empty():
		return "", permanentf("post dashboard %s: no Slack bot token: set SLACK_BOT_TOKEN or the user's slack_bot_token", p.DashboardUID)
	}
	st, err := os.Stat(p.GIFPath)
	if err != nil || st.Size() == 0 {
		return "", &NotifyError{Final: true, Err: err,
			Message: fmt.Sprintf("post dashboard %s: the GIF %s is missing or empty: record it again", p.DashboardUID, p.GIFPath)}
	}
	tc := n.client(p.Token)
	fileID := p.ExistingFileID
	if fileID != "" { // an interrupted post: the GIF is there; is its message?
		_, found, err := n.findMessage(ctx, tc, p.Channel, p.DashboardUID, p.ResumeSince)
		if err != nil {
			return "", err
		}
		if found {
			return fileID, nil
		}
	} else if fileID, err = n.upload(ctx, tc, p, int(st.Size())); err != nil {
		n.log.Warn().Err(err).Str("dashboard_uid", p.DashboardUID).Str("channel", p.Channel).Msg("slack upload failed")
		return "", err
	}
	if err := n.postMessage(ctx, tc, p, fileID); err != nil {
		return "", err
	}
	n.log.Info().Str("dashboard_uid", p.DashboardUID).Str("channel", p.Channel).Str("file_id", fileID).Msg("dashboard posted to slack")
	return fileID, nil
}

// fileTitle carries the dashboard UID in brackets, which FindPost matches exactly.
func fileTitle(p cg.Post) string { return truncate(postTitle(p), 200) + " [" + p.DashboardUID + "]" }

// upload sends the GIF to the channel, joining a public channel the bot is not in once.
func (n *Notifier) upload(ctx context.Context, tc *tokenClient, p cg.Post, size int) (string, error) {
	for joined := false; ; joined = true {
		if err := n.limit.wait(ctx, p.Channel); err != nil {
			return "", err
		}
		f, err := os.Open(p.GIFPath)
		if err != nil {
			return "", &NotifyError{Final: true, Err: err, Message: fmt.Sprintf("open the GIF of %s: %v", p.DashboardUID, err)}
		}
		sum, err := tc.api.UploadFileContext(ctx, slack.UploadFileParameters{
			Reader: f, FileSize: size, Filename: p.DashboardUID + ".gif", Title: fileTitle(p),
			AltTxt: truncate("Animated recording of the Grafana dashboard "+postTitle(p), 1000), Channel: p.Channel,
		})
		_ = f.Close()
		if err == nil {
			return sum.ID, nil
		}
		if slackCode(err) == "not_in_channel" && !joined {
			if jerr := n.join(ctx, tc, p.Channel); jerr == nil {
				continue
			}
		}
		return "", classify("upload the GIF of "+p.DashboardUID, p.Channel, tc.botName(ctx), err)
	}
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

// refusedBlocks are the codes with which Slack refuses a message's content.
var refusedBlocks = map[string]bool{"invalid_blocks": true, "invalid_blocks_format": true, "msg_too_long": true}

// maxMessageAttempts bounds the tries of the message that follows an upload.
const maxMessageAttempts = 3

// postMessage posts the Block Kit message that follows the GIF, or a plain-text one with
// the link if Slack refuses the blocks. When it fails the GIF is already in the channel:
// the caller's retry finds it (FindPost) and posts only the message (ExistingFileID).
func (n *Notifier) postMessage(ctx context.Context, tc *tokenClient, p cg.Post, fileID string) error {
	md := slack.SlackMetadata{EventType: postEventType, EventPayload: map[string]any{
		"dashboard_uid": p.DashboardUID, "file_id": fileID, "user": p.User, "kind": string(p.Kind), "table": p.Table,
	}}
	err := n.send(ctx, tc, p.Channel, maxMessageAttempts,
		slack.MsgOptionText(PostText(p), false), slack.MsgOptionBlocks(PostBlocks(p)...), slack.MsgOptionMetadata(md))
	if err != nil && refusedBlocks[slackCode(err)] {
		n.log.Warn().Err(err).Str("dashboard_uid", p.DashboardUID).Msg("slack refused the message blocks; posting plain text")
		err = n.send(ctx, tc, p.Channel, maxMessageAttempts,
			slack.MsgOptionText(PostText(p), false), slack.MsgOptionMetadata(md))
	}
	if err != nil {
		n.log.Warn().Err(err).Str("dashboard_uid", p.DashboardUID).Str("channel", p.Channel).
			Msg("the GIF was posted but the message with its figures was not yet")
		return classify("post the message of "+p.DashboardUID, p.Channel, tc.botName(ctx), err)
	}
	return nil
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

// FindPost looks in channel for a post of dashboardUID made since since: first the
// channel's files (files.list, the title carries the UID in brackets), then its history
// (the message metadata carries the UID and the file ID). It returns the file's ID.
func (n *Notifier) FindPost(ctx context.Context, token cg.Secret, channel, dashboardUID string, since time.Time) (string, bool, error) {
	tc := n.client(token)
	needle := "[" + dashboardUID + "]"
	from := since.Add(-time.Minute) // clocks differ a little
	for page := 1; page <= 10; page++ {
		files, paging, err := tc.api.GetFilesContext(ctx, slack.GetFilesParameters{
			Channel: channel, TimestampFrom: slack.JSONTime(from.Unix()), Count: 100, Page: page,
		})
		if err != nil {
			return "", false, classify("look for an earlier post of "+dashboardUID, channel, tc.botName(ctx), err)
		}
		for _, f := range files {
			if strings.Contains(f.Title, needle) {
				return f.ID, true, nil
			}
		}
		if paging == nil || page >= paging.Pages {
			break
		}
	}
	return n.findMessage(ctx, tc, channel, dashboardUID, since)
}

// findMessage looks in the channel's history since since for the message of a post of
// dashboardUID (its metadata carries the UID and the file ID).
func (n *Notifier) findMessage(ctx context.Context, tc *tokenClient, channel, dashboardUID string, since time.Time) (string, bool, error) {
	hist, err := tc.api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{
		ChannelID: channel, Oldest: strconv.FormatInt(since.Add(-time.Minute).Unix(), 10), Limit: 200, IncludeAllMetadata: true,
	})
	switch code := slackCode(err); {
	case code == "not_in_channel" || code == "channel_not_found":
		return "", false, nil // the bot cannot have posted where it is not
	case err != nil:
		return "", false, classify("look for an earlier post of "+dashboardUID, channel, tc.botName(ctx), err)
	}
	for _, m := range hist.Messages {
		if m.Metadata.EventType != postEventType || m.Metadata.EventPayload["dashboard_uid"] != dashboardUID {
			continue
		}
		if id, _ := m.Metadata.EventPayload["file_id"].(string); id != "" {
			return id, true, nil
		}
	}
	return "", false, nil
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
