package app

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/go-playground/validator/v10"
	"github.com/joho/godotenv"

	"credential-grafana/cg"
	"credential-grafana/commands"
	"credential-grafana/db"
	"credential-grafana/scheduler"
)

// Config is the service's whole configuration, read from the environment and an
// optional .env file (the environment wins). Each field's tag names its variable; the
// names of the original system are kept so an existing .env works. .env.example
// documents each one.
type Config struct {
	Host string `env:"HOST" default:"0.0.0.0" validate:"required"`
	Port int    `env:"PORT" default:"8050" validate:"min=1,max=65535"`
	// MetricsAddr is where /metrics is served without a token, for the scraper only:
	// host:port, or "off" for none. On HOST:PORT, /metrics needs ADMIN_API_TOKEN.
	// Defaults to 127.0.0.1:9108.
	MetricsAddr string `env:"METRICS_ADDR" default:"127.0.0.1:9108" validate:"listenaddr"`

	// The master database: DATABASE_URL, or the MASTER_DB_* parts.
	DatabaseURL  cg.Secret `env:"DATABASE_URL" validate:"omitempty,pgurl"`
	MasterDBHost string    `env:"MASTER_DB_HOST" default:"127.0.0.1" validate:"required"`
	MasterDBPort int       `env:"MASTER_DB_PORT" default:"5432" validate:"min=1,max=65535"`
	MasterDBUser string    `env:"MASTER_DB_USER" default:"postgres" validate:"required"`
	MasterDBPass cg.Secret `env:"MASTER_DB_PASS"`
	MasterDBName string    `env:"MASTER_DB_NAME" default:"credential_grafana" validate:"required"`
	// USER_DB_HOST/PORT is where users' flows reach their databases, if not the master's.
	UserDBHost    string `env:"USER_DB_HOST"`
	UserDBPort    int    `env:"USER_DB_PORT" validate:"omitempty,min=1,max=65535"`
	UserDBSSLMode string `env:"USER_DB_SSLMODE" default:"disable" validate:"oneof=disable require verify-ca verify-full"`
	// USER_DB_ALLOWED_HOSTS (comma-separated host names or IP addresses) are the only
	// hosts a user's db_host may name, checked when it is set and when the scanner or the
	// pipeline connects. USER_DB_HOST (else the master database's host) is always on it;
	// empty allows only that one.
	UserDBAllowedHosts string `env:"USER_DB_ALLOWED_HOSTS" validate:"omitempty,hostlist"`

	CredentialsKey         cg.Secret `env:"CREDENTIALS_KEY" validate:"required,aeskey"`
	CredentialsKeyPrevious cg.Secret `env:"CREDENTIALS_KEY_PREVIOUS" validate:"omitempty,aeskeys"`
	AdminAPIToken          cg.Secret `env:"ADMIN_API_TOKEN" validate:"omitempty,min=24"`

	GrafanaBaseURL  string    `env:"GRAFANA_BASE_URL" validate:"omitempty,httpurl"`
	GrafanaAPIKey   cg.Secret `env:"GRAFANA_API_KEY" validate:"omitempty,prefix=glsa_"`
	GrafanaUser     string    `env:"GRAFANA_USER"`
	GrafanaPassword cg.Secret `env:"GRAFANA_PASSWORD"`
	GrafanaOrgID    int64     `env:"GRAFANA_ORG_ID" default:"1" validate:"min=1"`
	// GRAFANA_ALLOWED_URLS (comma-separated http(s) URLs) are the only Grafana servers a
	// user's grafana_url may name, compared with host case and default ports ignored, and
	// checked when it is set and when it is used. GRAFANA_BASE_URL is always on it; empty
	// allows only that one.
	GrafanaAllowedURLs string `env:"GRAFANA_ALLOWED_URLS" validate:"omitempty,urllist"`
	TemplatesDir       string `env:"TEMPLATES_DIR" validate:"omitempty,dir"`

	// GRAFANA_ISOLATION is how tenants are kept apart in Grafana. "folder" (the default):
	// one org (GRAFANA_ORG_ID) with a folder and data sources per user, where every
	// Viewer of the org can query every user's data source (OSS Grafana has no
	// data-source permissions). "org": an org per user with its own service account and
	// token; needs GRAFANA_USER and GRAFANA_PASSWORD of a Grafana server admin.
	GrafanaIsolation string `env:"GRAFANA_ISOLATION" default:"folder" validate:"oneof=folder org"`

	SlackBotToken  cg.Secret `env:"SLACK_BOT_TOKEN" validate:"omitempty,prefix=xoxb-"`
	SlackAppToken  cg.Secret `env:"SLACK_APP_TOKEN" validate:"omitempty,prefix=xapp-"`
	SlackChannelID string    `env:"SLACK_CHANNEL_ID" validate:"omitempty,slackchannel"`
	SlackAPIURL    string    `env:"SLACK_API_URL" validate:"omitempty,httpurl"`
	SlackCommand   string    `env:"SLACK_COMMAND" default:"/cg" validate:"startswith=/,max=32"`
	// SLACK_ADMIN_USERS is a comma-separated list of member IDs; SLACK_ADMIN_GROUP a user group ID.
	SlackAdminUsers string `env:"SLACK_ADMIN_USERS" validate:"omitempty,slackusers"`
	SlackAdminGroup string `env:"SLACK_ADMIN_GROUP" validate:"omitempty,startswith=S"`

	GIFCaptureDir      string        `env:"GIF_CAPTURE_DIR" default:"captures" validate:"required"`
	CaptureWidth       int           `env:"CAPTURE_WIDTH" default:"1920" validate:"min=320,max=7680"`
	CaptureHeight      int           `env:"CAPTURE_HEIGHT" default:"1080" validate:"min=240,max=4320"`
	CaptureFrames      int           `env:"CAPTURE_FRAMES" default:"10" validate:"min=1,max=300"`
	CaptureFrameDelay  time.Duration `env:"CAPTURE_FRAME_DELAY" unit:"ms" default:"500" validate:"min=20ms,max=60s"`
	CaptureTimeout     time.Duration `env:"CAPTURE_TIMEOUT" unit:"ms" default:"60000" validate:"min=1s,max=10m"`
	CaptureConcurrency int           `env:"CAPTURE_CONCURRENCY" default:"2" validate:"min=1,max=16"`
	CaptureTheme       string        `env:"CAPTURE_THEME" default:"dark" validate:"oneof=dark light"`
	ChromiumPath       string        `env:"CHROMIUM_PATH" default:"/usr/bin/chromium"`
	GIFMaxBytes        int64         `env:"GIF_MAX_BYTES" default:"8000000" validate:"min=100000"`
	// GIF_RETENTION is how many days a GIF stays in GIF_CAPTURE_DIR (by its modification
	// time; one still waiting to be posted stays); its dashboard and post stay. Defaults to 30.
	GIFRetentionDays int `env:"GIF_RETENTION" default:"30" validate:"min=1,max=36500"`
	// SCAN_HISTORY is how many days of recorded scans (scan_runs) are kept; the newest
	// always is. Defaults to 7.
	ScanHistoryDays int `env:"SCAN_HISTORY" default:"7" validate:"min=1,max=36500"`
	// CAPTURE_IDLE (ms, default 300000: 5 minutes) closes Chromium after that long without a
	// recording, returning its memory; the next recording starts it again.
	CaptureIdle time.Duration `env:"CAPTURE_IDLE" unit:"ms" default:"300000" validate:"min=1s"`

	DashboardScanInterval time.Duration `env:"DASHBOARD_SCAN_INTERVAL" unit:"ms" default:"60000" validate:"min=1s"`
	ScanSchedule          string        `env:"SCAN_SCHEDULE"`
	JobTimeout            time.Duration `env:"JOB_TIMEOUT" unit:"ms" default:"600000" validate:"min=1s"`
	JobRescueAfter        time.Duration `env:"JOB_RESCUE_AFTER" unit:"ms"`
	// ShutdownTimeout is how long SIGTERM lets running jobs finish before it cancels
	// them (they resume in another process); the process exits at most 5 s after it.
	// Defaults to 60000 ms.
	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT" unit:"ms" default:"60000" validate:"min=1s,max=1h"`

	// SCAN_MAX_CONNS bounds the scan's connections to users' databases, kept between
	// scans; it must leave at least 3 of PG_CONNECTIONS. Defaults to 4.
	ScanMaxConns int `env:"SCAN_MAX_CONNS" default:"4" validate:"min=1,max=1000"`
	// SCAN_FULL_EVERY is how often a scan lists every database's tables, changed or not;
	// the scans between list only databases whose pg_stat_database counters moved.
	// Defaults to an hour.
	ScanFullEvery time.Duration `env:"SCAN_FULL_EVERY" unit:"ms" default:"3600000" validate:"min=1s"`
	// PG_CONNECTIONS bounds every connection `serve` holds to the cluster: the master
	// pool and River, the scan (SCAN_MAX_CONNS of them) and one-off connections
	// (provisioning, the pipeline). A CLI command holds at most 2 (`scan --once` 3).
	// Defaults to 20.
	PGConnections int `env:"PG_CONNECTIONS" default:"20" validate:"min=3,max=10000"`
	// PG_APPLICATION_NAME starts the application_name of every connection the service
	// opens, so they can be counted in pg_stat_activity. Defaults to "credential-grafana".
	PGApplicationName string `env:"PG_APPLICATION_NAME" default:"credential-grafana" validate:"max=48"`

	LogLevel  string `env:"LOG_LEVEL" default:"info" validate:"oneof=trace debug info warn error"`
	LogFormat string `env:"LOG_FORMAT" default:"auto" validate:"oneof=auto console json"`
	LogFile   string `env:"LOG_FILE"`

	// command is the CLI command this process runs ("" or "serve" for the service): a
	// one-shot command gets db.CLIBudget.
	command string
	// slackManifest is slack-app-manifest.yaml's text (Build.SlackManifest): doctor
	// checks the bot token against the scopes it asks for.
	slackManifest string
}

