package bot

import (
	"context"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// jobTimeout bounds one operation run for a Slack request.
const jobTimeout = 2 * time.Minute

// workerPool runs slow work (database, provisioning, scans) off the event loop with a
// bounded number of goroutines and a bounded queue; a full queue refuses work at once
// instead of delaying acks.
type workerPool struct {
	size int
	jobs chan func(context.Context)
	wg   sync.WaitGroup
}

func newWorkerPool(size int) *workerPool {
	return &workerPool{size: size, jobs: make(chan func(context.Context), size*16)}
}

// start runs the workers until ctx ends.
func (p *workerPool) start(ctx context.Context, log zerolog.Logger) {
	for range p.size {
		p.wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case job := <-p.jobs:
					p.do(ctx, log, job)
				}
			}
		})
	}
}

func (p *workerPool) do(ctx context.Context, log zerolog.Logger, job func(context.Context)) {
	defer func() {
		if r := recover(); r != nil {
			log.Error().Interface("panic", r).Msg("slack handler panicked")
		}
	}()
	jctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), jobTimeout)
	defer cancel()
	job(jctx)
}

// submit queues job; false when the queue is full.
func (p *workerPool) submit(job func(context.Context)) bool {
	select {
	case p.jobs <- job:
		return true
	default:
		return false
	}
}

// stop waits for the workers, which end with the Run context.
func (p *workerPool) stop() { p.wg.Wait() }

// dedupe remembers event IDs for a while: Slack delivers events at least once.
type dedupe struct {
	ttl  time.Duration
	mu   sync.Mutex
	seen map[string]time.Time
}

func newDedupe(ttl time.Duration) *dedupe { return &dedupe{ttl: ttl, seen: map[string]time.Time{}} }

// first reports whether id is seen for the first time within the TTL.
func (d *dedupe) first(id string) bool {
	if id == "" {
		return true
	}
	now := time.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	if t, ok := d.seen[id]; ok && now.Sub(t) < d.ttl {
		return false
	}
	if len(d.seen) > 10000 {
		for k, t := range d.seen {
			if now.Sub(t) >= d.ttl {
				delete(d.seen, k)
			}
		}
	}
	d.seen[id] = now
	return true
}
