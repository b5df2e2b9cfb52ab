package db

import (
	"context"
	"fmt"
)

// userLockClass is the first key of the two-key advisory locks that serialise work on
// one user by name (pg_try_advisory_lock(int, int)); single-key locks (migrations,
// scans, house-keeping) live in another key space.
const userLockClass int32 = 0x6367_7573 // "cgus"

// TryLockUser takes, on a connection of its own, the advisory lock on the user called
// name, for as long as creating or provisioning it again takes. It reports false (and
// holds nothing) when another session, in this process or another replica, holds it.
// unlock releases the lock and the connection; it is a no-op when ok is false.
func (d *DB) TryLockUser(ctx context.Context, name string) (unlock func(), ok bool, err error) {
	return d.tryLock(ctx, fmt.Sprintf("user %q", name),
		"SELECT pg_try_advisory_lock($1, hashtext($2))", "SELECT pg_advisory_unlock($1, hashtext($2))", userLockClass, name)
}

// tryLock runs lockSQL (a pg_try_advisory_lock) with args on a connection of its own and,
// if it got the lock, returns the function that runs unlockSQL and gives the connection
// back.
func (d *DB) tryLock(ctx context.Context, what, lockSQL, unlockSQL string, args ...any) (unlock func(), ok bool, err error) {
	conn, err := d.Pool.Acquire(ctx)
	if err != nil {
		return func() {}, false, fmt.Errorf("lock %s: %w", what, err)
	}
	if err := conn.QueryRow(ctx, lockSQL, args...).Scan(&ok); err != nil {
		conn.Release()
		return func() {}, false, fmt.Errorf("lock %s: %w", what, err)
	}
	if !ok {
		conn.Release()
		return func() {}, false, nil
	}
	return func() {
		if _, err := conn.Exec(context.WithoutCancel(ctx), unlockSQL, args...); err != nil {
			_ = conn.Conn().Close(context.WithoutCancel(ctx)) // ending the session drops the lock
		}
		conn.Release()
	}, true, nil
}
