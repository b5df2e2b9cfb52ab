package commands

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"credential-grafana/cg"
	"credential-grafana/db"
)

// CreateUserInput is what creating a user takes.
type CreateUserInput struct {
	Username string `json:"username" name:"username" validate:"required,username"`
	// SlackUserID links the user to the Slack member who manages it (optional).
	SlackUserID string `json:"slack_user_id" name:"slack_user_id" validate:"omitempty,slack_user"`
	// SlackChannelID is where its runs are posted (optional; SLACK_CHANNEL_ID otherwise).
	SlackChannelID string `json:"slack_channel_id" name:"slack_channel_id" validate:"omitempty,slack_channel"`
}

// CreateUserResult is what creating (or finishing the creation of) a user gives.
type CreateUserResult struct {
	User cg.User `json:"user"`
	// APIKey is the user's new API key. It is shown once: only its hash is stored. Empty
	// when the key was already issued by an earlier, completed creation.
	APIKey cg.Secret `json:"-"`
	// Resumed is true when this finished a creation that had stopped part way.
	Resumed bool `json:"resumed"`
	// Databases are the three databases, by kind.
	Databases map[cg.Kind]string `json:"databases"`
	// Steps are the provisioning steps run, in order.
	Steps []string `json:"steps"`
	// Grafana says whether the user's folder and data sources were made in Grafana
	// (false when no Grafana is configured).
	Grafana bool `json:"grafana"`
}

// CreateUser creates a user with its roles, databases and default credentials, or
// finishes the creation of one left "provisioning" by an earlier failure. Only
// administrators may. Returns cg.EINVALID for a bad name, cg.ECONFLICT if the user
// exists and is provisioned or ("… is being created by another request") while another
// request creates or retries the same name, and, when a step fails, an error that says
// which step and why; the user then stays "provisioning" with that reason, and running
// CreateUser (or RetryUser) again finishes it.
func (s *Service) CreateUser(ctx context.Context, actor Actor, in CreateUserInput) (CreateUserResult, error) {
	if err := requireAdmin(actor, "create users"); err != nil {
		return CreateUserResult{}, err
	}
	in.Username = strings.TrimSpace(in.Username)
	if err := check(in); err != nil {
		return CreateUserResult{}, err
	}
	unlock, err := s.lockUser(ctx, in.Username)
	if err != nil {
		return CreateUserResult{}, err
	}
	defer unlock()
	u, err := s.users.ByName(ctx, in.Username)
	resumed := true
	switch {
	case cg.ErrorCode(err) == cg.ENOTFOUND:
		if u, err = s.users.Insert(ctx, in.Username, in.SlackUserID); err != nil {
			return CreateUserResult{}, err
		}
		resumed = false
		s.record(ctx, actor, "user.create", u.Name, map[string]any{"slack_user_id": in.SlackUserID})
	case err != nil:
		return CreateUserResult{}, err
	case u.Status == cg.UserActive || u.Status == cg.UserDisabled:
		return CreateUserResult{}, cg.Errorf(cg.ECONFLICT, "user %q already exists (%s)", u.Name, u.Status)
	case u.Status == cg.UserRemoved:
		if err := s.users.SetStatus(ctx, u.ID, cg.UserProvisioning, "re-created"); err != nil {
			return CreateUserResult{}, err
		}
		s.record(ctx, actor, "user.recreate", u.Name, nil)
	}
	if in.SlackUserID != "" && in.SlackUserID != u.SlackUserID {
		if err := s.users.SetSlackUser(ctx, u.ID, in.SlackUserID); err != nil {
			return CreateUserResult{}, err
		}
	}
	if in.SlackChannelID != "" {
		if _, err := s.creds.Set(ctx, u.ID, "slack_channel_id", in.SlackChannelID, false); err != nil {
			return CreateUserResult{}, err
		}
	}
	res, err := s.provision(ctx, actor, u)
	res.Resumed = resumed
	return res, err
}

// RetryUser finishes the creation of a user left "provisioning", or runs the creation's
// idempotent steps again for an active one (after Grafana was configured, say). A failed
// step leaves an active user active (its key accepted, its databases scanned) and says
// which step failed; a provisioning one stays provisioning with that reason. Returns
// cg.ECONFLICT while another request creates or retries the same user.
func (s *Service) RetryUser(ctx context.Context, actor Actor, ref string) (CreateUserResult, error) {
	if err := requireAdmin(actor, "retry user creation"); err != nil {
		return CreateUserResult{}, err
	}
	u, err := s.lookupUser(ctx, ref)
	if err != nil {
		return CreateUserResult{}, err
	}
	unlock, err := s.lockUser(ctx, u.Name)
	if err != nil {
		return CreateUserResult{}, err
	}
	defer unlock()
	if u, err = s.users.ByID(ctx, u.ID); err != nil { // as it is now that we hold the lock
		return CreateUserResult{}, err
	}
	if u.Status != cg.UserProvisioning && u.Status != cg.UserActive {
		return CreateUserResult{}, cg.Errorf(cg.ECONFLICT, "user %q is %s: only a provisioning or active user can be provisioned again", u.Name, u.Status)
	}
	s.record(ctx, actor, "user.retry", u.Name, nil)
	res, err := s.provision(ctx, actor, u)
	res.Resumed = true
	return res, err
}

