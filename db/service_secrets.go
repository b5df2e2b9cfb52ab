package db

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"credential-grafana/cg"
)

// Names of the service's own secrets (table service_secrets).
const (
	// SecretGrafanaToken is the Grafana service-account token the service made for
	// itself from GRAFANA_USER/GRAFANA_PASSWORD.
	SecretGrafanaToken = "grafana_service_token"
	// SecretMonitorPassword is the password of the read-only role (MonitorRole) the
	// service's own dashboard reads the master database with.
	SecretMonitorPassword = "monitor_role_password"
)

// ServiceSecrets is the repository of the service's own secrets, sealed with the cipher
// (each bound to "service/<name>") before they reach the database.
type ServiceSecrets struct {
	db     *DB
	cipher *Cipher
}

// ServiceSecrets returns the repository of the service's own secrets, sealing with c.
func (d *DB) ServiceSecrets(c *Cipher) ServiceSecrets { return ServiceSecrets{d, c} }

func serviceOwner(name string) string { return "service/" + name }

// Get returns the secret of this name. Returns cg.ENOTFOUND when there is none, and an
// error when it does not open (a CREDENTIALS_KEY that is not configured).
func (r ServiceSecrets) Get(ctx context.Context, name string) (cg.Secret, error) {
	var sealed []byte
	err := r.db.Pool.QueryRow(ctx, "SELECT value_cipher FROM service_secrets WHERE name = $1", name).Scan(&sealed)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", cg.Errorf(cg.ENOTFOUND, "the service has no secret %s yet", name)
	}
	if err != nil {
		return "", fmt.Errorf("read service secret %s: %w", name, err)
	}
	plain, err := r.cipher.Open(sealed, serviceOwner(name))
	if err != nil {
		return "", fmt.Errorf("open service secret %s: %w", name, err)
	}
	return cg.Secret(plain), nil
}

// Set stores the secret of this name, replacing the one there was.
func (r ServiceSecrets) Set(ctx context.Context, name string, value cg.Secret) error {
	sealed, err := r.cipher.Seal(value.Reveal(), serviceOwner(name))
	if err != nil {
		return fmt.Errorf("seal service secret %s: %w", name, err)
	}
	if _, err := r.db.Pool.Exec(ctx, `INSERT INTO service_secrets (name, value_cipher) VALUES ($1, $2)
		ON CONFLICT (name) DO UPDATE SET value_cipher = EXCLUDED.value_cipher, updated_at = now()`, name, sealed); err != nil {
		return fmt.Errorf("store service secret %s: %w", name, err)
	}
	return nil
}

// SetIfAbsent stores value only when there is no secret of this name yet, and returns
// the one stored afterwards, so concurrent starts agree on one.
func (r ServiceSecrets) SetIfAbsent(ctx context.Context, name string, value cg.Secret) (cg.Secret, error) {
	sealed, err := r.cipher.Seal(value.Reveal(), serviceOwner(name))
	if err != nil {
		return "", fmt.Errorf("seal service secret %s: %w", name, err)
	}
	if _, err := r.db.Pool.Exec(ctx, `INSERT INTO service_secrets (name, value_cipher) VALUES ($1, $2)
		ON CONFLICT (name) DO NOTHING`, name, sealed); err != nil {
		return "", fmt.Errorf("store service secret %s: %w", name, err)
	}
	return r.Get(ctx, name)
}

// serviceSecretFix is what to do about a service secret that does not open and whose
// key is lost: each is made again by the service itself.
var serviceSecretFix = map[string]string{
	SecretGrafanaToken:    "start the service (serve): with GRAFANA_USER/GRAFANA_PASSWORD set it makes itself a new Grafana token",
	SecretMonitorPassword: "start the service (serve): it sets a new password on the read-only role of its own dashboard",
}

// rekey seals every service secret not under the current key again, in one
// transaction (there are a few), and adds what it did to res. One that does not open is
// left as it is and listed in res.Left, named, with what to do.
func (r ServiceSecrets) rekey(ctx context.Context, res *RekeyResult) error {
	tx, err := r.db.Pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("rekey the service's secrets: begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // after Commit it is a no-op
	rows, err := tx.Query(ctx, `SELECT name, value_cipher FROM service_secrets WHERE substring(value_cipher from 2 for 4) <> $1
		ORDER BY name FOR UPDATE`, r.cipher.current[:])
	if err != nil {
		return fmt.Errorf("rekey the service's secrets: read: %w", err)
	}
	type row struct {
		name   string
		sealed []byte
	}
	list, err := pgx.CollectRows(rows, func(rw pgx.CollectableRow) (row, error) {
		var x row
		return x, rw.Scan(&x.name, &x.sealed)
	})
	if err != nil {
		return fmt.Errorf("rekey the service's secrets: read: %w", err)
	}
	var resealed []string
	var left []RekeyLeft
	for _, x := range list {
		plain, err := r.cipher.Open(x.sealed, serviceOwner(x.name))
		if err != nil {
			id := sealedKeyID(x.sealed)
			fix, ok := serviceSecretFix[x.name]
			if !ok {
				fix = "start the service (serve), which makes it again"
			}
			left = append(left, RekeyLeft{Service: true, Key: x.name, KeyID: id, Reason: unopenedReason(err, id, fix)})
			continue
		}
		sealed, err := r.cipher.Seal(plain, serviceOwner(x.name))
		if err != nil {
			return fmt.Errorf("rekey: seal service secret %s: %w", x.name, err)
		}
		if _, err := tx.Exec(ctx, "UPDATE service_secrets SET value_cipher = $2, updated_at = now() WHERE name = $1", x.name, sealed); err != nil {
			return fmt.Errorf("rekey: store service secret %s: %w", x.name, err)
		}
		resealed = append(resealed, x.name)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("rekey the service's secrets: commit: %w", err)
	}
	res.Resealed += len(resealed)
	res.Service = append(res.Service, resealed...)
	res.Left = append(res.Left, left...)
	return nil
}
