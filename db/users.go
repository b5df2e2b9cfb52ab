package db

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"credential-grafana/cg"
)

// Users is the users repository.
type Users struct{ db *DB }

// Users returns the users repository.
func (d *DB) Users() Users { return Users{d} }

const userColumns = "id, username, status, status_reason, slack_user_id, created_at, updated_at"

func scanUser(row pgx.Row) (cg.User, error) {
	var u cg.User
	var status string
	err := row.Scan(&u.ID, &u.Name, &status, &u.StatusReason, &u.SlackUserID, &u.CreatedAt, &u.UpdatedAt)
	u.Status = cg.UserStatus(status)
	return u, err
}

// Insert adds a user in the provisioning state. Returns cg.ECONFLICT if the name is taken.
func (r Users) Insert(ctx context.Context, name, slackUserID string) (cg.User, error) {
	u, err := scanUser(r.db.Pool.QueryRow(ctx,
		"INSERT INTO users (username, slack_user_id) VALUES ($1, $2) RETURNING "+userColumns, name, slackUserID))
	if isUniqueViolation(err) {
		return cg.User{}, cg.Errorf(cg.ECONFLICT, "user %q already exists", name)
	}
	if err != nil {
		return cg.User{}, fmt.Errorf("insert user %q: %w", name, err)
	}
	return u, nil
}

// ByName returns the user with that name. Returns cg.ENOTFOUND if there is none.
func (r Users) ByName(ctx context.Context, name string) (cg.User, error) {
	return r.one(ctx, "username = $1", name)
}

// ByID returns the user with that id. Returns cg.ENOTFOUND if there is none.
func (r Users) ByID(ctx context.Context, id int64) (cg.User, error) {
	return r.one(ctx, "id = $1", id)
}

// ByAPIKey returns the user whose API key is key. Returns cg.ENOTFOUND if none matches.
func (r Users) ByAPIKey(ctx context.Context, key string) (cg.User, error) {
	sum := sha256.Sum256([]byte(key))
	return r.one(ctx, "api_key_hash = $1", sum[:])
}

func (r Users) one(ctx context.Context, where string, arg any) (cg.User, error) {
	u, err := scanUser(r.db.Pool.QueryRow(ctx, "SELECT "+userColumns+" FROM users WHERE "+where, arg))
	if errors.Is(err, pgx.ErrNoRows) {
		return cg.User{}, cg.Errorf(cg.ENOTFOUND, "no user %v", arg)
	}
	if err != nil {
		return cg.User{}, fmt.Errorf("read user: %w", err)
	}
	return u, nil
}

// List returns every user, removed ones included, by name.
func (r Users) List(ctx context.Context) ([]cg.User, error) {
	return r.ListOn(ctx, r.db.Pool)
}

// ListOn is List on q, a connection the caller holds.
func (r Users) ListOn(ctx context.Context, q Querier) ([]cg.User, error) {
	rows, err := q.Query(ctx, "SELECT "+userColumns+" FROM users ORDER BY username")
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (cg.User, error) { return scanUser(row) })
}

// UserFilter says which users a page holds: every user with All, otherwise those linked
// to SlackUserID (when not empty) and the one user UserID (when not zero) — none if both
// are empty.
type UserFilter struct {
	All         bool
	SlackUserID string
	UserID      int64
}

// userFilterSQL is UserFilter as a condition on $1 (All), $2 (SlackUserID), $3 (UserID).
const userFilterSQL = "($1 OR ($2 <> '' AND slack_user_id = $2) OR id = $3)"

// Page returns at most limit users of f with an id above afterID, by id: keyset
// pagination on the primary key, so a page costs the same at any depth. afterID 0 starts
// at the first user.
func (r Users) Page(ctx context.Context, f UserFilter, afterID int64, limit int) ([]cg.User, error) {
	rows, err := r.db.Pool.Query(ctx, "SELECT "+userColumns+" FROM users WHERE "+userFilterSQL+
		" AND id > $4 ORDER BY id LIMIT $5", f.All, f.SlackUserID, f.UserID, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("list users after id %d: %w", afterID, err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (cg.User, error) { return scanUser(row) })
}

// Count counts the users of f, and those of them with an id above afterID.
func (r Users) Count(ctx context.Context, f UserFilter, afterID int64) (total, after int, err error) {
	err = r.db.Pool.QueryRow(ctx, "SELECT count(*), count(*) FILTER (WHERE id > $4) FROM users WHERE "+userFilterSQL,
		f.All, f.SlackUserID, f.UserID, afterID).Scan(&total, &after)
	if err != nil {
		return 0, 0, fmt.Errorf("count users: %w", err)
	}
	return total, after, nil
}

// SetStatus changes a user's status and its reason.
func (r Users) SetStatus(ctx context.Context, id int64, status cg.UserStatus, reason string) error {
	_, err := r.db.Pool.Exec(ctx,
		"UPDATE users SET status = $2, status_reason = $3, updated_at = now() WHERE id = $1", id, string(status), reason)
	if err != nil {
		return fmt.Errorf("set user %d status %s: %w", id, status, err)
	}
	return nil
}

// SetSlackUser links a user to the Slack member who manages it.
func (r Users) SetSlackUser(ctx context.Context, id int64, slackUserID string) error {
	_, err := r.db.Pool.Exec(ctx, "UPDATE users SET slack_user_id = $2, updated_at = now() WHERE id = $1", id, slackUserID)
	if err != nil {
		return fmt.Errorf("set user %d slack user: %w", id, err)
	}
	return nil
}

// SetAPIKeyOnce stores the hash of key as the user's API key if the user has none yet.
// It reports whether it did.
func (r Users) SetAPIKeyOnce(ctx context.Context, id int64, key, hint string) (bool, error) {
	sum := sha256.Sum256([]byte(key))
	tag, err := r.db.Pool.Exec(ctx,
		"UPDATE users SET api_key_hash = $2, api_key_hint = $3, updated_at = now() WHERE id = $1 AND api_key_hash IS NULL",
		id, sum[:], hint)
	if err != nil {
		return false, fmt.Errorf("store API key of user %d: %w", id, err)
	}
	return tag.RowsAffected() == 1, nil
}

// ClearAPIKey forgets the user's API key, so that it no longer authenticates.
func (r Users) ClearAPIKey(ctx context.Context, id int64) error {
	_, err := r.db.Pool.Exec(ctx, "UPDATE users SET api_key_hash = NULL, api_key_hint = '', updated_at = now() WHERE id = $1", id)
	return err
}

// Delete removes the user row and, through the foreign keys, its credentials and dashboards.
func (r Users) Delete(ctx context.Context, id int64) error {
	_, err := r.db.Pool.Exec(ctx, "DELETE FROM users WHERE id = $1", id)
	return err
}

// ReplaceAPIKey stores the hash of key as the user's API key in place of any earlier
// one, which stops authenticating at once.
func (r Users) ReplaceAPIKey(ctx context.Context, id int64, key, hint string) error {
	sum := sha256.Sum256([]byte(key))
	_, err := r.db.Pool.Exec(ctx, "UPDATE users SET api_key_hash = $2, api_key_hint = $3, updated_at = now() WHERE id = $1", id, sum[:], hint)
	if err != nil {
		return fmt.Errorf("replace API key of user %d: %w", id, err)
	}
	return nil
}
