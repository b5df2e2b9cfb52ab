package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"

	"credential-grafana/cg"
	"credential-grafana/db"
	"credential-grafana/grafana"
)

// ErrScanRunning means a scan was not started because one is under way, in this
// process or in another replica.
var ErrScanRunning = errors.New("a scan is already running")

// Enqueue is called, inside the transaction that records a new compatible table, to
// enqueue its first pipeline job; the record and the job commit together.
type Enqueue func(ctx context.Context, tx pgx.Tx, d cg.Dashboard) error

// ScannerConfig configures the scanner.
type ScannerConfig struct {
	DB     *db.DB
	Cipher *db.Cipher
	// Concurrency bounds the users scanned at once. Defaults to 4; never more than MaxConns.
	Concurrency int
	// MaxConns bounds the connections open to user databases across all users, kept
	// between scans. Defaults to 32.
	MaxConns int
	// QueryTimeout bounds each user database's connect and query. Defaults to 10 seconds.
	QueryTimeout time.Duration
	// Enqueue receives each new compatible table. Nil records tables without enqueueing.
	Enqueue Enqueue
	// FullEvery is how often a scan lists the tables of every database, changed or not,
	// as the safety net under the activity counters. Defaults to an hour.
	FullEvery time.Duration
	// Metrics, if set, counts the tables found.
	Metrics *Metrics
	// AllowedDBHosts are the only hosts a user's db_host may make the scanner connect to
	// (USER_DB_ALLOWED_HOSTS). Defaults to the master database's host.
	AllowedDBHosts []string
	Logger         zerolog.Logger
	// Now tells the time, for FullEvery. Defaults to time.Now; tests move it.
	Now func() time.Time
}

// Scanner finds new run tables in users' databases.
type Scanner struct {
	cfg     ScannerConfig
	conns   *connCache
	running sync.Mutex
	log     zerolog.Logger

	mu       sync.Mutex
	seen     map[databaseKey]seenDatabase // the counters of each database when it was last listed
	lastFull time.Time                    // when the last full sweep started; zero before the first
}

// databaseKey names a database across servers.
type databaseKey struct {
	host     string
	port     uint16
	database string
}

// seenDatabase is what a database's counters were when its tables were last listed.
type seenDatabase struct {
	activity db.DatabaseActivity
	// recheck: the counters had moved, so the next scan lists the tables once more. A
	// write is counted only after it commits, so what the counters show is already
	// visible; the second look is a margin against a write whose statistics reach the
	// server in several flushes, and costs one query per changed database.
	recheck bool
}

// NewScanner returns a scanner.
func NewScanner(cfg ScannerConfig) *Scanner {
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = 32
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 4
	}
	cfg.Concurrency = min(cfg.Concurrency, cfg.MaxConns)
	if cfg.QueryTimeout <= 0 {
		cfg.QueryTimeout = 10 * time.Second
	}
	if len(cfg.AllowedDBHosts) == 0 {
		cfg.AllowedDBHosts = []string{cfg.DB.Host()}
	}
	if cfg.FullEvery <= 0 {
		cfg.FullEvery = time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Scanner{cfg: cfg, conns: newConnCache(cfg.MaxConns, cfg.Logger), log: cfg.Logger, seen: map[databaseKey]seenDatabase{}}
}

// ScanOptions narrow a scan.
type ScanOptions struct {
	// User scans only this user (by name), every one of its databases; empty scans every
	// active user.
	User string
	// Full lists the tables of every database even if its counters did not move.
	Full bool
}

// UserFailure is a user database that could not be scanned.
type UserFailure struct {
	User  string  `json:"user"`
	Kind  cg.Kind `json:"kind"`
	Error string  `json:"error"`
}

// ScanResult says what a scan found.
type ScanResult struct {
	StartedAt    time.Time      `json:"started_at"`
	Duration     time.Duration  `json:"duration"`
	Users        int            `json:"users"`
	Databases    int            `json:"databases"`
	Tables       int            `json:"tables"`
	New          []cg.Dashboard `json:"new"`
	Incompatible []cg.Dashboard `json:"incompatible"`
	Failures     []UserFailure  `json:"failures"`
	// Queries counts queries sent to user databases; Connects the connections opened.
	Queries  int64 `json:"queries"`
	Connects int64 `json:"connects"`
	// Full is true for a full sweep: every database listed, changed or not.
	Full bool `json:"full"`
	// Unchanged counts the databases not listed because their counters did not move;
	// Servers the pg_stat_database queries (one per distinct server).
	Unchanged int `json:"unchanged"`
	Servers   int `json:"servers"`
}

