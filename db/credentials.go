package db

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"credential-grafana/cg"
)

// Credentials is the credentials repository. Secret values are sealed with the cipher
// before they reach the database and opened only when read.
type Credentials struct {
	db     *DB
	cipher *Cipher
}

// Credentials returns the credentials repository that seals with c.
func (d *DB) Credentials(c *Cipher) Credentials { return Credentials{d, c} }

func owner(userID int64, key string) string { return strconv.FormatInt(userID, 10) + "/" + key }

// Set stores a value, sealing it when secret. It reports whether the key existed before.
func (r Credentials) Set(ctx context.Context, userID int64, key, value string, secret bool) (existed bool, err error) {
	var plain *string
	var sealed []byte
	if secret {
		if sealed, err = r.cipher.Seal(value, owner(userID, key)); err != nil {
			return false, fmt.Errorf("seal credential %s: %w", key, err)
		}
	} else {
		plain = &value
	}
	err = r.db.Pool.QueryRow(ctx, `
		INSERT INTO credentials (user_id, key_name, is_secret, value_plain, value_cipher) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (user_id, key_name) DO UPDATE
		SET is_secret = EXCLUDED.is_secret, value_plain = EXCLUDED.value_plain,
		    value_cipher = EXCLUDED.value_cipher, updated_at = now()
		RETURNING (xmax <> 0)`, userID, key, secret, plain, sealed).Scan(&existed)
	if err != nil {
		return false, fmt.Errorf("store credential %s of user %d: %w", key, userID, err)
	}
	return existed, nil
}

// SetIfAbsent stores a value only when the key has none yet, and returns the value
// stored afterwards (the existing one if there was one). Provisioning uses it so a retry
// keeps the passwords the first attempt made.
func (r Credentials) SetIfAbsent(ctx context.Context, userID int64, key, value string, secret bool) (string, error) {
	var plain *string
	var sealed []byte
	var err error
	if secret {
		if sealed, err = r.cipher.Seal(value, owner(userID, key)); err != nil {
			return "", err
		}
	} else {
		plain = &value
	}
	if _, err := r.db.Pool.Exec(ctx, `
		INSERT INTO credentials (user_id, key_name, is_secret, value_plain, value_cipher) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (user_id, key_name) DO NOTHING`, userID, key, secret, plain, sealed); err != nil {
		return "", fmt.Errorf("store credential %s of user %d: %w", key, userID, err)
	}
	c, err := r.Get(ctx, userID, key)
	if err != nil {
		return "", err
	}
	return c.Value.Reveal(), nil
}

// Get returns one credential with its plain value. Returns cg.ENOTFOUND if absent.
func (r Credentials) Get(ctx context.Context, userID int64, key string) (cg.Credential, error) {
	rows, err := r.db.Pool.Query(ctx, `SELECT key_name, is_secret, value_plain, value_cipher, updated_at
		FROM credentials WHERE user_id = $1 AND key_name = $2`, userID, key)
	if err != nil {
		return cg.Credential{}, fmt.Errorf("read credential %s: %w", key, err)
	}
	list, err := r.collect(rows, userID)
	if err != nil {
		return cg.Credential{}, err
	}
	if len(list) == 0 {
		return cg.Credential{}, cg.Errorf(cg.ENOTFOUND, "no credential %q", key)
	}
	return list[0], nil
}

// List returns every credential of the user, by key, with plain values.
func (r Credentials) List(ctx context.Context, userID int64) ([]cg.Credential, error) {
	rows, err := r.db.Pool.Query(ctx, `SELECT key_name, is_secret, value_plain, value_cipher, updated_at
		FROM credentials WHERE user_id = $1 ORDER BY key_name`, userID)
	if err != nil {
		return nil, fmt.Errorf("list credentials of user %d: %w", userID, err)
	}
	return r.collect(rows, userID)
}

// Map returns the user's credentials as key -> plain value. A secret that does not
// decrypt is left out (List names it, with why), so one such value does not make the
// user's other credentials unusable.
func (r Credentials) Map(ctx context.Context, userID int64) (map[string]string, error) {
	list, err := r.List(ctx, userID)
	if err != nil {
		return nil, err
	}
	m := make(map[string]string, len(list))
	for _, c := range list {
		if c.Unreadable == "" {
			m[c.Key] = c.Value.Reveal()
		}
	}
	return m, nil
}

