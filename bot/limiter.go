package bot

import (
	"context"
	"sync"
	"time"
)

// channelLimiter spaces posts to each channel: Slack takes about one message per second
// per channel, and slack-go has no throttle of its own. Callers reserve the next free
// slot of their channel, in the order they ask, and sleep until it comes, so a burst is
// spread out rather than refused.
type channelLimiter struct {
	interval time.Duration
	now      func() time.Time

	mu   sync.Mutex
	next map[string]time.Time
}

func newChannelLimiter(interval time.Duration) *channelLimiter {
	return &channelLimiter{interval: interval, now: time.Now, next: map[string]time.Time{}}
}

// reserve returns when the caller may post to channel, and books that slot.
func (l *channelLimiter) reserve(channel string) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	slot := now
	if n, ok := l.next[channel]; ok && n.After(now) {
		slot = n
	}
	l.next[channel] = slot.Add(l.interval)
	// Forget channels idle for long, so the map does not grow without bound.
	if len(l.next) > 1024 {
		for ch, t := range l.next {
			if t.Before(now) {
				delete(l.next, ch)
			}
		}
	}
	return slot
}

// wait blocks until the caller's slot for channel comes, or ctx ends.
func (l *channelLimiter) wait(ctx context.Context, channel string) error {
	d := time.Until(l.reserve(channel))
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
