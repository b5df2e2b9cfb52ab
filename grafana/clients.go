package grafana

import (
	"sync"

	"credential-grafana/cg"
)

// Clients hands out the Grafana client of each user: the user's own when their
// credentials name both a grafana_url and a grafana_api_key, else the service's. Clients
// are cached per URL and token.
type Clients struct {
	global Config
	mu     sync.Mutex
	byKey  map[string]*Client
}

// NewClients returns clients over the service's Grafana; an empty BaseURL means the
// service has none (a user's own Grafana still works).
func NewClients(global Config) *Clients {
	return &Clients{global: global, byKey: map[string]*Client{}}
}

// ErrOff means neither the service nor the user has a Grafana.
var ErrOff = cg.Errorf(cg.EUNAVAILABLE, "Grafana is not configured: set GRAFANA_BASE_URL and GRAFANA_API_KEY (or the user's grafana_url and grafana_api_key)")

// Enabled reports whether the service has a Grafana of its own.
func (cs *Clients) Enabled() bool { return cs.global.BaseURL != "" }

// For returns the client for a user's credentials and the token it sends. Returns
// ErrOff when there is no Grafana to use, and a cg.EFORBIDDEN error when the user's
// grafana_url is neither BaseURL nor one of AllowedURLs (a value stored before the
// allow-list, or written around the commands, is refused here at use).
func (cs *Clients) For(creds map[string]string) (*Client, cg.Secret, error) {
	cfg := cs.global
	if u, tok := creds["grafana_url"], creds["grafana_api_key"]; u != "" && tok != "" {
		allowed := cg.AllowList{GrafanaURLs: append([]string{cs.global.BaseURL}, cs.global.AllowedURLs...)}
		if err := allowed.CheckGrafanaURL(u); err != nil {
			return nil, "", err
		}
		cfg.BaseURL, cfg.Token, cfg.BasicUser, cfg.BasicPassword = u, cg.Secret(tok), "", ""
	}
	if cfg.BaseURL == "" {
		return nil, "", ErrOff
	}
	key := cfg.BaseURL + "\x00" + cfg.Token.Reveal() + "\x00" + cfg.BasicUser
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if c, ok := cs.byKey[key]; ok {
		return c, cfg.Token, nil
	}
	c, err := New(cfg)
	if err != nil {
		return nil, "", err
	}
	cs.byKey[key] = c
	return c, cfg.Token, nil
}