// Budget is how the process's connections to the cluster are split: PG_CONNECTIONS
// for `serve`, db.CLIBudget for a one-shot command, one more master connection for
// `scan --once` (the scan holds its lock on one while it queries on another).
func (c Config) Budget() db.Budget {
	switch c.command {
	case "", "serve":
		b, err := db.SplitBudget(c.PGConnections, c.ScanMaxConns)
		if err != nil { // ParseConfig refused it already
			return db.Budget{Master: 2, Scan: 1, Side: 1}
		}
		return b
	case "scan":
		return db.Budget{Master: 2, Scan: 1, Side: 1}
	}
	return db.CLIBudget
}

// ConfigError lists every problem with the configuration at once.
type ConfigError struct{ Problems []string }

func (e *ConfigError) Error() string {
	return "configuration is not valid:\n  - " + strings.Join(e.Problems, "\n  - ") +
		"\nSet these in the environment or in .env (see .env.example)."
}

// LoadConfig reads envFile (if it exists; "" skips it), then the environment, and
// validates the result, reporting every problem at once.
func LoadConfig(envFile string) (Config, error) {
	env := map[string]string{}
	if envFile != "" {
		if m, err := godotenv.Read(envFile); err == nil {
			env = m
		} else if !errors.Is(err, os.ErrNotExist) {
			return Config{}, fmt.Errorf("read %s: %w", envFile, err)
		}
	}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	return ParseConfig(env)
}

