package db

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// RekeyResult says what Rekey did. Its counts cover every sealed value of the master
// database: the users' secret credentials and the service's own secrets.
type RekeyResult struct {
	// Resealed counts the values opened under a previous key and sealed again under
	// CREDENTIALS_KEY.
	Resealed int `json:"resealed"`
	// Service names the service's own secrets among them (table service_secrets, e.g.
	// SecretGrafanaToken).
	Service []string `json:"service_resealed,omitempty"`
	// Current counts the secret values that were already under CREDENTIALS_KEY.
	Current int `json:"current"`
	// Left are the values that could not be resealed: under a key that is not
	// configured (they need that key in CREDENTIALS_KEY_PREVIOUS), or that do not open.
	// They are left as they are.
	Left []RekeyLeft `json:"left,omitempty"`
}

// RekeyLeft is one value Rekey left alone, and why: a user's credential, or with
// Service one of the service's own secrets (User is then empty, Key its name).
type RekeyLeft struct {
	User    string `json:"user,omitempty"`
	Service bool   `json:"service,omitempty"`
	Key     string `json:"key_name"`
	KeyID   string `json:"key_id"` // hex of the 4-byte id of the key that sealed it
	Reason  string `json:"reason"`
}

// KeyID is the hex id a value sealed with key carries (see the ciphertext layout).
func KeyID(key []byte) string { id := keyID(key); return hex.EncodeToString(id[:]) }

// CurrentKeyID is the hex id of the key c seals with.
func (c *Cipher) CurrentKeyID() string { return hex.EncodeToString(c.current[:]) }

// notCurrent is the SQL condition of a sealed value whose key id is not $1.
const notCurrent = "is_secret AND substring(value_cipher from 2 for 4) <> $1"

