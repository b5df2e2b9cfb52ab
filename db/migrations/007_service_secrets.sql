-- Secrets the service makes for itself, sealed like credentials (db/crypto.go, bound to
-- "service/<name>"): its own Grafana service-account token when it bootstraps one from
-- GRAFANA_USER/GRAFANA_PASSWORD, and the password of the read-only role its own
-- dashboard reads the master database with.
CREATE TABLE service_secrets (
    name         text        PRIMARY KEY,
    value_cipher bytea       NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
