package db

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"credential-grafana/cg"
)

// Doctor checks what the service needs of the master server: a master role that may
// create databases and roles, and room in max_connections for the budget b (the most
// the service opens at once); its detail is the ConnectionSum, with Grafana's data
// sources at perDataSource connections each.
func (d *DB) Doctor(ctx context.Context, b Budget, perDataSource int) []cg.Finding {
	var out []cg.Finding
	var super, createDB, createRole bool
	var role string
	err := d.Pool.QueryRow(ctx, "SELECT current_user, rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = current_user").
		Scan(&role, &super, &createDB, &createRole)
	if err != nil {
		return append(out, cg.Finding{Area: "postgres", Check: "reachable", Detail: fmt.Sprintf("the master database does not answer: %v", err),
			Fix: "check DATABASE_URL or MASTER_DB_HOST/PORT/USER/PASS and that PostgreSQL runs"})
	}
	out = append(out, cg.Finding{Area: "postgres", Check: "reachable", OK: true, Detail: fmt.Sprintf("master database %s on %s:%d as %s", d.Database(), d.Host(), d.Port(), role)})
	f := cg.Finding{Area: "postgres", Check: "master role", OK: super || (createDB && createRole)}
	switch {
	case super:
		f.Detail = role + " is a superuser"
	case f.OK:
		f.Detail = role + " has CREATEDB and CREATEROLE"
	default:
		var missing []string
		if !createDB {
			missing = append(missing, "CREATEDB")
		}
		if !createRole {
			missing = append(missing, "CREATEROLE")
		}
		f.Detail = fmt.Sprintf("%s lacks %v: user add cannot create users' databases and roles", role, missing)
		f.Fix = fmt.Sprintf("as a superuser: ALTER ROLE %s CREATEDB CREATEROLE;", ident(role))
	}
	out = append(out, f)

	sum, err := d.ConnectionSum(ctx, b, perDataSource)
	if err != nil {
		return append(out, cg.Finding{Area: "postgres", Check: "connections", Detail: fmt.Sprintf("cannot add up the connections: %v", err)})
	}
	c := cg.Finding{Area: "postgres", Check: "connections", OK: sum.Fits(), Detail: sum.String()}
	if !c.OK {
		c.Fix = fmt.Sprintf("lower PG_CONNECTIONS, or raise max_connections (ALTER SYSTEM SET max_connections = %d; then restart PostgreSQL), or put PgBouncer in front",
			sum.Max+b.Total()-(sum.Available()-sum.Open)+10)
	}
	return append(out, c)
}

// ProbeRole is a short-lived login role for checking that another service (Grafana)
// reaches the master server: it may connect to the master database and nothing else.
type ProbeRole struct {
	Name     string
	Password cg.Secret
	Database string
}

// CreateProbeRole creates a ProbeRole valid for ten minutes; drop it with DropProbeRole.
// Its password reaches the server only as a SCRAM verifier, like every role's.
func (d *DB) CreateProbeRole(ctx context.Context) (ProbeRole, error) {
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		return ProbeRole{}, fmt.Errorf("create probe role: %w", err)
	}
	h := hex.EncodeToString(b)
	r := ProbeRole{Name: "cg_doctor_" + h[:8], Password: cg.Secret(h[8:]), Database: d.Database()}
	until := time.Now().Add(10 * time.Minute).UTC().Format(time.RFC3339)
	secret, err := scramSecret(r.Password.Reveal())
	if err != nil {
		return ProbeRole{}, fmt.Errorf("create probe role: %w", err)
	}
	if err := utility(ctx, d.Pool, "CREATE ROLE %s LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT PASSWORD %L VALID UNTIL %L", ident(r.Name), secret, until); err != nil {
		return ProbeRole{}, fmt.Errorf("create probe role: %w", err)
	}
	return r, nil
}

// DropProbeRole drops a role CreateProbeRole made.
func (d *DB) DropProbeRole(ctx context.Context, r ProbeRole) error {
	if _, err := d.Pool.Exec(ctx, "DROP ROLE IF EXISTS "+ident(r.Name)); err != nil {
		return fmt.Errorf("drop probe role %s: %w", r.Name, err)
	}
	return nil
}
