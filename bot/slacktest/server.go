package slacktest

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Identity of the fake workspace and app.
const (
	DefaultTeamID     = "T0000TEAM1"
	DefaultTeamDomain = "credential-grafana-test"
	DefaultTeamName   = "Credential Grafana Test"
	BotUserID         = "U0000BOT01"
	BotUserName       = "credential-grafana"
	BotID             = "B0000BOT01"
	AppID             = "A0000APP01"

	// The tokens are shaped so that secret scanners do not take them for real ones.
	defaultBotToken = "xoxb-slacktest-fake-bot-token"
	defaultAppToken = "xapp-slacktest-fake-app-token"
	// verificationToken is the deprecated token Slack still puts in payloads.
	verificationToken = "fakeverificationtoken001"
)

// channelIDPattern is what Slack accepts as a conversation ID.
var channelIDPattern = regexp.MustCompile(`^[CGDZ][A-Z0-9]{8,}$`)

// Option configures a Server.
type Option func(*config)

type config struct {
	pingInterval        time.Duration
	processingDelay     time.Duration
	triggerLifetime     time.Duration
	responseURLUses     int
	responseURLLifetime time.Duration
	teamID              string
	teamDomain          string
	channelPostInterval time.Duration
	botScopes           []string
	rawSlashText        map[string]bool // commands whose should_escape is false
	blocksTextLimit     int
}

// WithPingInterval sets how often the Socket Mode server sends WebSocket PING frames.
// Defaults to 5 seconds.
func WithPingInterval(d time.Duration) Option { return func(c *config) { c.pingInterval = d } }

// WithFileProcessingDelay sets how long an uploaded file takes to "process" after
// files.completeUploadExternal before files.info shows its shares, files.list by channel
// lists it and the share message appears in the channel's history. Zero means at once.
// Defaults to 1 second.
//
// Real Slack answers the completion ok before the share exists and shares the file
// 1–3 s later (Slack's SDK maintainers in bolt-js#2115 and python-slack-sdk#1277, and
// java-slack-sdk#1307: "message sent after file upload comes earlier than the file
// appears in the channel"); tests of ordering should use 3 seconds.
func WithFileProcessingDelay(d time.Duration) Option {
	return func(c *config) { c.processingDelay = d }
}

// WithTriggerLifetime sets how long a trigger_id may be exchanged. Defaults to 3 seconds.
func WithTriggerLifetime(d time.Duration) Option { return func(c *config) { c.triggerLifetime = d } }

// WithResponseURLLifetime sets how long a response_url works. Defaults to 30 minutes.
func WithResponseURLLifetime(d time.Duration) Option {
	return func(c *config) { c.responseURLLifetime = d }
}

// WithStrictChannelRate makes chat.postMessage and files.completeUploadExternal answer 429
// (Retry-After, "ratelimited") when a post to a channel comes less than d after the previous
// accepted one. Slack's own limit is about one message per second per channel with short
// bursts allowed; this is stricter on purpose, to prove a client's own throttle. Off by default.
func WithStrictChannelRate(d time.Duration) Option {
	return func(c *config) { c.channelPostInterval = d }
}

// WithSlashCommandEscaping sets a slash command's should_escape, as the app's manifest
// does. With true, the default for every command (the project's manifest sets it), the
// command's text arrives escaped as Slack escapes it: links as <https://x> or
// <http://host|host>, members as <@U…|name>, channels as <#C…|name>, and &, <, > as
// &amp; &lt; &gt;. With false it arrives as typed.
func WithSlashCommandEscaping(command string, shouldEscape bool) Option {
	return func(c *config) {
		if c.rawSlashText == nil {
			c.rawSlashText = map[string]bool{}
		}
		c.rawSlashText[command] = !shouldEscape
	}
}

// WithBlocksTextLimit sets how many characters of text all the blocks of one message may
// carry before chat.postMessage, chat.postEphemeral and chat.update answer
// msg_blocks_too_long. Defaults to 12,000 (see maxBlocksText); a test lowers it to make an
// ordinary message too long.
func WithBlocksTextLimit(n int) Option { return func(c *config) { c.blocksTextLimit = n } }

// WithTeam sets the workspace's team ID and domain. Defaults to DefaultTeamID and DefaultTeamDomain.
func WithTeam(id, domain string) Option {
	return func(c *config) { c.teamID, c.teamDomain = id, domain }
}

