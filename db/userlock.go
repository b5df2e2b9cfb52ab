package db

import (
	"context"
	"fmt"
)

// userLockClass is the first key of the two-key advisory locks that serialise work on
// one user by name (pg_try_advisory_lock(int, int)); single-key locks (migrations,
// scans) live in another key space.
const userLockClass = 0x6367_7573 // "cgus"

// TryLockUser takes, on a connection of its own, the advisory lock on the user called
// name, for as long as creating or provisioning it again takes. It reports false (and
// holds nothing) when another session, in this process or another replica, holds it.
// unlock releases the lock and the connection; it is a no-op when ok is false.
func (d *DB) TryLockUser(ctx context.Context, name string) (unlock func(), ok bool, err error) {
	conn, err := d.Pool.Acquire(ctx)
	if err != nil {
		return func() {}, false, fmt.Errorf("lock user %q: %w", name, err)
	}
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1, hashtext($2))", int32(userLockClass), name).Scan(&ok); err != nil {
		conn.Release()
		return func() {}, false, fmt.Errorf("lock user %q: %w", name, err)
	}
	if !ok {
		conn.Release()
		return func() {}, false, nil
	}
	return func() {
		if _, err := conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1, hashtext($2))", int32(userLockClass), name); err != nil {
			conn.Conn().Close(context.WithoutCancel(ctx)) // closing the session drops the lock
		}
		conn.Release()
	}, true, nil
}
