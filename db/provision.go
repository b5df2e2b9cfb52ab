package db

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"credential-grafana/cg"
)

// OwnerRole is the login role a user's flows write their run tables with.
func OwnerRole(user string) string { return user + "_owner" }

// ViewerRole is the read-only login role Grafana reads a user's databases with.
func ViewerRole(user string) string { return user + "_viewer" }

// roleMarker is the comment that says a role was made by this service for this user.
// Provisioning never adopts a role or a database that lacks it: a name clash with
// something that was there before is refused, not taken over.
func roleMarker(user, what string) string { return "credential-grafana " + what + " of user " + user }

// Provisioner creates and drops the roles and databases of users on the master server.
// Every method is idempotent: run again after a failure, it finishes what is missing.
type Provisioner struct{ db *DB }

// Provisioner returns the provisioner for the master server.
func (d *DB) Provisioner() Provisioner { return Provisioner{d} }

func ident(name string) string { return pgx.Identifier{name}.Sanitize() }

// EnsureRoles creates the owner (LOGIN) and viewer (LOGIN, read-only) roles of user with
// the given passwords, or sets those passwords on the roles if they exist and are ours.
// Returns cg.ECONFLICT if a role of that name exists and was not made for this user.
func (p Provisioner) EnsureRoles(ctx context.Context, user string, ownerPass, viewerPass cg.Secret) error {
	for _, r := range []struct {
		name, what string
		pass       cg.Secret
	}{
		{OwnerRole(user), "owner", ownerPass},
		{ViewerRole(user), "viewer", viewerPass},
	} {
		if err := p.ensureRole(ctx, user, r.name, r.what, r.pass); err != nil {
			return err
		}
	}
	// The viewer is read-only even if someone grants it more later.
	if _, err := p.db.Pool.Exec(ctx, "ALTER ROLE "+ident(ViewerRole(user))+" SET default_transaction_read_only = on"); err != nil {
		return fmt.Errorf("make role %s read-only: %w", ViewerRole(user), err)
	}
	// A master role with CREATEROLE but not SUPERUSER must be a member of the owner to
	// create databases owned by it and to set its default privileges.
	var super bool
	if err := p.db.Pool.QueryRow(ctx, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user").Scan(&super); err != nil {
		return fmt.Errorf("read master role: %w", err)
	}
	if !super {
		if _, err := p.db.Pool.Exec(ctx, "GRANT "+ident(OwnerRole(user))+" TO CURRENT_USER"); err != nil {
			return fmt.Errorf("grant %s to the master role: %w", OwnerRole(user), err)
		}
	}
	return nil
}

func (p Provisioner) ensureRole(ctx context.Context, user, role, what string, pass cg.Secret) error {
	var comment *string
	err := p.db.Pool.QueryRow(ctx,
		"SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = $1", role).Scan(&comment)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		// PASSWORD takes no bind parameter; the literal is quoted by pgx and the
		// statement is never logged.
		sql := fmt.Sprintf("CREATE ROLE %s LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT PASSWORD %s",
			ident(role), quoteLiteral(pass.Reveal()))
		if _, err := p.db.Pool.Exec(ctx, sql); err != nil {
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) || pgErr.Code != "42710" { // duplicate_object: a concurrent retry made it
				return fmt.Errorf("create role %s: %w", role, err)
			}
		}
		if _, err := p.db.Pool.Exec(ctx, fmt.Sprintf("COMMENT ON ROLE %s IS %s", ident(role), quoteLiteral(roleMarker(user, what)))); err != nil {
			return fmt.Errorf("mark role %s: %w", role, err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("look up role %s: %w", role, err)
	}
	if comment == nil || *comment != roleMarker(user, what) {
		return cg.Errorf(cg.ECONFLICT, "a role named %s already exists and was not created by credential-grafana for %s: rename or drop it, or choose another username", role, user)
	}
	if _, err := p.db.Pool.Exec(ctx, fmt.Sprintf("ALTER ROLE %s LOGIN PASSWORD %s", ident(role), quoteLiteral(pass.Reveal()))); err != nil {
		return fmt.Errorf("set password of role %s: %w", role, err)
	}
	return nil
}