// ConnStats reports the scan connections: open now, the most ever open, connects and reuses.
func (s *Scanner) ConnStats() (open, peak int, connects, reused int64) {
	st := s.conns.stats()
	return st.Open, st.Peak, st.Connects, st.Reused
}

// Close closes the cached connections.
func (s *Scanner) Close() { s.conns.closeIdle(0) }

// ScanOnce scans every active, provisioned user (or one) once. Returns ErrScanRunning
// if a scan is under way here or in another replica. A user whose database cannot be
// reached is logged and listed in Failures; the others go on.
func (s *Scanner) ScanOnce(ctx context.Context, opt ScanOptions) (*ScanResult, error) {
	if !s.running.TryLock() {
		return nil, ErrScanRunning
	}
	defer s.running.Unlock()
	lockConn, unlock, locked, err := s.cfg.DB.TryLockScan(ctx)
	if err != nil {
		return nil, err
	}
	if !locked {
		return nil, ErrScanRunning
	}
	defer unlock()

	s.conns.closeIdle(15 * time.Minute)
	res := &ScanResult{StartedAt: time.Now()}
	before := s.conns.stats()
	users, err := s.users(ctx, lockConn, opt)
	if err != nil {
		return nil, err
	}
	res.Users = len(users)
	now := s.cfg.Now()
	s.mu.Lock()
	res.Full = opt.Full || opt.User != "" || s.lastFull.IsZero() || now.Sub(s.lastFull) >= s.cfg.FullEvery
	s.mu.Unlock()
	plans, failures := s.plan(ctx, lockConn, users, res, opt.User == "")
	res.Failures = append(res.Failures, failures...)
	if res.Full && opt.User == "" {
		s.mu.Lock()
		s.lastFull = now
		s.mu.Unlock()
	}
	var mu sync.Mutex
	var queries atomic.Int64
	work := make(chan userPlan)
	var wg sync.WaitGroup
	for range s.cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range work {
				ur := s.scanUser(ctx, p, &queries)
				mu.Lock()
				res.Databases += ur.databases
				res.Tables += ur.tables
				res.New = append(res.New, ur.new...)
				res.Incompatible = append(res.Incompatible, ur.incompatible...)
				res.Failures = append(res.Failures, ur.failures...)
				mu.Unlock()
			}
		}()
	}
	for _, p := range plans {
		select {
		case work <- p:
		case <-ctx.Done():
		}
	}
	close(work)
	wg.Wait()
	after := s.conns.stats()
	res.Duration = time.Since(res.StartedAt)
	res.Queries = queries.Load()
	res.Connects = after.Connects - before.Connects
	detail, err := json.Marshal(res)
	if err == nil {
		err = s.cfg.DB.RecordScan(ctx, lockConn, db.ScanRun{StartedAt: res.StartedAt, FinishedAt: time.Now(), Users: res.Users,
			TablesNew: len(res.New) + len(res.Incompatible), Failures: len(res.Failures), Detail: detail})
	}
	if err != nil {
		s.log.Warn().Err(err).Msg("record scan run")
	}
	ev := s.log.Info()
	if len(res.New) == 0 && len(res.Incompatible) == 0 && len(res.Failures) == 0 {
		ev = s.log.Debug()
	}
	ev.Int("users", res.Users).Bool("full", res.Full).Int("databases", res.Databases).Int("unchanged", res.Unchanged).Int("tables", res.Tables).Int("new", len(res.New)).Int("incompatible", len(res.Incompatible)).
		Int("failures", len(res.Failures)).Dur("duration", res.Duration).Msg("scan finished")
	return res, ctx.Err()
}

func (s *Scanner) users(ctx context.Context, master db.Querier, opt ScanOptions) ([]cg.User, error) {
	if opt.User != "" {
		u, err := s.cfg.DB.Users().ByName(ctx, opt.User)
		if err != nil {
			return nil, err
		}
		if u.Status != cg.UserActive {
			return nil, cg.Errorf(cg.ECONFLICT, "user %q is %s: only active users are scanned", u.Name, u.Status)
		}
		return []cg.User{u}, nil
	}
	all, err := s.cfg.DB.Users().ListOn(ctx, master)
	if err != nil {
		return nil, err
	}
	var active []cg.User
	for _, u := range all {
		if u.Status == cg.UserActive {
			active = append(active, u)
		}
	}
	return active, nil
}

type userScan struct {
	databases, tables int
	new, incompatible []cg.Dashboard
	failures          []UserFailure
}

