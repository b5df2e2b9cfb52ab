package grafanatest

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server is a fake Grafana for tests. Its fields are read-only.
type Server struct {
	// URL is the server's root URL, e.g. "http://127.0.0.1:41234".
	URL string
	// Token is the service-account token the server accepts as Bearer ("glsa_…").
	Token string
	// AdminUser and AdminPassword are accepted as Basic auth (the server admin).
	AdminUser, AdminPassword string

	t   testing.TB
	srv *httptest.Server

	mu         sync.Mutex
	nextID     int64
	nextOrgID  int64
	orgs       map[int64]*orgStore // by org ID; org 1 is "Main Org."
	tokens     map[string]tokenRef // service-account tokens by key
	sessions   map[string]identity // grafana_session cookie values
	sessionOf  map[string]string   // identity key -> its cookie value
	requests   map[string]int      // "METHOD /path"
	failures   []*failure
	hook       func(w http.ResponseWriter, r *http.Request) bool
	queryDelay time.Duration
	executed   []string

	noPostgresPlugin bool
	version          string
}

// Option configures a Server.
type Option func(*Server)

// WithToken makes the server accept this token instead of a random one.
func WithToken(token string) Option { return func(s *Server) { s.Token = token } }

// WithQueryDelay makes every query of POST /api/ds/query wait d before it runs.
func WithQueryDelay(d time.Duration) Option { return func(s *Server) { s.queryDelay = d } }

// Folder is a folder as the fake stores it.
type Folder struct {
	OrgID   int64
	ID      int64
	UID     string
	Title   string
	Version int
}

// DataSource is a data source as the fake stores it, secure fields included.
type DataSource struct {
	OrgID          int64
	ID             int64
	UID            string
	Name           string
	Type           string
	Access         string
	URL            string
	User           string
	Database       string // the deprecated top-level database field
	IsDefault      bool
	JSONData       map[string]any
	SecureJSONData map[string]string
	Version        int
}

// Dashboard is a dashboard as the fake stores it.
type Dashboard struct {
	OrgID     int64
	ID        int64
	UID       string
	Title     string
	Slug      string
	FolderUID string
	Version   int
	Model     map[string]any // the dashboard JSON, with id, uid and version set
	Message   string
}

type failure struct {
	prefix string
	status int
	left   int
}

// New starts a fake Grafana, closed when the test ends.
func New(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := &Server{
		Token:         "glsa_" + randomHex(16) + "_" + randomHex(4),
		AdminUser:     "admin",
		AdminPassword: randomHex(8),
		t:             t,
		nextOrgID:     1,
		orgs:          map[int64]*orgStore{},
		tokens:        map[string]tokenRef{},
		sessions:      map[string]identity{},
		sessionOf:     map[string]string{},
		requests:      map[string]int{},
	}
	main := newOrgStore(1, "Main Org.")
	main.members[s.AdminUser] = true
	s.orgs[1] = main
	for _, o := range opts {
		o(s)
	}
	s.srv = httptest.NewServer(s.routes())
	s.URL = s.srv.URL
	t.Cleanup(s.srv.Close)
	return s
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Close stops the server (it is also closed when the test ends).
func (s *Server) Close() { s.srv.Close() }

// Client returns an HTTP client for the server.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// FailNext makes the next n requests whose path starts with pathPrefix answer status
// with a JSON message, before authentication, as a Grafana that is down would.
func (s *Server) FailNext(pathPrefix string, status, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = append(s.failures, &failure{prefix: pathPrefix, status: status, left: n})
}

// SetHook installs fn, called first for every request: when it returns true it has
// answered and the server does nothing more. nil removes it.
func (s *Server) SetHook(fn func(w http.ResponseWriter, r *http.Request) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hook = fn
}

// SetQueryDelay makes every query of POST /api/ds/query wait d before it runs.
func (s *Server) SetQueryDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queryDelay = d
}

// Requests counts the requests so far with this method ("" for any) whose path starts
// with pathPrefix.
func (s *Server) Requests(method, pathPrefix string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k, c := range s.requests {
		m, p, _ := strings.Cut(k, " ")
		if (method == "" || m == method) && strings.HasPrefix(p, pathPrefix) {
			n += c
		}
	}
	return n
}

