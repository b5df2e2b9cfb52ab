package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"
	"github.com/rs/zerolog"

	"credential-grafana/capture"
	"credential-grafana/cg"
	"credential-grafana/db"
	"credential-grafana/grafana"
)

// The pipeline's steps, as they appear on a record's step and in metrics.
const (
	StepDashboard = "dashboard"
	StepCapture   = "capture"
	StepPost      = "post"
)

// BuildArgs is the job that creates a table's Grafana dashboard.
type BuildArgs struct {
	DashboardID int64 `json:"dashboard_id"`
}

// Kind implements river.JobArgs.
func (BuildArgs) Kind() string { return "build_dashboard" }

// RecordArgs is the job that records a dashboard's GIF. Generation tells a recapture
// apart from the first recording, so it is not taken for a duplicate.
type RecordArgs struct {
	DashboardID int64    `json:"dashboard_id"`
	StepValues  []string `json:"step_values"`
	Generation  int      `json:"generation"`
}

// Kind implements river.JobArgs.
func (RecordArgs) Kind() string { return "record_gif" }

// PostArgs is the job that posts a recorded dashboard to Slack.
type PostArgs struct {
	DashboardID int64 `json:"dashboard_id"`
	Generation  int   `json:"generation"`
}

// Kind implements river.JobArgs.
func (PostArgs) Kind() string { return "post_slack" }

// PipelineConfig configures the pipeline. Nil Browser or Notifier switch those steps
// off: the pipeline then stops before them and says why on the record.
type PipelineConfig struct {
	DB     *db.DB
	Cipher *db.Cipher
	// Grafana is the service's Grafana; a user whose credentials name their own
	// grafana_url and grafana_api_key uses theirs. Empty BaseURL: Grafana is off.
	Grafana grafana.Config
	// GrafanaClients, when set, hands out the Grafana clients instead of clients made
	// from Grafana, so a token the service makes for itself later (Clients.SetServiceToken)
	// reaches the pipeline too. Defaults to grafana.NewClients(Grafana).
	GrafanaClients *grafana.Clients
	Templates      *grafana.Templates
	// Theme of the recorded dashboards: "dark" or "light". Defaults to "dark".
	Theme string

	Browser *capture.Browser
	// Frames and FrameDelay shape a timed recording (a dashboard without step values).
	Frames     int
	FrameDelay time.Duration

	Notifier     Notifier
	SlackToken   cg.Secret // the service's bot token
	SlackChannel string    // the service's channel: where a user's broken channel and permanent Slack errors are reported, never where its posts go
	// ShareWait is how long a post waits for Slack to show the share of a completed
	// upload (Slack shares it 1–3 s after the completion) before its job steps aside
	// and checks again at its next try. Defaults to 30 seconds.
	ShareWait time.Duration
	// A user's posts go to its own slack_channel_id only: never to SLACK_CHANNEL_ID, which
	// is only what new users start with, so a user whose channel was removed posts nowhere.

	// Workers bounds the dashboard and post jobs worked at once. Defaults to 4.
	Workers int
	// RecordWorkers bounds the recordings at once. Defaults to 2.
	RecordWorkers int
	// RetryBase is the first retry's delay; each retry doubles it, with jitter, up to
	// 10 minutes. Defaults to 5 seconds.
	RetryBase time.Duration
	// MaxAttempts of each job. Defaults to 12: with the default RetryBase the 11 retries
	// wait about 51 minutes in all (51–61 with retryPolicy's jitter of up to 20%, 56 on
	// average), so a job gives up after about an hour.
	MaxAttempts int
	// JobTimeout bounds one run of a job. Defaults to 10 minutes.
	JobTimeout time.Duration
	// RescueAfter is when River's own rescuer runs again a job that has run this long,
	// whatever its process: the backstop for a job hung in a live process. Defaults to
	// JobTimeout + 1 minute. A process that dies is noticed sooner (HeartbeatInterval).
	RescueAfter time.Duration
	// HeartbeatInterval is how often this process says it is alive and looks for the
	// jobs of processes that are not: those that stopped or died on this machine are
	// taken over at once, others after DeadAfter of silence. Defaults to 2 seconds.
	HeartbeatInterval time.Duration
	// DeadAfter is how long a process may be silent before its running jobs are taken
	// over. Defaults to 5 HeartbeatIntervals; at least 2.
	DeadAfter time.Duration
	// ShutdownTimeout is how long Stop lets running jobs finish before it cancels them;
	// a cancelled job is made available again at once, without using an attempt, so
	// another process resumes it. Defaults to 60 seconds.
	ShutdownTimeout time.Duration
	// PollInterval is how often idle workers look for jobs (they are also woken by
	// LISTEN/NOTIFY). Defaults to 1 second.
	PollInterval time.Duration
	// Metrics, if set, counts what the pipeline does.
	Metrics *Metrics
	// AllowedDBHosts are the only hosts a user's db_host may make the pipeline connect to
	// (USER_DB_ALLOWED_HOSTS). Defaults to the master database's host.
	AllowedDBHosts []string
	Logger         zerolog.Logger
}