// UserDatabase says how to reach one of a user's databases, from its credentials.
// Returns a cg.EFORBIDDEN error when db_host is not one of allowedHosts: a value stored
// before the allow-list, or written around the commands, is refused here, before any
// connection. The config names that host only (no fallback to another).
func UserDatabase(creds map[string]string, kind cg.Kind, allowedHosts []string) (*pgx.ConnConfig, error) {
	a, err := userDatabaseAt(creds, kind, allowedHosts)
	if err != nil {
		return nil, err
	}
	return a.config()
}

// databaseCredentials are the credentials userDatabaseAt reads.
var databaseCredentials = append([]string{"db_host", "db_port", "db_viewer_user", "db_viewer_pass", "db_user", "db_pass"},
	cg.KindTiming.DatabaseCredentialKey(), cg.KindQOR.DatabaseCredentialKey(), cg.KindDRC.DatabaseCredentialKey())

// databaseAt is one of a user's databases, checked against the allow-list, and the
// role that reads it: what the scan needs to ask the server's counters about it,
// without the cost of a connection config (pgx.ParseConfig reads the environment and
// looks for password and service files, about 25 µs and 40 allocations each — most
// of an idle scan of a thousand users before the scan built configs only for the
// databases it lists).
type databaseAt struct {
	key        databaseKey
	user, pass string
}

func userDatabaseAt(creds map[string]string, kind cg.Kind, allowedHosts []string) (databaseAt, error) {
	host, database := creds["db_host"], creds[kind.DatabaseCredentialKey()]
	user, pass := creds["db_viewer_user"], creds["db_viewer_pass"]
	if user == "" { // a user who brought their own server may have only the owner role
		user, pass = creds["db_user"], creds["db_pass"]
	}
	if host == "" || database == "" || user == "" {
		return databaseAt{}, cg.Errorf(cg.EINVALID, "credentials db_host, %s and db_viewer_user (or db_user) are needed to reach the %s database", kind.DatabaseCredentialKey(), kind)
	}
	if err := (cg.AllowList{DBHosts: allowedHosts}).CheckDBHost(host); err != nil {
		return databaseAt{}, err
	}
	port := 5432
	if p, err := strconv.Atoi(creds["db_port"]); err == nil && p > 0 && p < 65536 {
		port = p
	}
	return databaseAt{key: databaseKey{host, uint16(port), database}, user: user, pass: pass}, nil
}

// config makes the connection config of a. It is parsed with a's own host, so that
// TLS is configured for that host: parsed for the default host (PGHOST, or a local
// socket where the machine runs PostgreSQL too) and pointed at a's afterwards, a
// remote database would be reached without TLS whenever a socket was the default,
// and a TLS attempt would name another server. TLS is preferred for a host elsewhere
// (sslmode=prefer: tried first, plain text if the server has none) and only allowed
// on the loopback (sslmode=allow: plain first, TLS if the server insists), where it
// protects nothing and halves how many connections a second the server can start (on
// a 2-core machine 408 a second plain and 183 with TLS, measured with pgbench -C) —
// the full sweep's connect rate.
func (a databaseAt) config() (*pgx.ConnConfig, error) {
	host, port := a.key.host, a.key.port
	mode := "prefer"
	if isLoopback(host) {
		mode = "allow"
	}
	cfg, err := pgx.ParseConfig(fmt.Sprintf("host=%s port=%d sslmode=%s", quoteConnValue(host), port, mode))
	if err != nil {
		return nil, fmt.Errorf("db_host %q: %w", host, err)
	}
	cfg.Database, cfg.User, cfg.Password = a.key.database, a.user, a.pass
	cfg.ConnectTimeout = 10 * time.Second
	cfg.RuntimeParams["application_name"] = "credential-grafana scan" // the scanner names it after db.Config.ApplicationName
	return cfg, nil
}

