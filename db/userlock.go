package db

import (
	"context"
	"fmt"
	"net"
	"time"
)

// userLockClass is the first key of the two-key advisory locks that serialise work on
// one user by name (pg_try_advisory_lock(int, int)); single-key locks (migrations,
// scans, house-keeping) live in another key space.
const userLockClass int32 = 0x6367_7573 // "cgus"

// TryLockUser takes, on a connection of its own (neither the pool's nor a one-off one of the
// budget: one more while it is held), the advisory lock on the user called
// name, for as long as creating or provisioning it again takes. It reports false (and
// holds nothing) when another session, in this process or another replica, holds it.
// unlock releases the lock and the connection; it is a no-op when ok is false.
func (d *DB) TryLockUser(ctx context.Context, name string) (unlock func(), ok bool, err error) {
	return d.tryLock(ctx, fmt.Sprintf("user %q", name),
		"SELECT pg_try_advisory_lock($1, hashtext($2))", "SELECT pg_advisory_unlock($1, hashtext($2))", userLockClass, name)
}

// tryLock runs lockSQL (a pg_try_advisory_lock) with args on a connection of its own,
// opened outside the pool so that holding locks never starves the work done under them
// of pool connections, and, if it got the lock, returns the function that runs unlockSQL
// and closes the connection.
func (d *DB) tryLock(ctx context.Context, what, lockSQL, unlockSQL string, args ...any) (unlock func(), ok bool, err error) {
	// Not a one-off connection of the budget: work under the lock (user add, user retry)
	// needs that one for the user's databases, and a CLI command has only one.
	cc := d.config.ConnConfig.Copy()
	cc.DialFunc = (&net.Dialer{KeepAlive: 5 * time.Minute}).DialContext // pgconn's default, not the pool's bounded one
	cc.RuntimeParams["application_name"] = d.AppName("lock")
	conn, err := Connect(ctx, cc, d.log)
	if err != nil {
		return func() {}, false, fmt.Errorf("lock %s: %w", what, err)
	}
	closeConn := func() { _ = conn.Close(context.WithoutCancel(ctx)) } // ending the session drops any lock
	if err := conn.QueryRow(ctx, lockSQL, args...).Scan(&ok); err != nil {
		closeConn()
		return func() {}, false, fmt.Errorf("lock %s: %w", what, err)
	}
	if !ok {
		closeConn()
		return func() {}, false, nil
	}
	return func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx), unlockSQL, args...)
		closeConn()
	}, true, nil
}
