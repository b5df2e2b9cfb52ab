package commands

import (
	"context"
	"errors"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"credential-grafana/cg"
	"credential-grafana/db"
)

// lockUser holds the advisory lock on the user called name while it is created or
// provisioned again, so that concurrent requests for one name do not race each other's
// CREATE ROLE. Returns cg.ECONFLICT when another request holds it.
func (s *Service) lockUser(ctx context.Context, name string) (func(), error) {
	unlock, ok, err := s.db.TryLockUser(ctx, name)
	if err != nil {
		return unlock, err
	}
	if !ok {
		return unlock, cg.Errorf(cg.ECONFLICT, "%s is being created by another request: wait for it to finish, then `user show %s`", name, name)
	}
	return unlock, nil
}

// activeRetryFailed answers a failed step of RetryUser for an active user: the user
// stays active (a failed retry must not take its key and its scans away), the failure
// is audited and the error says what failed.
func (s *Service) activeRetryFailed(ctx context.Context, actor Actor, u cg.User, step, reason string, err error) error {
	s.record(ctx, actor, "user.retry_failed", u.Name, map[string]any{"step": step, "reason": reason})
	code := cg.ErrorCode(err)
	if code == cg.EINTERNAL {
		code = cg.EUNAVAILABLE
	}
	return &cg.Error{Code: code, Err: err, Message: "user " + quote(u.Name) + " is still active and unchanged by this retry: " + reason +
		". Fix that, then run `user retry " + u.Name + "` again"}
}

func quote(s string) string { return `"` + s + `"` }

// checkRolePassword refuses a value for db_pass or db_viewer_pass that cannot be a role's
// password (db.CheckRolePassword), before it is stored: the next provisioning would
// fail on it.
func checkRolePassword(key, value string) error {
	if key != "db_pass" && key != "db_viewer_pass" {
		return nil
	}
	if err := db.CheckRolePassword(value); err != nil {
		return cg.WrapError(cg.EINVALID, err, "%s: %s", key, cg.ErrorMessage(err))
	}
	return nil
}

// withoutSQLState is err's text with each PostgreSQL error in it shown by its message
// alone: no "ERROR:" and no "(SQLSTATE …)", which mean nothing to the reader.
func withoutSQLState(err error) string {
	text := err.Error()
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		text = strings.Replace(text, pgErr.Error(), pgErr.Message, 1)
	}
	return text
}
