package grafana

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"credential-grafana/cg"
)

// Config configures a Client.
type Config struct {
	// BaseURL is Grafana's root URL, e.g. "https://grafana.example.com" or
	// "http://host:3000/grafana" when Grafana is served under a sub-path. Required.
	// It must not carry credentials: use Token or BasicUser/BasicPassword.
	BaseURL string
	// Token is a service-account token ("glsa_…") sent as a Bearer token. When empty,
	// BasicUser/BasicPassword are used instead. Defaults to none.
	Token cg.Secret
	// BasicUser and BasicPassword are Basic-auth credentials, used when Token is empty
	// and by the calls that only Basic auth can make. Default to none.
	BasicUser     string
	BasicPassword cg.Secret
	// OrgID, when non-zero, is sent as X-Grafana-Org-Id. Defaults to 0 (the token's org).
	OrgID int64
	// Isolation says how Clients keeps users apart: IsolationFolder (the default; one
	// org for all) or IsolationOrg (an org per user, made with BasicUser/BasicPassword
	// of a server admin). A Client itself ignores it.
	Isolation Isolation
	// HTTPClient sends the requests. Defaults to a client with no overall timeout
	// (each attempt has its own, see Timeout).
	HTTPClient *http.Client
	// Timeout bounds each attempt of a request. Defaults to 10 seconds.
	Timeout time.Duration
	// MaxRetries is how many times a request is retried after a timeout, a connection
	// error or a 5xx answer; never after a 4xx. Defaults to 3; a negative value means
	// no retries.
	MaxRetries int
	// RetryBackoff is the base of the exponential backoff between attempts (doubled each
	// time, capped at 5 seconds, with equal jitter: half of it fixed, half random). Defaults to 250 milliseconds.
	RetryBackoff time.Duration
	// Logger receives one event per retried attempt. Defaults to a disabled logger.
	// Tokens and passwords are never logged.
	Logger zerolog.Logger
	// AllowedURLs, used by Clients only, are the Grafana servers a user's grafana_url may
	// name besides BaseURL (GRAFANA_ALLOWED_URLS). Defaults to none.
	AllowedURLs []string
}

// Client talks to one Grafana. It is safe for concurrent use.
type Client struct {
	cfg  Config
	base *url.URL
	hc   *http.Client
	log  zerolog.Logger
	org  *orgCache // the token's org, once asked
}

// New validates cfg, fills its defaults and returns a Client.
func New(cfg Config) (*Client, error) {
	if strings.TrimSpace(cfg.BaseURL) == "" {
		return nil, cg.Errorf(cg.EINVALID, "grafana URL is empty: set it to Grafana's root URL, e.g. https://grafana.example.com")
	}
	u, err := url.Parse(strings.TrimSpace(cfg.BaseURL))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, cg.Errorf(cg.EINVALID, "grafana URL %q is not an http(s) URL with a host", cfg.BaseURL)
	}
	if u.User != nil {
		return nil, cg.Errorf(cg.EINVALID, "grafana URL must not contain credentials: use a token instead")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, cg.Errorf(cg.EINVALID, "grafana URL %q must not have a query or fragment", cfg.BaseURL)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	cfg.Timeout = cmp.Or(cfg.Timeout, 10*time.Second)
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = 3
	} else if cfg.MaxRetries < 0 {
		cfg.MaxRetries = 0
	}
	cfg.RetryBackoff = cmp.Or(cfg.RetryBackoff, 250*time.Millisecond)
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{}
	}
	return &Client{cfg: cfg, base: u, hc: hc, log: cfg.Logger, org: &orgCache{}}, nil
}

// BaseURL returns Grafana's root URL without a trailing slash.
func (c *Client) BaseURL() string { return c.base.String() }

// OrgID returns the organization the client sends requests to (0: the token's own).
func (c *Client) OrgID() int64 { return c.cfg.OrgID }

// Sentinel errors an *APIError matches with errors.Is.
var (
	ErrUnauthorized       = errors.New("grafana: unauthorized")        // 401
	ErrForbidden          = errors.New("grafana: forbidden")           // 403
	ErrNotFound           = errors.New("grafana: not found")           // 404
	ErrConflict           = errors.New("grafana: conflict")            // 409
	ErrPreconditionFailed = errors.New("grafana: precondition failed") // 412
	// ErrPluginMissing is a 404 "Plugin not found": the Grafana build lacks the
	// plugin of the data source (in 13.x the PostgreSQL data source is an external
	// plugin bundled with the release, so a trimmed build may not have it).
	ErrPluginMissing = errors.New("grafana: plugin not installed")
)