// Pipeline runs the durable jobs: dashboard -> GIF -> Slack post.
type Pipeline struct {
	cfg   PipelineConfig
	river *river.Client[pgx.Tx]
	log   zerolog.Logger

	live         *liveness
	stopLiveness context.CancelFunc
	livenessDone chan struct{}
	// stopping is set once Stop is called: a job whose context ends then was
	// interrupted by the shutdown, not failed.
	stopping atomic.Bool

	grafana *grafana.Clients

	// stopBackfill and backfillDone end and await the run history's backfill at Start.
	stopBackfill context.CancelFunc
	backfillDone chan struct{}
}

// NewPipeline builds the pipeline and its River client.
func NewPipeline(cfg PipelineConfig) (*Pipeline, error) {
	if cfg.Theme == "" {
		cfg.Theme = "dark"
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.RecordWorkers <= 0 {
		cfg.RecordWorkers = 2
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = 5 * time.Second
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 12
	}
	if cfg.JobTimeout <= 0 {
		cfg.JobTimeout = 10 * time.Minute
	}
	if cfg.RescueAfter <= cfg.JobTimeout {
		cfg.RescueAfter = cfg.JobTimeout + time.Minute
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	if cfg.ShareWait <= 0 {
		cfg.ShareWait = 30 * time.Second
	}
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = 2 * time.Second
	}
	if cfg.DeadAfter <= 0 {
		cfg.DeadAfter = 5 * cfg.HeartbeatInterval
	}
	cfg.DeadAfter = max(cfg.DeadAfter, 2*cfg.HeartbeatInterval)
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = time.Minute
	}
	if len(cfg.AllowedDBHosts) == 0 {
		cfg.AllowedDBHosts = []string{cfg.DB.Host()}
	}
	if cfg.Templates == nil {
		t, err := grafana.LoadTemplates("")
		if err != nil {
			return nil, err
		}
		cfg.Templates = t
	}
	cfg.Grafana.Logger = cfg.Logger
	p := &Pipeline{cfg: cfg, log: cfg.Logger, grafana: cfg.GrafanaClients}
	if p.grafana == nil {
		p.grafana = grafana.NewClients(cfg.Grafana)
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, river.WorkFunc(interruptible(p, p.build)))
	river.AddWorker(workers, river.WorkFunc(interruptible(p, p.record)))
	river.AddWorker(workers, river.WorkFunc(interruptible(p, p.post)))
	self := thisProcess(time.Now())
	p.live = &liveness{db: cfg.DB, self: self, beatEvery: cfg.HeartbeatInterval, deadAfter: cfg.DeadAfter,
		log: cfg.Logger.With().Str("process", self.ClientID).Logger(), waiting: map[int64]bool{}}
	client, err := river.NewClient(riverpgxv5.New(cfg.DB.Pool.Pool), &river.Config{
		ID: self.ClientID,
		Queues: map[string]river.QueueConfig{
			river.QueueDefault: {MaxWorkers: cfg.Workers},
			"record":           {MaxWorkers: cfg.RecordWorkers},
		},
		Workers:              workers,
		RetryPolicy:          retryPolicy{base: cfg.RetryBase},
		MaxAttempts:          cfg.MaxAttempts,
		JobTimeout:           cfg.JobTimeout,
		RescueStuckJobsAfter: cfg.RescueAfter,
		FetchPollInterval:    cfg.PollInterval,
		// River's soft stop: Stop waits this long for running jobs, then cancels them,
		// and a job that returns its context's error is made available again at once
		// with its attempt given back (jobexecutor's isSoftStopCancelError).
		SoftStopTimeout: cfg.ShutdownTimeout,
		Logger:          slog.New(zerolog.NewSlogHandler(cfg.Logger.Level(max(cfg.Logger.GetLevel(), zerolog.WarnLevel)))),
	})
	if err != nil {
		return nil, fmt.Errorf("job queue: %w", err)
	}
	p.river = client
	return p, nil
}

// Start records this process's first heartbeat, takes over at once the jobs that
// processes that died on this machine left running (this process's previous run, say),
// and starts working jobs and beating. ctx is the hard stop: cancelling it cancels
// running jobs at once, so give it one that a shutdown signal does not cancel, and
// call Stop.
func (p *Pipeline) Start(ctx context.Context) error {
	if err := p.live.begin(ctx); err != nil {
		return err
	}
	if err := p.river.Start(ctx); err != nil {
		return err
	}
	bctx, bcancel := context.WithCancel(ctx)
	p.stopBackfill, p.backfillDone = bcancel, make(chan struct{})
	go func() {
		defer close(p.backfillDone)
		p.backfillAtStart(bctx)
	}()
	lctx, cancel := context.WithCancel(ctx)
	p.stopLiveness, p.livenessDone = cancel, make(chan struct{})
	go func() {
		defer close(p.livenessDone)
		p.live.run(lctx)
	}()
	p.log.Info().Str("process", p.live.self.ClientID).Dur("heartbeat_interval", p.cfg.HeartbeatInterval).
		Dur("dead_after", p.cfg.DeadAfter).Msg("pipeline started")
	return nil
}

