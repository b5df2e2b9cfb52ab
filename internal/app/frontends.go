package app

import (
	"context"
	"fmt"
	"time"

	"credential-grafana/bot"
	"credential-grafana/rest"
	"credential-grafana/scheduler"
)

// notifier is the Slack notifier the pipeline posts with. It exists even without
// SLACK_BOT_TOKEN: a user with their own slack_bot_token still gets posts.
func (m *Main) notifier() scheduler.Notifier {
	return bot.NewNotifier(bot.NotifierConfig{APIURL: m.Config.SlackAPIURL, Logger: m.Log})
}

// newBot builds the Socket Mode bot when both Slack tokens are set, and adds its check
// to /readyz.
func (m *Main) newBot() error {
	cfg := m.Config
	if cfg.SlackBotToken == "" || cfg.SlackAppToken == "" {
		if cfg.SlackBotToken != "" {
			m.Log.Warn().Msg("the slash command is off: SLACK_APP_TOKEN (xapp-…) is not set; posting still works")
		}
		return nil
	}
	b, err := bot.New(bot.Config{
		Service: m.Commands, BotToken: cfg.SlackBotToken, AppToken: cfg.SlackAppToken, APIURL: cfg.SlackAPIURL,
		Command: cfg.SlackCommand, AdminUsers: cfg.AdminUsers(), AdminGroup: cfg.SlackAdminGroup,
		Logger: m.Log, Registerer: m.Registry,
	})
	if err != nil {
		return fmt.Errorf("slack bot: %w", err)
	}
	m.Bot = b
	m.checks = append(m.checks, rest.Check{Name: "slack", Optional: true, Run: b.Check})
	return nil
}

// startFrontEnds starts the Slack bot, if there is one, and returns a function that
// stops it and waits for its running work.
func (m *Main) startFrontEnds(ctx context.Context) func() {
	if m.Bot == nil {
		return func() {}
	}
	bctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := m.Bot.Run(bctx); err != nil {
			m.Log.Error().Err(err).Msg("slack bot stopped")
		}
	}()
	return func() {
		cancel()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			m.Log.Warn().Msg("slack bot did not stop within 15s")
		}
	}
}