// pluginMissing reports whether the answer is Grafana's "Plugin not found": the plugin
// API's answer for an unregistered plugin (pkg/api/plugins.go), also given by the
// health check and queries of a data source whose plugin is gone.
func (e *APIError) pluginMissing() bool {
	return e.StatusCode == http.StatusNotFound && strings.EqualFold(e.Message, "Plugin not found")
}

// APIError is an answer from Grafana with a status of 400 or more.
type APIError struct {
	StatusCode int
	MessageID  string // Grafana's messageId, e.g. "auth.unauthorized"
	Message    string // Grafana's message, e.g. "Unauthorized"
	Status     string // Grafana's "status" field when set, e.g. "version-mismatch"
	Method     string
	Path       string
	basicAuth  bool
}

// Error says in plain words what Grafana answered.
func (e *APIError) Error() string {
	detail := strconv.Itoa(e.StatusCode) + " " + http.StatusText(e.StatusCode)
	if m := e.detail(); m != "" {
		detail += ": " + m
	}
	call := e.Method + " " + e.Path
	switch e.StatusCode {
	case http.StatusUnauthorized:
		what := "the token"
		if e.basicAuth {
			what = "the user name and password"
		}
		return fmt.Sprintf("Grafana refused %s (%s) on %s: check the Grafana token or credentials", what, detail, call)
	case http.StatusForbidden:
		return fmt.Sprintf("Grafana accepted the credentials but does not allow this (%s) on %s: the service account needs more permissions", detail, call)
	case http.StatusNotFound:
		if e.pluginMissing() {
			return fmt.Sprintf("Grafana's PostgreSQL data source plugin (%s) is not installed (%s) on %s: install it (grafana cli plugins install %s) or use a Grafana release that bundles it, then run user retry", PostgresType, detail, call, PostgresType)
		}
		return fmt.Sprintf("Grafana has no such object (%s) on %s", detail, call)
	case http.StatusConflict:
		return fmt.Sprintf("Grafana already has an object with that name or UID (%s) on %s", detail, call)
	case http.StatusPreconditionFailed:
		return fmt.Sprintf("Grafana refused the change because it is stale or clashes with another (%s) on %s", detail, call)
	}
	if e.StatusCode >= 500 {
		return fmt.Sprintf("Grafana failed (%s) on %s", detail, call)
	}
	return fmt.Sprintf("Grafana rejected the request (%s) on %s", detail, call)
}

func (e *APIError) detail() string {
	parts := []string{}
	if e.Message != "" {
		parts = append(parts, e.Message)
	}
	if e.Status != "" && e.Status != e.Message {
		parts = append(parts, "status "+e.Status)
	}
	if e.MessageID != "" {
		parts = append(parts, "messageId "+e.MessageID)
	}
	return strings.Join(parts, ", ")
}

// Is matches the sentinel of the status code.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrUnauthorized:
		return e.StatusCode == http.StatusUnauthorized
	case ErrForbidden:
		return e.StatusCode == http.StatusForbidden
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound
	case ErrPluginMissing:
		return e.pluginMissing()
	case ErrConflict:
		return e.StatusCode == http.StatusConflict
	case ErrPreconditionFailed:
		return e.StatusCode == http.StatusPreconditionFailed
	}
	return false
}

// request is one API call.
type request struct {
	method string
	path   string // below BaseURL, starting with "/"
	query  url.Values
	body   any  // marshalled as JSON when non-nil
	noAuth bool // /api/health
}

// do sends req, retrying on timeouts, connection errors and 5xx, and decodes a 2xx
// answer into out (when non-nil). Any other answer is an *APIError.
func (c *Client) do(ctx context.Context, req request, out any) error {
	body, err := c.doRaw(ctx, req)
	if err != nil {
		return err
	}
	if out != nil && len(body) > 0 {
		if err := json.Unmarshal(body, out); err != nil {
			return fmt.Errorf("%s %s: Grafana's answer is not the JSON expected: %w", req.method, req.path, err)
		}
	}
	return nil
}