// ParseConfig builds and validates a Config from variables.
func ParseConfig(env map[string]string) (Config, error) {
	var cfg Config
	env, problems := readSecretFiles(env)
	unparsed := map[string]bool{} // fields already reported as unparsable
	rv := reflect.ValueOf(&cfg).Elem()
	rt := rv.Type()
	for i := 0; i < rt.NumField(); i++ {
		f := rt.Field(i)
		name := f.Tag.Get("env")
		raw, set := env[name]
		raw = strings.TrimSpace(raw)
		if !set || raw == "" {
			raw = f.Tag.Get("default")
		}
		if raw == "" {
			continue
		}
		fv := rv.Field(i)
		switch {
		case f.Type == reflect.TypeOf(time.Duration(0)):
			n, err := strconv.ParseInt(raw, 10, 64)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s is %q: expected a whole number of milliseconds, e.g. 500", name, raw))
				unparsed[f.Name] = true
				continue
			}
			fv.SetInt(int64(time.Duration(n) * time.Millisecond))
		case f.Type.Kind() == reflect.Int || f.Type.Kind() == reflect.Int64:
			n, err := strconv.ParseInt(raw, 10, 64)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s is %q: expected a whole number", name, raw))
				unparsed[f.Name] = true
				continue
			}
			fv.SetInt(n)
		default:
			fv.SetString(raw)
		}
	}
	if err := configValidator.Struct(cfg); err != nil {
		var verrs validator.ValidationErrors
		if !errors.As(err, &verrs) {
			return cfg, err
		}
		for _, fe := range verrs {
			if unparsed[fe.StructField()] {
				continue
			}
			problems = append(problems, configProblem(rt, fe))
		}
	}
	if cfg.GrafanaBaseURL != "" && cfg.GrafanaAPIKey == "" && (cfg.GrafanaUser == "" || cfg.GrafanaPassword == "") {
		problems = append(problems, "GRAFANA_BASE_URL is set but neither GRAFANA_API_KEY (a service-account token, glsa_…) nor GRAFANA_USER and GRAFANA_PASSWORD are: Grafana cannot be used without one of them")
	}
	if cfg.GrafanaIsolation == "org" && (cfg.GrafanaUser == "" || cfg.GrafanaPassword == "") {
		problems = append(problems, "GRAFANA_ISOLATION is org but GRAFANA_USER and GRAFANA_PASSWORD are not both set: an org per user can only be made by a Grafana server admin (Basic auth); set them, or use GRAFANA_ISOLATION=folder")
	}
	if _, err := scheduler.ParseSchedule(cfg.ScanSchedule, cfg.DashboardScanInterval); err != nil && cfg.ScanSchedule != "" {
		problems = append(problems, fmt.Sprintf("SCAN_SCHEDULE is %q: expected a cron spec (five fields like \"*/2 * * * *\", or \"@every 30s\")", cfg.ScanSchedule))
	}
	if cfg.JobRescueAfter != 0 && cfg.JobRescueAfter <= cfg.JobTimeout {
		problems = append(problems, fmt.Sprintf("JOB_RESCUE_AFTER is %d ms: expected more than JOB_TIMEOUT (%d ms)", cfg.JobRescueAfter.Milliseconds(), cfg.JobTimeout.Milliseconds()))
	}
	if _, err := db.SplitBudget(cfg.PGConnections, cfg.ScanMaxConns); err != nil && cfg.PGConnections >= 3 && cfg.ScanMaxConns >= 1 {
		problems = append(problems, err.Error())
	}
	if cfg.SlackAppToken != "" && cfg.SlackBotToken == "" {
		problems = append(problems, "SLACK_APP_TOKEN is set but SLACK_BOT_TOKEN is not: Socket Mode needs both (xapp-… and xoxb-…)")
	}
	if len(problems) > 0 {
		return cfg, &ConfigError{Problems: problems}
	}
	return cfg, nil
}

