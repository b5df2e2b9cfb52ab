package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/rs/zerolog"

	"credential-grafana/bot"
	"credential-grafana/capture"
	"credential-grafana/commands"
	"credential-grafana/db"
	"credential-grafana/grafana"
	"credential-grafana/rest"
	"credential-grafana/scheduler"
)

// Main is the service, built from a Config. The CLI, `serve` and end-to-end tests all
// build the same Main.
type Main struct {
	Config   Config
	Log      zerolog.Logger
	Registry *prometheus.Registry
	DB       *db.DB
	Grafana  *grafana.Clients
	Browser  *capture.Browser // nil when Chromium is missing: recording is off
	Scanner  *scheduler.Scanner
	Pipeline *scheduler.Pipeline
	Commands *commands.Service
	Bot      *bot.Bot // nil unless both Slack tokens are set

	checks    []rest.Check
	cipher    *db.Cipher
	logCloser io.Closer
	serving   atomic.Bool // Serve runs in this process (its bot holds the Slack connection)
}

// NewMain wires config -> logger -> master database (migrated) -> Grafana, browser,
// scanner and pipeline -> commands. Nothing is started: Serve starts what runs.
func NewMain(ctx context.Context, cfg Config, stderr io.Writer) (*Main, error) {
	log, closer, err := newLogger(cfg, stderr)
	if err != nil {
		return nil, fmt.Errorf("set up logging: %w", err)
	}
	m := &Main{Config: cfg, Log: log, logCloser: closer, Registry: prometheus.NewRegistry()}
	m.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if err := m.wire(ctx); err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

func (m *Main) wire(ctx context.Context) error {
	cfg, log := m.Config, m.Log
	cipher, err := cfg.Cipher()
	if err != nil {
		return err
	}
	budget := cfg.Budget()
	poolConns := budget.Master
	if cfg.command == "" || cfg.command == "serve" {
		poolConns-- // River takes its LISTEN connection out of the pool
	}
	if m.DB, err = db.Open(ctx, db.Config{URL: cfg.MasterURL(), CreateDatabase: true, Logger: log,
		MaxConns: int32(poolConns), SideConns: budget.Side, ApplicationName: cfg.PGApplicationName}); err != nil {
		return err
	}
	applied, err := m.DB.Migrate(ctx)
	if err != nil {
		return err
	}
	if len(applied) > 0 {
		log.Info().Strs("migrations", applied).Msg("applied migrations")
	}
	templates, err := grafana.LoadTemplates(cfg.TemplatesDir)
	if err != nil {
		return fmt.Errorf("TEMPLATES_DIR: %w", err)
	}
	allowed := cfg.AllowList(m.DB.Host())
	grafanaCfg := grafana.Config{BaseURL: cfg.GrafanaBaseURL, Token: cfg.GrafanaAPIKey, BasicUser: cfg.GrafanaUser,
		BasicPassword: cfg.GrafanaPassword, OrgID: cfg.GrafanaOrgID, Isolation: grafana.Isolation(cfg.GrafanaIsolation),
		AllowedURLs: allowed.GrafanaURLs, Logger: log}
	m.cipher = cipher
	if tok := m.storedGrafanaToken(ctx, cipher); !tok.Empty() {
		grafanaCfg.Token = tok // the token it made for itself (service_grafana.go)
	}
	m.Grafana = grafana.NewClients(grafanaCfg)

	m.Browser, err = capture.New(capture.Config{
		ChromiumPath: cfg.ChromiumPath, Width: cfg.CaptureWidth, Height: cfg.CaptureHeight,
		Concurrency: cfg.CaptureConcurrency, Timeout: cfg.CaptureTimeout, IdleClose: cfg.CaptureIdle, MaxGIFBytes: cfg.GIFMaxBytes,
		Dir: cfg.GIFCaptureDir, Theme: cfg.CaptureTheme, Logger: log,
	})
	if errors.Is(err, capture.ErrChromiumMissing) {
		log.Warn().Err(err).Msg("recording is off: dashboards are made and posted without a GIF until Chromium is installed")
		m.Browser = nil
	} else if err != nil {
		return fmt.Errorf("capture: %w", err)
	}

	metrics := scheduler.NewMetrics(m.Registry, func() float64 { // read at scrape time, once the pipeline exists
		qctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		n, _ := m.Pipeline.QueueDepth(qctx)
		return float64(n)
	})
	pipelineCfg := scheduler.PipelineConfig{
		DB: m.DB, Cipher: cipher, Grafana: grafanaCfg, GrafanaClients: m.Grafana, Templates: templates, Theme: cfg.CaptureTheme,
		Frames: cfg.CaptureFrames, FrameDelay: cfg.CaptureFrameDelay,
		Notifier: m.notifier(), SlackToken: cfg.SlackBotToken, SlackChannel: cfg.SlackChannelID,
		RecordWorkers: cfg.CaptureConcurrency, JobTimeout: cfg.JobTimeout, RescueAfter: cfg.JobRescueAfter,
		ShutdownTimeout: cfg.ShutdownTimeout,
		Metrics:         metrics, AllowedDBHosts: allowed.DBHosts, Logger: log,
	}
	if m.Browser != nil {
		pipelineCfg.Browser = m.Browser
	}
	if m.Pipeline, err = scheduler.NewPipeline(pipelineCfg); err != nil {
		return err
	}
	m.Scanner = scheduler.NewScanner(scheduler.ScannerConfig{DB: m.DB, Cipher: cipher, MaxConns: budget.Scan, FullEvery: cfg.ScanFullEvery,
		Enqueue: m.Pipeline.Enqueue, Metrics: metrics, AllowedDBHosts: allowed.DBHosts, Logger: log})

	m.checks = m.healthChecks()
	m.Commands = commands.New(commands.Config{
		DB: m.DB, Cipher: cipher, Grafana: m.Grafana, Scanner: m.Scanner, Pipeline: m.Pipeline, Checks: m.statusChecks(),
		Doctor:  m.doctorConfig(),
		Allowed: allowed,
		GIFDir:  cfg.GIFCaptureDir,
		Defaults: commands.Defaults{
			DBHost: cfg.UserDBHost, DBPort: cfg.UserDBPort, DBSSLMode: cfg.UserDBSSLMode,
			GrafanaURL: cfg.GrafanaBaseURL, SlackChannelID: cfg.SlackChannelID,
		},
		Logger: log,
	})
	return m.newBot()
}

// statusChecks are the parts `status` reports besides the database: each one's check,
// or why configuration switched it off.
func (m *Main) statusChecks() []commands.HealthCheck {
	grafanaCheck := commands.HealthCheck{Name: "grafana", Off: "GRAFANA_BASE_URL is not set"}
	browserCheck := commands.HealthCheck{Name: "browser", Off: "Chromium is not installed (apt-get install chromium, or set CHROMIUM_PATH)"}
	for _, c := range m.checks {
		switch c.Name {
		case "grafana":
			grafanaCheck = commands.HealthCheck{Name: c.Name, Run: c.Run}
		case "browser":
			browserCheck = commands.HealthCheck{Name: c.Name, Run: c.Run, Note: m.Browser.SandboxWarning}
		}
	}
	slackCheck := commands.HealthCheck{Name: "slack", Run: m.slackStatus}
	if m.Config.SlackBotToken == "" || m.Config.SlackAppToken == "" {
		slackCheck = commands.HealthCheck{Name: "slack", Off: "SLACK_BOT_TOKEN and SLACK_APP_TOKEN are not both set"}
	}
	return []commands.HealthCheck{grafanaCheck, browserCheck, slackCheck}
}

// healthChecks are the optional parts /readyz and `status` report on.
func (m *Main) healthChecks() []rest.Check {
	var checks []rest.Check
	if m.Grafana.Enabled() {
		checks = append(checks, rest.Check{Name: "grafana", Optional: true, Run: func(ctx context.Context) error {
			c, _, err := m.Grafana.For(nil)
			if err != nil {
				return err
			}
			_, err = c.Health(ctx)
			return err
		}})
	}
	if m.Browser != nil {
		checks = append(checks, rest.Check{Name: "browser", Optional: true, Run: m.Browser.Check})
	}
	return checks
}

// Serve runs the REST API, the scan schedule and the pipeline (and, as they are
// configured, the other front-ends) until ctx is cancelled, then shuts down gracefully:
// it stops taking new work, lets running jobs finish for up to SHUTDOWN_TIMEOUT, then
// cancels them (they resume in another process). Whatever hangs, the process exits at
// most shutdownGrace after SHUTDOWN_TIMEOUT.
func (m *Main) Serve(ctx context.Context) error {
	cfg := m.Config
	if cfg.GrafanaBaseURL == "" {
		m.Log.Warn().Msg("Grafana is off: GRAFANA_BASE_URL is not set, so only users with their own grafana_url and grafana_api_key get dashboards")
	}
	if cfg.SlackBotToken == "" {
		m.Log.Warn().Msg("Slack is off: SLACK_BOT_TOKEN is not set, so nothing is posted (except for users with their own slack_bot_token) and there is no slash command")
	}
	if cfg.AdminAPIToken == "" {
		m.Log.Warn().Msg("REST administration is off: ADMIN_API_TOKEN is not set; users' own API keys still work")
	}
	schedule, err := scheduler.ParseSchedule(cfg.ScanSchedule, cfg.DashboardScanInterval)
	if err != nil {
		return err
	}
	m.logConnectionBudget(ctx)
	// River's Start context is its hard stop (it cancels running jobs at once): SIGTERM
	// must not cancel it, Stop below is the soft stop.
	if err := m.Pipeline.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("start pipeline: %w", err)
	}
	trigger := scheduler.NewTrigger(schedule, m.Scanner, m.Log)
	trigger.Start(ctx)
	defer m.startHousekeeping(ctx)()
	defer m.startDigests(ctx)()
	m.serving.Store(true)
	stopFrontEnds := m.startFrontEnds(ctx)
	defer m.startServiceGrafana(ctx)()

	handler := rest.New(rest.Config{Service: m.Commands, AdminToken: cfg.AdminAPIToken, Checks: m.checks, Registry: m.Registry, Logger: m.Log})
	srv := &http.Server{
		Addr:              net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)),
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	stopMetrics, err := m.serveMetrics(handler.MetricsHandler())
	if err != nil {
		trigger.Stop()
		return err
	}
	defer stopMetrics()
	ln, err := net.Listen("tcp", srv.Addr)
	if err != nil {
		trigger.Stop()
		return fmt.Errorf("listen on %s (HOST/PORT): %w", srv.Addr, err)
	}
	m.Log.Info().Str("addr", ln.Addr().String()).Msg("REST API listening")
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err = <-errc:
	case <-ctx.Done():
	}
	m.Log.Info().Dur("shutdown_timeout", cfg.ShutdownTimeout).Msg("shutting down: no new work; running jobs may finish")
	// The last resort, for a part that does not stop when told: exit anyway. It stays
	// armed past a return with jobs still running, for Close waits for their
	// connections.
	exitLater := time.AfterFunc(cfg.ShutdownTimeout+shutdownGrace-500*time.Millisecond, func() {
		m.Log.Error().Dur("shutdown_timeout", cfg.ShutdownTimeout).Msg("shutdown did not finish in time; exiting now (jobs still running here are taken over by other processes)")
		os.Exit(1)
	})
	// Every part stops at once and in parallel, each within the bound: the REST API
	// and the bot finish their requests, the scan ends, the pipeline's jobs finish or
	// are cancelled after SHUTDOWN_TIMEOUT.
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout+shutdownGrace-2*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var serr, perr error
	wg.Add(3)
	go func() {
		defer wg.Done()
		hctx, hcancel := context.WithTimeout(sctx, min(20*time.Second, cfg.ShutdownTimeout))
		defer hcancel()
		serr = srv.Shutdown(hctx)
	}()
	go func() {
		defer wg.Done()
		stopFrontEnds()
		trigger.Stop()
	}()
	go func() {
		defer wg.Done()
		perr = m.Pipeline.Stop(sctx)
	}()
	wg.Wait()
	if perr == nil {
		exitLater.Stop()
	}
	if serr != nil && err == nil {
		err = fmt.Errorf("shut down REST API: %w", serr)
	}
	if perr != nil && err == nil {
		err = fmt.Errorf("stop pipeline: %w", perr)
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	m.Log.Info().Msg("stopped")
	return nil
}