// Server is the fake Slack. Create it with New.
type Server struct {
	t   testing.TB
	cfg config
	ts  *httptest.Server

	mu           sync.Mutex
	seq          int
	lastTS       time.Time
	tokens       map[string]*token
	channels     map[string]*channel
	users        map[string]*User
	userGroups   map[string][]string // user group ID -> member IDs
	messages     map[string][]*Message
	ephemerals   []Ephemeral
	files        map[string]*file
	fileOrder    []string
	views        map[string]*view
	viewCalls    []ViewCall
	joins        []string
	calls        map[string]int
	fails        map[string][]injection
	limits       map[string][]injection
	triggers     map[string]*trigger
	responseURLs map[string]*responseURL
	tickets      map[string]bool
	conns        []*socketConn
	changed      chan struct{} // closed and replaced when connections or pongs change
	pongs        int
	lastPost     map[string]time.Time
	connects     int
	rr           int
	pending      map[string]*Delivery
	acks         []Ack
	closed       bool
}

type token struct {
	value   string
	app     bool
	revoked bool
}

type injection struct {
	slackErr   Error
	retryAfter time.Duration
}

// Error is a Web API error answer to inject with FailNextError: {"ok":false,"error":Code}
// with, when set, the scope diagnostics missing_scope carries ("needed", "provided") and
// the response_metadata messages invalid_blocks carries.
type Error struct {
	Code     string
	Needed   string
	Provided string
	Messages []string
}

// New starts a fake Slack for the test and closes it when the test ends.
func New(t testing.TB, opts ...Option) *Server {
	t.Helper()
	cfg := config{
		pingInterval:        5 * time.Second,
		processingDelay:     time.Second,
		triggerLifetime:     3 * time.Second,
		responseURLUses:     5,
		responseURLLifetime: 30 * time.Minute,
		teamID:              DefaultTeamID,
		teamDomain:          DefaultTeamDomain,
		blocksTextLimit:     maxBlocksText,
	}
	for _, opt := range opts {
		opt(&cfg)
	}
	s := &Server{
		t:            t,
		cfg:          cfg,
		tokens:       map[string]*token{},
		channels:     map[string]*channel{},
		users:        map[string]*User{},
		userGroups:   map[string][]string{},
		messages:     map[string][]*Message{},
		files:        map[string]*file{},
		views:        map[string]*view{},
		calls:        map[string]int{},
		fails:        map[string][]injection{},
		limits:       map[string][]injection{},
		triggers:     map[string]*trigger{},
		responseURLs: map[string]*responseURL{},
		tickets:      map[string]bool{},
		changed:      make(chan struct{}),
		pending:      map[string]*Delivery{},
		lastPost:     map[string]time.Time{},
	}
	s.tokens[defaultBotToken] = &token{value: defaultBotToken}
	s.tokens[defaultAppToken] = &token{value: defaultAppToken, app: true}
	s.users[BotUserID] = &User{ID: BotUserID, Name: BotUserName, RealName: "Credential Grafana", IsBot: true}

	mux := http.NewServeMux()
	mux.HandleFunc("/api/", s.handleAPI)
	mux.HandleFunc("POST /upload/v1/{file}", s.handleUpload)
	mux.HandleFunc("GET /files-pri/{file}/{name}", s.handleDownload)
	mux.HandleFunc("POST /response/{id}", s.handleResponseURL)
	mux.HandleFunc("GET /link/", s.handleSocket)
	s.ts = httptest.NewServer(mux)
	t.Cleanup(s.close)
	return s
}

func (s *Server) close() {
	s.mu.Lock()
	s.closed = true
	conns := s.conns
	s.conns = nil
	s.mu.Unlock()
	for _, c := range conns {
		c.close()
	}
	s.ts.Close()
}

// URL is the server's base URL, without a trailing slash.
func (s *Server) URL() string { return s.ts.URL }

// APIURL is the Web API base for slack.OptionAPIURL, with its trailing slash.
func (s *Server) APIURL() string { return s.ts.URL + "/api/" }

// BotToken is the bot token (xoxb-…) the Web API accepts.
func (s *Server) BotToken() string { return defaultBotToken }

