package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"credential-grafana/cg"
	"credential-grafana/db"
	"credential-grafana/grafana"
	"credential-grafana/scheduler"
)

// Scanner is the part of the scheduler the commands use to scan now.
type Scanner interface {
	ScanOnce(ctx context.Context, opt scheduler.ScanOptions) (*scheduler.ScanResult, error)
}

// Pipeline is the part of the scheduler the commands use for one dashboard.
type Pipeline interface {
	// Recapture records the dashboard's GIF again and posts it.
	Recapture(ctx context.Context, dashboardID int64) error
	// QueueDepth counts the pipeline's jobs waiting or running.
	QueueDepth(ctx context.Context) (int, error)
	// CancelUserJobs cancels the waiting and running jobs of a user's dashboards and
	// says how many there were.
	CancelUserJobs(ctx context.Context, userID int64) (int, error)
}

// HealthCheck is one dependency's check for Status: nil error means healthy.
type HealthCheck struct {
	Name string
	// Off says the part is switched off by configuration, and why.
	Off string
	Run func(ctx context.Context) error
	// Note, when set, is asked after Run and says something worth knowing about a part that
	// works (the browser: that Chromium runs without its sandbox, and why); "" for nothing.
	Note func() string
}

// Scan scans one user's databases now (ref), or every active user's (ref "", admins
// only). Returns cg.ECONFLICT if a scan is already running.
func (s *Service) Scan(ctx context.Context, actor Actor, ref string) (*scheduler.ScanResult, error) {
	if s.scanner == nil {
		return nil, cg.Errorf(cg.EUNAVAILABLE, "scanning is not available in this process")
	}
	opt := scheduler.ScanOptions{}
	if ref == "" {
		if err := requireAdmin(actor, "scan every user"); err != nil {
			return nil, err
		}
	} else {
		u, err := s.userFor(ctx, actor, ref)
		if err != nil {
			return nil, err
		}
		opt.User = u.Name
	}
	res, err := s.scanner.ScanOnce(ctx, opt)
	if errors.Is(err, scheduler.ErrScanRunning) {
		return nil, cg.Errorf(cg.ECONFLICT, "a scan is already running: its results will be posted as they come; try again in a minute")
	}
	if err != nil {
		return nil, err
	}
	s.record(ctx, actor, "scan", opt.User, map[string]any{"new": len(res.New), "incompatible": len(res.Incompatible)})
	return res, nil
}

// ListDashboards returns a user's newest run-table records (kind "" for all kinds).
func (s *Service) ListDashboards(ctx context.Context, actor Actor, ref, kind string, limit int) ([]cg.Dashboard, error) {
	u, err := s.userFor(ctx, actor, ref)
	if err != nil {
		return nil, err
	}
	var k cg.Kind
	if kind != "" {
		if k, err = cg.ParseKind(kind); err != nil {
			return nil, err
		}
	}
	if limit <= 0 || limit > 200 {
		limit = 20
	}
	return s.db.Dashboards().List(ctx, u.ID, k, limit)
}

// dashboardFor finds a record by numeric id or dashboard UID and checks that actor may
// manage its user.
func (s *Service) dashboardFor(ctx context.Context, actor Actor, ref string) (cg.Dashboard, cg.User, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return cg.Dashboard{}, cg.User{}, cg.Errorf(cg.EINVALID, "a dashboard is required: give its UID or id (see `dashboards <user>`)")
	}
	var d cg.Dashboard
	var err error
	if id, perr := strconv.ParseInt(ref, 10, 64); perr == nil {
		d, err = s.db.Dashboards().Get(ctx, id)
	} else {
		d, err = s.db.Dashboards().ByUID(ctx, ref)
	}
	// A non-administrator learns nothing of others' dashboards: one of a user they may
	// not manage is refused exactly as one that does not exist.
	notFound := cg.Errorf(cg.ENOTFOUND, "no dashboard %q (see `dashboards <user>`)", ref)
	if !actor.Admin {
		notFound = cg.Errorf(cg.ENOTFOUND, "no dashboard %q among the users you may manage (see `dashboards <user>`)", ref)
	}
	if cg.ErrorCode(err) == cg.ENOTFOUND {
		return cg.Dashboard{}, cg.User{}, notFound
	}
	if err != nil {
		return d, cg.User{}, err
	}
	u, err := s.users.ByID(ctx, d.UserID)
	if err != nil {
		return d, u, err
	}
	if !actor.mayManage(u) {
		return cg.Dashboard{}, cg.User{}, notFound
	}
	return d, u, nil
}

// Recapture records a dashboard's GIF again and posts it.
func (s *Service) Recapture(ctx context.Context, actor Actor, ref string) (cg.Dashboard, error) {
	d, u, err := s.dashboardFor(ctx, actor, ref)
	if err != nil {
		return d, err
	}
	if s.pipeline == nil {
		return d, cg.Errorf(cg.EUNAVAILABLE, "the pipeline is not running in this process")
	}
	if d.URL == "" || d.State == cg.DashboardIncompatible {
		return d, cg.Errorf(cg.ECONFLICT, "dashboard %s has no Grafana dashboard yet (%s): nothing to record", d.UID, d.State)
	}
	if err := s.pipeline.Recapture(ctx, d.ID); err != nil {
		return d, err
	}
	s.record(ctx, actor, "dashboard.recapture", u.Name, map[string]any{"dashboard_uid": d.UID})
	return s.db.Dashboards().Get(ctx, d.ID)
}

