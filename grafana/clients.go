package grafana

import (
	"sync"

	"credential-grafana/cg"
)

// Clients hands out the Grafana client of each user: the user's own when their
// credentials name both a grafana_url and a grafana_api_key, else the service's. In
// IsolationOrg a user's client is always its own token's (grafana_api_key, on
// grafana_url or the service's Grafana), which works in the user's org only. Clients
// are cached per URL and token.
type Clients struct {
	global Config
	mu     sync.Mutex
	byKey  map[string]*Client
}

// NewClients returns clients over the service's Grafana; an empty BaseURL means the
// service has none (a user's own Grafana still works).
func NewClients(global Config) *Clients {
	if global.Isolation == "" {
		global.Isolation = IsolationFolder
	}
	return &Clients{global: global, byKey: map[string]*Client{}}
}

// ErrOff means neither the service nor the user has a Grafana.
var ErrOff = cg.Errorf(cg.EUNAVAILABLE, "Grafana is not configured: set GRAFANA_BASE_URL and GRAFANA_API_KEY (or the user's grafana_url and grafana_api_key)")

// ErrNoOrgToken means, in IsolationOrg, that a user has no token of its own org yet.
var ErrNoOrgToken = cg.Errorf(cg.ECONFLICT, "the user has no Grafana org of its own yet (GRAFANA_ISOLATION=org): run `user retry <name>` to make its org, service account and token")

// Enabled reports whether the service has a Grafana of its own.
func (cs *Clients) Enabled() bool { return cs.global.BaseURL != "" }

// Isolation is how users are kept apart in the service's Grafana.
func (cs *Clients) Isolation() Isolation { return cs.global.Isolation }

// For returns the client for a user's credentials and the token it sends; nil creds
// mean the service itself (health checks). A user's own token is sent without
// X-Grafana-Org-Id: Grafana takes the token's org. Returns ErrOff when there is no
// Grafana to use, in IsolationOrg ErrNoOrgToken for a user without a token (the
// service's token, of another org, is never used for a user's things there), and a
// cg.EFORBIDDEN error when the user's grafana_url is neither BaseURL nor one of
// AllowedURLs (a value stored before the allow-list, or written around the commands, is
// refused here at use).
func (cs *Clients) For(creds map[string]string) (*Client, cg.Secret, error) {
	cfg := cs.global
	u, tok := creds["grafana_url"], creds["grafana_api_key"]
	switch {
	case u != "" && tok != "":
		allowed := cg.AllowList{GrafanaURLs: append([]string{cs.global.BaseURL}, cs.global.AllowedURLs...)}
		if err := allowed.CheckGrafanaURL(u); err != nil {
			return nil, "", err
		}
		cfg.BaseURL, cfg.Token, cfg.BasicUser, cfg.BasicPassword, cfg.OrgID = u, cg.Secret(tok), "", "", 0
	case creds != nil && cs.global.Isolation == IsolationOrg:
		if cfg.BaseURL == "" {
			return nil, "", ErrOff
		}
		if tok == "" {
			return nil, "", ErrNoOrgToken
		}
		cfg.Token, cfg.BasicUser, cfg.BasicPassword, cfg.OrgID = cg.Secret(tok), "", "", 0
	}
	if cfg.BaseURL == "" {
		return nil, "", ErrOff
	}
	return cs.client(cfg)
}

// Admin returns the client of the service's Grafana that authenticates as the server
// admin (GRAFANA_USER, GRAFANA_PASSWORD) in GRAFANA_ORG_ID, for what only a server
// admin may do (orgs). Returns ErrOff without a Grafana, and a cg.EUNAVAILABLE error
// without the Basic credentials.
func (cs *Clients) Admin() (*Client, error) {
	cfg := cs.global
	if cfg.BaseURL == "" {
		return nil, ErrOff
	}
	if cfg.BasicUser == "" || cfg.BasicPassword.Empty() {
		return nil, cg.Errorf(cg.EUNAVAILABLE, "Grafana org isolation needs a server admin: set GRAFANA_USER and GRAFANA_PASSWORD")
	}
	cfg.Token = ""
	c, _, err := cs.client(cfg)
	return c, err
}

func (cs *Clients) client(cfg Config) (*Client, cg.Secret, error) {
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
