package rest

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"credential-grafana/cg"
	"credential-grafana/commands"
)

// Check is one readiness check: Name shows in /readyz, Run returns nil when healthy.
// Optional checks report their state but do not make the service unready.
type Check struct {
	Name     string
	Optional bool
	Run      func(ctx context.Context) error
}

// Config is what the REST server needs.
type Config struct {
	Service *commands.Service
	// AdminToken may do everything. Empty disables administrator access over REST.
	AdminToken cg.Secret
	// MaxBodyBytes bounds request bodies. Defaults to 64 KiB.
	MaxBodyBytes int64
	// Checks run on /readyz; the master database's check is always first.
	Checks []Check
	// Registry serves /metrics: on this handler to the admin token only, and without a
	// token on MetricsHandler (for a listener only the scraper reaches). Defaults to a new
	// registry with Go and process collectors.
	Registry *prometheus.Registry
	// AuthFailureBurst is how many failed token checks a client address may make in a
	// row; after that it gets 429 with Retry-After until its bucket refills, at one try
	// every AuthFailureRefill. Default to 10 and 6 seconds.
	AuthFailureBurst  int
	AuthFailureRefill time.Duration
	// AuthFailureClients bounds the client addresses tracked; beyond it new addresses
	// share one bucket. Defaults to 10000.
	AuthFailureClients int
	// Now is the clock of the failure limiter. Defaults to time.Now.
	Now    func() time.Time
	Logger zerolog.Logger
}

// Server is the REST API as an http.Handler.
type Server struct {
	cfg      Config
	mux      *http.ServeMux
	metrics  http.Handler
	failures *failureLimiter
	log      zerolog.Logger
}

// New returns the REST handler.
func New(cfg Config) *Server {
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = 64 << 10
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
		cfg.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	cfg.AuthFailureBurst = cmp.Or(cfg.AuthFailureBurst, 10)
	cfg.AuthFailureRefill = cmp.Or(cfg.AuthFailureRefill, 6*time.Second)
	cfg.AuthFailureClients = cmp.Or(cfg.AuthFailureClients, 10000)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{cfg: cfg, mux: http.NewServeMux(), log: cfg.Logger,
		metrics:  promhttp.HandlerFor(cfg.Registry, promhttp.HandlerOpts{}),
		failures: newFailureLimiter(cfg.AuthFailureBurst, cfg.AuthFailureRefill, cfg.AuthFailureClients, cfg.Now)}
	s.routes()
	return s
}

// MetricsHandler serves /metrics without a token, for a listener of its own (METRICS_ADDR)
// that only the scraper can reach.
func (s *Server) MetricsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.metrics)
	return mux
}

func (s *Server) routes() {
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.mux.HandleFunc("GET /readyz", s.readyz)
	s.mux.HandleFunc("GET /metrics", s.auth(func(w http.ResponseWriter, r *http.Request, actor commands.Actor) error {
		if !actor.Admin {
			return cg.Errorf(cg.EFORBIDDEN, "only the ADMIN_API_TOKEN may read /metrics on this port; scrape METRICS_ADDR instead")
		}
		s.metrics.ServeHTTP(w, r)
		return nil
	}))

	s.mux.HandleFunc("POST /api/v1/users", s.auth(s.createUser))
	s.mux.HandleFunc("GET /api/v1/users", s.auth(s.listUsers))
	s.mux.HandleFunc("GET /api/v1/users/{id}", s.auth(s.showUser))
	s.mux.HandleFunc("DELETE /api/v1/users/{id}", s.auth(s.removeUser))
	s.mux.HandleFunc("POST /api/v1/users/{id}/retry", s.auth(s.retryUser))
	s.mux.HandleFunc("POST /api/v1/users/{id}/key", s.auth(s.newAPIKey))
	s.mux.HandleFunc("POST /api/v1/users/{id}/disable", s.auth(s.disableUser))
	s.mux.HandleFunc("POST /api/v1/users/{id}/enable", s.auth(s.enableUser))
	s.mux.HandleFunc("GET /api/v1/users/{id}/credentials", s.auth(s.listCredentials))
	s.mux.HandleFunc("POST /api/v1/users/{id}/credentials", s.auth(s.createCredential))
	s.mux.HandleFunc("PUT /api/v1/users/{id}/credentials/{key}", s.auth(s.updateCredential))
	s.mux.HandleFunc("DELETE /api/v1/users/{id}/credentials/{key}", s.auth(s.deleteCredential))
	s.mux.HandleFunc("GET /api/v1/compare", s.auth(s.compareRuns))
	s.mux.HandleFunc("GET /api/v1/users/{id}/digests", s.auth(s.listDigests))
	s.mux.HandleFunc("PUT /api/v1/users/{id}/digests", s.auth(s.putDigest))
	s.mux.HandleFunc("DELETE /api/v1/users/{id}/digests", s.auth(s.deleteDigests))
	s.mux.HandleFunc("DELETE /api/v1/users/{id}/digests/{digest}", s.auth(s.deleteDigests))
	s.mux.HandleFunc("GET /api/v1/users/{id}/rules", s.auth(s.listRules))
	s.mux.HandleFunc("POST /api/v1/users/{id}/rules", s.auth(s.addRule))
	s.mux.HandleFunc("DELETE /api/v1/users/{id}/rules/{rule}", s.auth(s.removeRule))
	s.mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, cg.Errorf(cg.ENOTFOUND, "no such endpoint: %s %s (see the README's REST reference)", r.Method, r.URL.Path))
	})
}

