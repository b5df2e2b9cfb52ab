package app

import (
	"os"
	"path/filepath"
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
		cfg.CaptureWidth != 1920 || cfg.MasterDBName != "credential_grafana" || cfg.GIFMaxBytes != 8000000 ||
		cfg.MetricsAddr != "127.0.0.1:9108" {
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
		"METRICS_ADDR":          "9108",
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
		`METRICS_ADDR is "9108": expected host:port, e.g. 127.0.0.1:9108, or "off"`,
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

// The manifest asks for no im: scopes, so a direct message's ID (D…) is refused.
func TestConfigRefusesADirectMessageAsSlackChannel(t *testing.T) {
	_, err := ParseConfig(map[string]string{"SLACK_CHANNEL_ID": "D0123ABCD45"})
	if err == nil || !strings.Contains(err.Error(), `SLACK_CHANNEL_ID is "D0123ABCD45": expected a channel ID like C012AB3CD4E or G… (not a #name or a direct message D…)`) {
		t.Fatalf("err = %v", err)
	}
}

func TestConfigOrgIsolationNeedsAGrafanaServerAdmin(t *testing.T) {
	base := map[string]string{"CREDENTIALS_KEY": testKey, "GRAFANA_BASE_URL": "http://grafana:3000", "GRAFANA_API_KEY": "glsa_0123456789abcdef"}
	cfg, err := ParseConfig(base)
	if err != nil || cfg.GrafanaIsolation != "folder" {
		t.Fatalf("default: %q, %v", cfg.GrafanaIsolation, err)
	}
	org := map[string]string{"GRAFANA_ISOLATION": "org"}
	for k, v := range base {
		org[k] = v
	}
	_, err = ParseConfig(org)
	if err == nil || !strings.Contains(err.Error(), "GRAFANA_ISOLATION is org but GRAFANA_USER and GRAFANA_PASSWORD are not both set") {
		t.Fatalf("org without admin: %v", err)
	}
	org["GRAFANA_USER"], org["GRAFANA_PASSWORD"] = "admin", "s3cret-admin"
	if cfg, err = ParseConfig(org); err != nil || cfg.GrafanaIsolation != "org" {
		t.Fatalf("org with admin: %q, %v", cfg.GrafanaIsolation, err)
	}
	org["GRAFANA_ISOLATION"] = "tenant"
	if _, err = ParseConfig(org); err == nil || !strings.Contains(err.Error(), `GRAFANA_ISOLATION is "tenant": expected one of folder, org`) {
		t.Fatalf("bad isolation: %v", err)
	}
}

// TestConfigReadsSecretsFromFiles proves every secret variable also reads NAME_FILE and
// $CREDENTIALS_DIRECTORY/NAME (systemd's LoadCredential), and that a missing or
// world-readable file, or NAME with NAME_FILE, is a clear start-up error.
func TestConfigReadsSecretsFromFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	keyFile := write("key", testKey+"\n", 0o600)
	token := strings.Repeat("a", 30)
	tokenFile := write("token", token, 0o640)
	cfg, err := ParseConfig(map[string]string{"CREDENTIALS_KEY_FILE": keyFile, "ADMIN_API_TOKEN_FILE": tokenFile})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.CredentialsKey.Reveal() != testKey || cfg.AdminAPIToken.Reveal() != token {
		t.Errorf("read %q and %q from the files", cfg.CredentialsKey.Reveal(), cfg.AdminAPIToken.Reveal())
	}

	creds := filepath.Join(dir, "credentials")
	if err := os.Mkdir(creds, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(creds, "CREDENTIALS_KEY"), []byte(testKey), 0o400); err != nil {
		t.Fatal(err)
	}
	cfg, err = ParseConfig(map[string]string{"CREDENTIALS_DIRECTORY": creds})
	if err != nil || cfg.CredentialsKey.Reveal() != testKey {
		t.Errorf("from $CREDENTIALS_DIRECTORY: %v, %q", err, cfg.CredentialsKey.Reveal())
	}

	open := write("open", token, 0o644)
	_, err = ParseConfig(map[string]string{
		"CREDENTIALS_KEY_FILE":  filepath.Join(dir, "missing"),
		"ADMIN_API_TOKEN_FILE":  open,
		"SLACK_BOT_TOKEN":       "xoxb-" + token,
		"SLACK_BOT_TOKEN_FILE":  tokenFile,
		"GRAFANA_PASSWORD_FILE": dir,
	})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		"CREDENTIALS_KEY_FILE is \"" + filepath.Join(dir, "missing") + "\": the file does not exist",
		"ADMIN_API_TOKEN_FILE is \"" + open + "\": the file is readable by every user (mode 0644); chmod 600",
		"both SLACK_BOT_TOKEN and SLACK_BOT_TOKEN_FILE are set",
		"GRAFANA_PASSWORD_FILE is \"" + dir + "\": that is a directory",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), token) {
		t.Errorf("a secret is printed:\n%v", err)
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
