package app

import (
	"context"

	"credential-grafana/bot"
	"credential-grafana/scheduler"
)

// startDigests starts the digest scheduler (every minute, once across replicas: see
// scheduler.DigestScheduler) and returns the function that stops it.
func (m *Main) startDigests(ctx context.Context) func() {
	ds := scheduler.NewDigestScheduler(scheduler.DigestConfig{
		DB: m.DB, Cipher: m.cipher, SlackToken: m.Config.SlackBotToken,
		Notifier: bot.NewNotifier(bot.NotifierConfig{APIURL: m.Config.SlackAPIURL, Logger: m.Log}),
		Logger:   m.Log,
	})
	if err := ds.Start(ctx); err != nil {
		m.Log.Error().Err(err).Msg("digests are off")
		return func() {}
	}
	return ds.Stop
}
