package app

import (
	"context"
	"strings"

	"credential-grafana/bot"
	"credential-grafana/cg"
	"credential-grafana/commands"
)

// manifestScopes returns the bot scopes the manifest asks for (the items under
// oauth_config → scopes → bot).
func manifestScopes(manifest string) []string {
	var out []string
	inBot := false
	for _, line := range strings.Split(manifest, "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "bot:":
			inBot = true
		case inBot && strings.HasPrefix(trimmed, "- "):
			scope, _, _ := strings.Cut(strings.TrimPrefix(trimmed, "- "), "#")
			out = append(out, strings.TrimSpace(scope))
		case inBot && trimmed != "" && !strings.HasPrefix(trimmed, "#"):
			inBot = false
		}
	}
	return out
}

// doctorConfig is what `doctor` checks besides the database and Grafana: the
// connections this configuration opens and Slack.
func (m *Main) doctorConfig() commands.DoctorConfig {
	cfg := m.Config
	serve := cfg
	serve.command = "serve" // doctor reports what the service will open, not what it opens itself
	d := commands.DoctorConfig{Budget: serve.Budget()}
	if cfg.SlackBotToken.Empty() && cfg.SlackAppToken.Empty() {
		return d
	}
	d.Slack = func(ctx context.Context) []cg.Finding {
		return bot.Doctor(ctx, bot.DoctorConfig{APIURL: cfg.SlackAPIURL, BotToken: cfg.SlackBotToken, AppToken: cfg.SlackAppToken,
			ChannelID: cfg.SlackChannelID, Needed: manifestScopes(cfg.slackManifest)})
	}
	return d
}