// doRaw sends req with retries and returns the body of the answer. An answer of 400
// or more is an *APIError, returned with its body.
func (c *Client) doRaw(ctx context.Context, req request) ([]byte, error) {
	var payload []byte
	if req.body != nil {
		var err error
		if payload, err = json.Marshal(req.body); err != nil {
			return nil, fmt.Errorf("encode %s %s: %w", req.method, req.path, err)
		}
	}
	u := *c.base
	// req.path is already escaped (url.PathEscape of each UID), so keep it as RawPath.
	u.RawPath = c.base.EscapedPath() + req.path
	if p, err := url.PathUnescape(u.RawPath); err == nil {
		u.Path = p
	} else {
		u.Path, u.RawPath = c.base.Path+req.path, ""
	}
	u.RawQuery = req.query.Encode()
	attempts := c.cfg.MaxRetries + 1
	var lastErr error
	for attempt := 1; attempt <= attempts; attempt++ {
		if attempt > 1 {
			if err := c.sleep(ctx, attempt-1); err != nil {
				return nil, fmt.Errorf("%s %s: giving up after %d attempts: %w (last error: %v)", req.method, req.path, attempt-1, err, lastErr)
			}
		}
		status, body, err := c.attempt(ctx, req, u.String(), payload)
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("%s %s: %w (%v)", req.method, req.path, ctx.Err(), err)
			}
			lastErr = fmt.Errorf("cannot reach Grafana at %s: %w", c.base.Host, err)
			c.log.Warn().Str("method", req.method).Str("path", req.path).Int("attempt", attempt).Err(err).Msg("grafana request failed")
			continue
		}
		if status >= 500 {
			lastErr = c.apiError(req, status, body)
			c.log.Warn().Str("method", req.method).Str("path", req.path).Int("attempt", attempt).Int("status", status).Msg("grafana answered with a server error")
			continue
		}
		if status >= 400 {
			return body, c.apiError(req, status, body)
		}
		return body, nil
	}
	return nil, fmt.Errorf("%s %s: giving up after %d attempts: %w", req.method, req.path, attempts, lastErr)
}

// attempt sends one request under its own deadline and reads the whole answer.
func (c *Client) attempt(ctx context.Context, req request, target string, payload []byte) (int, []byte, error) {
	actx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	hreq, err := http.NewRequestWithContext(actx, req.method, target, body)
	if err != nil {
		return 0, nil, err
	}
	hreq.Header.Set("Accept", "application/json")
	if payload != nil {
		hreq.Header.Set("Content-Type", "application/json")
	}
	if !req.noAuth {
		c.authorize(hreq)
	}
	resp, err := c.hc.Do(hreq)
	if err != nil {
		return 0, nil, stripURL(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return 0, nil, err
	}
	return resp.StatusCode, data, nil
}

// stripURL keeps the cause of a *url.Error: its URL adds nothing the caller's message
// lacks.
func stripURL(err error) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		if uerr.Timeout() {
			return fmt.Errorf("timed out: %w", uerr.Err)
		}
		return uerr.Err
	}
	return err
}

func (c *Client) authorize(r *http.Request) {
	switch {
	case !c.cfg.Token.Empty():
		r.Header.Set("Authorization", "Bearer "+c.cfg.Token.Reveal())
	case c.cfg.BasicUser != "":
		r.SetBasicAuth(c.cfg.BasicUser, c.cfg.BasicPassword.Reveal())
	}
	if c.cfg.OrgID != 0 {
		r.Header.Set("X-Grafana-Org-Id", strconv.FormatInt(c.cfg.OrgID, 10))
	}
}

func (c *Client) apiError(req request, status int, body []byte) *APIError {
	var m struct {
		Message   string `json:"message"`
		MessageID string `json:"messageId"`
		Status    string `json:"status"`
	}
	_ = json.Unmarshal(body, &m)
	if m.Message == "" && m.Status == "" && len(body) > 0 && !json.Valid(body) {
		m.Message = strings.TrimSpace(string(body))
		if len(m.Message) > 200 {
			m.Message = m.Message[:200] + "…"
		}
	}
	for _, secret := range []cg.Secret{c.cfg.Token, c.cfg.BasicPassword} {
		if !secret.Empty() {
			m.Message = strings.ReplaceAll(m.Message, secret.Reveal(), "[redacted]")
		}
	}
	return &APIError{StatusCode: status, MessageID: m.MessageID, Message: m.Message, Status: m.Status,
		Method: req.method, Path: req.path, basicAuth: c.cfg.Token.Empty() && c.cfg.BasicUser != ""}
}

// sleep waits before retry n (1-based): equal jitter over base·2^(n-1) (half of it fixed,
// half random), at most 5 s.
func (c *Client) sleep(ctx context.Context, n int) error {
	d := c.cfg.RetryBackoff << (n - 1)
	if d > 5*time.Second || d <= 0 {
		d = 5 * time.Second
	}
	d = d/2 + rand.N(d/2+1)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