// Stop stops taking new jobs and lets the running ones finish for up to
// ShutdownTimeout, then cancels them; a cancelled job is made available again for
// another process at once. It returns when the jobs have returned, or with ctx's error
// when ctx ends first (give it ShutdownTimeout and a few seconds). Either way it then
// records that this process stopped, so that any job still running here is taken over
// by the others at their next beat.
func (p *Pipeline) Stop(ctx context.Context) error {
	p.stopping.Store(true)
	if p.stopBackfill != nil {
		p.stopBackfill()
		<-p.backfillDone
	}
	err := p.river.Stop(ctx)
	if p.stopLiveness != nil {
		p.stopLiveness()
		<-p.livenessDone
	}
	ectx, cancel := recordContext(ctx)
	defer cancel()
	if eerr := p.live.end(ectx); eerr != nil && err == nil {
		err = eerr
	}
	return err
}

// interruptible wraps a step so that, when the pipeline stops and cancels it, it
// returns its context's error, which River takes for an interrupted job (made available
// again at once, the attempt given back) rather than a failure to retry later.
func interruptible[T river.JobArgs](p *Pipeline, step func(context.Context, *river.Job[T]) error) func(context.Context, *river.Job[T]) error {
	return func(ctx context.Context, job *river.Job[T]) error {
		err := step(ctx, job)
		if err == nil || !p.interrupted(ctx) {
			return err
		}
		p.log.Info().Int64("job_id", job.ID).Str("job_kind", job.Kind).Str("error", err.Error()).
			Msg("job interrupted by shutdown; another process resumes it")
		return fmt.Errorf("interrupted by shutdown (%v): %w", err, context.Cause(ctx))
	}
}

// interrupted reports whether ctx, a job's, was cancelled by Stop.
func (p *Pipeline) interrupted(ctx context.Context) bool {
	return p.stopping.Load() && errors.Is(ctx.Err(), context.Canceled)
}

// retryPolicy doubles the delay from base at each attempt, up to 10 minutes, with up to
// 20% jitter so that failures of many jobs at once do not retry in step.
type retryPolicy struct{ base time.Duration }

func (r retryPolicy) NextRetry(job *rivertype.JobRow) time.Time {
	d := r.base << min(job.Attempt-1, 16)
	d = min(d, 10*time.Minute)
	d += time.Duration(rand.Int64N(int64(d)/5 + 1))
	return time.Now().Add(d)
}

func uniqueOpts(queue string) *river.InsertOpts {
	return &river.InsertOpts{Queue: queue, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// Enqueue is the scanner's hook: it enqueues a new table's first job in the
// transaction that records the table.
func (p *Pipeline) Enqueue(ctx context.Context, tx pgx.Tx, d cg.Dashboard) error {
	_, err := p.river.InsertTx(ctx, tx, BuildArgs{DashboardID: d.ID}, uniqueOpts(river.QueueDefault))
	return err
}

// Recapture records a dashboard's GIF again and posts it again.
func (p *Pipeline) Recapture(ctx context.Context, id int64) error {
	return pgx.BeginFunc(ctx, p.cfg.DB.Pool, func(tx pgx.Tx) error {
		gen, err := p.cfg.DB.Dashboards().Reset(ctx, tx, id)
		if err != nil {
			return err
		}
		_, err = p.river.InsertTx(ctx, tx, RecordArgs{DashboardID: id, Generation: gen}, uniqueOpts("record"))
		return err
	})
}

// CancelUserJobs cancels every waiting or running job of userID's dashboards, in this
// process or another: a waiting job never runs, a running one has its context cancelled
// (River's JobCancel) and is not retried. A job enqueued by a step that was finishing
// meanwhile stops by itself, as every step checks that the user is active. Returns how
// many jobs were cancelled.
func (p *Pipeline) CancelUserJobs(ctx context.Context, userID int64) (int, error) {
	ids, err := p.cfg.DB.UserJobs(ctx, userID)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		if _, err := p.river.JobCancel(ctx, id); err != nil {
			if errors.Is(err, river.ErrNotFound) {
				continue
			}
			return n, fmt.Errorf("cancel job %d: %w", id, err)
		}
		n++
	}
	return n, nil
}

// QueueDepth counts the jobs waiting or running.
func (p *Pipeline) QueueDepth(ctx context.Context) (int, error) { return p.cfg.DB.QueueDepth(ctx) }

// job is what every step loads first.
type job struct {
	d     cg.Dashboard
	user  cg.User
	creds map[string]string
	// unreadable are the user's secrets that do not decrypt, by key, with why: a
	// step that needs one stops naming it instead of falling back to the service's own.
	unreadable map[string]string
}

// readable returns a cg.EINVALID error naming the first of keys whose value does not
// decrypt, and nil when every one of them is readable (or absent).
func (j job) readable(keys ...string) error {
	for _, k := range keys {
		if why, ok := j.unreadable[k]; ok {
			return cg.Errorf(cg.EINVALID, "the user's %s cannot be read: %s (cred set %s %s)", k, why, j.user.Name, k)
		}
	}
	return nil
}

func (p *Pipeline) load(ctx context.Context, id int64) (job, error) {
	var j job
	var err error
	if j.d, err = p.cfg.DB.Dashboards().Get(ctx, id); err != nil {
		return j, err
	}
	if j.user, err = p.cfg.DB.Users().ByID(ctx, j.d.UserID); err != nil {
		return j, err
	}
	list, err := p.cfg.DB.Credentials(p.cfg.Cipher).List(ctx, j.user.ID)
	if err != nil {
		return j, err
	}
	j.creds, j.unreadable = map[string]string{}, map[string]string{}
	for _, c := range list {
		if c.Unreadable != "" {
			j.unreadable[c.Key] = c.Unreadable
		} else {
			j.creds[c.Key] = c.Value.Reveal()
		}
	}
	return j, nil
}

// stop records that a step cannot go on until a person acts, and ends the job.
func (p *Pipeline) stop(ctx context.Context, d cg.Dashboard, step string, err error) error {
	msg := cg.ErrorMessage(err)
	if cg.ErrorCode(err) == cg.EINTERNAL {
		msg = err.Error()
	}
	ctx, cancel := recordContext(ctx)
	defer cancel()
	if merr := p.cfg.DB.Dashboards().MarkFailed(ctx, d.ID, step, msg); merr != nil {
		return merr
	}
	p.cfg.Metrics.failure(step)
	p.log.Warn().Str("dashboard_uid", d.UID).Str("table", d.TableName).Str("step", step).Str("reason", msg).Msg("pipeline stopped")
	return river.JobCancel(err)
}

// recordContext is for writing down a failure: it outlives the job's context, which
// may be what ran out.
func recordContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
}