// AppToken is the app-level token (xapp-…) apps.connections.open accepts.
func (s *Server) AppToken() string { return defaultAppToken }

// TeamID is the workspace's ID.
func (s *Server) TeamID() string { return s.cfg.teamID }

// TeamDomain is the workspace's domain.
func (s *Server) TeamDomain() string { return s.cfg.teamDomain }

// AddBotToken makes another bot token valid, e.g. a user's own bot token.
func (s *Server) AddBotToken(value string) {
	if !strings.HasPrefix(value, "xoxb-") {
		s.t.Fatalf("slacktest: bot token %q must start with xoxb-", value)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[value] = &token{value: value}
}

// RevokeBotToken makes Web API calls with the default bot token answer token_revoked.
func (s *Server) RevokeBotToken() { s.RevokeToken(defaultBotToken) }

// RevokeAppToken makes apps.connections.open answer token_revoked and closes the open
// Socket Mode connections, as Slack does when an app token is revoked: a slack-go
// client's RunContext then returns the auth error.
func (s *Server) RevokeAppToken() { s.RevokeToken(defaultAppToken) }

// RevokeToken revokes any token the fake knows; app tokens also lose their connections.
func (s *Server) RevokeToken(value string) {
	s.mu.Lock()
	tok := s.tokens[value]
	if tok == nil {
		s.mu.Unlock()
		s.t.Fatalf("slacktest: unknown token")
		return
	}
	tok.revoked = true
	var conns []*socketConn
	if tok.app {
		conns = s.conns
		s.conns = nil
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.close()
	}
}

// RestoreToken makes a revoked token valid again.
func (s *Server) RestoreToken(value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if tok := s.tokens[value]; tok != nil {
		tok.revoked = false
	}
}

// FailNext makes the next n calls of the Web API method (e.g. "chat.postMessage") answer
// {"ok":false,"error":slackErr}.
//
// The documented permanent errors of the methods the product calls can be injected this
// way: not_in_channel, channel_not_found, is_archived, posting_to_channel_denied,
// restricted_action, file_uploads_disabled, file_type_not_allowed, ekm_access_denied,
// invalid_auth, token_revoked, msg_blocks_too_long, invalid_blocks (see each method's
// Errors table at https://api.slack.com/methods).
func (s *Server) FailNext(method string, n int, slackErr string) {
	s.FailNextError(method, n, Error{Code: slackErr})
}

// FailNextError is FailNext with a whole error answer, e.g.
// Error{Code: "missing_scope", Needed: "files:read", Provided: "chat:write,files:write"}.
func (s *Server) FailNextError(method string, n int, e Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.fails[method] = append(s.fails[method], injection{slackErr: e})
	}
}

// RateLimit makes the next n calls of the Web API method answer HTTP 429 with a
// Retry-After header (whole seconds, rounded up) and {"ok":false,"error":"ratelimited"}.
func (s *Server) RateLimit(method string, n int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.limits[method] = append(s.limits[method], injection{retryAfter: retryAfter})
	}
}

// Calls is how many times the Web API method was called, failed calls included.
func (s *Server) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[method]
}

// CallCounts is how many times each Web API method was called.
func (s *Server) CallCounts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.calls)
}

// --- users -----------------------------------------------------------------------------

// User is a workspace member as users.info shows it.
type User struct {
	ID       string
	Name     string
	RealName string
	Email    string
	IsAdmin  bool
	IsBot    bool
	Deleted  bool
	TZ       string
}

