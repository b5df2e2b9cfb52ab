package rest

import (
	"fmt"
	"testing"
	"time"
)

func TestTheFailureLimiterTracksABoundedNumberOfAddresses(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	l := newFailureLimiter(2, time.Second, 4, func() time.Time { return now })
	for i := range 100 {
		addr := fmt.Sprintf("192.0.2.%d", i)
		l.fail(addr)
		l.fail(addr)
	}
	if n := l.tracked(); n > 5 {
		t.Fatalf("%d addresses tracked, want at most 4 and the overflow bucket", n)
	}
	if l.wait("198.51.100.1") == 0 {
		t.Error("a new address while the table is full of empty buckets is not limited by the overflow bucket")
	}
	if l.wait("192.0.2.0") == 0 {
		t.Error("the first address, with an empty bucket, is not limited")
	}
	now = now.Add(2 * time.Second) // every bucket full again
	if l.wait("192.0.2.0") != 0 || l.wait("198.51.100.1") != 0 {
		t.Error("still limited after the refill")
	}
	l.fail("203.0.113.9")
	if n := l.tracked(); n != 1 {
		t.Errorf("%d addresses tracked after the full buckets were forgotten, want 1", n)
	}
}