// MuteResult says which design was muted.
type MuteResult struct {
	User   string  `json:"user"`
	Kind   cg.Kind `json:"kind"`
	Design string  `json:"design"`
}

// designFor finds the dashboard ref names, checks actor may manage it, and returns the
// design its table says.
func (s *Service) designFor(ctx context.Context, actor Actor, ref string) (cg.Dashboard, cg.User, string, error) {
	d, u, err := s.dashboardFor(ctx, actor, ref)
	if err != nil {
		return d, u, "", err
	}
	design, err := s.db.Dashboards().Design(ctx, d.ID)
	return d, u, design, err
}

// MuteDesign stops posts of further runs of the dashboard's design (same user and
// kind); they are still recorded.
func (s *Service) MuteDesign(ctx context.Context, actor Actor, ref string) (MuteResult, error) {
	d, u, design, err := s.designFor(ctx, actor, ref)
	if err != nil {
		return MuteResult{}, err
	}
	if design == "" {
		return MuteResult{}, cg.Errorf(cg.ECONFLICT, "table %s does not say its design (no design column), so there is nothing to mute by", d.TableName)
	}
	if err := s.db.Dashboards().Mute(ctx, u.ID, d.Kind, design, actor.Name); err != nil {
		return MuteResult{}, err
	}
	s.record(ctx, actor, "design.mute", u.Name, map[string]any{"kind": d.Kind, "design": design})
	return MuteResult{User: u.Name, Kind: d.Kind, Design: design}, nil
}

// UnmuteDesign undoes MuteDesign.
func (s *Service) UnmuteDesign(ctx context.Context, actor Actor, ref string) (MuteResult, error) {
	d, u, design, err := s.designFor(ctx, actor, ref)
	if err != nil {
		return MuteResult{}, err
	}
	if err := s.db.Dashboards().Unmute(ctx, u.ID, d.Kind, design); err != nil {
		return MuteResult{}, err
	}
	s.record(ctx, actor, "design.unmute", u.Name, map[string]any{"kind": d.Kind, "design": design})
	return MuteResult{User: u.Name, Kind: d.Kind, Design: design}, nil
}

// ComponentStatus is one part of the service in Status.
type ComponentStatus struct {
	Name  string `json:"name"`
	OK    bool   `json:"ok"`
	Off   string `json:"off,omitempty"`   // switched off by configuration, and why
	Error string `json:"error,omitempty"` // what is wrong
	Note  string `json:"note,omitempty"`  // worth knowing although it works (see HealthCheck.Note)
}

// WaitingJob is a pipeline job whose process stopped or stopped beating: it waits to
// be taken over by another process.
type WaitingJob struct {
	JobID       int64  `json:"job_id"`
	Kind        string `json:"kind"` // build_dashboard, record_gif, post_slack
	DashboardID int64  `json:"dashboard_id,omitempty"`
	// Process is the one that was running it; Since its last heartbeat.
	Process string    `json:"process"`
	Since   time.Time `json:"since"`
	// Stopped: the process stopped or is known dead, so the job is taken over at the
	// next heartbeat of any process; otherwise once the process has been silent for
	// its dead-after time (10 s by default).
	Stopped bool `json:"stopped"`
}

// Status is the service's state at a glance.
type Status struct {
	Components []ComponentStatus         `json:"components"`
	LastScan   *scheduler.ScanResult     `json:"last_scan,omitempty"`
	Queue      int                       `json:"queue"`
	Waiting    []WaitingJob              `json:"waiting,omitempty"` // jobs to be taken over, oldest first
	Dashboards map[cg.DashboardState]int `json:"dashboards"`
	Failures   []cg.Dashboard            `json:"failures,omitempty"` // the newest failed records
	// GIFDisk is what GIF_CAPTURE_DIR uses on disk (administrators only).
	GIFDisk *scheduler.DiskUsage `json:"gif_disk,omitempty"`
	// Secrets counts the stored secret values, the service's own among them, by the key
	// that sealed them (for an administrator only): values under a previous key want `rekey`, values under an
	// unknown key do not decrypt.
	Secrets *db.KeyCounts `json:"secrets,omitempty"`
	// Connections is the connection sum doctor prints (db.ConnectionSum's line:
	// the service's budget and Grafana's data sources against max_connections), for an
	// administrator only; empty when the server's settings cannot be read.
	Connections string `json:"connections,omitempty"`
	// Hint points an administrator to doctor when a component is failing.
	Hint string `json:"hint,omitempty"`
	// Everyone says the status covers every user (an administrator's). Otherwise it
	// covers only Users, the users the actor may manage: the last scan's findings, the
	// dashboard counts and the failures are theirs, the scan's and queue's totals are
	// zero, and a component that is down carries no error text.
	Everyone bool      `json:"everyone"`
	Users    []string  `json:"users,omitempty"`
	At       time.Time `json:"at"`
}