// ExecutedSQL returns the SQL of every query run so far, in order.
func (s *Server) ExecutedSQL() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.executed...)
}

// DataSources returns the stored data sources of every org, sorted by UID then org.
func (s *Server) DataSources() []DataSource {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []DataSource{}
	for _, o := range s.orgs {
		for _, d := range o.dataSources {
			out = append(out, cloneDataSource(d))
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].UID < out[j].UID || out[i].UID == out[j].UID && out[i].OrgID < out[j].OrgID
	})
	return out
}

// DataSource returns the stored data source with this UID (of the lowest org ID that
// has one).
func (s *Server) DataSource(uid string) (DataSource, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range s.sortedOrgs() {
		if d, ok := o.dataSources[uid]; ok {
			return cloneDataSource(d), true
		}
	}
	return DataSource{}, false
}

// AddDataSource stores a data source directly, as if created through the API, in
// d.OrgID (org 1 when zero).
func (s *Server) AddDataSource(d DataSource) DataSource {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d.OrgID == 0 {
		d.OrgID = 1
	}
	o, ok := s.orgs[d.OrgID]
	if !ok {
		s.t.Fatalf("grafanatest: AddDataSource: no org %d", d.OrgID)
	}
	s.nextID++
	d.ID = s.nextID
	if d.UID == "" {
		d.UID = randomHex(7)
	}
	if d.Version == 0 {
		d.Version = 1
	}
	c := cloneDataSource(&d)
	o.dataSources[d.UID] = &c
	return cloneDataSource(&c)
}

func cloneDataSource(d *DataSource) DataSource {
	c := *d
	c.JSONData = map[string]any{}
	for k, v := range d.JSONData {
		c.JSONData[k] = v
	}
	c.SecureJSONData = map[string]string{}
	for k, v := range d.SecureJSONData {
		c.SecureJSONData[k] = v
	}
	return c
}

// Folders returns the stored folders of every org, sorted by UID then org.
func (s *Server) Folders() []Folder {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []Folder{}
	for _, o := range s.orgs {
		for _, f := range o.folders {
			out = append(out, *f)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].UID < out[j].UID || out[i].UID == out[j].UID && out[i].OrgID < out[j].OrgID
	})
	return out
}

// Dashboards returns the stored dashboards of every org, sorted by UID then org.
func (s *Server) Dashboards() []Dashboard {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []Dashboard{}
	for _, o := range s.orgs {
		for _, d := range o.dashboards {
			out = append(out, *d)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].UID < out[j].UID || out[i].UID == out[j].UID && out[i].OrgID < out[j].OrgID
	})
	return out
}

// Dashboard returns the stored dashboard with this UID (of the lowest org ID that has
// one).
func (s *Server) Dashboard(uid string) (Dashboard, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range s.sortedOrgs() {
		if d, ok := o.dashboards[uid]; ok {
			return *d, true
		}
	}
	return Dashboard{}, false
}