// ServeHTTP implements http.Handler, logging each request without its headers or body.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	s.mux.ServeHTTP(rec, r)
	if r.URL.Path == "/healthz" || r.URL.Path == "/metrics" {
		return
	}
	s.log.Info().Str("method", r.Method).Str("path", loggedPath(r)).Int("status", rec.status).
		Dur("duration", time.Since(start)).Msg("http request")
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

type handler func(w http.ResponseWriter, r *http.Request, actor commands.Actor) error

// auth authenticates the bearer token and runs h; an error h returns is written as JSON.
func (s *Server) auth(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		actor, err := s.authenticate(r)
		if err == nil {
			r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
			err = h(w, r, actor)
		}
		if err != nil {
			s.fail(w, r, err)
		}
	}
}

// authenticate returns the actor of r's bearer token: the administrator for
// ADMIN_API_TOKEN, a user for its API key. A client address whose checks failed too often
// gets a rate-limited error (429) before its token is looked at; each failed check
// (cg.EUNAUTHORIZED) counts against it.
func (s *Server) authenticate(r *http.Request) (commands.Actor, error) {
	client := clientAddress(r)
	if wait := s.failures.wait(client); wait > 0 {
		return commands.Actor{}, &rateLimitedError{wait: wait}
	}
	actor, err := s.checkToken(r)
	if cg.ErrorCode(err) == cg.EUNAUTHORIZED {
		s.failures.fail(client)
		s.log.Warn().Str("client", client).Str("path", loggedPath(r)).Msg("token check failed")
	}
	return actor, err
}

func (s *Server) checkToken(r *http.Request) (commands.Actor, error) {
	// The scheme is case-insensitive (RFC 9110 §11.1), the token is not.
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	ok = ok && strings.EqualFold(scheme, "Bearer")
	token = strings.TrimSpace(token)
	if !ok || token == "" {
		return commands.Actor{}, cg.Errorf(cg.EUNAUTHORIZED, "missing bearer token: send `Authorization: Bearer <ADMIN_API_TOKEN or the user's API key>`")
	}
	if s.isAdminToken(token) {
		return commands.Actor{Name: "rest:admin", Admin: true}, nil
	}
	return s.cfg.Service.Authenticate(r.Context(), token)
}

// isAdminToken compares token with ADMIN_API_TOKEN in constant time: their SHA-256
// digests are compared, so neither the content nor the length of the admin token shows
// in how long a wrong guess takes. (A user's API key is looked up by its SHA-256 digest.)
func (s *Server) isAdminToken(token string) bool {
	admin := s.cfg.AdminToken.Reveal()
	if admin == "" {
		return false
	}
	got, want := sha256.Sum256([]byte(token)), sha256.Sum256([]byte(admin))
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1
}

// clientAddress is the address a request came from, without its port: the peer's. A
// proxy in front makes every client share the proxy's address (X-Forwarded-For is not
// trusted: any client can send it).
func clientAddress(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// rateLimitedError refuses a client whose token checks failed too often; it is answered
// with 429 and Retry-After.
type rateLimitedError struct{ wait time.Duration }

func (e *rateLimitedError) Error() string { return e.cg().Error() }
func (e *rateLimitedError) Unwrap() error { return e.cg() }
func (e *rateLimitedError) retryAfter() int {
	return max(1, int((e.wait+time.Second-1)/time.Second))
}
func (e *rateLimitedError) cg() *cg.Error {
	return cg.Errorf(cg.ERATELIMITED, "too many failed token checks from your address: try again in %d seconds", e.retryAfter())
}

// fail writes err as JSON. Internal errors are logged with an id the user can quote;
// the user sees only "internal error" and that id.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var maxErr *http.MaxBytesError
	if errors.As(err, &maxErr) {
		err = cg.Errorf(cg.ETOOLARGE, "request body is larger than %d bytes", maxErr.Limit)
	}
	if cg.ErrorCode(err) == cg.EINTERNAL {
		id := errorID()
		s.log.Error().Err(err).Str("error_id", id).Str("method", r.Method).Str("path", loggedPath(r)).Msg("internal error")
		err = cg.Errorf(cg.EINTERNAL, "internal error (id %s): the administrator can find it in the log", id)
	}
	writeError(w, err)
}

func errorID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

