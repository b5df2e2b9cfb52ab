package bot

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"credential-grafana/cg"
	"credential-grafana/commands"
)

// Config configures the Slack bot.
type Config struct {
	// Service runs every operation; the bot never does one itself.
	Service *commands.Service
	// BotToken (xoxb-…, SLACK_BOT_TOKEN) makes Web API calls; AppToken (xapp-…,
	// SLACK_APP_TOKEN, scope connections:write) opens the Socket Mode connection.
	BotToken, AppToken cg.Secret
	// APIURL is Slack's Web API base URL (SLACK_API_URL). Defaults to Slack's.
	APIURL string
	// Command is the slash command (SLACK_COMMAND). Defaults to "/cg".
	Command string
	// AdminUsers are the Slack member IDs of administrators (SLACK_ADMIN_USERS).
	AdminUsers []string
	// AdminGroup is the ID (S…) of a user group whose members are administrators too;
	// optional. Its members are read with usergroups.users.list and cached for 5 minutes.
	AdminGroup string
	// Workers bounds the operations run at once. Defaults to 8.
	Workers int
	Logger  zerolog.Logger
	// Registerer receives the bot's metrics; nil registers none.
	Registerer prometheus.Registerer

	// HTTPClient makes the Web API calls. Defaults to slack-go's.
	HTTPClient *http.Client
	// BackoffMin and BackoffMax bound the wait before reconnecting after Slack refused
	// the connection. Default to 1 second and 5 minutes.
	BackoffMin, BackoffMax time.Duration
	// PingInterval is how long the connection may go without Slack's WebSocket PING
	// before it is considered dead. Defaults to 30 seconds.
	PingInterval time.Duration
	// AckBudget is how long a modal submission may take to decide its answer before the
	// bot acks with a "working" view and finishes later. Defaults to 2 seconds, within
	// Slack's 3.
	AckBudget time.Duration
}

// Bot is the Slack front-end: create it with New and run it with Run.
type Bot struct {
	cfg     Config
	svc     *commands.Service
	api     *slack.Client
	log     zerolog.Logger
	metrics *metrics
	pool    *workerPool
	seen    *dedupe
	admins  *adminSet

	slash       []*subcommand
	actions     map[string]actionHandler
	submissions map[string]submitHandler

	mu    sync.Mutex
	state connState
}

// connState is what Check reports.
type connState struct {
	connected bool
	err       error
	retryAt   time.Time
}

// New returns a bot. It checks the configuration but does not connect.
func New(cfg Config) (*Bot, error) {
	switch {
	case cfg.Service == nil:
		return nil, errors.New("slack bot: no commands service")
	case cfg.BotToken.Empty() || cfg.AppToken.Empty():
		return nil, errors.New("slack bot: SLACK_BOT_TOKEN and SLACK_APP_TOKEN are both required")
	}
	cfg.Command = cmp.Or(cfg.Command, "/cg")
	cfg.Workers = cmp.Or(cfg.Workers, 8)
	cfg.BackoffMin = cmp.Or(cfg.BackoffMin, time.Second)
	cfg.BackoffMax = max(cmp.Or(cfg.BackoffMax, 5*time.Minute), cfg.BackoffMin)
	cfg.PingInterval = cmp.Or(cfg.PingInterval, 30*time.Second)
	cfg.AckBudget = cmp.Or(cfg.AckBudget, 2*time.Second)
	cfg.APIURL = apiBase(cfg.APIURL)
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("slack bot: register metrics: %w", err)
	}
	opts := append(slackOptions(cfg.APIURL, cfg.HTTPClient), slack.OptionAppLevelToken(cfg.AppToken.Reveal()))
	b := &Bot{
		cfg:     cfg,
		svc:     cfg.Service,
		api:     slack.New(cfg.BotToken.Reveal(), opts...),
		log:     cfg.Logger,
		metrics: m,
		pool:    newWorkerPool(cfg.Workers),
		seen:    newDedupe(time.Hour),
	}
	b.admins = newAdminSet(cfg.AdminUsers, cfg.AdminGroup, b.api, b.log)
	b.slash = subcommands()
	b.actions = actionHandlers()
	b.submissions = submitHandlers()
	return b, nil
}

// Run holds the Socket Mode connection until ctx ends. slack-go reconnects by itself when
// Slack asks it to (disconnect frames) or the connection drops; when Slack refuses the
// app token, Run waits with exponential backoff and tries again, forever, reporting the
// failure through Check. It returns nil once ctx is done and the running operations have
// finished.
func (b *Bot) Run(ctx context.Context) error {
	b.pool.start(ctx, b.log)
	defer b.pool.stop()
	backoff := b.cfg.BackoffMin
	for {
		connected, err := b.connectOnce(ctx)
		if ctx.Err() != nil {
			b.setState(connState{err: errors.New("slack bot stopped")})
			return nil
		}
		if connected {
			backoff = b.cfg.BackoffMin
		}
		b.setState(connState{err: err, retryAt: time.Now().Add(backoff)})
		b.metrics.reconnects.Inc()
		b.log.Error().Err(err).Dur("retry_in", backoff).Msg("slack socket mode connection ended")
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		backoff = min(backoff*2, b.cfg.BackoffMax)
	}
}

// connectOnce runs one socketmode client until it gives up, and reports whether it was
// connected at some point.
func (b *Bot) connectOnce(ctx context.Context) (bool, error) {
	smc := socketmode.New(b.api, socketmode.OptionPingInterval(b.cfg.PingInterval))
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var connected bool
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		connected = b.drain(runCtx, smc)
	}()
	err := smc.RunContext(runCtx)
	cancel()
	<-drained
	b.metrics.connected.Set(0)
	return connected, err // RunContext never returns nil
}

func (b *Bot) setState(s connState) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.state = s
}

// Check reports whether the bot is connected to Slack, for /readyz: nil when it is, and
// otherwise what went wrong and when it tries again.
func (b *Bot) Check(context.Context) error {
	b.mu.Lock()
	s := b.state
	b.mu.Unlock()
	if s.connected {
		return nil
	}
	if s.err == nil {
		return errors.New("slack: not connected yet")
	}
	retry := ""
	if wait := time.Until(s.retryAt); !s.retryAt.IsZero() {
		retry = fmt.Sprintf("; retrying in %s", max(wait, 0).Round(time.Second))
	}
	if code := slackCode(s.err); authFailures[code] {
		return fmt.Errorf("slack: Slack refused the app token (%s): check SLACK_APP_TOKEN (xapp-…, scope connections:write)%s", code, retry)
	}
	return fmt.Errorf("slack: socket mode connection failed: %v%s", s.err, retry)
}