type step struct {
	name string
	run  func(ctx context.Context) error
}

// provision runs the creation steps in order. Each is idempotent, so a run after a
// failure redoes nothing twice and finishes what is missing.
func (s *Service) provision(ctx context.Context, actor Actor, u cg.User) (CreateUserResult, error) {
	res := CreateUserResult{User: u, Databases: map[cg.Kind]string{}}
	for _, k := range cg.Kinds {
		res.Databases[k] = k.DatabaseName(u.Name)
	}
	var ownerPass, viewerPass string
	steps := []step{
		// Before anything is changed: every role and database of the user that exists
		// already must carry this installation's marker.
		{"check the roles and databases are ours", func(ctx context.Context) error {
			return s.prov.CheckUser(ctx, u.Name)
		}},
		{"store database credentials", func(ctx context.Context) error {
			var err error
			if ownerPass, err = s.creds.SetIfAbsent(ctx, u.ID, "db_pass", randomPassword(), true); err != nil {
				return err
			}
			if viewerPass, err = s.creds.SetIfAbsent(ctx, u.ID, "db_viewer_pass", randomPassword(), true); err != nil {
				return err
			}
			// System keys are derived again on every run, whatever they hold.
			derived := map[string]string{
				"db_user":        db.OwnerRole(u.Name),
				"db_viewer_user": db.ViewerRole(u.Name),
			}
			for _, k := range cg.Kinds {
				derived[k.DatabaseCredentialKey()] = k.DatabaseName(u.Name)
			}
			for k, v := range derived {
				if _, err := s.creds.Set(ctx, u.ID, k, v, false); err != nil {
					return err
				}
			}
			plain := map[string]string{
				"db_host": s.defaults.DBHost,
				"db_port": strconv.Itoa(s.defaults.DBPort),
			}
			if s.defaults.GrafanaURL != "" {
				plain["grafana_url"] = s.defaults.GrafanaURL
			}
			if s.defaults.SlackChannelID != "" {
				plain["slack_channel_id"] = s.defaults.SlackChannelID
			}
			for k, v := range plain {
				if _, err := s.creds.SetIfAbsent(ctx, u.ID, k, v, false); err != nil {
					return err
				}
			}
			return nil
		}},
		{"create roles", func(ctx context.Context) error {
			return s.prov.EnsureRoles(ctx, u.Name, cg.Secret(ownerPass), cg.Secret(viewerPass))
		}},
	}
	for _, k := range cg.Kinds {
		steps = append(steps, step{"create database " + k.DatabaseName(u.Name), func(ctx context.Context) error {
			return s.prov.EnsureDatabase(ctx, u.Name, k)
		}})
	}
	steps = append(steps, step{"add Grafana folder and data sources", func(ctx context.Context) error {
		creds, err := s.creds.Map(ctx, u.ID)
		if err != nil {
			return err
		}
		res.Grafana, err = s.provisionGrafana(ctx, u, creds)
		return err
	}})
	steps = append(steps, step{"issue API key", func(ctx context.Context) error {
		key := newAPIKey()
		stored, err := s.users.SetAPIKeyOnce(ctx, u.ID, key, cg.Mask(key))
		if stored {
			res.APIKey = cg.Secret(key)
		}
		return err
	}})

	for _, st := range steps {
		res.Steps = append(res.Steps, st.name)
		if err := st.run(ctx); err != nil {
			reason := fmt.Sprintf("%s failed: %s", st.name, describe(err))
			s.log.Error().Err(err).Str("user", u.Name).Str("step", st.name).Msg("user provisioning step failed")
			if u.Status == cg.UserActive {
				return res, s.activeRetryFailed(ctx, actor, u, st.name, reason, err)
			}
			if serr := s.users.SetStatus(context.WithoutCancel(ctx), u.ID, cg.UserProvisioning, reason); serr != nil {
				s.log.Error().Err(serr).Str("user", u.Name).Msg("record provisioning failure")
			}
			s.record(ctx, actor, "user.provision_failed", u.Name, map[string]any{"step": st.name, "reason": reason})
			code := cg.ErrorCode(err)
			if code == cg.EINTERNAL {
				code = cg.EUNAVAILABLE
			}
			return res, &cg.Error{Code: code, Err: err, Message: fmt.Sprintf(
				"user %q is still provisioning: %s. Fix that, then run `user retry %s` (or add the user again) to finish",
				u.Name, reason, u.Name)}
		}
	}
	if err := s.users.SetStatus(ctx, u.ID, cg.UserActive, ""); err != nil {
		return res, err
	}
	s.record(ctx, actor, "user.provisioned", u.Name, nil)
	s.log.Info().Str("user", u.Name).Msg("user provisioned")
	res.User, _ = s.users.ByID(ctx, u.ID)
	return res, nil
}

