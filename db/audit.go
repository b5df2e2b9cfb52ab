package db

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// AuditEntry is one line of the audit log. Detail never holds a secret value.
type AuditEntry struct {
	ID         int64          `json:"id"`
	At         time.Time      `json:"at"`
	Actor      string         `json:"actor"`
	Action     string         `json:"action"`
	TargetUser string         `json:"target_user"`
	Detail     map[string]any `json:"detail"`
}

// Audit is the audit-log repository.
type Audit struct{ db *DB }

// Audit returns the audit-log repository.
func (d *DB) Audit() Audit { return Audit{d} }

// Record appends an entry.
func (r Audit) Record(ctx context.Context, actor, action, targetUser string, detail map[string]any) error {
	if detail == nil {
		detail = map[string]any{}
	}
	_, err := r.db.Pool.Exec(ctx, "INSERT INTO audit_log (actor, action, target_user, detail) VALUES ($1, $2, $3, $4)",
		actor, action, targetUser, detail)
	if err != nil {
		return fmt.Errorf("record audit %s: %w", action, err)
	}
	return nil
}

// List returns the newest entries about targetUser (all users when empty), newest first.
func (r Audit) List(ctx context.Context, targetUser string, limit int) ([]AuditEntry, error) {
	rows, err := r.db.Pool.Query(ctx, `SELECT id, at, actor, action, target_user, detail FROM audit_log
		WHERE $1 = '' OR target_user = $1 ORDER BY id DESC LIMIT $2`, targetUser, limit)
	if err != nil {
		return nil, fmt.Errorf("list audit log: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (AuditEntry, error) {
		var e AuditEntry
		err := row.Scan(&e.ID, &e.At, &e.Actor, &e.Action, &e.TargetUser, &e.Detail)
		return e, err
	})
}
