package scheduler

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/robfig/cron/v3"
	"github.com/rs/zerolog"
)

// ParseSchedule parses a scan schedule: a cron spec (five fields, or a descriptor such
// as "@every 30s" or "@hourly"), or, when spec is empty, every interval.
func ParseSchedule(spec string, interval time.Duration) (cron.Schedule, error) {
	if spec == "" {
		if interval < time.Second {
			return nil, fmt.Errorf("scan interval %s is too short: at least 1s", interval)
		}
		return cron.Every(interval), nil
	}
	s, err := cron.ParseStandard(spec)
	if err != nil {
		return nil, fmt.Errorf("scan schedule %q is not a cron spec (five fields like \"*/2 * * * *\", or \"@every 30s\"): %w", spec, err)
	}
	return s, nil
}

// Trigger runs the scanner on a schedule: once at start, then at every tick, never two
// scans at once (a tick that finds a scan running is skipped).
type Trigger struct {
	cron    *cron.Cron
	scanner *Scanner
	log     zerolog.Logger
	ctx     context.Context
	cancel  context.CancelFunc
}

// NewTrigger returns a trigger for scanner on schedule.
func NewTrigger(schedule cron.Schedule, scanner *Scanner, log zerolog.Logger) *Trigger {
	t := &Trigger{scanner: scanner, log: log}
	t.cron = cron.New(cron.WithChain(cron.SkipIfStillRunning(cron.DiscardLogger)))
	t.cron.Schedule(schedule, cron.FuncJob(t.scan))
	return t
}

// Start scans at once and then on schedule, until Stop or ctx ends.
func (t *Trigger) Start(ctx context.Context) {
	t.ctx, t.cancel = context.WithCancel(ctx)
	go t.scan()
	t.cron.Start()
}

// Stop stops the schedule and waits for a running scan to end.
func (t *Trigger) Stop() {
	if t.cancel != nil {
		t.cancel()
	}
	<-t.cron.Stop().Done()
}

func (t *Trigger) scan() {
	if t.ctx.Err() != nil {
		return
	}
	ctx, cancel := context.WithTimeout(t.ctx, 10*time.Minute)
	defer cancel()
	_, err := t.scanner.ScanOnce(ctx, ScanOptions{})
	switch {
	case errors.Is(err, ErrScanRunning):
		t.log.Debug().Msg("scan skipped: another scan is running here or in another replica")
	case err != nil && t.ctx.Err() == nil:
		t.log.Error().Err(err).Msg("scan failed")
	}
}