// describe gives an error's text for a status reason: the *cg.Error's message if it has
// one, else the error itself (these reasons are for administrators) with PostgreSQL's
// errors as their message, without "ERROR:" and "(SQLSTATE …)".
func describe(err error) string {
	if cg.ErrorCode(err) != cg.EINTERNAL {
		return cg.ErrorMessage(err)
	}
	return withoutSQLState(err)
}

// ListUsers returns every user actor may manage, by name, in one slice. Front-ends use
// ListUsersPage (or EachUser), whose memory and cost do not grow with the list.
func (s *Service) ListUsers(ctx context.Context, actor Actor) ([]cg.User, error) {
	if !actor.Admin {
		if actor.SlackUserID == "" && actor.UserID == 0 {
			return nil, cg.Errorf(cg.EFORBIDDEN, "only an administrator may list users")
		}
		all, err := s.users.List(ctx)
		if err != nil {
			return nil, err
		}
		var mine []cg.User
		for _, u := range all {
			if actor.mayManage(u) {
				mine = append(mine, u)
			}
		}
		return mine, nil
	}
	return s.users.List(ctx)
}

// UserDetail is a user with its credentials, secrets masked.
type UserDetail struct {
	cg.User
	Credentials []cg.Credential    `json:"credentials"`
	Databases   map[cg.Kind]string `json:"databases"`
}

// ShowUser returns a user and its masked credentials.
func (s *Service) ShowUser(ctx context.Context, actor Actor, ref string) (UserDetail, error) {
	u, err := s.userFor(ctx, actor, ref)
	if err != nil {
		return UserDetail{}, err
	}
	creds, err := s.creds.List(ctx, u.ID)
	if err != nil {
		return UserDetail{}, err
	}
	d := UserDetail{User: u, Credentials: explainUnreadable(u, maskAll(creds)), Databases: map[cg.Kind]string{}}
	for _, k := range cg.Kinds {
		d.Databases[k] = k.DatabaseName(u.Name)
	}
	return d, nil
}

// DisableUser stops scanning a user, cancels its waiting and running pipeline jobs and
// refuses its API key; nothing is deleted.
func (s *Service) DisableUser(ctx context.Context, actor Actor, ref string) (cg.User, error) {
	return s.setStatus(ctx, actor, ref, cg.UserDisabled, "user.disable", cg.UserActive)
}

// EnableUser undoes DisableUser.
func (s *Service) EnableUser(ctx context.Context, actor Actor, ref string) (cg.User, error) {
	return s.setStatus(ctx, actor, ref, cg.UserActive, "user.enable", cg.UserDisabled)
}

func (s *Service) setStatus(ctx context.Context, actor Actor, ref string, to cg.UserStatus, action string, from cg.UserStatus) (cg.User, error) {
	if err := requireAdmin(actor, "enable or disable users"); err != nil {
		return cg.User{}, err
	}
	u, err := s.lookupUser(ctx, ref)
	if err != nil {
		return u, err
	}
	if u.Status == to {
		return u, nil
	}
	if u.Status != from {
		return u, cg.Errorf(cg.ECONFLICT, "user %q is %s: only a %s user can be made %s", u.Name, u.Status, from, to)
	}
	if err := s.users.SetStatus(ctx, u.ID, to, ""); err != nil {
		return u, err
	}
	var detail map[string]any
	if to != cg.UserActive {
		n, err := s.cancelJobs(ctx, u)
		if err != nil {
			return u, err
		}
		detail = map[string]any{"cancelled_jobs": n}
	}
	s.record(ctx, actor, action, u.Name, detail)
	return s.users.ByID(ctx, u.ID)
}

// cancelJobs cancels the pipeline jobs of a user that is no longer active, so nothing
// more is built, recorded or posted for it. Without a pipeline in this process there is
// nothing to cancel from here; the steps still check the user's status.
func (s *Service) cancelJobs(ctx context.Context, u cg.User) (int, error) {
	if s.pipeline == nil {
		return 0, nil
	}
	n, err := s.pipeline.CancelUserJobs(ctx, u.ID)
	if err != nil {
		return n, fmt.Errorf("cancel the jobs of user %s: %w", u.Name, err)
	}
	if n > 0 {
		s.log.Info().Str("user", u.Name).Int("jobs", n).Msg("cancelled the jobs of an inactive user")
	}
	return n, nil
}