var statusOf = map[string]int{
	cg.EINVALID:      http.StatusBadRequest,
	cg.ENOTFOUND:     http.StatusNotFound,
	cg.ECONFLICT:     http.StatusConflict,
	cg.EUNAUTHORIZED: http.StatusUnauthorized,
	cg.EFORBIDDEN:    http.StatusForbidden,
	cg.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	cg.EUNAVAILABLE:  http.StatusServiceUnavailable,
	cg.ERATELIMITED:  http.StatusTooManyRequests,
	cg.EINTERNAL:     http.StatusInternalServerError,
}

func writeError(w http.ResponseWriter, err error) {
	code := cg.ErrorCode(err)
	status := statusOf[code]
	var ue *unprocessableError
	if errors.As(err, &ue) {
		status = http.StatusUnprocessableEntity
	}
	if status == 0 {
		status = http.StatusInternalServerError
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="credential-grafana"`)
	}
	var rl *rateLimitedError
	if errors.As(err, &rl) {
		w.Header().Set("Retry-After", strconv.Itoa(rl.retryAfter()))
	}
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": cg.ErrorMessage(err)}})
}

// unprocessableError marks a validation failure of a well-formed body (422) apart from
// a malformed request (400).
type unprocessableError struct{ err *cg.Error }

func (e *unprocessableError) Error() string { return e.err.Error() }
func (e *unprocessableError) Unwrap() error { return e.err }

// invalidInput marks an EINVALID error from validating a well-formed body as 422.
func invalidInput(err error) error {
	var ce *cg.Error
	if errors.As(err, &ce) && ce.Code == cg.EINVALID {
		return &unprocessableError{ce}
	}
	return err
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// decode reads a JSON object into v, refusing unknown fields, trailing data and bodies
// over the limit with messages that say what was wrong.
func decode(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return cg.Errorf(cg.EINVALID, "Content-Type is %q: send application/json", ct)
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var maxErr *http.MaxBytesError
		var syntaxErr *json.SyntaxError
		var typeErr *json.UnmarshalTypeError
		switch {
		case errors.As(err, &maxErr):
			return cg.Errorf(cg.ETOOLARGE, "request body is larger than %d bytes", maxErr.Limit)
		case errors.Is(err, io.EOF):
			return cg.Errorf(cg.EINVALID, "request body is empty: send a JSON object")
		case errors.As(err, &syntaxErr):
			return cg.Errorf(cg.EINVALID, "request body is not valid JSON (at byte %d): %v", syntaxErr.Offset, err)
		case errors.As(err, &typeErr) && typeErr.Field == "":
			return cg.Errorf(cg.EINVALID, "request body is a JSON %s: send a JSON object", typeErr.Value)
		case errors.As(err, &typeErr):
			return cg.Errorf(cg.EINVALID, "field %q must be %s, not %s", typeErr.Field, jsonKind(typeErr.Type), typeErr.Value)
		case strings.HasPrefix(err.Error(), "json: unknown field"):
			return cg.Errorf(cg.EINVALID, "request body has an %s", strings.TrimPrefix(err.Error(), "json: "))
		default:
			return cg.Errorf(cg.EINVALID, "request body is not valid JSON: %v", err)
		}
	}
	if dec.More() {
		return cg.Errorf(cg.EINVALID, "request body has data after the JSON object")
	}
	return nil
}

// jsonKind names t as JSON does ("a string", "a number"), never as Go does.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	default:
		return "an object"
	}
}

// maxLoggedPath bounds the part of a request's path a log line carries, so that a client
// without a token cannot grow the log by the size of its request line.
const maxLoggedPath = 200

// loggedPath is r's path as logged: its first maxLoggedPath bytes, then "…" if cut.
func loggedPath(r *http.Request) string {
	p := r.URL.Path
	if len(p) <= maxLoggedPath {
		return p
	}
	return strings.ToValidUTF8(p[:maxLoggedPath], "") + "…"
}

// readyz answers whether the service is ready, and per check whether it is ok (and
// optional). Only the ADMIN_API_TOKEN also gets each failed check's error, which may name
// hosts and internal detail. Another bearer token counts as a failed token check.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	details := false
	if r.Header.Get("Authorization") != "" {
		actor, err := s.authenticate(r)
		if cg.ErrorCode(err) == cg.ERATELIMITED {
			s.fail(w, r, err)
			return
		}
		details = err == nil && actor.Admin
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	checks := append([]Check{{Name: "database", Run: s.cfg.Service.Ping}}, s.cfg.Checks...)
	out := map[string]any{}
	ready := true
	for _, c := range checks {
		if err := c.Run(ctx); err != nil {
			check := map[string]any{"ok": false, "optional": c.Optional}
			if details {
				check["error"] = cg.ErrorMessage(err)
				if cg.ErrorCode(err) == cg.EINTERNAL {
					check["error"] = err.Error()
				}
			}
			out[c.Name] = check
			ready = ready && c.Optional
			continue
		}
		out[c.Name] = map[string]any{"ok": true}
	}
	status := http.StatusOK
	if !ready {
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, map[string]any{"ready": ready, "checks": out})
}

func boolQuery(r *http.Request, name string) (bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, cg.Errorf(cg.EINVALID, "query parameter %s is %q: expected true or false", name, v)
	}
	return b, nil
}
