-- This installation's id, made once. Every role and database the service creates is
-- commented with a marker that carries it (db/provision.go): an object without this
-- installation's marker is never adopted, changed or dropped.
CREATE TABLE installation (
    id         text        PRIMARY KEY DEFAULT gen_random_uuid()::text,
    only_one   boolean     NOT NULL DEFAULT true UNIQUE CHECK (only_one),
    created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO installation DEFAULT VALUES;

-- Users this installation had before markers carried its id: their roles are marked
-- "credential-grafana owner of user alice" and their databases not at all. Those
-- markers are recognised for these users only, and replaced by the new ones the next
-- time the user is provisioned (`user retry`).
CREATE TABLE legacy_marked_users (
    username text PRIMARY KEY
);
INSERT INTO legacy_marked_users (username) SELECT username FROM users;

-- Databases this installation is creating. CREATE DATABASE cannot run in a transaction
-- with the COMMENT that marks it, so the intent is recorded first: a retry after a crash
-- between the two finds the row and marks the database instead of refusing it.
CREATE TABLE pending_databases (
    name            text        PRIMARY KEY,
    username        text        NOT NULL,
    installation_id text        NOT NULL REFERENCES installation (id),
    created_at      timestamptz NOT NULL DEFAULT now()
);
