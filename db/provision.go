package db

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"credential-grafana/cg"
)

// OwnerRole is the login role a user's flows write their run tables with.
func OwnerRole(user string) string { return user + "_owner" }

// ViewerRole is the read-only login role Grafana reads a user's databases with.
func ViewerRole(user string) string { return user + "_viewer" }

// marker is the comment that says a role or database was made by this installation
// (the id migration 004 generated in the master database) for this user, e.g.
// "credential-grafana owner of user alice, installation 5f0c…" or
// "credential-grafana QOR database of user alice, installation 5f0c…". Provisioning
// never adopts, changes or drops an object that lacks it, whatever its owner is called:
// a name clash with something that was there before is refused, not taken over.
func marker(installation, user, what string) string {
	return "credential-grafana " + what + " of user " + user + ", installation " + installation
}

// legacyRoleMarker is the marker roles got before markers carried an installation id
// (and databases got none). It is recognised only for the users the master database
// already had when migration 004 ran (table legacy_marked_users): another installation
// on the same server wrote the same text for its users. Provisioning such a user again
// replaces it with marker.
func legacyRoleMarker(user, what string) string {
	return "credential-grafana " + what + " of user " + user
}

// Provisioner creates and drops the roles and databases of users on the master server.
// Every method is idempotent: run again after a failure, it finishes what is missing.
//
// No value is put into SQL by Go: passwords are set as SCRAM-SHA-256 secrets computed
// here (scramSecret), so no plaintext password reaches a statement, pg_stat_activity or
// the server's log; identifiers are quoted by pgx; the literals utility statements need
// (the secret, the marker) are quoted by the server (see utility).
type Provisioner struct{ db *DB }

// Provisioner returns the provisioner for the master server.
func (d *DB) Provisioner() Provisioner { return Provisioner{d} }

func ident(name string) string { return pgx.Identifier{name}.Sanitize() }

type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// utility runs a statement that takes no bind parameters (CREATE ROLE … PASSWORD,
// COMMENT ON …) with values in it, built by the server from template and args with
// format(): %s takes an identifier already quoted by pgx, %L a value, which format
// quotes with quote_literal — right whatever standard_conforming_strings says, as it
// writes E'…' with doubled backslashes when the value holds one.
func utility(ctx context.Context, q querier, template string, args ...string) error {
	var sql string
	if err := q.QueryRow(ctx, "SELECT format($1, VARIADIC $2::text[])", template, args).Scan(&sql); err != nil {
		return fmt.Errorf("build statement: %w", err)
	}
	_, err := q.Exec(ctx, sql)
	return err
}

// isDuplicate reports whether err says the object was created meanwhile by someone
// else: duplicate_object, duplicate_database, or the unique index on the catalogue when
// two creations ran at once.
func isDuplicate(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "42710" || pgErr.Code == "42P04" || pgErr.Code == "23505")
}

// standing says whose an object is.
type standing int

const (
	absent standing = iota
	// ours: it carries this installation's marker for the user.
	ours
	// oursUnmarked: this installation's, but not marked so yet: a legacy marker of a
	// user it had before markers carried its id, or a database whose creation it
	// recorded in pending_databases and that a crash left unmarked. It is marked the
	// next time the user is provisioned.
	oursUnmarked
	// foreign: anything else. Never adopted, changed or dropped.
	foreign
)

// object is one of a user's roles or databases as found on the server.
type object struct {
	database bool
	name     string
	what     string // "owner", "viewer", "QOR database": the marker's words
	standing standing
	why      string // what makes a foreign object foreign
}

func (o object) describe() string {
	kind := "role"
	if o.database {
		kind = "database"
	}
	return fmt.Sprintf("%s %s (%s)", kind, o.name, o.why)
}

// installation is what the master database says about a user's objects.
type installation struct {
	id     string
	legacy bool // the user is in legacy_marked_users
}

func (p Provisioner) installation(ctx context.Context, user string) (installation, error) {
	var in installation
	err := p.db.Pool.QueryRow(ctx,
		"SELECT id, EXISTS (SELECT 1 FROM legacy_marked_users WHERE username = $1) FROM installation", user).Scan(&in.id, &in.legacy)
	if err != nil {
		return in, fmt.Errorf("read the installation id: %w", err)
	}
	return in, nil
}

