package bot

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"credential-grafana/cg"
)

// DoctorConfig is what Doctor checks.
type DoctorConfig struct {
	// APIURL is the Web API base with its trailing slash. Defaults to Slack's,
	// "https://slack.com/api/".
	APIURL   string
	BotToken cg.Secret
	AppToken cg.Secret
	// ChannelID is SLACK_CHANNEL_ID; empty skips the membership check.
	ChannelID string
	// Needed are the bot scopes the product uses (the manifest's).
	Needed []string
	// HTTPClient defaults to one with a 10-second timeout.
	HTTPClient *http.Client
}

// Doctor checks, as the first contact with a real Slack: that the bot token works
// (auth.test), that it has every scope the product uses (Slack returns a token's scopes
// in the x-oauth-scopes header of any Web API call), that the bot is a member of
// SLACK_CHANNEL_ID (conversations.history answers not_in_channel otherwise), and that the
// app token may open Socket Mode connections (apps.connections.open; the connection is
// not dialled, so a running service's events are not taken from it). It calls the Web
// API directly, as slack-go keeps the response headers to itself.
func Doctor(ctx context.Context, cfg DoctorConfig) []cg.Finding {
	cfg.APIURL = cmp.Or(apiBase(cfg.APIURL), "https://slack.com/api/")
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	find := func(check string, ok bool, detail, fix string) cg.Finding {
		f := cg.Finding{Area: "slack", Check: check, OK: ok, Detail: detail}
		if !ok {
			f.Fix = fix
		}
		return f
	}
	var out []cg.Finding
	if cfg.BotToken.Empty() {
		out = append(out, cg.Finding{Area: "slack", Check: "bot token", Skipped: true, Detail: "SLACK_BOT_TOKEN is not set: Slack is off"})
	} else {
		var auth struct {
			Team   string `json:"team"`
			User   string `json:"user"`
			TeamID string `json:"team_id"`
		}
		hdr, err := webAPI(ctx, cfg, "auth.test", cfg.BotToken, nil, &auth)
		if err != nil {
			return append(out, find("bot token", false, "Slack refused SLACK_BOT_TOKEN: "+err.Error(),
				"copy the Bot User OAuth Token (xoxb-…) from the app's Install App page into SLACK_BOT_TOKEN"))
		}
		out = append(out, find("bot token", true, fmt.Sprintf("works as @%s in %s (%s)", auth.User, auth.Team, auth.TeamID), ""))
		have := splitScopes(hdr.Get("X-OAuth-Scopes"))
		var missing []string
		for _, s := range cfg.Needed {
			if !slices.Contains(have, s) {
				missing = append(missing, s)
			}
		}
		if len(missing) > 0 {
			out = append(out, find("scopes", false, fmt.Sprintf("the token lacks %s (it has %s)", strings.Join(missing, ", "), strings.Join(have, ", ")),
				"add "+strings.Join(missing, ", ")+" under OAuth & Permissions → Bot Token Scopes (or update the app from slack-app-manifest.yaml), then reinstall the app"))
		} else {
			out = append(out, find("scopes", true, "has every scope the product uses: "+strings.Join(cfg.Needed, ", "), ""))
		}
		if cfg.ChannelID == "" {
			out = append(out, cg.Finding{Area: "slack", Check: "channel", Skipped: true, Detail: "SLACK_CHANNEL_ID is not set: only users with their own slack_channel_id get posts"})
		} else {
			_, err := webAPI(ctx, cfg, "conversations.history", cfg.BotToken, url.Values{"channel": {cfg.ChannelID}, "limit": {"1"}}, nil)
			var se *slackAPIError
			switch {
			case err == nil:
				out = append(out, find("channel", true, "the bot is a member of "+cfg.ChannelID, ""))
			case errors.As(err, &se) && se.code == "not_in_channel":
				out = append(out, find("channel", false, "the bot is not a member of "+cfg.ChannelID,
					"invite it: type /invite @credential-grafana in the channel"))
			case errors.As(err, &se) && se.code == "channel_not_found":
				out = append(out, find("channel", false, "Slack knows no channel "+cfg.ChannelID+" the bot can see",
					"check SLACK_CHANNEL_ID (channel details → About → Channel ID); a private channel needs /invite @credential-grafana first"))
			default:
				out = append(out, find("channel", false, fmt.Sprintf("cannot read %s: %v", cfg.ChannelID, err),
					"see the scopes line above, or Slack's status"))
			}
		}
	}
	if cfg.AppToken.Empty() {
		return append(out, cg.Finding{Area: "slack", Check: "socket mode", Skipped: true, Detail: "SLACK_APP_TOKEN is not set: no slash command"})
	}
	var conn struct {
		URL string `json:"url"`
	}
	if _, err := webAPI(ctx, cfg, "apps.connections.open", cfg.AppToken, nil, &conn); err != nil || conn.URL == "" {
		return append(out, find("socket mode", false, fmt.Sprintf("the app token cannot open a Socket Mode connection: %v", err),
			"enable Socket Mode (Settings → Socket Mode) and put an app-level token with connections:write (Basic Information → App-Level Tokens) in SLACK_APP_TOKEN"))
	}
	return append(out, find("socket mode", true, "the app token opens Socket Mode connections", ""))
}

func splitScopes(h string) []string {
	var out []string
	for _, s := range strings.Split(h, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}

// slackAPIError is a Web API answer with ok false.
type slackAPIError struct {
	method, code, needed string
}

func (e *slackAPIError) Error() string {
	if e.code == "missing_scope" && e.needed != "" {
		return fmt.Sprintf("%s: missing_scope (needs %s)", e.method, e.needed)
	}
	return e.method + ": " + e.code
}

// webAPI POSTs a form to a Web API method with token as Bearer and decodes the answer
// into out; it returns the response headers.
func webAPI(ctx context.Context, cfg DoctorConfig, method string, token cg.Secret, form url.Values, out any) (http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cfg.APIURL+method, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+token.Reveal())
	resp, err := cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: Slack does not answer: %w", method, stripURLError(err))
	}
	defer resp.Body.Close()
	var body struct {
		OK     bool   `json:"ok"`
		Error  string `json:"error"`
		Needed string `json:"needed"`
	}
	raw := json.RawMessage{}
	if err := json.NewDecoder(resp.Body).Decode(&raw); err != nil {
		return resp.Header, fmt.Errorf("%s: HTTP %d, not Slack's JSON: %w", method, resp.StatusCode, err)
	}
	_ = json.Unmarshal(raw, &body)
	if !body.OK {
		return resp.Header, &slackAPIError{method: method, code: cmp.Or(body.Error, fmt.Sprintf("HTTP %d", resp.StatusCode)), needed: body.Needed}
	}
	if out != nil {
		_ = json.Unmarshal(raw, out)
	}
	return resp.Header, nil
}

// stripURLError drops the URL from a transport error: it adds nothing, and a proxy URL
// could carry credentials.
func stripURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
