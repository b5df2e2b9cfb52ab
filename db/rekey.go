package db

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// RekeyResult says what Rekey did.
type RekeyResult struct {
	// Resealed counts the values opened under a previous key and sealed again under
	// CREDENTIALS_KEY.
	Resealed int `json:"resealed"`
	// Current counts the secret values that were already under CREDENTIALS_KEY.
	Current int `json:"current"`
	// Left are the values that could not be resealed: under a key that is not
	// configured (they need that key in CREDENTIALS_KEY_PREVIOUS), or that do not open.
	// They are left as they are.
	Left []RekeyLeft `json:"left,omitempty"`
}

// RekeyLeft is one value Rekey left alone, and why.
type RekeyLeft struct {
	User   string `json:"user"`
	Key    string `json:"key_name"`
	KeyID  string `json:"key_id"` // hex of the 4-byte id of the key that sealed it
	Reason string `json:"reason"`
}

// KeyID is the hex id a value sealed with key carries (see the ciphertext layout).
func KeyID(key []byte) string { id := keyID(key); return hex.EncodeToString(id[:]) }

// CurrentKeyID is the hex id of the key c seals with.
func (c *Cipher) CurrentKeyID() string { return hex.EncodeToString(c.current[:]) }

// notCurrent is the SQL condition of a sealed value whose key id is not $1.
const notCurrent = "is_secret AND substring(value_cipher from 2 for 4) <> $1"

// Rekey seals every secret value under the current key again, batch values at a time
// (default 100), each batch in its own transaction: an interruption (ctx cancelled,
// the process killed) rolls back only the batch under way, whose values stay readable
// under their previous key, and running Rekey again finishes the rest. A value under a
// key that is not configured, or that does not open, is left alone and listed in Left.
// Values are visited in (user, key) order, so each is looked at once per run.
func (r Credentials) Rekey(ctx context.Context, batch int) (RekeyResult, error) {
	if batch <= 0 {
		batch = 100
	}
	var res RekeyResult
	if err := r.db.Pool.QueryRow(ctx, "SELECT count(*) FROM credentials WHERE is_secret AND substring(value_cipher from 2 for 4) = $1",
		r.cipher.current[:]).Scan(&res.Current); err != nil {
		return res, fmt.Errorf("count current values: %w", err)
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
			id := ""
			if len(x.sealed) >= 5 {
				id = hex.EncodeToString(x.sealed[1:5])
			}
			reason := "does not decrypt (altered, or moved from another row): set the value again"
			if errors.Is(err, ErrUnknownKey) {
				reason = "sealed under key " + id + ", which is not configured: put it in CREDENTIALS_KEY_PREVIOUS and run rekey again, or set the value again"
			}
			left = append(left, RekeyLeft{User: x.user, Key: x.key, KeyID: id, Reason: reason})
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

// KeyCounts counts the stored secret values by the key that sealed them.
type KeyCounts struct {
	Current  int `json:"current"`  // under CREDENTIALS_KEY
	Previous int `json:"previous"` // under a key of CREDENTIALS_KEY_PREVIOUS: `rekey` reseals them
	Unknown  int `json:"unknown"`  // under a key that is not configured: they do not decrypt
}

// CountByKey counts the stored secret values by the key that sealed them.
func (r Credentials) CountByKey(ctx context.Context) (KeyCounts, error) {
	rows, err := r.db.Pool.Query(ctx, "SELECT substring(value_cipher from 2 for 4), count(*) FROM credentials WHERE is_secret GROUP BY 1")
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
