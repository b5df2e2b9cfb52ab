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
		"PORT":                  "http",
		"CAPTURE_WIDTH":         "10",
		"CAPTURE_FRAME_DELAY":   "fast",
		"LOG_LEVEL":             "loud",
		"GRAFANA_BASE_URL":      "grafana.local",
		"GRAFANA_API_KEY":       "eyJsecretvalue",
		"SLACK_BOT_TOKEN":       "xoxp-secretvalue",
		"SLACK_CHANNEL_ID":      "#eda-runs",
		"ADMIN_API_TOKEN":       "short-secret",
		"DATABASE_URL":          "mysql://secretvalue@x",
		"SCAN_SCHEDULE":         "every minute",
		"SLACK_ADMIN_USERS":     "U012AB3CD,alice",
		"USER_DB_ALLOWED_HOSTS": "db.example.com,postgres://x",
		"GRAFANA_ALLOWED_URLS":  "https://g.example.com,g2.example.com",
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
		`USER_DB_ALLOWED_HOSTS is "db.example.com,postgres://x": expected host names or IP addresses`,
		`GRAFANA_ALLOWED_URLS is "https://g.example.com,g2.example.com": expected http:// or https:// URLs`,
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

func TestAllowListsAlwaysHoldTheServicesOwnHostAndGrafana(t *testing.T) {
	cfg, err := ParseConfig(map[string]string{"CREDENTIALS_KEY": testKey, "GRAFANA_BASE_URL": "http://grafana:3000",
		"GRAFANA_API_KEY": "glsa_0123456789abcdef", "USER_DB_HOST": "pg.internal",
		"USER_DB_ALLOWED_HOSTS": "pg2.internal, 10.0.0.5", "GRAFANA_ALLOWED_URLS": "https://team.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	list := cfg.AllowList("127.0.0.1")
	if got := strings.Join(list.DBHosts, ","); got != "pg.internal,pg2.internal,10.0.0.5" {
		t.Errorf("DBHosts %s", got)
	}
	if got := strings.Join(list.GrafanaURLs, ","); got != "http://grafana:3000,https://team.example.com" {
		t.Errorf("GrafanaURLs %s", got)
	}
	cfg, _ = ParseConfig(map[string]string{"CREDENTIALS_KEY": testKey})
	if list := cfg.AllowList("db.master"); len(list.DBHosts) != 1 || list.DBHosts[0] != "db.master" || len(list.GrafanaURLs) != 0 {
		t.Errorf("defaults: %+v", list)
	}
}