// AddUser adds a member to the workspace; users.info answers user_not_found for others.
func (s *Server) AddUser(u User) {
	if !regexp.MustCompile(`^[UW][A-Z0-9]{8,}$`).MatchString(u.ID) {
		s.t.Fatalf("slacktest: user ID %q does not look like a Slack user ID", u.ID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cp := u
	s.users[u.ID] = &cp
}

// AddUserGroup adds a user group (ID S…) with its members, for usergroups.users.list.
func (s *Server) AddUserGroup(id string, members ...string) {
	if !regexp.MustCompile(`^S[A-Z0-9]{8,}$`).MatchString(id) {
		s.t.Fatalf("slacktest: user group ID %q does not look like a Slack user group ID", id)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.userGroups[id] = append([]string(nil), members...)
}

func (s *Server) userName(id string) string {
	if u := s.users[id]; u != nil {
		return u.Name
	}
	return strings.ToLower(id)
}

// --- channels --------------------------------------------------------------------------

type channel struct {
	id        string
	name      string
	private   bool
	botMember bool
	members   map[string]bool
	created   time.Time
	topic     string
	archived  bool
}

// ChannelOption configures a channel added with AddChannel.
type ChannelOption func(*channel)

// Private makes the channel private: the bot cannot join it and, unless it is a member,
// it does not see it (channel_not_found).
func Private() ChannelOption { return func(c *channel) { c.private = true } }

// Archived makes the channel archived: posts, file shares and joins answer is_archived
// (chat.postMessage, files.completeUploadExternal and conversations.join document it);
// its history stays readable.
func Archived() ChannelOption { return func(c *channel) { c.archived = true } }

// BotMember makes the bot a member of the channel.
func BotMember() ChannelOption { return func(c *channel) { c.botMember = true } }

// Members sets the channel's human members; chat.postEphemeral to anyone else answers
// user_not_in_channel. Without it, every user counts as a member.
func Members(userIDs ...string) ChannelOption {
	return func(c *channel) {
		if c.members == nil {
			c.members = map[string]bool{}
		}
		for _, id := range userIDs {
			c.members[id] = true
		}
	}
}

// AddChannel adds a conversation. The ID must match ^[CGDZ][A-Z0-9]{8,}$. Direct messages
// (D…) always have the bot as a member.
func (s *Server) AddChannel(id, name string, opts ...ChannelOption) {
	s.t.Helper()
	if !channelIDPattern.MatchString(id) {
		s.t.Fatalf("slacktest: channel ID %q does not match %s", id, channelIDPattern)
	}
	c := &channel{id: id, name: name, created: time.Now()}
	for _, opt := range opts {
		opt(c)
	}
	if strings.HasPrefix(id, "D") {
		c.private, c.botMember = true, true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.channels[id] = c
}

// IsBotMember reports whether the bot is a member of the channel now.
func (s *Server) IsBotMember(channelID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.channels[channelID]
	return c != nil && c.botMember
}

// Joins lists the channels the bot joined with conversations.join, in order.
func (s *Server) Joins() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.joins...)
}

// --- HTTP plumbing -----------------------------------------------------------------------

// slackError is a Web API error answer; with retryAfter set it is a 429.
type slackError struct {
	code             string
	messages         []string
	needed, provided string // missing_scope's diagnostics
	retryAfter       time.Duration
}

func (e *slackError) Error() string { return e.code }

func errCode(code string, messages ...string) *slackError {
	return &slackError{code: code, messages: messages}
}

// params reads a Web API call's arguments from a form or a JSON body, as slack-go sends them.
type params struct {
	form url.Values
	js   map[string]json.RawMessage
}

func (p params) str(key string) string {
	if raw, ok := p.js[key]; ok {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
		if string(raw) == "null" {
			return ""
		}
		return string(raw)
	}
	return p.form.Get(key)
}

// raw is the argument as JSON text: a JSON body's value, or the form value (which slack-go
// fills with JSON for blocks, views and the like).
func (p params) raw(key string) json.RawMessage {
	if raw, ok := p.js[key]; ok {
		var s string
		if len(raw) > 0 && raw[0] == '"' && json.Unmarshal(raw, &s) == nil {
			return json.RawMessage(s)
		}
		if string(raw) == "null" {
			return nil
		}
		return raw
	}
	if v := p.form.Get(key); v != "" {
		return json.RawMessage(v)
	}
	return nil
}

func (p params) has(key string) bool {
	if _, ok := p.js[key]; ok {
		return true
	}
	_, ok := p.form[key]
	return ok
}

func (p params) boolean(key string) bool {
	switch strings.ToLower(p.str(key)) {
	case "1", "true":
		return true
	}
	return false
}

func readParams(r *http.Request) (params, error) {
	p := params{form: url.Values{}}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "application/json" {
		p.form = r.URL.Query()
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return p, err
		}
		if len(strings.TrimSpace(string(body))) > 0 && strings.TrimSpace(string(body)) != "null" {
			if err := json.Unmarshal(body, &p.js); err != nil {
				return p, err
			}
		}
		return p, nil
	}
	if err := r.ParseForm(); err != nil {
		return p, err
	}
	p.form = r.Form
	return p, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeSlackError(w http.ResponseWriter, e *slackError) {
	if e.retryAfter > 0 {
		writeRateLimited(w, e.retryAfter)
		return
	}
	body := map[string]any{"ok": false, "error": e.code}
	if e.needed != "" {
		body["needed"] = e.needed
	}
	if e.provided != "" {
		body["provided"] = e.provided
	}
	if len(e.messages) > 0 {
		body["response_metadata"] = map[string]any{"messages": e.messages}
	}
	writeJSON(w, http.StatusOK, body)
}

// tokenKind says which tokens a Web API method takes.
type tokenKind int

const (
	botTokenOnly tokenKind = iota
	appTokenOnly
	anyToken
)

// apiCall is one Web API call as a handler sees it. Handlers run with s.mu held.
type apiCall struct {
	p     params
	token string
	now   time.Time
}

type apiMethod struct {
	tokens tokenKind
	fn     func(s *Server, c *apiCall) (map[string]any, *slackError)
}

var apiMethods = map[string]apiMethod{
	"auth.test":                      {anyToken, (*Server).authTest},
	"chat.postMessage":               {botTokenOnly, (*Server).chatPostMessage},
	"chat.postEphemeral":             {botTokenOnly, (*Server).chatPostEphemeral},
	"chat.update":                    {botTokenOnly, (*Server).chatUpdate},
	"conversations.join":             {botTokenOnly, (*Server).conversationsJoin},
	"conversations.info":             {botTokenOnly, (*Server).conversationsInfo},
	"conversations.history":          {botTokenOnly, (*Server).conversationsHistory},
	"files.getUploadURLExternal":     {botTokenOnly, (*Server).filesGetUploadURLExternal},
	"files.completeUploadExternal":   {botTokenOnly, (*Server).filesCompleteUploadExternal},
	"files.info":                     {botTokenOnly, (*Server).filesInfo},
	"files.list":                     {botTokenOnly, (*Server).filesList},
	"views.open":                     {botTokenOnly, (*Server).viewsOpen},
	"views.push":                     {botTokenOnly, (*Server).viewsPush},
	"views.update":                   {botTokenOnly, (*Server).viewsUpdate},
	"views.publish":                  {botTokenOnly, (*Server).viewsPublish},
	"users.info":                     {botTokenOnly, (*Server).usersInfo},
	"usergroups.users.list":          {botTokenOnly, (*Server).usergroupsUsersList},
	"apps.connections.open":          {appTokenOnly, (*Server).appsConnectionsOpen},
	"apps.event.authorizations.list": {appTokenOnly, (*Server).appsEventAuthorizationsList},
}

func (s *Server) handleAPI(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/api/")
	p, perr := readParams(r)

	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[name]++
	if q := s.limits[name]; len(q) > 0 {
		s.limits[name] = q[1:]
		writeRateLimited(w, q[0].retryAfter)
		return
	}
	if q := s.fails[name]; len(q) > 0 {
		s.fails[name] = q[1:]
		e := q[0].slackErr
		writeSlackError(w, &slackError{code: e.Code, messages: e.Messages, needed: e.Needed, provided: e.Provided})
		return
	}
	m, ok := apiMethods[name]
	if !ok {
		writeSlackError(w, errCode("unknown_method"))
		return
	}
	if perr != nil {
		writeSlackError(w, errCode("invalid_json"))
		return
	}
	tok := bearer(r)
	if tok == "" {
		tok = p.str("token")
	}
	if e := s.checkToken(tok, m.tokens); e != nil {
		writeSlackError(w, e)
		return
	}
	if s.checkScope(w, name, tok, p) {
		return
	}
	body, e := m.fn(s, &apiCall{p: p, token: tok, now: time.Now()})
	if e != nil {
		writeSlackError(w, e)
		return
	}
	if body == nil {
		body = map[string]any{}
	}
	body["ok"] = true
	writeJSON(w, http.StatusOK, body)
}

// writeRateLimited answers as Slack does when a method is rate limited.
func writeRateLimited(w http.ResponseWriter, retryAfter time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(retryAfter.Seconds()))))
	writeJSON(w, http.StatusTooManyRequests, map[string]any{"ok": false, "error": "ratelimited"})
}

