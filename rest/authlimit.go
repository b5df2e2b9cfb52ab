package rest

import (
	"math"
	"sync"
	"time"
)

// overflowClient is the bucket every new address shares while maxClients addresses are
// tracked and none of them may be forgotten.
const overflowClient = "overflow"

// failureLimiter rate-limits failed token checks per client address (a token bucket per
// address): an address has Burst tries, refilled at one per Refill, and a check from an
// address whose bucket is empty is refused before its token is looked at. It tracks at
// most maxClients addresses: when that many are tracked, the ones whose bucket is full
// again are forgotten, and if none is, new addresses share one overflow bucket. Only
// failures take from a bucket, so clients with good tokens are never slowed.
type failureLimiter struct {
	burst      float64
	refill     time.Duration
	maxClients int
	now        func() time.Time

	mu      sync.Mutex
	buckets map[string]*tokenBucket
}

type tokenBucket struct {
	tokens float64
	at     time.Time
}

func newFailureLimiter(burst int, refill time.Duration, maxClients int, now func() time.Time) *failureLimiter {
	return &failureLimiter{burst: float64(burst), refill: refill, maxClients: maxClients, now: now, buckets: map[string]*tokenBucket{}}
}

// level brings b's tokens up to now.
func (l *failureLimiter) level(b *tokenBucket, now time.Time) {
	if elapsed := now.Sub(b.at); elapsed > 0 {
		b.tokens = math.Min(l.burst, b.tokens+float64(elapsed)/float64(l.refill))
		b.at = now
	}
}

// wait says how long client must wait before its token is checked again; 0 means now.
func (l *failureLimiter) wait(client string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[client]
	if !ok {
		if b, ok = l.buckets[overflowClient]; !ok || len(l.buckets) < l.maxClients {
			return 0
		}
	}
	now := l.now()
	l.level(b, now)
	if b.tokens >= 1 {
		return 0
	}
	return time.Duration((1 - b.tokens) * float64(l.refill))
}

// fail takes one try from client's bucket.
func (l *failureLimiter) fail(client string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b, ok := l.buckets[client]
	if !ok {
		if len(l.buckets) >= l.maxClients {
			l.forgetFull(now)
		}
		if len(l.buckets) >= l.maxClients {
			client = overflowClient
		}
		if b, ok = l.buckets[client]; !ok {
			b = &tokenBucket{tokens: l.burst, at: now}
			l.buckets[client] = b
		}
	}
	l.level(b, now)
	b.tokens = math.Max(0, b.tokens-1)
}

// forgetFull drops the buckets that have refilled: they hold nothing a new one would not.
func (l *failureLimiter) forgetFull(now time.Time) {
	for addr, b := range l.buckets {
		l.level(b, now)
		if b.tokens >= l.burst {
			delete(l.buckets, addr)
		}
	}
}

// tracked counts the addresses held, for tests of the bound.
func (l *failureLimiter) tracked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