// retryErr records a step's error on the record and hands it back for River to retry.
func (p *Pipeline) retryErr(ctx context.Context, d cg.Dashboard, step string, err error) error {
	if p.interrupted(ctx) {
		return err // not the step's fault: it resumes elsewhere
	}
	ctx, cancel := recordContext(ctx)
	defer cancel()
	if merr := p.cfg.DB.Dashboards().MarkError(ctx, d.ID, step, err.Error()); merr != nil {
		p.log.Error().Err(merr).Msg("record pipeline error")
	}
	p.cfg.Metrics.failure(step)
	p.log.Warn().Err(err).Str("dashboard_uid", d.UID).Str("step", step).Msg("pipeline step failed; will retry")
	return err
}

// viewerConn connects to the record's user database as the read-only role.
func (p *Pipeline) viewerConn(ctx context.Context, j job) (*pgx.Conn, error) {
	cfg, err := UserDatabase(j.creds, j.d.Kind, p.cfg.AllowedDBHosts)
	if err != nil {
		return nil, err
	}
	return p.cfg.DB.ConnectSide(ctx, cfg, "pipeline")
}

func (p *Pipeline) build(ctx context.Context, job *river.Job[BuildArgs]) error {
	j, err := p.load(ctx, job.Args.DashboardID)
	if err != nil {
		return err
	}
	d := j.d
	if d.State != cg.DashboardPending && d.State != cg.DashboardFailed && d.State != cg.DashboardCreated {
		return nil // done before, or not for us
	}
	if err := p.checkActive(ctx, j, StepDashboard); err != nil {
		return err
	}
	if err := j.readable("grafana_api_key"); err != nil {
		return p.stop(ctx, d, StepDashboard, err)
	}
	g, _, err := p.grafana.For(j.creds)
	if err != nil {
		return p.stop(ctx, d, StepDashboard, err)
	}
	// The data source is the one the service provisioned for this user and kind, never
	// one a credential names.
	dsUID := grafana.DataSourceUID(j.user.Name, d.Kind)
	conn, err := p.viewerConn(ctx, j)
	if err != nil {
		return p.retryErr(ctx, d, StepDashboard, fmt.Errorf("reach %s: %w", d.Kind.DatabaseName(j.user.Name), err))
	}
	facts, err := ReadRunFacts(ctx, conn, d.Kind, d.TableName)
	conn.Close(ctx)
	if err != nil {
		return p.retryErr(ctx, d, StepDashboard, err)
	}
	dash, uid, err := p.cfg.Templates.Render(grafana.RenderRequest{
		User: j.user.Name, Kind: d.Kind, Table: d.TableName, DataSourceUID: dsUID,
		Run: grafana.RunInfo{Design: facts.Design, Platform: facts.Platform, RunID: facts.RunID, TimeUnit: facts.TimeUnit},
	})
	if err != nil {
		return p.stop(ctx, d, StepDashboard, err)
	}
	if err := dash.CheckBoundTo(dsUID); err != nil {
		return p.stop(ctx, d, StepDashboard, err)
	}
	steps, err := g.CheckDashboard(ctx, dash, d.Kind)
	if errors.Is(err, grafana.ErrPanelQuery) {
		p.tellOnce(ctx, j, fmt.Sprintf("The %s dashboard of table %s was not posted, because a query fails in Grafana: %v", d.Kind, d.TableName, err))
		return p.stop(ctx, d, StepDashboard, cg.WrapError(cg.EINVALID, err, "a panel fails in Grafana: %v", err))
	}
	if err != nil {
		return p.retryErr(ctx, d, StepDashboard, err)
	}
	saved, err := g.SaveDashboard(ctx, grafana.SaveDashboardRequest{
		Dashboard: dash, FolderUID: grafana.FolderUID(j.user.Name), Overwrite: true,
		Message: "credential-grafana: run table " + d.TableName,
	})
	if err != nil {
		if errors.Is(err, grafana.ErrUnauthorized) || errors.Is(err, grafana.ErrForbidden) {
			return p.stop(ctx, d, StepDashboard, err)
		}
		return p.retryErr(ctx, d, StepDashboard, err)
	}
	orgID, err := g.CurrentOrgID(ctx)
	if err != nil {
		return p.retryErr(ctx, d, StepDashboard, err)
	}
	// The link names the org: a user in several orgs (or org isolation) opens it there.
	link := strings.TrimRight(g.BaseURL(), "/") + saved.URL + "?orgId=" + strconv.FormatInt(orgID, 10)
	// The run's history row is written before the record says "created": a failure is
	// retried as this step's others are (the dashboard is saved again under the same UID,
	// never a second one). Only credentials that cannot reach the history at all (another
	// server, no db_user) let the run go on without its row, and the log says why.
	if err := p.writeHistory(ctx, j.creds, j.user.Name, d.Kind, summary(d, facts.RunFacts, uid, link)); err != nil {
		if code := cg.ErrorCode(err); code != cg.EINVALID && code != cg.EFORBIDDEN {
			return p.retryErr(ctx, d, StepDashboard, err)
		}
		p.log.Warn().Str("user", j.user.Name).Str("table", d.TableName).Str("reason", cg.ErrorMessage(err)).
			Msg("the run is not in its database's run history")
	}
	trend := p.saveTrend(ctx, g, j, facts.Design, facts.Platform, orgID)
	err = pgx.BeginFunc(ctx, p.cfg.DB.Pool, func(tx pgx.Tx) error {
		if err := p.cfg.DB.Dashboards().MarkCreated(ctx, tx, d.ID, link, uid, facts.RunFacts); err != nil {
			return err
		}
		if err := p.cfg.DB.Dashboards().SetTrendURL(ctx, tx, d.ID, trend); err != nil {
			return err
		}
		_, err := p.river.InsertTx(ctx, tx, RecordArgs{DashboardID: d.ID, StepValues: steps}, uniqueOpts("record"))
		return err
	})
	if err != nil {
		return err
	}
	p.cfg.Metrics.dashboardCreated(d.Kind)
	p.log.Info().Str("user", j.user.Name).Str("table", d.TableName).Str("dashboard_uid", uid).Str("url", link).Msg("dashboard created")
	return nil
}