// isLoopback reports whether host is this machine: localhost or a loopback address.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// quoteConnValue quotes v for a keyword/value connection string (libpq's rules:
// single quotes, with \ and \' inside), so that a host is one value whatever it holds.
func quoteConnValue(v string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

// userPlan is one user's databases that this scan lists.
type userPlan struct {
	user    cg.User
	targets []target
}

// target is one database to list, with the counters read for it before (nil when they
// could not be read) and whether they moved since it was last listed. cfg is made
// only for the databases the scan lists (see databaseAt).
type target struct {
	databaseAt
	kind     cg.Kind
	cfg      *pgx.ConnConfig
	activity *db.DatabaseActivity
	moved    bool
}

// config makes t's connection config, named after the scan.
func (s *Scanner) config(t *target) error {
	if t.cfg != nil {
		return nil
	}
	cfg, err := t.config()
	if err != nil {
		return err
	}
	cfg.RuntimeParams["application_name"] = s.cfg.DB.AppName("scan")
	t.cfg = cfg
	return nil
}

// plan reads the users' credentials, asks each server once which of their databases
// were written since they were last listed, and returns the databases to list: those,
// the ones whose counters cannot be read, and all of them on a full sweep. The counters
// are read before the tables, so a write they do not show yet moves them later and is
// found by a later scan.
func (s *Scanner) plan(ctx context.Context, master db.Querier, users []cg.User, res *ScanResult, everyone bool) ([]userPlan, []UserFailure) {
	var failures []UserFailure
	ids := make([]int64, len(users))
	for i, u := range users {
		ids[i] = u.ID
	}
	creds, err := s.cfg.DB.Credentials(s.cfg.Cipher).MapMany(ctx, master, ids, databaseCredentials)
	if err != nil {
		for _, u := range users {
			failures = append(failures, UserFailure{User: u.Name, Error: err.Error()})
		}
		s.log.Warn().Err(err).Msg("scan: read credentials")
		return nil, failures
	}
	plans := make([]userPlan, len(users))
	type server struct {
		host string
		port uint16
	}
	byServer := map[server][]*target{}
	var servers []server
	for i, u := range users {
		plans[i].user = u
		for _, kind := range cg.Kinds {
			at, err := userDatabaseAt(creds[u.ID], kind, s.cfg.AllowedDBHosts)
			if err != nil {
				failures = append(failures, UserFailure{User: u.Name, Kind: kind, Error: err.Error()})
				s.log.Warn().Err(err).Str("user", u.Name).Str("kind", string(kind)).Msg("scan: user database skipped")
				continue
			}
			plans[i].targets = append(plans[i].targets, target{databaseAt: at, kind: kind})
		}
	}
	for i := range plans {
		for j := range plans[i].targets {
			t := &plans[i].targets[j]
			sv := server{t.key.host, t.key.port}
			if byServer[sv] == nil {
				servers = append(servers, sv)
			}
			byServer[sv] = append(byServer[sv], t)
		}
	}
	for _, sv := range servers {
		targets := byServer[sv]
		names := make([]string, len(targets))
		for i, t := range targets {
			names[i] = t.key.database
		}
		res.Servers++
		activity, err := s.readActivity(ctx, master, targets[0], names)
		if err != nil {
			s.log.Warn().Err(err).Str("host", sv.host).Int("port", int(sv.port)).Msg("scan: activity counters unreadable; listing every database of that server")
			continue
		}
		for _, t := range targets {
			if a, ok := activity[t.key.database]; ok {
				t.activity = &a
			}
		}
	}
	s.mu.Lock()
	if res.Full && everyone { // forget the databases of users gone or disabled
		current := map[databaseKey]bool{}
		for _, p := range plans {
			for _, t := range p.targets {
				current[t.key] = true
			}
		}
		for k := range s.seen {
			if !current[k] {
				delete(s.seen, k)
			}
		}
	}
	for i := range plans {
		kept := plans[i].targets[:0]
		for _, t := range plans[i].targets {
			prev, known := s.seen[t.key]
			t.moved = t.activity == nil || !known || prev.activity != *t.activity
			if res.Full || t.moved || prev.recheck {
				kept = append(kept, t)
			} else {
				res.Unchanged++
			}
		}
		plans[i].targets = kept
	}
	s.mu.Unlock()
	out := plans[:0]
	for _, p := range plans {
		kept := p.targets[:0]
		for _, t := range p.targets {
			if err := s.config(&t); err != nil {
				failures = append(failures, UserFailure{User: p.user.Name, Kind: t.kind, Error: err.Error()})
				continue
			}
			kept = append(kept, t)
		}
		if p.targets = kept; len(p.targets) > 0 {
			out = append(out, p)
		}
	}
	return out, failures
}

// readActivity reads the counters of the named databases of one server: through the
// master connection when the server is the master's, else through a connection to one
// of the databases (any of them sees the whole server).
func (s *Scanner) readActivity(ctx context.Context, master db.Querier, t *target, names []string) (map[string]db.DatabaseActivity, error) {
	qctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	if t.key.host == s.cfg.DB.Host() && t.key.port == s.cfg.DB.Port() {
		return db.ReadDatabaseActivity(qctx, master, names)
	}
	if err := s.config(t); err != nil {
		return nil, err
	}
	conn, err := s.conns.get(qctx, t.cfg)
	if err != nil {
		return nil, err
	}
	activity, err := db.ReadDatabaseActivity(qctx, conn, names)
	s.conns.put(conn, err == nil || errors.Is(err, db.ErrNoCounters))
	return activity, err
}

// listed records that a database's tables were listed while its counters read as in
// t; one whose counters moved since a previous listing is listed again next time.
func (s *Scanner) listed(t target) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t.activity == nil {
		delete(s.seen, t.key)
		return
	}
	_, known := s.seen[t.key]
	s.seen[t.key] = seenDatabase{activity: *t.activity, recheck: known && t.moved}
}

