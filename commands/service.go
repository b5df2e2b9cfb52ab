package commands

import (
	"context"
	"strconv"
	"strings"

	"github.com/rs/zerolog"

	"credential-grafana/cg"
	"credential-grafana/db"
	"credential-grafana/grafana"
)

// Defaults are the values new users' credentials start with.
type Defaults struct {
	// DBHost and DBPort are where users' flows reach their databases. Default to the
	// master database's host and port.
	DBHost string
	DBPort int
	// DBSSLMode is the sslmode Grafana data sources use. Defaults to "disable".
	DBSSLMode string
	// GrafanaURL is the Grafana every user starts with; empty when Grafana is off.
	GrafanaURL string
	// SlackChannelID is the channel every user's posts go to until they set their own.
	SlackChannelID string
}

// Config is what the service needs.
type Config struct {
	DB       *db.DB
	Cipher   *db.Cipher
	Defaults Defaults
	// Scanner runs scans on demand; nil when this process does not scan.
	Scanner Scanner
	// Pipeline re-records dashboards and reports the queue; nil when it does not run here.
	Pipeline Pipeline
	// Grafana hands out each user's Grafana client; nil leaves Grafana out of
	// provisioning.
	Grafana *grafana.Clients
	// Checks are the dependencies Status reports besides the database.
	Checks []HealthCheck
	// Doctor is what Doctor checks besides the database and Grafana.
	Doctor DoctorConfig
	// Allowed are the db_host and grafana_url values an administrator may set besides
	// Defaults.DBHost and Defaults.GrafanaURL, which are always allowed.
	Allowed cg.AllowList
	Logger  zerolog.Logger
}

// Service runs the operations.
type Service struct {
	db       *db.DB
	users    db.Users
	creds    db.Credentials
	audit    db.Audit
	prov     db.Provisioner
	defaults Defaults
	scanner  Scanner
	pipeline Pipeline
	grafana  *grafana.Clients
	checks   []HealthCheck
	doctor   DoctorConfig
	allowed  cg.AllowList
	log      zerolog.Logger
}

// New returns a service over cfg.
func New(cfg Config) *Service {
	if cfg.Defaults.DBHost == "" {
		cfg.Defaults.DBHost = cfg.DB.Host()
	}
	if cfg.Defaults.DBPort == 0 {
		cfg.Defaults.DBPort = int(cfg.DB.Port())
	}
	if cfg.Defaults.DBSSLMode == "" {
		cfg.Defaults.DBSSLMode = "disable"
	}
	// The service's own host and Grafana, which new users start with, are always allowed.
	cfg.Allowed.DBHosts = append([]string{cfg.Defaults.DBHost}, cfg.Allowed.DBHosts...)
	if cfg.Defaults.GrafanaURL != "" {
		cfg.Allowed.GrafanaURLs = append([]string{cfg.Defaults.GrafanaURL}, cfg.Allowed.GrafanaURLs...)
	}
	return &Service{
		db:       cfg.DB,
		users:    cfg.DB.Users(),
		creds:    cfg.DB.Credentials(cfg.Cipher),
		audit:    cfg.DB.Audit(),
		prov:     cfg.DB.Provisioner(),
		defaults: cfg.Defaults,
		scanner:  cfg.Scanner,
		pipeline: cfg.Pipeline,
		grafana:  cfg.Grafana,
		checks:   cfg.Checks,
		doctor:   cfg.Doctor,
		allowed:  cfg.Allowed,
		log:      cfg.Logger,
	}
}

// Actor is who asks for an operation, as a front-end established it.
type Actor struct {
	// Name is how the audit log names the actor: "cli", "rest:admin", "rest:user:alice",
	// "slack:U0123ABCD".
	Name string
	// Admin may do everything.
	Admin bool
	// UserID, when not zero, is the one user an API key authenticated as.
	UserID int64
	// SlackUserID is the Slack member acting; they manage the users linked to them.
	SlackUserID string
}

// CLI is the actor of the command line: whoever can run the binary with the master
// database's credentials is an administrator.
var CLI = Actor{Name: "cli", Admin: true}

func (a Actor) mayManage(u cg.User) bool {
	return a.Admin || (a.UserID != 0 && a.UserID == u.ID) ||
		(a.SlackUserID != "" && a.SlackUserID == u.SlackUserID)
}

// managedUsers returns the users actor may manage: every user for an administrator,
// the users linked to the actor's Slack member or API key otherwise (none for an actor
// that is neither).
func (s *Service) managedUsers(ctx context.Context, actor Actor) ([]cg.User, error) {
	all, err := s.users.List(ctx)
	if err != nil || actor.Admin {
		return all, err
	}
	var mine []cg.User
	for _, u := range all {
		if actor.mayManage(u) {
			mine = append(mine, u)
		}
	}
	return mine, nil
}

// ManagedUser returns the user ref names if actor may manage it, for a front-end that
// shows a user before any operation on it (a form). Returns cg.EFORBIDDEN for a user the
// actor may not manage, and for one that does not exist when the actor is no
// administrator, so that nobody learns of others' users.
func (s *Service) ManagedUser(ctx context.Context, actor Actor, ref string) (cg.User, error) {
	return s.userFor(ctx, actor, ref)
}

func requireAdmin(a Actor, what string) error {
	if !a.Admin {
		return cg.Errorf(cg.EFORBIDDEN, "only an administrator may %s", what)
	}
	return nil
}

// lookupUser finds a user by numeric id or by name.
func (s *Service) lookupUser(ctx context.Context, ref string) (cg.User, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return cg.User{}, cg.Errorf(cg.EINVALID, "a user is required: give its name or numeric id")
	}
	if id, err := strconv.ParseInt(ref, 10, 64); err == nil {
		u, err := s.users.ByID(ctx, id)
		if cg.ErrorCode(err) == cg.ENOTFOUND {
			return u, cg.Errorf(cg.ENOTFOUND, "no user with id %d", id)
		}
		return u, err
	}
	u, err := s.users.ByName(ctx, ref)
	if cg.ErrorCode(err) == cg.ENOTFOUND {
		return u, cg.Errorf(cg.ENOTFOUND, "no user named %q: `user list` shows who exists", ref)
	}
	return u, err
}

// userFor looks up a user and checks that actor may manage it. A user the actor may not
// manage is reported as forbidden only to administrators' eyes; others learn no more
// than that they may not touch it.
func (s *Service) userFor(ctx context.Context, actor Actor, ref string) (cg.User, error) {
	u, err := s.lookupUser(ctx, ref)
	if err != nil {
		if !actor.Admin && cg.ErrorCode(err) == cg.ENOTFOUND {
			return u, cg.Errorf(cg.EFORBIDDEN, "you may only manage your own user")
		}
		return u, err
	}
	if !actor.mayManage(u) {
		return u, cg.Errorf(cg.EFORBIDDEN, "you may only manage your own user")
	}
	return u, nil
}

func (s *Service) record(ctx context.Context, actor Actor, action, target string, detail map[string]any) {
	if err := s.audit.Record(ctx, actor.Name, action, target, detail); err != nil {
		s.log.Error().Err(err).Str("action", action).Str("target_user", target).Msg("audit record failed")
	}
}

// Ping checks the master database.
func (s *Service) Ping(ctx context.Context) error { return s.db.Ping(ctx) }