// saveTrend saves (overwrites) the trend dashboard of design on platform in the user's
// folder, after checking that it names only the user's own data sources and that its
// panels run in Grafana, and returns its link with the org, or "" when the run names
// no design. It is best effort: a trend dashboard that cannot be made is logged and
// leaves the run's dashboard and post as they are.
func (p *Pipeline) saveTrend(ctx context.Context, g *grafana.Client, j job, design, platform string, orgID int64) string {
	if strings.TrimSpace(design) == "" {
		return ""
	}
	fail := func(err error) string {
		p.log.Warn().Err(err).Str("user", j.user.Name).Str("design", design).Str("platform", platform).Msg("trend dashboard not saved")
		return ""
	}
	dash, _, err := p.cfg.Templates.RenderTrend(grafana.TrendRequest{User: j.user.Name, Design: design, Platform: platform})
	if err != nil {
		return fail(err)
	}
	if err := dash.CheckBoundToAny(grafana.TrendDataSources(j.user.Name)...); err != nil {
		return fail(err)
	}
	if _, err := g.CheckTrend(ctx, dash); err != nil {
		// A user made before the service kept a run history has none in the databases of
		// the kinds it recorded no run in since: make it there, and check once more.
		for _, k := range cg.Kinds {
			if k == j.d.Kind {
				continue
			}
			if herr := p.writeHistory(ctx, j.creds, j.user.Name, k); herr != nil {
				return fail(herr)
			}
		}
		if _, err := g.CheckTrend(ctx, dash); err != nil {
			return fail(err)
		}
	}
	saved, err := g.SaveDashboard(ctx, grafana.SaveDashboardRequest{
		Dashboard: dash, FolderUID: grafana.FolderUID(j.user.Name), Overwrite: true,
		Message: "credential-grafana: trend after run table " + j.d.TableName,
	})
	if err != nil {
		return fail(err)
	}
	return strings.TrimRight(g.BaseURL(), "/") + saved.URL + "?orgId=" + strconv.FormatInt(orgID, 10)
}