// readSecretFiles returns env with each secret variable (a field of type cg.Secret) read
// from a file where one is named: NAME_FILE (Docker and Kubernetes secrets), else
// $CREDENTIALS_DIRECTORY/NAME (systemd's LoadCredential=NAME:…). A file that is missing,
// unreadable or readable by every user is a problem, as is setting both NAME and
// NAME_FILE. The value is the file's content without surrounding white space.
func readSecretFiles(env map[string]string) (map[string]string, []string) {
	out := make(map[string]string, len(env))
	for k, v := range env {
		out[k] = v
	}
	var problems []string
	credDir := strings.TrimSpace(env["CREDENTIALS_DIRECTORY"])
	rt := reflect.TypeOf(Config{})
	for i := 0; i < rt.NumField(); i++ {
		f := rt.Field(i)
		if f.Type != reflect.TypeOf(cg.Secret("")) {
			continue
		}
		name := f.Tag.Get("env")
		path, fromVar := strings.TrimSpace(env[name+"_FILE"]), true
		if path == "" && credDir != "" {
			if p := filepath.Join(credDir, name); fileExists(p) && strings.TrimSpace(env[name]) == "" {
				path, fromVar = p, false
			}
		}
		if path == "" {
			continue
		}
		where := name + "_FILE is " + strconvQuote(path)
		if !fromVar {
			where = name + " from $CREDENTIALS_DIRECTORY (" + path + ")"
		}
		if fromVar && strings.TrimSpace(env[name]) != "" {
			problems = append(problems, fmt.Sprintf("both %s and %s_FILE are set: keep one", name, name))
			continue
		}
		info, err := os.Stat(path)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %s; create it or fix the path", where, describeFileError(err)))
			continue
		}
		if info.IsDir() {
			problems = append(problems, fmt.Sprintf("%s: that is a directory, not a file", where))
			continue
		}
		if info.Mode().Perm()&0o004 != 0 {
			problems = append(problems, fmt.Sprintf("%s: the file is readable by every user (mode %04o); chmod 600 it (or 640 with the service's group)", where, info.Mode().Perm()))
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %s", where, describeFileError(err)))
			continue
		}
		out[name] = strings.TrimSpace(string(b))
	}
	return out, problems
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func strconvQuote(s string) string { return strconv.Quote(s) }