// RemoveOptions say how far removal goes.
type RemoveOptions struct {
	// DropDatabases also drops the three databases and both roles. It needs Yes.
	DropDatabases bool
	// Yes confirms DropDatabases.
	Yes bool
}

// RemoveResult says what removal did.
type RemoveResult struct {
	User             cg.User `json:"user"`
	DroppedDatabases bool    `json:"dropped_databases"`
}

// RemoveUser deactivates a user, cancels its pipeline jobs, forgets its API key and
// removes its credentials. Its
// databases and roles are dropped only with DropDatabases and Yes. Only administrators may.
// With DropDatabases, it returns cg.ECONFLICT and changes nothing if any of the user's
// roles and databases was not created by this installation (see db.Provisioner.CheckUser).
func (s *Service) RemoveUser(ctx context.Context, actor Actor, ref string, opt RemoveOptions) (RemoveResult, error) {
	if err := requireAdmin(actor, "remove users"); err != nil {
		return RemoveResult{}, err
	}
	if opt.DropDatabases && !opt.Yes {
		return RemoveResult{}, cg.Errorf(cg.EINVALID,
			"dropping the databases deletes every run table in them for good: confirm with --yes (REST: ?drop_databases=true&yes=true)")
	}
	u, err := s.lookupUser(ctx, ref)
	if err != nil {
		return RemoveResult{}, err
	}
	if opt.DropDatabases {
		// Before anything is changed: drop nothing unless everything is ours.
		if err := s.prov.CheckUser(ctx, u.Name); err != nil {
			return RemoveResult{}, cg.WrapError(cg.ErrorCode(err), err, "user %q was not removed: %s", u.Name, cg.ErrorMessage(err))
		}
	}
	creds, err := s.creds.Map(ctx, u.ID)
	if err != nil {
		return RemoveResult{}, err
	}
	if err := s.deprovisionGrafana(ctx, u, creds); err != nil {
		return RemoveResult{}, cg.WrapError(cg.ErrorCode(err), err, "user %q was not removed: removing its Grafana folder and data sources failed: %s", u.Name, cg.ErrorMessage(err))
	}
	if err := s.users.SetStatus(ctx, u.ID, cg.UserRemoved, ""); err != nil {
		return RemoveResult{}, err
	}
	cancelled, err := s.cancelJobs(ctx, u)
	if err != nil {
		return RemoveResult{}, err
	}
	if err := s.users.ClearAPIKey(ctx, u.ID); err != nil {
		return RemoveResult{}, err
	}
	if err := s.creds.DeleteAll(ctx, u.ID); err != nil {
		return RemoveResult{}, err
	}
	res := RemoveResult{}
	if opt.DropDatabases {
		if err := s.prov.DropUser(ctx, u.Name); err != nil {
			return RemoveResult{}, fmt.Errorf("drop databases of %s: %w", u.Name, err)
		}
		res.DroppedDatabases = true
	}
	s.record(ctx, actor, "user.remove", u.Name, map[string]any{"drop_databases": opt.DropDatabases, "cancelled_jobs": cancelled})
	res.User, err = s.users.ByID(ctx, u.ID)
	return res, err
}

// Authenticate returns the actor an API key stands for: ADMIN_API_TOKEN's holder is an
// administrator (checked by the front-end), a user's key acts for that user only.
// Returns cg.EUNAUTHORIZED for an unknown key or one of a user that is not active.
func (s *Service) Authenticate(ctx context.Context, key string) (Actor, error) {
	if !strings.HasPrefix(key, apiKeyPrefix) {
		return Actor{}, cg.Errorf(cg.EUNAUTHORIZED, "the token is not valid: send `Authorization: Bearer <ADMIN_API_TOKEN or the user's API key>`")
	}
	u, err := s.users.ByAPIKey(ctx, key)
	if cg.ErrorCode(err) == cg.ENOTFOUND {
		return Actor{}, cg.Errorf(cg.EUNAUTHORIZED, "the token is not valid: send `Authorization: Bearer <ADMIN_API_TOKEN or the user's API key>`")
	}
	if err != nil {
		return Actor{}, err
	}
	if u.Status != cg.UserActive {
		return Actor{}, cg.Errorf(cg.EUNAUTHORIZED, "the API key of user %q is not accepted while the user is %s", u.Name, u.Status)
	}
	return Actor{Name: "api:user:" + u.Name, UserID: u.ID}, nil
}

const apiKeyPrefix = "cgk_"

func newAPIKey() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return apiKeyPrefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

func randomPassword() string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