func (p *Pipeline) record(ctx context.Context, job *river.Job[RecordArgs]) error {
	j, err := p.load(ctx, job.Args.DashboardID)
	if err != nil {
		return err
	}
	d := j.d
	if d.State != cg.DashboardCreated && d.State != cg.DashboardFailed {
		return nil
	}
	if err := p.checkActive(ctx, j, StepCapture); err != nil {
		return err
	}
	if p.cfg.Browser == nil {
		return p.stop(ctx, d, StepCapture, cg.Errorf(cg.EUNAVAILABLE, "recording is off in this service (no browser)"))
	}
	if err := j.readable("grafana_api_key"); err != nil {
		return p.stop(ctx, d, StepCapture, err)
	}
	g, token, err := p.grafana.For(j.creds)
	if err != nil {
		return p.stop(ctx, d, StepCapture, err)
	}
	steps := job.Args.StepValues
	if len(steps) == 0 && job.Args.Generation > 0 { // a recapture: ask the dashboard again
		if steps, err = p.stepValues(ctx, g, j); err != nil {
			return p.retryErr(ctx, d, StepCapture, err)
		}
	}
	u, err := url.Parse(d.URL)
	if err != nil {
		return p.stop(ctx, d, StepCapture, fmt.Errorf("dashboard URL %q: %w", d.URL, err))
	}
	slug := u.Path[strings.LastIndex(u.Path, "/")+1:]
	orgID, err := g.CurrentOrgID(ctx)
	if err != nil {
		return p.retryErr(ctx, d, StepCapture, err)
	}
	rec := capture.Recording{
		URL:        grafana.KioskURL(g.BaseURL(), d.UID, slug, orgID, p.cfg.Theme, nil),
		Token:      token,
		Frames:     p.cfg.Frames,
		FrameDelay: p.cfg.FrameDelay,
		Name:       d.UID,
	}
	if len(steps) > 1 {
		rec.StepVariable, rec.StepValues = d.Kind.StepVariable(), steps
	}
	// The recorder checks the page against the dashboard as Grafana stores it: its UID,
	// title and every panel drawn.
	saved, err := g.GetDashboard(ctx, d.UID)
	if err != nil {
		if errors.Is(err, grafana.ErrUnauthorized) || errors.Is(err, grafana.ErrForbidden) {
			return p.stop(ctx, d, StepCapture, err)
		}
		return p.retryErr(ctx, d, StepCapture, err)
	}
	rec.Expect = capture.ExpectDashboard(saved.Dashboard)
	start := time.Now()
	res, err := p.cfg.Browser.RecordGIF(ctx, rec)
	if err != nil {
		if errors.Is(err, capture.ErrTokenRefused) {
			return p.stop(ctx, d, StepCapture, err)
		}
		return p.retryErr(ctx, d, StepCapture, err)
	}
	p.cfg.Metrics.recorded(time.Since(start))
	err = pgx.BeginFunc(ctx, p.cfg.DB.Pool, func(tx pgx.Tx) error {
		if err := p.cfg.DB.Dashboards().MarkCaptured(ctx, tx, d.ID, res.Path); err != nil {
			return err
		}
		_, err := p.river.InsertTx(ctx, tx, PostArgs{DashboardID: d.ID, Generation: job.Args.Generation}, uniqueOpts(river.QueueDefault))
		return err
	})
	if err == nil {
		p.log.Info().Str("dashboard_uid", d.UID).Str("gif", res.Path).Int64("bytes", res.Bytes).Int("frames", res.Frames).Msg("GIF recorded")
	}
	return err
}

// stepValues asks Grafana for the step variable's values of a saved dashboard.
func (p *Pipeline) stepValues(ctx context.Context, g *grafana.Client, j job) ([]string, error) {
	dsUID := grafana.DataSourceUID(j.user.Name, j.d.Kind)
	dash, _, err := p.cfg.Templates.Render(grafana.RenderRequest{User: j.user.Name, Kind: j.d.Kind, Table: j.d.TableName, DataSourceUID: dsUID})
	if err != nil {
		return nil, err
	}
	if err := dash.CheckBoundTo(dsUID); err != nil {
		return nil, err
	}
	return g.CheckDashboard(ctx, dash, j.d.Kind)
}

// slackTarget is the token and channel a user's posts go to: its own slack_bot_token,
// else the service's, and its own slack_channel_id, never another channel ("" when it
// has none).
func (p *Pipeline) slackTarget(creds map[string]string) (cg.Secret, string) {
	token := p.cfg.SlackToken
	if t := creds["slack_bot_token"]; t != "" {
		token = cg.Secret(t)
	}
	return token, creds["slack_channel_id"]
}

// checkActive returns nil if the job's user is active, and otherwise records on the
// dashboard why nothing more is done for it and cancels the job: nothing is built,
// recorded or posted for a disabled or removed user.
func (p *Pipeline) checkActive(ctx context.Context, j job, step string) error {
	if j.user.Status == cg.UserActive {
		return nil
	}
	return p.stop(ctx, j.d, step, cg.Errorf(cg.ECONFLICT,
		"user %s is %s: nothing is built, recorded or posted for it; after `user enable %s`, `recapture` posts this dashboard", j.user.Name, j.user.Status, j.user.Name))
}

// stillActive reads the user's status again, just before something is posted for it.
func (p *Pipeline) stillActive(ctx context.Context, j job, step string) error {
	u, err := p.cfg.DB.Users().ByID(ctx, j.user.ID)
	if err != nil {
		return err
	}
	j.user = u
	return p.checkActive(ctx, j, step)
}

