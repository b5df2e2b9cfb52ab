package main

import (
	"strings"
	"testing"
	"time"
)

const testKey = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="

func TestConfigDefaultsKeepTheOriginalNames(t *testing.T) {
	cfg, err := ParseConfig(map[string]string{"CREDENTIALS_KEY": testKey})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Port != 8050 || cfg.CaptureFrameDelay != 500*time.Millisecond || cfg.DashboardScanInterval != time.Minute ||
		cfg.CaptureWidth != 1920 || cfg.MasterDBName != "credential_grafana" || cfg.GIFMaxBytes != 8000000 {
		t.Fatalf("defaults: %+v", cfg)
	}
	if got := cfg.MasterURL(); got != "postgres://postgres@127.0.0.1:5432/credential_grafana?sslmode=disable" {
		t.Fatalf("MasterURL = %s", got)
	}
	cfg, err = ParseConfig(map[string]string{"CREDENTIALS_KEY": testKey, "DATABASE_URL": "postgres://u:p@db:5432/x",
		"MASTER_DB_PASS": "ignored", "DASHBOARD_SCAN_INTERVAL": "5000"})
	if err != nil || cfg.MasterURL() != "postgres://u:p@db:5432/x" || cfg.DashboardScanInterval != 5*time.Second {
		t.Fatalf("DATABASE_URL: %v %+v", err, cfg)
	}
}

func TestConfigReportsEveryProblemAtOnceWithoutSecrets(t *testing.T) {
	_, err := ParseConfig(map[string]string{
		"PORT":                "http",
		"CAPTURE_WIDTH":       "10",
		"CAPTURE_FRAME_DELAY": "fast",
		"LOG_LEVEL":           "loud",
		"GRAFANA_BASE_URL":    "grafana.local",
		"GRAFANA_API_KEY":     "eyJsecretvalue",
		"SLACK_BOT_TOKEN":     "xoxp-secretvalue",
		"SLACK_CHANNEL_ID":    "#eda-runs",
		"ADMIN_API_TOKEN":     "short-secret",
		"DATABASE_URL":        "mysql://secretvalue@x",
		"SCAN_SCHEDULE":       "every minute",
		"SLACK_ADMIN_USERS":   "U012AB3CD,alice",
	})
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, want := range []string{
		`PORT is "http": expected a whole number`,
		`CAPTURE_WIDTH is "10": expected at least 320`,
		`CAPTURE_FRAME_DELAY is "fast": expected a whole number of milliseconds`,
		`LOG_LEVEL is "loud": expected one of trace, debug, info, warn, error`,
		`GRAFANA_BASE_URL is "grafana.local": expected an http:// or https:// URL`,
		`GRAFANA_API_KEY is a value (hidden): expected a value starting with "glsa_"`,
		`SLACK_BOT_TOKEN is a value (hidden): expected a value starting with "xoxb-"`,
		`SLACK_CHANNEL_ID is "#eda-runs": expected a channel ID`,
		`ADMIN_API_TOKEN is a value (hidden): expected at least 24 characters`,
		`DATABASE_URL is a value (hidden): expected a postgres:// URL`,
		`CREDENTIALS_KEY is not set`,
		`SCAN_SCHEDULE is "every minute": expected a cron spec`,
		`SLACK_ADMIN_USERS is "U012AB3CD,alice": expected Slack member IDs`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("missing %q in:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "secretvalue") || strings.Contains(msg, "short-secret") {
		t.Fatalf("a secret is printed:\n%s", msg)
	}
	if n := strings.Count(msg, "CAPTURE_FRAME_DELAY"); n != 1 {
		t.Fatalf("CAPTURE_FRAME_DELAY reported %d times", n)
	}
}

func TestConfigNeedsGrafanaCredentialsWithItsURL(t *testing.T) {
	_, err := ParseConfig(map[string]string{"CREDENTIALS_KEY": testKey, "GRAFANA_BASE_URL": "http://grafana:3000"})
	if err == nil || !strings.Contains(err.Error(), "neither GRAFANA_API_KEY") {
		t.Fatalf("err = %v", err)
	}
}

func TestConfigKeepsTheScanInsideTheConnectionBudget(t *testing.T) {
	cfg, err := ParseConfig(map[string]string{"CREDENTIALS_KEY": testKey})
	if err != nil {
		t.Fatal(err)
	}
	if b := cfg.Budget(); cfg.PGConnections != 20 || b.Total() != 20 || b.Scan != cfg.ScanMaxConns || b.Master < 2 || b.Side < 1 {
		t.Fatalf("default budget: PG_CONNECTIONS %d split %+v", cfg.PGConnections, b)
	}
	if cfg.ScanFullEvery != time.Hour {
		t.Fatalf("SCAN_FULL_EVERY default %v, want an hour", cfg.ScanFullEvery)
	}
	cfg.command = "user"
	if b := cfg.Budget(); b.Master+b.Side > 2 {
		t.Fatalf("a CLI command's budget %+v holds more than 2 connections", b)
	}
	// SCAN_MAX_CONNS used to accept up to 1,000 with no look at anything else.
	_, err = ParseConfig(map[string]string{"CREDENTIALS_KEY": testKey, "SCAN_MAX_CONNS": "32"})
	if err == nil || !strings.Contains(err.Error(), "SCAN_MAX_CONNS (32)") || !strings.Contains(err.Error(), "PG_CONNECTIONS (20)") {
		t.Fatalf("SCAN_MAX_CONNS above the budget: %v", err)
	}
	if _, err := ParseConfig(map[string]string{"CREDENTIALS_KEY": testKey, "SCAN_MAX_CONNS": "32", "PG_CONNECTIONS": "40"}); err != nil {
		t.Fatalf("SCAN_MAX_CONNS inside a larger budget: %v", err)
	}
}