// routes builds the handler: failures and hook, counting, auth, then the API.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/health", s.health)
	mux.HandleFunc("GET /login", s.login)

	mux.HandleFunc("GET /api/folders", s.listFolders)
	mux.HandleFunc("POST /api/folders", s.createFolder)
	mux.HandleFunc("GET /api/folders/{uid}", s.getFolder)
	mux.HandleFunc("DELETE /api/folders/{uid}", s.deleteFolder)

	mux.HandleFunc("GET /api/datasources", s.listDataSources)
	mux.HandleFunc("POST /api/datasources", s.createDataSource)
	mux.HandleFunc("GET /api/datasources/uid/{uid}", s.getDataSource)
	mux.HandleFunc("PUT /api/datasources/uid/{uid}", s.updateDataSource)
	mux.HandleFunc("DELETE /api/datasources/uid/{uid}", s.deleteDataSource)
	mux.HandleFunc("GET /api/datasources/uid/{uid}/health", s.checkDataSource)
	mux.HandleFunc("POST /api/ds/query", s.query)
	mux.HandleFunc("GET /api/plugins/{id}/settings", s.pluginSettings)
	mux.HandleFunc("GET /api/user", s.signedInUser)

	mux.HandleFunc("POST /api/dashboards/db", s.saveDashboard)
	mux.HandleFunc("GET /api/dashboards/uid/{uid}", s.getDashboard)
	mux.HandleFunc("DELETE /api/dashboards/uid/{uid}", s.deleteDashboard)
	mux.HandleFunc("GET /api/search", s.search)

	mux.HandleFunc("GET /api/org", s.currentOrg)
	mux.HandleFunc("POST /api/orgs", s.createOrg)
	mux.HandleFunc("GET /api/orgs/name/{name}", s.orgByName)
	mux.HandleFunc("DELETE /api/orgs/{id}", s.deleteOrg)
	mux.HandleFunc("POST /api/serviceaccounts", s.createServiceAccount)
	mux.HandleFunc("GET /api/serviceaccounts/search", s.searchServiceAccounts)
	mux.HandleFunc("GET /api/serviceaccounts/{id}/tokens", s.listTokens)
	mux.HandleFunc("POST /api/serviceaccounts/{id}/tokens", s.createToken)
	mux.HandleFunc("DELETE /api/serviceaccounts/{id}/tokens/{tokenID}", s.deleteToken)

	mux.HandleFunc("GET /d/{uid}", s.page)
	mux.HandleFunc("GET /d/{uid}/{slug}", s.page)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]any{"message": "Not found"})
	})

	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests[r.Method+" "+r.URL.Path]++
		hook := s.hook
		var fail *failure
		for _, f := range s.failures {
			if f.left > 0 && strings.HasPrefix(r.URL.Path, f.prefix) {
				f.left--
				fail = f
				break
			}
		}
		s.mu.Unlock()
		if hook != nil && hook(w, r) {
			return
		}
		if fail != nil {
			writeJSON(w, fail.status, map[string]any{"message": "injected failure: " + http.StatusText(fail.status)})
			return
		}
		public := r.URL.Path == "/api/health" || r.URL.Path == "/login" || strings.HasPrefix(r.URL.Path, "/public/")
		if !public {
			id, ok, refusal := s.authenticate(r)
			if !ok {
				if strings.HasPrefix(r.URL.Path, "/api/") {
					if refusal == nil {
						refusal = map[string]any{"message": "Unauthorized", "messageId": "auth.unauthorized", "statusCode": 401, "traceID": ""}
					}
					writeJSON(w, http.StatusUnauthorized, refusal)
					return
				}
				http.SetCookie(w, &http.Cookie{Name: "redirect_to", Value: r.URL.RequestURI(), Path: "/", HttpOnly: true})
				http.Redirect(w, r, "/login", http.StatusFound)
				return
			}
			r = r.WithContext(context.WithValue(r.Context(), identityKey{}, id))
		}
		mux.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"commit": "grafanatest", "database": "ok", "version": cmp.Or(s.version, Version)})
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write([]byte(`<!doctype html><html><head><title>Grafana</title></head><body><form class="login-form"><h1>Welcome to Grafana</h1><input name="user" aria-label="Username input field"><input name="password" type="password" aria-label="Password input field"><button type="submit" data-testid="data-testid Login button">Log in</button></form></body></html>`))
}

var uidRE = regexp.MustCompile(`^[a-zA-Z0-9\-_]*$`)

func validUID(uid string) (string, bool) {
	if !uidRE.MatchString(uid) {
		return "uid contains illegal characters", false
	}
	if len(uid) > 40 {
		return "uid too long, max 40 characters", false
	}
	return "", true
}

// slugify is Grafana's slug of a title: lowercase ASCII letters and digits, the rest
// collapsed into single dashes.
func slugify(title string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(title) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
		} else {
			dash = true
		}
	}
	if b.Len() == 0 {
		return "dashboard"
	}
	return b.String()
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": "bad request data", "messageId": "bad-request", "error": err.Error()})
		return false
	}
	return true
}

// ClearFailures drops the failures FailNext injected and not yet spent.
func (s *Server) ClearFailures() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = nil
}