func (p *Pipeline) post(ctx context.Context, job *river.Job[PostArgs]) error {
	j, err := p.load(ctx, job.Args.DashboardID)
	if err != nil {
		return err
	}
	d := j.d
	if d.State == cg.DashboardPosted || d.State == cg.DashboardMuted {
		return nil
	}
	if err := p.checkActive(ctx, j, StepPost); err != nil {
		return err
	}
	if err := j.readable("slack_bot_token"); err != nil {
		return p.stop(ctx, d, StepPost, err)
	}
	token, channel := p.slackTarget(j.creds)
	if p.cfg.Notifier == nil || token == "" || channel == "" {
		msg := "Slack is not configured, so the GIF was recorded but not posted: set SLACK_BOT_TOKEN (or the user's slack_bot_token), then recapture"
		if channel == "" {
			msg = fmt.Sprintf("user %s has no slack_channel_id, so the GIF was recorded but not posted (it never goes to another channel): set it (`cred set %s slack_channel_id C…`), or `user retry %s` gives it SLACK_CHANNEL_ID; then recapture",
				j.user.Name, j.user.Name, j.user.Name)
		}
		if err := p.cfg.DB.Dashboards().MarkError(ctx, d.ID, StepPost, msg); err != nil {
			return err
		}
		p.log.Warn().Str("dashboard_uid", d.UID).Msg(msg)
		return nil
	}
	facts, err := p.cfg.DB.Dashboards().Facts(ctx, d.ID)
	if err != nil {
		return err
	}
	if muted, err := p.cfg.DB.Dashboards().Muted(ctx, j.user.ID, d.Kind, facts.Design); err != nil {
		return err
	} else if muted && facts.Design != "" {
		return p.cfg.DB.Dashboards().SetState(ctx, d.ID, cg.DashboardMuted)
	}
	cur, began, err := p.cfg.DB.Dashboards().BeginPosting(ctx, d.ID, channel)
	if err != nil {
		return err
	}
	if !began && cur.State != cg.DashboardPosting {
		return nil
	}
	post, err := p.buildPost(ctx, j, facts, token, channel)
	if err != nil {
		return p.retryErr(ctx, d, StepPost, err)
	}
	if err := p.stillActive(ctx, j, StepPost); err != nil {
		return err
	}
	fileID, err := p.deliver(ctx, cur, post)
	if err != nil {
		return p.slackError(ctx, j, post, err)
	}
	if err := p.cfg.DB.Dashboards().MarkPosted(ctx, d.ID, fileID, time.Now()); err != nil {
		return err
	}
	p.cfg.Metrics.posted(d.Kind)
	p.log.Info().Str("dashboard_uid", d.UID).Str("channel", channel).Str("file_id", fileID).Msg("posted to Slack")
	return nil
}

// errShareNotYet is a completed upload whose share Slack has not shown within ShareWait.
var errShareNotYet = errors.New("slack has not shown the share yet")

// deliver makes the post exactly once, by file ID: a record with no upload yet uploads
// the GIF and records the file ID before completing it; a record with one (an earlier
// try stopped, or the process died) asks files.info about that file and goes on from
// there: shared means done, pending means wait, never completed means complete the
// same file. Only an upload Slack lost (file_not_found on completion) is replaced.
func (p *Pipeline) deliver(ctx context.Context, d cg.Dashboard, post cg.Post) (string, error) {
	repo := p.cfg.DB.Dashboards()
	fileID, completed := d.SlackFileID, d.SlackCompletedAt != nil
	if fileID != "" {
		state, err := p.cfg.Notifier.ShareState(ctx, post.Token, post.Channel, fileID)
		if err != nil {
			return "", err
		}
		p.log.Info().Str("dashboard_uid", d.UID).Str("file_id", fileID).Stringer("share", state).Bool("completed", completed).
			Msg("going on with the recorded slack upload")
		switch {
		case state == cg.ShareDone:
			return fileID, nil
		case state == cg.SharePending:
			return fileID, p.awaitShare(ctx, d, post, fileID, completed)
		case completed: // Slack accepted it, and now does not know it: deleted in Slack
			return "", cg.Errorf(cg.ECONFLICT, "the GIF of %s (Slack file %s) was shared and then deleted in Slack: recapture to post it again", d.UID, fileID)
		}
		// Never completed: complete the same file below.
	} else {
		var err error
		if fileID, err = p.cfg.Notifier.Upload(ctx, post); err != nil {
			return "", err
		}
		if err := repo.RecordUpload(ctx, d.ID, fileID); err != nil {
			return "", err
		}
	}
	err := p.cfg.Notifier.Share(ctx, post, fileID)
	if errors.Is(err, cg.ErrUploadGone) {
		// Slack discarded the upload before it was shared: a new upload is no duplicate.
		rctx, cancel := recordContext(ctx)
		defer cancel()
		if rerr := repo.RecordUpload(rctx, d.ID, ""); rerr != nil {
			return "", rerr
		}
		return "", err
	}
	if err != nil {
		return "", err
	}
	rctx, cancel := recordContext(ctx)
	defer cancel()
	if err := repo.MarkUploadCompleted(rctx, d.ID); err != nil {
		return "", err
	}
	return fileID, p.awaitShare(ctx, d, post, fileID, true)
}

