package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/rs/zerolog"

	"credential-grafana/commands"
	"credential-grafana/db"
	"credential-grafana/rest"
)

// Main is the service, built from a Config. The CLI, `serve` and end-to-end tests all
// build the same Main.
type Main struct {
	Config   Config
	Log      zerolog.Logger
	DB       *db.DB
	Commands *commands.Service

	logCloser io.Closer
}

// NewMain wires config -> logger -> master database (migrated) -> commands.
func NewMain(ctx context.Context, cfg Config, stderr io.Writer) (*Main, error) {
	log, closer, err := newLogger(cfg, stderr)
	if err != nil {
		return nil, fmt.Errorf("set up logging: %w", err)
	}
	m := &Main{Config: cfg, Log: log, logCloser: closer}
	cipher, err := cfg.Cipher()
	if err != nil {
		m.Close()
		return nil, err
	}
	m.DB, err = db.Open(ctx, db.Config{URL: cfg.MasterURL(), CreateDatabase: true, Logger: log})
	if err != nil {
		m.Close()
		return nil, err
	}
	applied, err := m.DB.Migrate(ctx)
	if err != nil {
		m.Close()
		return nil, err
	}
	if len(applied) > 0 {
		log.Info().Strs("migrations", applied).Msg("applied migrations")
	}
	defaults := commands.Defaults{
		DBHost:         cfg.UserDBHost,
		DBPort:         cfg.UserDBPort,
		DBSSLMode:      cfg.UserDBSSLMode,
		GrafanaURL:     cfg.GrafanaBaseURL,
		SlackChannelID: cfg.SlackChannelID,
	}
	m.Commands = commands.New(commands.Config{DB: m.DB, Cipher: cipher, Defaults: defaults, Logger: log})
	return m, nil
}

// Serve runs the REST API (and, as they are switched on, the other front-ends) until
// ctx is cancelled, then shuts down gracefully.
func (m *Main) Serve(ctx context.Context) error {
	cfg := m.Config
	if cfg.GrafanaBaseURL == "" {
		m.Log.Warn().Msg("Grafana is off: GRAFANA_BASE_URL is not set, so no data sources or dashboards are made")
	}
	if cfg.SlackBotToken == "" {
		m.Log.Warn().Msg("Slack is off: SLACK_BOT_TOKEN is not set, so nothing is posted and there is no /cg command")
	}
	if cfg.AdminAPIToken == "" {
		m.Log.Warn().Msg("REST administration is off: ADMIN_API_TOKEN is not set; users' own API keys still work")
	}
	handler := rest.New(rest.Config{Service: m.Commands, AdminToken: cfg.AdminAPIToken, Logger: m.Log})
	srv := &http.Server{
		Addr:              net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)),
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	ln, err := net.Listen("tcp", srv.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s (HOST/PORT): %w", srv.Addr, err)
	}
	m.Log.Info().Str("addr", ln.Addr().String()).Msg("REST API listening")
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	m.Log.Info().Msg("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shut down REST API: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Close releases what NewMain opened.
func (m *Main) Close() {
	if m.DB != nil {
		m.DB.Close()
	}
	if m.logCloser != nil {
		_ = m.logCloser.Close()
	}
}