// checkChannelRate applies WithStrictChannelRate to a post in the channel.
func (s *Server) checkChannelRate(channelID string, now time.Time) *slackError {
	if s.cfg.channelPostInterval <= 0 {
		return nil
	}
	if last, ok := s.lastPost[channelID]; ok {
		if wait := s.cfg.channelPostInterval - now.Sub(last); wait > 0 {
			return &slackError{code: "ratelimited", retryAfter: wait}
		}
	}
	return nil
}

func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if v, ok := strings.CutPrefix(h, "Bearer "); ok {
		return strings.TrimSpace(v)
	}
	return ""
}

func (s *Server) checkToken(value string, kind tokenKind) *slackError {
	if value == "" {
		return errCode("not_authed")
	}
	tok := s.tokens[value]
	if tok == nil {
		return errCode("invalid_auth")
	}
	if tok.revoked {
		return errCode("token_revoked")
	}
	switch {
	case kind == appTokenOnly && !tok.app, kind == botTokenOnly && tok.app:
		return errCode("not_allowed_token_type")
	}
	return nil
}

// nextID makes a Slack-looking ID with the prefix.
func (s *Server) nextID(prefix string) string {
	s.seq++
	return fmt.Sprintf("%s%09d", prefix, s.seq)
}

// nextTS makes a strictly increasing message timestamp.
func (s *Server) nextTS(now time.Time) string {
	if !now.After(s.lastTS) {
		now = s.lastTS.Add(time.Microsecond)
	}
	s.lastTS = now
	return fmt.Sprintf("%d.%06d", now.Unix(), now.Nanosecond()/1000)
}