// awaitShare polls files.info until Slack shows the share of fileID in the post's
// channel, for up to ShareWait. A share it does not see in time is left for the job's
// next try (never completed or uploaded again), except an upload that was never known
// to be completed: that one is completed once more, which Slack accepts only once.
func (p *Pipeline) awaitShare(ctx context.Context, d cg.Dashboard, post cg.Post, fileID string, completed bool) error {
	deadline := time.Now().Add(p.cfg.ShareWait)
	wait := 250 * time.Millisecond
	for {
		state, err := p.cfg.Notifier.ShareState(ctx, post.Token, post.Channel, fileID)
		if err != nil {
			return err
		}
		if state == cg.ShareDone {
			return nil
		}
		if time.Now().After(deadline) {
			if !completed && state == cg.SharePending {
				if err := p.cfg.Notifier.Share(ctx, post, fileID); err != nil {
					return err
				}
				completed = true
				deadline = time.Now().Add(p.cfg.ShareWait)
				continue
			}
			return fmt.Errorf("Slack accepted the GIF of %s (file %s) but has not shown it in channel %s after %s; checking again later: %w",
				d.UID, fileID, post.Channel, p.cfg.ShareWait, errShareNotYet)
		}
		t := time.NewTimer(min(wait, time.Until(deadline)+time.Millisecond))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// slackError decides what a Slack failure means: wait out a rate limit, stop on what
// only a person can fix (telling them once), retry the rest.
func (p *Pipeline) slackError(ctx context.Context, j job, post cg.Post, err error) error {
	d := j.d
	if wait := retryAfter(err); wait > 0 {
		_ = p.cfg.DB.Dashboards().MarkError(ctx, d.ID, StepPost, "Slack is rate limiting posts: waiting "+wait.String())
		return river.JobSnooze(wait)
	}
	if permanent(err) {
		p.tellFailure(ctx, j, post, err)
		return p.stop(ctx, d, StepPost, cg.Errorf(cg.EUNAVAILABLE, "%s", err.Error()))
	}
	return p.retryErr(ctx, d, StepPost, err)
}

// tellFailure tells a person, once, that a post cannot be made and what to do: the
// service's own channel (SLACK_CHANNEL_ID, the admins') when the user posts elsewhere
// or with another token, otherwise the user's channel if it still takes messages. A
// failure to tell is logged, never retried: Slack errors are not reported back into
// Slack in a loop. The record's last_error and the log say it in any case.
func (p *Pipeline) tellFailure(ctx context.Context, j job, post cg.Post, err error) {
	if p.cfg.Notifier == nil {
		return
	}
	text := fmt.Sprintf("The %s run %s of %s was not posted to channel %s: %s", j.d.Kind, j.d.TableName, j.user.Name, post.Channel, err.Error())
	token, channel := p.cfg.SlackToken, p.cfg.SlackChannel
	if token.Empty() || channel == "" || (channel == post.Channel && token == post.Token) {
		var cw interface{ ChannelTakesMessages() bool }
		if !errors.As(err, &cw) || !cw.ChannelTakesMessages() {
			return
		}
		token, channel = post.Token, post.Channel
	}
	tctx, cancel := recordContext(ctx)
	defer cancel()
	if terr := p.cfg.Notifier.Tell(tctx, token, channel, text); terr != nil {
		p.log.Warn().Err(terr).Str("dashboard_uid", j.d.UID).Str("channel", channel).Msg("could not tell about a post that cannot be made")
	}
}

func (p *Pipeline) buildPost(ctx context.Context, j job, facts db.RunFacts, token cg.Secret, channel string) (cg.Post, error) {
	d := j.d
	run := grafana.RunInfo{Design: facts.Design, Platform: facts.Platform, RunID: facts.RunID}
	post := cg.Post{
		Token: token, Channel: channel, GIFPath: d.LocalSnapshotURL,
		User: j.user.Name, Kind: d.Kind, Database: d.Kind.DatabaseName(j.user.Name), Table: d.TableName,
		Design: facts.Design, Platform: facts.Platform, RunID: facts.RunID, Stage: facts.Stage,
		DashboardUID: d.UID, DashboardURL: d.URL, Title: grafana.DashboardTitle(d.Kind, d.TableName, run),
		Figures: facts.Figures, At: time.Now(),
	}
	if facts.Design != "" { // the previous run of the same design in the same database
		table, prev, found, err := p.cfg.DB.Dashboards().Previous(ctx, d, facts.Design)
		if err != nil {
			return post, err
		}
		if found {
			post.Figures, post.PreviousTable = compare(facts.Figures, prev), table
		}
		trend, err := p.cfg.DB.Dashboards().TrendURL(ctx, d.ID)
		if err != nil {
			return post, err
		}
		post.TrendURL = trend
	}
	if err := p.trend(ctx, d, &post); err != nil {
		return post, err
	}
	broken, err := p.checkRules(ctx, j, post)
	if err != nil {
		return post, err
	}
	post.Broken = broken
	return post, nil
}

// tellOnce tells the user's channel about a problem, once per record and problem: it
// is best effort and never retried into a loop.
func (p *Pipeline) tellOnce(ctx context.Context, j job, text string) {
	token, channel := p.slackTarget(j.creds)
	if p.cfg.Notifier == nil || token == "" || channel == "" || j.d.LastError == text || j.user.Status != cg.UserActive {
		return
	}
	if err := p.cfg.Notifier.Tell(ctx, token, channel, text); err != nil {
		p.log.Warn().Err(err).Str("dashboard_uid", j.d.UID).Msg("could not tell the user about a failed dashboard")
	}
}
