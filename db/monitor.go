package db

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"credential-grafana/cg"
)

// monitorGrants are the columns of the master database the service's own dashboard
// reads: who, what was found when, where each table is in the pipeline and why it
// stopped, the scans, and the job queue. Nothing secret: no credentials table, no API
// key hashes, no job arguments.
var monitorGrants = []struct {
	table   string
	columns []string
}{
	{"users", []string{"id", "username", "status"}},
	{"dashboards", []string{"id", "user_id", "kind", "table_name", "state", "step", "reason", "last_error",
		"attempts", "created_at", "updated_at", "slack_sent_at"}},
	{"scan_runs", []string{"id", "started_at", "finished_at", "users", "tables_new", "failures"}},
	{"river_job", []string{"id", "state", "kind", "queue", "attempt", "created_at", "scheduled_at", "attempted_at", "finalized_at"}},
}

// InstallationID is this installation's id (table installation, made by migration 004).
func (d *DB) InstallationID(ctx context.Context) (string, error) {
	var id string
	if err := d.Pool.QueryRow(ctx, "SELECT id FROM installation").Scan(&id); err != nil {
		return "", fmt.Errorf("read the installation id: %w", err)
	}
	return id, nil
}

// MonitorRole is the read-only login role the service's own Grafana dashboard reads the
// master database with, e.g. "cg_monitor_5f0c1a2b3c4d": one per installation (roles
// are the server's, not a database's), and never a user's role name, which ends in
// _owner or _viewer.
func MonitorRole(installationID string) string {
	id := strings.ReplaceAll(installationID, "-", "")
	return "cg_monitor_" + id[:min(len(id), 12)]
}

func monitorMarker(installationID string) string {
	return "credential-grafana monitor of the master database, installation " + installationID
}

// RandomRolePassword is a fresh password for a role: 48 hex digits.
func RandomRolePassword() cg.Secret {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return cg.Secret(hex.EncodeToString(b))
}

// EnsureMonitorRole makes sure MonitorRole exists with password pass — LOGIN, read-only
// (default_transaction_read_only), allowed to connect to the master database and to
// SELECT only the columns in monitorGrants — and returns its name. It is created and
// marked in one transaction, as users' roles are, with its password set as a
// SCRAM-SHA-256 secret (no plaintext reaches SQL); run again, it sets the password and
// the grants. Returns cg.ECONFLICT, changing nothing, when a role of that name exists
// without this installation's marker.
func (p Provisioner) EnsureMonitorRole(ctx context.Context, pass cg.Secret) (string, error) {
	if err := CheckRolePassword(pass.Reveal()); err != nil {
		return "", err
	}
	secret, err := scramSecret(pass.Reveal())
	if err != nil {
		return "", err
	}
	id, err := p.db.InstallationID(ctx)
	if err != nil {
		return "", err
	}
	role := MonitorRole(id)
	for attempt := 0; ; attempt++ {
		var comment *string
		err := p.db.Pool.QueryRow(ctx, "SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = $1", role).Scan(&comment)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			err = pgx.BeginFunc(ctx, p.db.Pool, func(tx pgx.Tx) error {
				if err := utility(ctx, tx, "CREATE ROLE %s LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT PASSWORD %L", ident(role), secret); err != nil {
					return err
				}
				return utility(ctx, tx, "COMMENT ON ROLE %s IS %L", ident(role), monitorMarker(id))
			})
			if isDuplicate(err) && attempt < 3 {
				continue // a concurrent start created it: look again
			}
			if err != nil {
				return "", fmt.Errorf("create role %s: %w", role, err)
			}
		case err != nil:
			return "", fmt.Errorf("look up role %s: %w", role, err)
		case comment == nil || *comment != monitorMarker(id):
			return "", cg.Errorf(cg.ECONFLICT, "role %s exists but was not created by this credential-grafana installation: nothing was changed; drop or rename it, and the service makes its own", role)
		default:
			if err := utility(ctx, p.db.Pool, "ALTER ROLE %s LOGIN PASSWORD %L", ident(role), secret); err != nil {
				return "", fmt.Errorf("set password of role %s: %w", role, err)
			}
		}
		break
	}
	stmts := []string{
		"ALTER ROLE " + ident(role) + " SET default_transaction_read_only = on",
		"GRANT CONNECT ON DATABASE " + ident(p.db.Database()) + " TO " + ident(role),
	}
	var schema string
	if err := p.db.Pool.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		return "", fmt.Errorf("read the master database's schema: %w", err)
	}
	stmts = append(stmts, "GRANT USAGE ON SCHEMA "+ident(schema)+" TO "+ident(role))
	for _, g := range monitorGrants {
		cols := make([]string, len(g.columns))
		for i, c := range g.columns {
			cols[i] = ident(c)
		}
		stmts = append(stmts, "GRANT SELECT ("+strings.Join(cols, ", ")+") ON "+ident(schema)+"."+ident(g.table)+" TO "+ident(role))
	}
	for _, sql := range stmts {
		if _, err := p.db.Pool.Exec(ctx, sql); err != nil {
			return "", fmt.Errorf("set privileges of role %s: %w", role, err)
		}
	}
	return role, nil
}

// DropMonitorRole drops MonitorRole with its privileges in the master database, if it
// exists and is this installation's; tests and an uninstall use it.
func (p Provisioner) DropMonitorRole(ctx context.Context) error {
	id, err := p.db.InstallationID(ctx)
	if err != nil {
		return err
	}
	role := MonitorRole(id)
	var comment *string
	err = p.db.Pool.QueryRow(ctx, "SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = $1", role).Scan(&comment)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("look up role %s: %w", role, err)
	}
	if comment == nil || *comment != monitorMarker(id) {
		return cg.Errorf(cg.ECONFLICT, "role %s was not created by this installation: not dropped", role)
	}
	for _, sql := range []string{"DROP OWNED BY " + ident(role), "DROP ROLE " + ident(role)} {
		if _, err := p.db.Pool.Exec(ctx, sql); err != nil {
			return fmt.Errorf("drop role %s: %w", role, err)
		}
	}
	return nil
}
