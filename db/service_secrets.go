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