// UnreadableMask is what a credential whose secret does not decrypt shows for its value.
const UnreadableMask = "(unreadable)"

// unreadableReason says why a value does not open and what to do, in words for an
// administrator. The front-end adds the command that sets the value again.
func unreadableReason(err error) string {
	if errors.Is(err, ErrUnknownKey) {
		return "sealed under a key that is not configured: put that old key in CREDENTIALS_KEY_PREVIOUS, or set the value again"
	}
	return "does not decrypt (altered, or moved from another row): set the value again"
}

func (r Credentials) collect(rows pgx.Rows, userID int64) ([]cg.Credential, error) {
	var out []cg.Credential
	defer rows.Close()
	for rows.Next() {
		var (
			c      cg.Credential
			plain  *string
			sealed []byte
			at     time.Time
		)
		if err := rows.Scan(&c.Key, &c.Secret, &plain, &sealed, &at); err != nil {
			return nil, err
		}
		c.UpdatedAt = at
		if c.Secret {
			v, err := r.cipher.Open(sealed, owner(userID, c.Key))
			if err != nil {
				c.Masked, c.Unreadable = UnreadableMask, unreadableReason(err)
				out = append(out, c)
				continue
			}
			c.Value = cg.Secret(v)
			c.Masked = cg.Mask(v)
		} else if plain != nil {
			c.Value = cg.Secret(*plain)
			c.Masked = *plain
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// Delete removes one credential. Returns cg.ENOTFOUND if it was absent.
func (r Credentials) Delete(ctx context.Context, userID int64, key string) error {
	tag, err := r.db.Pool.Exec(ctx, "DELETE FROM credentials WHERE user_id = $1 AND key_name = $2", userID, key)
	if err != nil {
		return fmt.Errorf("delete credential %s: %w", key, err)
	}
	if tag.RowsAffected() == 0 {
		return cg.Errorf(cg.ENOTFOUND, "no credential %q", key)
	}
	return nil
}

// DeleteAll removes every credential of the user.
func (r Credentials) DeleteAll(ctx context.Context, userID int64) error {
	_, err := r.db.Pool.Exec(ctx, "DELETE FROM credentials WHERE user_id = $1", userID)
	return err
}

// MapMany returns the credentials of many users at once, as user ID -> key -> plain
// value, in one query on q (the scan reads every active user's on each pass, on the
// connection that holds its lock). keys, if not empty, are the only credentials read,
// and so the only secrets decrypted: the scan needs where the databases are, not the
// Grafana or Slack secrets. Users without credentials are absent, and so is a secret
// that does not decrypt (as in Map).
func (r Credentials) MapMany(ctx context.Context, q Querier, userIDs []int64, keys []string) (map[int64]map[string]string, error) {
	rows, err := q.Query(ctx, `SELECT c.user_id, c.key_name, c.is_secret, c.value_plain, c.value_cipher
		FROM unnest($1::bigint[]) AS u(id) JOIN credentials c ON c.user_id = u.id
		WHERE coalesce(cardinality($2::text[]), 0) = 0 OR c.key_name = ANY($2)`, userIDs, keys)
	if err != nil {
		return nil, fmt.Errorf("read credentials of %d users: %w", len(userIDs), err)
	}
	defer rows.Close()
	out := make(map[int64]map[string]string, len(userIDs))
	for rows.Next() {
		var (
			userID int64
			key    string
			secret bool
			plain  *string
			sealed []byte
		)
		if err := rows.Scan(&userID, &key, &secret, &plain, &sealed); err != nil {
			return nil, err
		}
		m := out[userID]
		if m == nil {
			m = map[string]string{}
			out[userID] = m
		}
		switch {
		case secret:
			v, err := r.cipher.Open(sealed, owner(userID, key))
			if err != nil {
				continue // unreadable: absent, as Map leaves it; cred list names it with the way out
			}
			m[key] = v
		case plain != nil:
			m[key] = *plain
		}
	}
	return out, rows.Err()
}