// EnsureDatabase creates user's database of kind, owned by the owner role, closed to
// PUBLIC, readable (present and future tables) by the viewer role. Returns cg.ECONFLICT
// if a database of that name exists with another owner.
func (p Provisioner) EnsureDatabase(ctx context.Context, user string, kind cg.Kind) error {
	name := kind.DatabaseName(user)
	owner, viewer := OwnerRole(user), ViewerRole(user)
	var dbOwner string
	err := p.db.Pool.QueryRow(ctx,
		"SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1", name).Scan(&dbOwner)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		if _, err := p.db.Pool.Exec(ctx, "CREATE DATABASE "+ident(name)+" OWNER "+ident(owner)); err != nil {
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) || pgErr.Code != "42P04" { // duplicate_database: a concurrent retry made it
				return fmt.Errorf("create database %s: %w", name, err)
			}
		}
	case err != nil:
		return fmt.Errorf("look up database %s: %w", name, err)
	case dbOwner != owner:
		return cg.Errorf(cg.ECONFLICT, "a database named %s already exists, owned by %s rather than %s: rename or drop it, or choose another username", name, dbOwner, owner)
	}
	for _, sql := range []string{
		"REVOKE ALL ON DATABASE " + ident(name) + " FROM PUBLIC",
		"GRANT CONNECT, TEMPORARY ON DATABASE " + ident(name) + " TO " + ident(owner),
		"GRANT CONNECT ON DATABASE " + ident(name) + " TO " + ident(viewer),
	} {
		if _, err := p.db.Pool.Exec(ctx, sql); err != nil {
			return fmt.Errorf("set privileges on database %s: %w", name, err)
		}
	}
	conn, err := p.db.ConnectTo(ctx, name)
	if err != nil {
		return fmt.Errorf("connect to new database %s: %w", name, err)
	}
	defer conn.Close(ctx)
	for _, sql := range []string{
		"REVOKE CREATE ON SCHEMA public FROM PUBLIC",
		"GRANT USAGE, CREATE ON SCHEMA public TO " + ident(owner),
		"GRANT USAGE ON SCHEMA public TO " + ident(viewer),
		"GRANT SELECT ON ALL TABLES IN SCHEMA public TO " + ident(viewer),
		"ALTER DEFAULT PRIVILEGES FOR ROLE " + ident(owner) + " IN SCHEMA public GRANT SELECT ON TABLES TO " + ident(viewer),
	} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			return fmt.Errorf("set privileges inside database %s: %w", name, err)
		}
	}
	return nil
}

// DropUser drops user's three databases (ending their sessions) and both roles, if they
// exist and are ours. What is already gone is skipped.
func (p Provisioner) DropUser(ctx context.Context, user string) error {
	owner := OwnerRole(user)
	for _, kind := range cg.Kinds {
		name := kind.DatabaseName(user)
		var dbOwner string
		err := p.db.Pool.QueryRow(ctx, "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1", name).Scan(&dbOwner)
		if errors.Is(err, pgx.ErrNoRows) {
			continue
		}
		if err != nil {
			return fmt.Errorf("look up database %s: %w", name, err)
		}
		if dbOwner != owner {
			return cg.Errorf(cg.ECONFLICT, "database %s is owned by %s, not %s: not dropping it", name, dbOwner, owner)
		}
		if _, err := p.db.Pool.Exec(ctx, "DROP DATABASE IF EXISTS "+ident(name)+" WITH (FORCE)"); err != nil {
			return fmt.Errorf("drop database %s: %w", name, err)
		}
	}
	for _, r := range []struct{ name, what string }{{ViewerRole(user), "viewer"}, {owner, "owner"}} {
		var comment *string
		err := p.db.Pool.QueryRow(ctx, "SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = $1", r.name).Scan(&comment)
		if errors.Is(err, pgx.ErrNoRows) {
			continue
		}
		if err != nil {
			return fmt.Errorf("look up role %s: %w", r.name, err)
		}
		if comment == nil || *comment != roleMarker(user, r.what) {
			return cg.Errorf(cg.ECONFLICT, "role %s was not created by credential-grafana for %s: not dropping it", r.name, user)
		}
		if _, err := p.db.Pool.Exec(ctx, "DROP ROLE IF EXISTS "+ident(r.name)); err != nil {
			return fmt.Errorf("drop role %s: %w", r.name, err)
		}
	}
	return nil
}

// quoteLiteral quotes s as an SQL string literal (for the few statements that take no
// bind parameters: CREATE ROLE … PASSWORD, COMMENT ON).
func quoteLiteral(s string) string {
	out := make([]byte, 0, len(s)+2)
	out = append(out, '\'')
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' {
			out = append(out, '\'')
		}
		out = append(out, s[i])
	}
	return string(append(out, '\''))
}