// DoctorHint is Status's pointer to doctor when something fails.
const DoctorHint = "something is failing: `credential-grafana doctor` says what and how to fix it"

// Status reports the database, the configured checks (Grafana, browser, Slack), the
// last scan, the queue and the failed records. Anyone may ask; an administrator sees
// everything, anyone else whether each component works and what concerns the users
// they may manage (see Status.Everyone).
func (s *Service) Status(ctx context.Context, actor Actor) (Status, error) {
	st := Status{At: time.Now(), Everyone: actor.Admin}
	dbStatus := ComponentStatus{Name: "database", OK: true}
	if err := s.db.Ping(ctx); err != nil {
		dbStatus = ComponentStatus{Name: "database", Error: err.Error()}
	}
	st.Components = append(st.Components, dbStatus)
	for _, c := range s.checks {
		cs := ComponentStatus{Name: c.Name, Off: c.Off}
		if c.Off == "" {
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			if err := c.Run(cctx); err != nil {
				cs.Error = cg.ErrorMessage(err)
				if cg.ErrorCode(err) == cg.EINTERNAL {
					cs.Error = err.Error()
				}
			} else {
				cs.OK = true
			}
			if c.Note != nil {
				cs.Note = c.Note()
			}
			cancel()
		}
		st.Components = append(st.Components, cs)
	}
	for _, c := range st.Components {
		if !c.OK && c.Off == "" && actor.Admin {
			st.Hint = DoctorHint
		}
	}
	if !actor.Admin {
		for i := range st.Components {
			st.Components[i].Error = "" // errors name hosts and other tenants' settings
		}
	}
	if run, found, err := s.db.LastScan(ctx); err != nil {
		return st, err
	} else if found { // recorded by whichever process scanned
		st.LastScan = &scheduler.ScanResult{}
		if err := json.Unmarshal(run.Detail, st.LastScan); err != nil {
			return st, fmt.Errorf("read the last scan: %w", err)
		}
	}
	if !actor.Admin {
		return s.statusOfManaged(ctx, actor, st)
	}
	if s.pipeline != nil {
		if n, err := s.pipeline.QueueDepth(ctx); err == nil {
			st.Queue = n
		}
	}
	stranded, err := s.db.StrandedJobs(ctx) // any process's, so the CLI sees them too
	if err != nil {
		return st, err
	}
	for _, j := range stranded {
		st.Waiting = append(st.Waiting, WaitingJob{JobID: j.ID, Kind: j.Kind, DashboardID: j.DashboardID,
			Process: j.ClientID, Since: j.Since, Stopped: j.Stopped})
	}
	if st.Dashboards, err = s.db.Dashboards().CountByState(ctx); err != nil {
		return st, err
	}
	if st.Failures, err = s.db.Dashboards().Failed(ctx, 5); err != nil {
		return st, err
	}
	if s.gifDir != "" {
		usage, err := scheduler.MeasureDir(s.gifDir)
		if err != nil {
			return st, err
		}
		st.GIFDisk = &usage
	}
	kc, err := s.creds.CountByKey(ctx)
	if err != nil {
		return st, err
	}
	st.Secrets = &kc
	if sum, err := s.db.ConnectionSum(ctx, s.doctor.Budget, grafana.DataSourceMaxOpenConns); err == nil {
		st.Connections = sum.String()
	}
	return st, nil
}

// statusOfManaged narrows st to the users actor may manage.
func (s *Service) statusOfManaged(ctx context.Context, actor Actor, st Status) (Status, error) {
	users, err := s.managedUsers(ctx, actor)
	if err != nil {
		return st, err
	}
	ids := make([]int64, 0, len(users))
	names := map[string]bool{}
	for _, u := range users {
		ids = append(ids, u.ID)
		names[u.Name] = true
		st.Users = append(st.Users, u.Name)
	}
	if st.LastScan != nil {
		all := st.LastScan
		mine := &scheduler.ScanResult{StartedAt: all.StartedAt, Duration: all.Duration}
		for _, d := range all.New {
			if slices.Contains(ids, d.UserID) {
				mine.New = append(mine.New, d)
			}
		}
		for _, d := range all.Incompatible {
			if slices.Contains(ids, d.UserID) {
				mine.Incompatible = append(mine.Incompatible, d)
			}
		}
		for _, f := range all.Failures {
			if names[f.User] {
				mine.Failures = append(mine.Failures, f)
			}
		}
		st.LastScan = mine
	}
	if st.Dashboards, err = s.db.Dashboards().CountByStateOf(ctx, ids); err != nil {
		return st, err
	}
	if st.Failures, err = s.db.Dashboards().FailedOf(ctx, ids, 5); err != nil {
		return st, err
	}
	return st, nil
}
