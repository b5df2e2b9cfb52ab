package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"credential-grafana/cg"
)

// slackStatus is status's Slack check. The Socket Mode connection belongs to the process
// that serves: there it is the bot's own state, as /readyz reports it. Any other process
// (the CLI) asks the service's /readyz on HOST:PORT, so that `status` and /readyz agree.
func (m *Main) slackStatus(ctx context.Context) error {
	if m.serving.Load() {
		return m.Bot.Check(ctx)
	}
	return m.servedSlackStatus(ctx)
}

// servedSlackStatus reads the Slack check of the service's /readyz (with ADMIN_API_TOKEN,
// when set, for the failure's detail).
func (m *Main) servedSlackStatus(ctx context.Context) error {
	host := m.Config.Host
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	addr := net.JoinHostPort(host, strconv.Itoa(m.Config.Port))
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/readyz", nil)
	if err != nil {
		return fmt.Errorf("ask the service on %s about Slack: %w", addr, err)
	}
	if !m.Config.AdminAPIToken.Empty() {
		req.Header.Set("Authorization", "Bearer "+m.Config.AdminAPIToken.Reveal())
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return cg.Errorf(cg.EUNAVAILABLE, "no service answers on %s (HOST, PORT), so nothing is connected to Slack: start `credential-grafana serve`", addr)
	}
	defer resp.Body.Close()
	var ready struct {
		Checks map[string]struct {
			OK    bool   `json:"ok"`
			Error string `json:"error"`
		} `json:"checks"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&ready); err != nil {
		return fmt.Errorf("read the /readyz of the service on %s: %w", addr, err)
	}
	check, found := ready.Checks["slack"]
	switch {
	case !found:
		return errors.New("the service on " + addr + " runs without Slack: its SLACK_BOT_TOKEN and SLACK_APP_TOKEN are not both set")
	case check.OK:
		return nil
	case check.Error != "":
		return cg.Errorf(cg.EUNAVAILABLE, "%s (the service on %s)", check.Error, addr)
	default:
		return cg.Errorf(cg.EUNAVAILABLE, "the service on %s is not connected to Slack: its log says why", addr)
	}
}
