package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"

	"credential-grafana/cg"
	"credential-grafana/db"
	"credential-grafana/grafana"
)

// scanLock is the advisory lock key that lets one replica scan at a time.
const scanLock = 0x63675f7363616e // "cg_scan"

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
	// Metrics, if set, counts the tables found.
	Metrics *Metrics
	// AllowedDBHosts are the only hosts a user's db_host may make the scanner connect to
	// (USER_DB_ALLOWED_HOSTS). Defaults to the master database's host.
	AllowedDBHosts []string
	Logger         zerolog.Logger
}

// Scanner finds new run tables in users' databases.
type Scanner struct {
	cfg     ScannerConfig
	conns   *connCache
	running sync.Mutex
	log     zerolog.Logger
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
	return &Scanner{cfg: cfg, conns: newConnCache(cfg.MaxConns), log: cfg.Logger}
}

// ScanOptions narrow a scan.
type ScanOptions struct {
	// User scans only this user (by name); empty scans every active user.
	User string
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
	lockConn, err := s.cfg.DB.Pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("scan: acquire master connection: %w", err)
	}
	defer lockConn.Release()
	var locked bool
	if err := lockConn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", scanLock).Scan(&locked); err != nil {
		return nil, fmt.Errorf("scan: take lock: %w", err)
	}
	if !locked {
		return nil, ErrScanRunning
	}
	defer func() { _, _ = lockConn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", scanLock) }()

	s.conns.closeIdle(15 * time.Minute)
	res := &ScanResult{StartedAt: time.Now()}
	before := s.conns.stats()
	users, err := s.users(ctx, opt)
	if err != nil {
		return nil, err
	}
	res.Users = len(users)
	var mu sync.Mutex
	var queries atomic.Int64
	work := make(chan cg.User)
	var wg sync.WaitGroup
	for range s.cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for u := range work {
				ur := s.scanUser(ctx, u, &queries)
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
	for _, u := range users {
		select {
		case work <- u:
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
		err = s.cfg.DB.RecordScan(ctx, db.ScanRun{StartedAt: res.StartedAt, FinishedAt: time.Now(), Users: res.Users,
			TablesNew: len(res.New) + len(res.Incompatible), Failures: len(res.Failures), Detail: detail})
	}
	if err != nil {
		s.log.Warn().Err(err).Msg("record scan run")
	}
	ev := s.log.Info()
	if len(res.New) == 0 && len(res.Incompatible) == 0 && len(res.Failures) == 0 {
		ev = s.log.Debug()
	}
	ev.Int("users", res.Users).Int("tables", res.Tables).Int("new", len(res.New)).Int("incompatible", len(res.Incompatible)).
		Int("failures", len(res.Failures)).Dur("duration", res.Duration).Msg("scan finished")
	return res, ctx.Err()
}

func (s *Scanner) users(ctx context.Context, opt ScanOptions) ([]cg.User, error) {
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
	all, err := s.cfg.DB.Users().List(ctx)
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
	host, database := creds["db_host"], creds[kind.DatabaseCredentialKey()]
	user, pass := creds["db_viewer_user"], creds["db_viewer_pass"]
	if user == "" { // a user who brought their own server may have only the owner role
		user, pass = creds["db_user"], creds["db_pass"]
	}
	if host == "" || database == "" || user == "" {
		return nil, cg.Errorf(cg.EINVALID, "credentials db_host, %s and db_viewer_user (or db_user) are needed to reach the %s database", kind.DatabaseCredentialKey(), kind)
	}
	if err := (cg.AllowList{DBHosts: allowedHosts}).CheckDBHost(host); err != nil {
		return nil, err
	}
	port := 5432
	if p, err := strconv.Atoi(creds["db_port"]); err == nil && p > 0 && p < 65536 {
		port = p
	}
	cfg, err := pgx.ParseConfig("sslmode=prefer")
	if err != nil {
		return nil, err
	}
	cfg.Host, cfg.Port, cfg.Database, cfg.User, cfg.Password = host, uint16(port), database, user, pass
	// sslmode=prefer's plain-text fallback was parsed with the default host (PGHOST,
	// localhost or a socket): point it at the same host, or a failed TLS attempt would
	// connect somewhere nobody named.
	for _, fb := range cfg.Fallbacks {
		fb.Host, fb.Port = host, uint16(port)
	}
	cfg.ConnectTimeout = 10 * time.Second
	cfg.RuntimeParams["application_name"] = "credential-grafana scan"
	return cfg, nil
}

func (s *Scanner) scanUser(ctx context.Context, u cg.User, queries *atomic.Int64) userScan {
	var out userScan
	fail := func(kind cg.Kind, err error) {
		out.failures = append(out.failures, UserFailure{User: u.Name, Kind: kind, Error: err.Error()})
		s.log.Warn().Err(err).Str("user", u.Name).Str("kind", string(kind)).Msg("scan: user database skipped")
	}
	creds, err := s.cfg.DB.Credentials(s.cfg.Cipher).Map(ctx, u.ID)
	if err != nil {
		fail("", err)
		return out
	}
	known, err := s.cfg.DB.Dashboards().Known(ctx, u.ID)
	if err != nil {
		fail("", err)
		return out
	}
	for _, kind := range cg.Kinds {
		cfg, err := UserDatabase(creds, kind, s.cfg.AllowedDBHosts)
		if err != nil {
			fail(kind, err)
			continue
		}
		tables, err := s.discover(ctx, cfg, known[kind], queries)
		if err != nil {
			fail(kind, fmt.Errorf("%s database %s on %s:%d: %w", kind, cfg.Database, cfg.Host, cfg.Port, err))
			continue
		}
		out.databases++
		out.tables += len(tables)
		for _, t := range tables {
			if t.Columns == nil {
				continue // known
			}
			d, inserted, err := s.record(ctx, u, kind, t)
			if err != nil {
				fail(kind, err)
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
		queries.Add(1)
		tables, err := db.DiscoverTables(qctx, conn, known)
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