// tsMicros turns a Slack timestamp ("1700000000.123456") into microseconds.
func tsMicros(ts string) (int64, bool) {
	secs, frac, _ := strings.Cut(ts, ".")
	sec, err := strconv.ParseInt(secs, 10, 64)
	if err != nil {
		return 0, false
	}
	frac = (frac + "000000")[:6]
	micro, err := strconv.ParseInt(frac, 10, 64)
	if err != nil {
		return 0, false
	}
	return sec*1e6 + micro, true
}

func (s *Server) authTest(c *apiCall) (map[string]any, *slackError) {
	body := map[string]any{
		"url":                   "https://" + s.cfg.teamDomain + ".slack.com/",
		"team":                  DefaultTeamName,
		"team_id":               s.cfg.teamID,
		"is_enterprise_install": false,
	}
	if !s.tokens[c.token].app {
		body["user"] = BotUserName
		body["user_id"] = BotUserID
		body["bot_id"] = BotID
	} else {
		body["app_id"] = AppID
	}
	return body, nil
}

func (s *Server) usersInfo(c *apiCall) (map[string]any, *slackError) {
	u := s.users[c.p.str("user")]
	if u == nil {
		return nil, errCode("user_not_found")
	}
	tz := u.TZ
	if tz == "" {
		tz = "Europe/Amsterdam"
	}
	return map[string]any{"user": map[string]any{
		"id": u.ID, "team_id": s.cfg.teamID, "name": u.Name, "real_name": u.RealName,
		"deleted": u.Deleted, "is_admin": u.IsAdmin, "is_owner": false, "is_bot": u.IsBot,
		"is_app_user": false, "tz": tz,
		"profile": map[string]any{
			"real_name": u.RealName, "display_name": u.Name, "email": u.Email, "team": s.cfg.teamID,
		},
	}}, nil
}

// usergroupsUsersList answers as Slack does: the members' IDs, or no_such_subteam.
func (s *Server) usergroupsUsersList(c *apiCall) (map[string]any, *slackError) {
	members, ok := s.userGroups[c.p.str("usergroup")]
	if !ok {
		return nil, errCode("no_such_subteam")
	}
	return map[string]any{"users": append([]string{}, members...)}, nil
}

func (s *Server) appsEventAuthorizationsList(*apiCall) (map[string]any, *slackError) {
	return map[string]any{"authorizations": []map[string]any{{
		"enterprise_id": nil, "team_id": s.cfg.teamID, "user_id": BotUserID,
		"is_bot": true, "is_enterprise_install": false,
	}}}, nil
}