func describeFileError(err error) string {
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "the file does not exist"
	case errors.Is(err, os.ErrPermission):
		return "the service may not read the file"
	}
	return err.Error()
}

var configValidator = func() *validator.Validate {
	v := validator.New()
	v.RegisterTagNameFunc(func(f reflect.StructField) string { return f.Name })
	v.RegisterCustomTypeFunc(func(f reflect.Value) any { return f.Interface().(cg.Secret).Reveal() }, cg.Secret(""))
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	must(v.RegisterValidation("aeskey", func(fl validator.FieldLevel) bool {
		_, err := db.ParseKey(fl.Field().String())
		return err == nil
	}))
	must(v.RegisterValidation("aeskeys", func(fl validator.FieldLevel) bool {
		_, err := parseKeys(fl.Field().String())
		return err == nil
	}))
	must(v.RegisterValidation("pgurl", func(fl validator.FieldLevel) bool {
		u, err := url.Parse(fl.Field().String())
		return err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") && u.Host != ""
	}))
	must(v.RegisterValidation("httpurl", func(fl validator.FieldLevel) bool {
		u, err := url.Parse(fl.Field().String())
		return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
	}))
	must(v.RegisterValidation("listenaddr", func(fl validator.FieldLevel) bool {
		if fl.Field().String() == "off" {
			return true
		}
		_, port, err := net.SplitHostPort(fl.Field().String())
		n, perr := strconv.Atoi(port)
		return err == nil && perr == nil && n >= 0 && n <= 65535
	}))
	must(v.RegisterValidation("hostlist", func(fl validator.FieldLevel) bool {
		spec, err := commands.LookupKey("db_host") // the same rule as the credential
		for _, h := range cg.SplitList(fl.Field().String()) {
			if err != nil || spec.Check(h) != nil {
				return false
			}
		}
		return true
	}))
	must(v.RegisterValidation("urllist", func(fl validator.FieldLevel) bool {
		for _, u := range cg.SplitList(fl.Field().String()) {
			if _, err := cg.NormalizeURL(u); err != nil {
				return false
			}
		}
		return true
	}))
	must(v.RegisterValidation("prefix", func(fl validator.FieldLevel) bool {
		return strings.HasPrefix(fl.Field().String(), fl.Param())
	}))
	must(v.RegisterValidation("slackusers", func(fl validator.FieldLevel) bool {
		for _, id := range strings.Split(fl.Field().String(), ",") {
			id = strings.TrimSpace(id)
			if len(id) < 3 || (id[0] != 'U' && id[0] != 'W') || strings.ToUpper(id) != id {
				return false
			}
		}
		return true
	}))
	must(v.RegisterValidation("slackchannel", func(fl validator.FieldLevel) bool {
		spec, err := commands.LookupKey("slack_channel_id") // the same rule as the credential
		return err == nil && spec.Check(fl.Field().String()) == nil
	}))
	return v
}()

func parseKeys(s string) ([][]byte, error) {
	var out [][]byte
	for _, part := range strings.Split(s, ",") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		k, err := db.ParseKey(part)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, nil
}