// serveMetrics serves /metrics without a token on METRICS_ADDR (unless it is "off") and
// returns the function that stops it. Returns an error if the address cannot be listened on.
func (m *Main) serveMetrics(h http.Handler) (stop func(), err error) {
	if m.Config.MetricsAddr == "off" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", m.Config.MetricsAddr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s (METRICS_ADDR; \"off\" for none): %w", m.Config.MetricsAddr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second}
	m.Log.Info().Str("addr", ln.Addr().String()).Msg("metrics listening")
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.Log.Error().Err(err).Msg("metrics listener stopped")
		}
	}()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}

// shutdownGrace is how long after SHUTDOWN_TIMEOUT a stopping process may take to
// exit: its cancelled jobs return and are recorded.
const shutdownGrace = 5 * time.Second

// Close releases what NewMain opened.
func (m *Main) Close() {
	if m.Scanner != nil {
		m.Scanner.Close()
	}
	if m.Browser != nil {
		_ = m.Browser.Close()
	}
	if m.DB != nil {
		m.DB.Close()
	}
	if m.logCloser != nil {
		_ = m.logCloser.Close()
	}
}

// logConnectionBudget says how the service's connections fit in the server's: the
// ConnectionSum doctor and status print (its budget and Grafana's data sources against
// max_connections less the reserved slots), and what is left for others.
func (m *Main) logConnectionBudget(ctx context.Context) {
	sum, err := m.DB.ConnectionSum(ctx, m.Config.Budget(), grafana.DataSourceMaxOpenConns)
	if err != nil {
		m.Log.Warn().Err(err).Msg("read the server's max_connections")
		return
	}
	left := sum.Available() - sum.Open - sum.Budget.Total()
	ev := m.Log.Info()
	if left < 10 {
		ev = m.Log.Warn()
	}
	ev.Int("pg_connections", sum.Budget.Total()).Int("master", sum.Budget.Master).Int("scan", sum.Budget.Scan).Int("side", sum.Budget.Side).
		Int("max_connections", sum.Max).Int("reserved", sum.Reserved).Int("open_now", sum.Open).Int("left_for_others", left).
		Int("grafana_data_sources", sum.DataSources).Int("grafana_most", sum.Grafana()).
		Msg("connection budget: " + sum.String() + "; what is left must hold Grafana's busy data sources, CLI commands (2 each) and anything else; see README \"Many users\"")
}