func (s *Scanner) scanUser(ctx context.Context, p userPlan, queries *atomic.Int64) userScan {
	var out userScan
	u := p.user
	fail := func(kind cg.Kind, err error) {
		out.failures = append(out.failures, UserFailure{User: u.Name, Kind: kind, Error: err.Error()})
		s.log.Warn().Err(err).Str("user", u.Name).Str("kind", string(kind)).Msg("scan: user database skipped")
	}
	known, err := s.cfg.DB.Dashboards().Known(ctx, u.ID)
	if err != nil {
		fail("", err)
		return out
	}
	for _, tg := range p.targets {
		kind, cfg := tg.kind, tg.cfg
		tables, err := s.discover(ctx, cfg, known[kind], queries)
		if err != nil {
			fail(kind, fmt.Errorf("%s database %s on %s:%d: %w", kind, cfg.Database, cfg.Host, cfg.Port, err))
			continue
		}
		out.databases++
		out.tables += len(tables)
		recorded := true
		for _, t := range tables {
			if t.Columns == nil {
				continue // known
			}
			d, inserted, err := s.record(ctx, u, kind, t)
			if err != nil {
				fail(kind, err)
				recorded = false
				continue
			}
			if !inserted {
				continue
			}
			s.cfg.Metrics.tableFound(kind, d.State != cg.DashboardIncompatible)
			if d.State == cg.DashboardIncompatible {
				out.incompatible = append(out.incompatible, d)
				s.log.Info().Str("user", u.Name).Str("kind", string(kind)).Str("table", t.Name).Str("reason", d.Reason).Msg("incompatible run table recorded")
			} else {
				out.new = append(out.new, d)
				s.log.Info().Str("user", u.Name).Str("kind", string(kind)).Str("table", t.Name).Msg("new run table")
			}
		}
		if recorded {
			s.listed(tg)
		}
	}
	return out
}

// discover runs the one query of a database, retrying once on a fresh connection if a
// cached one turned out broken.
func (s *Scanner) discover(ctx context.Context, cfg *pgx.ConnConfig, known []string, queries *atomic.Int64) ([]db.Table, error) {
	for attempt := 0; ; attempt++ {
		qctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
		conn, err := s.conns.get(qctx, cfg)
		if err != nil {
			cancel()
			return nil, err
		}
		tables, sent, err := db.DiscoverTables(qctx, conn, known)
		queries.Add(int64(sent))
		cancel()
		s.conns.put(conn, err == nil)
		if err == nil || attempt == 1 || ctx.Err() != nil {
			return tables, err
		}
	}
}

func (s *Scanner) record(ctx context.Context, u cg.User, kind cg.Kind, t db.Table) (cg.Dashboard, bool, error) {
	cols := make([]grafana.Column, len(t.Columns))
	for i, c := range t.Columns {
		cols[i] = grafana.Column{Name: c.Name, DataType: c.Type}
	}
	d := cg.Dashboard{UserID: u.ID, Kind: kind, TableName: t.Name, UID: grafana.DashboardUID(u.Name, kind, t.Name), State: cg.DashboardPending}
	if compat := grafana.CheckColumns(kind, cols); !compat.OK {
		d.State = cg.DashboardIncompatible
		d.Reason = fmt.Sprintf("table %s %s", t.Name, compat.Message)
	}
	var out cg.Dashboard
	var inserted bool
	err := pgx.BeginFunc(ctx, s.cfg.DB.Pool, func(tx pgx.Tx) error {
		var err error
		out, inserted, err = s.cfg.DB.Dashboards().Record(ctx, tx, d)
		if err != nil || !inserted || out.State != cg.DashboardPending || s.cfg.Enqueue == nil {
			return err
		}
		return s.cfg.Enqueue(ctx, tx, out)
	})
	return out, inserted, err
}