func whyForeign(comment *string) string {
	switch {
	case comment == nil:
		return "no credential-grafana marker"
	case strings.HasPrefix(*comment, "credential-grafana "):
		return "marked by another credential-grafana installation"
	default:
		return "no credential-grafana marker, a comment of its own"
	}
}

func (p Provisioner) role(ctx context.Context, in installation, user, what string) (object, error) {
	o := object{name: OwnerRole(user), what: what}
	if what == "viewer" {
		o.name = ViewerRole(user)
	}
	var comment *string
	err := p.db.Pool.QueryRow(ctx, "SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = $1", o.name).Scan(&comment)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		o.standing = absent
	case err != nil:
		return o, fmt.Errorf("look up role %s: %w", o.name, err)
	case comment != nil && *comment == marker(in.id, user, what):
		o.standing = ours
	case comment != nil && in.legacy && *comment == legacyRoleMarker(user, what):
		o.standing = oursUnmarked
	default:
		o.standing, o.why = foreign, whyForeign(comment)
	}
	return o, nil
}

// database looks up user's database of kind; owner is the standing of the owner role.
func (p Provisioner) database(ctx context.Context, in installation, user string, kind cg.Kind, owner standing) (object, error) {
	o := object{database: true, name: kind.DatabaseName(user), what: string(kind) + " database"}
	var dbOwner string
	var comment *string
	var pending bool
	err := p.db.Pool.QueryRow(ctx, `
		SELECT pg_get_userbyid(datdba), shobj_description(oid, 'pg_database'),
		       EXISTS (SELECT 1 FROM pending_databases WHERE name = $1 AND username = $2 AND installation_id = $3)
		FROM pg_database WHERE datname = $1`, o.name, user, in.id).Scan(&dbOwner, &comment, &pending)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		o.standing = absent
	case err != nil:
		return o, fmt.Errorf("look up database %s: %w", o.name, err)
	case comment != nil && *comment == marker(in.id, user, o.what):
		o.standing = ours
	case comment == nil && dbOwner == OwnerRole(user) && (owner == ours || owner == oursUnmarked) && (pending || in.legacy):
		// Created by this installation (recorded before CREATE DATABASE, or made by
		// a release that did not mark databases), owned by its own owner role.
		o.standing = oursUnmarked
	default:
		o.standing = foreign
		o.why = "owned by " + dbOwner + ", " + whyForeign(comment)
	}
	return o, nil
}

// objects returns the installation and user's two roles and three databases.
func (p Provisioner) objects(ctx context.Context, user string) (installation, []object, error) {
	in, err := p.installation(ctx, user)
	if err != nil {
		return in, nil, err
	}
	var objs []object
	for _, what := range []string{"owner", "viewer"} {
		o, err := p.role(ctx, in, user, what)
		if err != nil {
			return in, nil, err
		}
		objs = append(objs, o)
	}
	for _, kind := range cg.Kinds {
		o, err := p.database(ctx, in, user, kind, objs[0].standing)
		if err != nil {
			return in, nil, err
		}
		objs = append(objs, o)
	}
	return in, objs, nil
}

// refuseForeign returns cg.ECONFLICT naming every foreign object in objs, or nil.
func refuseForeign(user string, objs []object) error {
	var names []string
	for _, o := range objs {
		if o.standing == foreign {
			names = append(names, o.describe())
		}
	}
	if len(names) == 0 {
		return nil
	}
	verb, them := "was", "it"
	if len(names) > 1 {
		verb, them = "were", "them"
		names[len(names)-1] = "and " + names[len(names)-1]
	}
	list := strings.Join(names, ", ")
	if len(names) == 2 {
		list = strings.Join(names, " ")
	}
	return cg.Errorf(cg.ECONFLICT, "%s %s not created by credential-grafana for user %q (this installation marks each role and database it creates): nothing was changed. Rename or drop %s yourself, or choose another username",
		list, verb, user, them)
}

// CheckUser returns cg.ECONFLICT, naming each one, if any of user's roles and databases
// that exist was not created by this installation for user (see marker). It changes
// nothing; run it before anything else is changed.
func (p Provisioner) CheckUser(ctx context.Context, user string) error {
	_, objs, err := p.objects(ctx, user)
	if err != nil {
		return err
	}
	return refuseForeign(user, objs)
}