// configProblem says which variable is wrong, what it holds (never a secret's value) and
// what is expected.
func configProblem(rt reflect.Type, fe validator.FieldError) string {
	f, _ := rt.FieldByName(fe.StructField())
	name := f.Tag.Get("env")
	holds := fmt.Sprintf("%q", fmt.Sprint(fe.Value()))
	if f.Type == reflect.TypeOf(cg.Secret("")) {
		holds = "a value (hidden)"
	}
	if f.Type == reflect.TypeOf(time.Duration(0)) {
		holds = fmt.Sprintf("%d ms", fe.Value().(time.Duration).Milliseconds())
	}
	if fe.Tag() == "required" {
		switch name {
		case "CREDENTIALS_KEY":
			return "CREDENTIALS_KEY is not set: expected 32 random bytes, base64-encoded (openssl rand -base64 32); `make run` writes one into a new .env"
		}
		return fmt.Sprintf("%s is not set: it is required", name)
	}
	var want string
	switch fe.Tag() {
	case "min", "max":
		if f.Type == reflect.TypeOf(time.Duration(0)) {
			want = fmt.Sprintf("%s %s", map[string]string{"min": "at least", "max": "at most"}[fe.Tag()], fe.Param())
		} else if f.Type.Kind() == reflect.String {
			want = fmt.Sprintf("at least %s characters", fe.Param())
		} else {
			want = fmt.Sprintf("%s %s", map[string]string{"min": "at least", "max": "at most"}[fe.Tag()], fe.Param())
		}
	case "oneof":
		want = "one of " + strings.ReplaceAll(fe.Param(), " ", ", ")
	case "aeskey", "aeskeys":
		want = "32 random bytes, base64- or hex-encoded (openssl rand -base64 32)" + map[bool]string{true: ", comma-separated", false: ""}[fe.Tag() == "aeskeys"]
	case "pgurl":
		want = "a postgres:// URL such as postgres://user:pass@127.0.0.1:5432/credential_grafana"
	case "httpurl":
		want = "an http:// or https:// URL"
	case "prefix":
		want = fmt.Sprintf("a value starting with %q", fe.Param())
	case "hostlist":
		want = "host names or IP addresses without a scheme or port, comma-separated (db.example.com,10.0.0.5)"
	case "urllist":
		want = "http:// or https:// URLs, comma-separated (https://grafana.example.com,http://127.0.0.1:3000)"
	case "slackchannel":
		want = "a channel ID like C012AB3CD4E or G… (not a #name or a direct message D…)"
	case "dir":
		want = "an existing directory"
	case "slackusers":
		want = "Slack member IDs like U012AB3CD, comma-separated"
	case "startswith":
		want = fmt.Sprintf("a value starting with %q", fe.Param())
	case "listenaddr":
		want = `host:port, e.g. 127.0.0.1:9108, or "off"`
	default:
		want = fe.Tag()
	}
	return fmt.Sprintf("%s is %s: expected %s", name, holds, want)
}

// MasterURL is the master database's URL, from DATABASE_URL or the MASTER_DB_* parts.
func (c Config) MasterURL() string {
	if c.DatabaseURL != "" {
		return c.DatabaseURL.Reveal()
	}
	u := url.URL{
		Scheme: "postgres",
		Host:   c.MasterDBHost + ":" + strconv.Itoa(c.MasterDBPort),
		Path:   "/" + c.MasterDBName,
	}
	if c.MasterDBPass != "" {
		u.User = url.UserPassword(c.MasterDBUser, c.MasterDBPass.Reveal())
	} else {
		u.User = url.User(c.MasterDBUser)
	}
	q := url.Values{}
	q.Set("sslmode", "prefer")
	if c.MasterDBHost == "127.0.0.1" || c.MasterDBHost == "localhost" {
		q.Set("sslmode", "disable")
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// Cipher builds the credentials cipher from CREDENTIALS_KEY and CREDENTIALS_KEY_PREVIOUS.
func (c Config) Cipher() (*db.Cipher, error) {
	cur, err := db.ParseKey(c.CredentialsKey.Reveal())
	if err != nil {
		return nil, fmt.Errorf("CREDENTIALS_KEY: %w", err)
	}
	prev, err := parseKeys(c.CredentialsKeyPrevious.Reveal())
	if err != nil {
		return nil, fmt.Errorf("CREDENTIALS_KEY_PREVIOUS: %w", err)
	}
	return db.NewCipher(cur, prev...)
}

// AdminUsers is SLACK_ADMIN_USERS as a list.
func (c Config) AdminUsers() []string {
	var out []string
	for _, id := range strings.Split(c.SlackAdminUsers, ",") {
		if id = strings.TrimSpace(id); id != "" {
			out = append(out, id)
		}
	}
	return out
}

// AllowList is where users' credentials may make the service connect: USER_DB_ALLOWED_HOSTS
// with USER_DB_HOST (or masterHost, the master database's host, when USER_DB_HOST is
// unset), and GRAFANA_ALLOWED_URLS with GRAFANA_BASE_URL.
func (c Config) AllowList(masterHost string) cg.AllowList {
	own := cmp.Or(c.UserDBHost, masterHost)
	list := cg.AllowList{DBHosts: append([]string{own}, cg.SplitList(c.UserDBAllowedHosts)...)}
	if c.GrafanaBaseURL != "" {
		list.GrafanaURLs = append(list.GrafanaURLs, c.GrafanaBaseURL)
	}
	list.GrafanaURLs = append(list.GrafanaURLs, cg.SplitList(c.GrafanaAllowedURLs)...)
	return list
}