// Rekey seals every secret value of the master database under the current key again:
// first the service's own secrets (ServiceSecrets, one transaction), then the users'
// credentials batch values at a time (default 100), each batch in its own transaction:
// an interruption (ctx cancelled, the process killed) rolls back only the batch under
// way, whose values stay readable under their previous key, and running Rekey again
// finishes the rest. A value under a key that is not configured, or that does not open,
// is left alone and listed in Left. Values are visited in (user, key) order, so each is
// looked at once per run.
func (r Credentials) Rekey(ctx context.Context, batch int) (RekeyResult, error) {
	if batch <= 0 {
		batch = 100
	}
	var res RekeyResult
	if err := r.db.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM credentials WHERE is_secret AND substring(value_cipher from 2 for 4) = $1)
		+ (SELECT count(*) FROM service_secrets WHERE substring(value_cipher from 2 for 4) = $1)`,
		r.cipher.current[:]).Scan(&res.Current); err != nil {
		return res, fmt.Errorf("count current values: %w", err)
	}
	if err := (ServiceSecrets{r.db, r.cipher}).rekey(ctx, &res); err != nil {
		return res, err
	}
	lastUser, lastKey := int64(0), ""
	for {
		n, done, err := r.rekeyBatch(ctx, batch, &lastUser, &lastKey, &res)
		if err != nil {
			return res, err
		}
		res.Resealed += n
		if done {
			return res, nil
		}
	}
}

// rekeyBatch reseals up to batch values after (lastUser, lastKey) in one transaction
// and moves the cursor on. It reports how many it resealed and whether none were left.
func (r Credentials) rekeyBatch(ctx context.Context, batch int, lastUser *int64, lastKey *string, res *RekeyResult) (int, bool, error) {
	tx, err := r.db.Pool.Begin(ctx)
	if err != nil {
		return 0, false, fmt.Errorf("rekey: begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // after Commit it is a no-op
	rows, err := tx.Query(ctx, `SELECT c.user_id, u.username, c.key_name, c.value_cipher FROM credentials c JOIN users u ON u.id = c.user_id
		WHERE c.`+notCurrent+` AND (c.user_id, c.key_name) > ($2, $3)
		ORDER BY c.user_id, c.key_name LIMIT $4 FOR UPDATE OF c`, r.cipher.current[:], *lastUser, *lastKey, batch)
	if err != nil {
		return 0, false, fmt.Errorf("rekey: read values: %w", err)
	}
	type row struct {
		userID    int64
		user, key string
		sealed    []byte
	}
	list, err := pgx.CollectRows(rows, func(rw pgx.CollectableRow) (row, error) {
		var x row
		return x, rw.Scan(&x.userID, &x.user, &x.key, &x.sealed)
	})
	if err != nil {
		return 0, false, fmt.Errorf("rekey: read values: %w", err)
	}
	if len(list) == 0 {
		return 0, true, nil
	}
	var left []RekeyLeft
	resealed := 0
	for _, x := range list {
		*lastUser, *lastKey = x.userID, x.key
		plain, err := r.cipher.Open(x.sealed, owner(x.userID, x.key))
		if err != nil {
			id := sealedKeyID(x.sealed)
			left = append(left, RekeyLeft{User: x.user, Key: x.key, KeyID: id, Reason: unopenedReason(err, id, "set the value again")})
			continue
		}
		sealed, err := r.cipher.Seal(plain, owner(x.userID, x.key))
		if err != nil {
			return 0, false, fmt.Errorf("rekey: seal %s of %s: %w", x.key, x.user, err)
		}
		if _, err := tx.Exec(ctx, "UPDATE credentials SET value_cipher = $3 WHERE user_id = $1 AND key_name = $2", x.userID, x.key, sealed); err != nil {
			return 0, false, fmt.Errorf("rekey: store %s of %s: %w", x.key, x.user, err)
		}
		resealed++
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, false, fmt.Errorf("rekey: commit: %w", err)
	}
	res.Left = append(res.Left, left...)
	return resealed, false, nil
}

// sealedKeyID is the hex id of the key a sealed value names ("" when it is too short
// to name one).
func sealedKeyID(sealed []byte) string {
	if len(sealed) < 5 {
		return ""
	}
	return hex.EncodeToString(sealed[1:5])
}

// unopenedReason says why a value Open refused with err is left, and what to do: fix,
// unless the key that sealed it can be configured.
func unopenedReason(err error, id, fix string) string {
	if errors.Is(err, ErrUnknownKey) {
		return "sealed under key " + id + ", which is not configured: put it in CREDENTIALS_KEY_PREVIOUS and run rekey again, or " + fix
	}
	return "does not decrypt (altered, or moved from another row): " + fix
}

// KeyCounts counts the stored secret values of the master database (the users' secret
// credentials and the service's own secrets) by the key that sealed them.
type KeyCounts struct {
	Current  int `json:"current"`  // under CREDENTIALS_KEY
	Previous int `json:"previous"` // under a key of CREDENTIALS_KEY_PREVIOUS: `rekey` reseals them
	Unknown  int `json:"unknown"`  // under a key that is not configured: they do not decrypt
}

// CountByKey counts the stored secret values, the service's own among them, by the key
// that sealed them.
func (r Credentials) CountByKey(ctx context.Context) (KeyCounts, error) {
	rows, err := r.db.Pool.Query(ctx, `SELECT substring(value_cipher from 2 for 4), count(*) FROM (
		SELECT value_cipher FROM credentials WHERE is_secret UNION ALL SELECT value_cipher FROM service_secrets) v GROUP BY 1`)
	if err != nil {
		return KeyCounts{}, fmt.Errorf("count values by key: %w", err)
	}
	var kc KeyCounts
	var id []byte
	var n int
	_, err = pgx.ForEachRow(rows, []any{&id, &n}, func() error {
		switch {
		case len(id) == 4 && [4]byte(id) == r.cipher.current:
			kc.Current += n
		case len(id) == 4 && r.cipher.aeads[[4]byte(id)] != nil:
			kc.Previous += n
		default:
			kc.Unknown += n
		}
		return nil
	})
	if err != nil {
		return KeyCounts{}, fmt.Errorf("count values by key: %w", err)
	}
	return kc, nil
}