// EnsureRoles creates the owner (LOGIN) and viewer (LOGIN, read-only) roles of user with
// the given passwords, or sets those passwords on the roles if they exist and are ours.
// A role is created and marked in one transaction. Returns cg.EINVALID for a password
// CheckRolePassword refuses and cg.ECONFLICT if any of the user's roles or databases
// exists and was not made by this installation for this user; either changes nothing.
func (p Provisioner) EnsureRoles(ctx context.Context, user string, ownerPass, viewerPass cg.Secret) error {
	secrets := map[string]string{}
	for what, pass := range map[string]cg.Secret{"owner": ownerPass, "viewer": viewerPass} {
		if err := CheckRolePassword(pass.Reveal()); err != nil {
			return cg.WrapError(cg.EINVALID, err, "the password of the %s role of %s: %s", what, user, cg.ErrorMessage(err))
		}
		secret, err := scramSecret(pass.Reveal())
		if err != nil {
			return err
		}
		secrets[what] = secret
	}
	in, objs, err := p.objects(ctx, user)
	if err != nil {
		return err
	}
	if err := refuseForeign(user, objs); err != nil {
		return err
	}
	for _, what := range []string{"owner", "viewer"} {
		if err := p.ensureRole(ctx, in, user, what, secrets[what]); err != nil {
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

// ensureRole creates role what of user with secret and marks it, in one transaction,
// or sets secret as the password of the role if it is ours (marking it if it is not
// marked yet).
func (p Provisioner) ensureRole(ctx context.Context, in installation, user, what, secret string) error {
	for attempt := 0; ; attempt++ {
		o, err := p.role(ctx, in, user, what)
		if err != nil {
			return err
		}
		switch o.standing {
		case foreign:
			return refuseForeign(user, []object{o})
		case absent:
			err := pgx.BeginFunc(ctx, p.db.Pool, func(tx pgx.Tx) error {
				if err := utility(ctx, tx, "CREATE ROLE %s LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT PASSWORD %L", ident(o.name), secret); err != nil {
					return err
				}
				return utility(ctx, tx, "COMMENT ON ROLE %s IS %L", ident(o.name), marker(in.id, user, what))
			})
			if isDuplicate(err) && attempt < 3 {
				continue // a concurrent provisioning created it: look again
			}
			if err != nil {
				return fmt.Errorf("create role %s: %w", o.name, err)
			}
			return nil
		default:
			return p.setRolePassword(ctx, in, user, o, secret)
		}
	}
}

// setRolePassword sets secret as the password of o, one of our roles, and marks it
// with this installation's marker if it is not yet.
func (p Provisioner) setRolePassword(ctx context.Context, in installation, user string, o object, secret string) error {
	return pgx.BeginFunc(ctx, p.db.Pool, func(tx pgx.Tx) error {
		if o.standing == oursUnmarked {
			if err := utility(ctx, tx, "COMMENT ON ROLE %s IS %L", ident(o.name), marker(in.id, user, o.what)); err != nil {
				return fmt.Errorf("mark role %s: %w", o.name, err)
			}
		}
		if err := utility(ctx, tx, "ALTER ROLE %s LOGIN PASSWORD %L", ident(o.name), secret); err != nil {
			return fmt.Errorf("set password of role %s: %w", o.name, err)
		}
		return nil
	})
}

// SetOwnerPassword sets the password of user's owner role (after db_pass changed).
// Returns cg.EINVALID for a password CheckRolePassword refuses, cg.ENOTFOUND if the
// role does not exist yet, and cg.ECONFLICT if it was not made by this installation
// for user; none of them changes anything.
func (p Provisioner) SetOwnerPassword(ctx context.Context, user string, pass cg.Secret) error {
	if err := CheckRolePassword(pass.Reveal()); err != nil {
		return err
	}
	secret, err := scramSecret(pass.Reveal())
	if err != nil {
		return err
	}
	in, err := p.installation(ctx, user)
	if err != nil {
		return err
	}
	o, err := p.role(ctx, in, user, "owner")
	if err != nil {
		return err
	}
	switch o.standing {
	case absent:
		return cg.Errorf(cg.ENOTFOUND, "role %s does not exist yet: run `user retry %s` to create it", o.name, user)
	case foreign:
		return refuseForeign(user, []object{o})
	}
	return p.setRolePassword(ctx, in, user, o, secret)
}

// EnsureDatabase creates user's database of kind, owned by the owner role and marked,
// closed to PUBLIC, readable (present and future tables) by the viewer role, with the
// service's run history (HistorySchema, EnsureHistory) in it.
// CREATE DATABASE cannot run in a transaction, so the intent is recorded in
// pending_databases first: a retry after a crash before the database was marked knows
// it is ours and marks it. Returns cg.ECONFLICT, changing nothing, if any of the user's
// roles or databases exists and was not made by this installation for this user.
func (p Provisioner) EnsureDatabase(ctx context.Context, user string, kind cg.Kind) error {
	name := kind.DatabaseName(user)
	owner, viewer := OwnerRole(user), ViewerRole(user)
	in, objs, err := p.objects(ctx, user)
	if err != nil {
		return err
	}
	if err := refuseForeign(user, objs); err != nil {
		return err
	}
	if objs[0].standing == absent {
		return fmt.Errorf("create database %s: role %s does not exist: create the roles first", name, owner)
	}
	for attempt := 0; ; attempt++ {
		o, err := p.database(ctx, in, user, kind, objs[0].standing)
		if err != nil {
			return err
		}
		if o.standing == foreign {
			return refuseForeign(user, []object{o})
		}
		if o.standing == absent {
			if _, err := p.db.Pool.Exec(ctx, `INSERT INTO pending_databases (name, username, installation_id)
				VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING`, name, user, in.id); err != nil {
				return fmt.Errorf("record the creation of database %s: %w", name, err)
			}
			_, err := p.db.Pool.Exec(ctx, "CREATE DATABASE "+ident(name)+" OWNER "+ident(owner))
			if isDuplicate(err) && attempt < 3 {
				continue // a concurrent provisioning created it: look again
			}
			if err != nil {
				if _, derr := p.db.Pool.Exec(context.WithoutCancel(ctx), "DELETE FROM pending_databases WHERE name = $1", name); derr != nil {
					p.db.log.Warn().Err(derr).Str("database", name).Msg("forget the failed creation of a database")
				}
				return fmt.Errorf("create database %s: %w", name, err)
			}
		}
		if o.standing != ours {
			if err := utility(ctx, p.db.Pool, "COMMENT ON DATABASE %s IS %L", ident(name), marker(in.id, user, o.what)); err != nil {
				return fmt.Errorf("mark database %s: %w", name, err)
			}
			if _, err := p.db.Pool.Exec(ctx, "DELETE FROM pending_databases WHERE name = $1", name); err != nil {
				return fmt.Errorf("record the creation of database %s: %w", name, err)
			}
		}
		break
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
	// The run history is the service's (the master role's): both roles read it, neither
	// writes it.
	return EnsureHistory(ctx, conn, owner, viewer)
}

// DropUser drops user's three databases (ending their sessions) and both roles. It
// first checks every one that exists and drops none if any was not made by this
// installation for user: it then returns cg.ECONFLICT naming them. What is already
// gone is skipped.
func (p Provisioner) DropUser(ctx context.Context, user string) error {
	_, objs, err := p.objects(ctx, user)
	if err != nil {
		return err
	}
	if err := refuseForeign(user, objs); err != nil {
		return err
	}
	for _, o := range objs[2:] {
		if o.standing == absent {
			continue
		}
		if _, err := p.db.Pool.Exec(ctx, "DROP DATABASE IF EXISTS "+ident(o.name)+" WITH (FORCE)"); err != nil {
			return fmt.Errorf("drop database %s: %w", o.name, err)
		}
	}
	for _, o := range []object{objs[1], objs[0]} { // the viewer first: the owner granted it privileges
		if o.standing == absent {
			continue
		}
		if _, err := p.db.Pool.Exec(ctx, "DROP ROLE IF EXISTS "+ident(o.name)); err != nil {
			return fmt.Errorf("drop role %s: %w", o.name, err)
		}
	}
	if _, err := p.db.Pool.Exec(ctx, "DELETE FROM pending_databases WHERE username = $1", user); err != nil {
		return fmt.Errorf("forget pending databases of %s: %w", user, err)
	}
	if _, err := p.db.Pool.Exec(ctx, "DELETE FROM legacy_marked_users WHERE username = $1", user); err != nil {
		return fmt.Errorf("forget the old markers of %s: %w", user, err)
	}
	return nil
}
