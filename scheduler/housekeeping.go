package scheduler

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"credential-grafana/db"
)

// HousekeepingConfig is what the house-keeper needs.
type HousekeepingConfig struct {
	// DB is the master database. Required.
	DB *db.DB
	// GIFDir is where the GIFs are (GIF_CAPTURE_DIR). Empty: no GIF is deleted.
	GIFDir string
	// ScanHistory is how long recorded scans are kept (the newest always is).
	// Defaults to 7 days (SCAN_HISTORY).
	ScanHistory time.Duration
	// GIFRetention is the age (by modification time) after which a GIF is deleted, unless
	// its dashboard still has to post it. Defaults to 30 days (GIF_RETENTION).
	GIFRetention time.Duration
	// Interval is the time between passes; the first runs at Start. Defaults to 1 hour.
	Interval time.Duration
	// Now is the clock. Defaults to time.Now.
	Now    func() time.Time
	Logger zerolog.Logger
}

// HousekeepingResult says what one pass did.
type HousekeepingResult struct {
	// Skipped is true when another replica held the house-keeping lock: nothing was done.
	Skipped      bool  `json:"skipped"`
	ScansPruned  int64 `json:"scans_pruned"`
	GIFsDeleted  int   `json:"gifs_deleted"`
	BytesFreed   int64 `json:"bytes_freed"`
	GIFsAwaiting int   `json:"gifs_awaiting_post"` // old, but kept: their post is still to come
}

// Housekeeper keeps what the service stores from growing forever: it prunes scan_runs
// to ScanHistory and deletes GIFs older than GIFRetention (their dashboards and posts
// stay; the record's GIF path is cleared). River prunes its own finished jobs (see
// PipelineConfig). One replica at a time does it, under an advisory lock.
type Housekeeper struct {
	cfg    HousekeepingConfig
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex // one pass at a time in this process
}

// NewHousekeeper returns a house-keeper over cfg with its defaults filled in.
func NewHousekeeper(cfg HousekeepingConfig) *Housekeeper {
	cfg.ScanHistory = cmp.Or(cfg.ScanHistory, 7*24*time.Hour)
	cfg.GIFRetention = cmp.Or(cfg.GIFRetention, 30*24*time.Hour)
	cfg.Interval = cmp.Or(cfg.Interval, time.Hour)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Housekeeper{cfg: cfg}
}

// Start runs a pass at once and then every Interval until Stop or ctx ends. A failed pass
// is logged; the next one runs on time.
func (h *Housekeeper) Start(ctx context.Context) {
	ctx, h.cancel = context.WithCancel(ctx)
	h.done = make(chan struct{})
	go func() {
		defer close(h.done)
		ticker := time.NewTicker(h.cfg.Interval)
		defer ticker.Stop()
		for {
			pctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
			if _, err := h.RunOnce(pctx); err != nil && ctx.Err() == nil {
				h.cfg.Logger.Error().Err(err).Msg("house-keeping failed")
			}
			cancel()
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
			}
		}
	}()
}

// Stop stops the schedule and waits for a running pass to end.
func (h *Housekeeper) Stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	<-h.done
}

// RunOnce does one pass, unless another replica is doing one (Skipped).
func (h *Housekeeper) RunOnce(ctx context.Context) (HousekeepingResult, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var res HousekeepingResult
	unlock, ok, err := h.cfg.DB.TryLockHousekeeping(ctx)
	if err != nil {
		return res, err
	}
	if !ok {
		res.Skipped = true
		return res, nil
	}
	defer unlock()
	now := h.cfg.Now()
	if res.ScansPruned, err = h.cfg.DB.PruneScans(ctx, now.Add(-h.cfg.ScanHistory)); err != nil {
		return res, err
	}
	if err := h.deleteOldGIFs(ctx, now.Add(-h.cfg.GIFRetention), &res); err != nil {
		return res, err
	}
	h.cfg.Logger.Info().Int64("scans_pruned", res.ScansPruned).Int("gifs_deleted", res.GIFsDeleted).
		Int64("bytes_freed", res.BytesFreed).Int("gifs_awaiting_post", res.GIFsAwaiting).Msg("house-keeping done")
	return res, nil
}

// deleteOldGIFs deletes the GIFs in GIFDir modified before cutoff, except those whose
// dashboard still has to post them, and clears their records' GIF path.
func (h *Housekeeper) deleteOldGIFs(ctx context.Context, cutoff time.Time, res *HousekeepingResult) error {
	if h.cfg.GIFDir == "" {
		return nil
	}
	err := filepath.WalkDir(h.cfg.GIFDir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if e.IsDir() || !strings.EqualFold(filepath.Ext(path), ".gif") {
			return nil
		}
		info, err := e.Info()
		if err != nil || !info.ModTime().Before(cutoff) {
			return nil // gone meanwhile, or young
		}
		for _, p := range recordedForms(path) {
			waiting, err := h.cfg.DB.GIFAwaitsPost(ctx, p)
			if err != nil {
				return err
			}
			if waiting {
				res.GIFsAwaiting++
				return nil
			}
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("delete old GIF: %w", err)
		}
		res.GIFsDeleted++
		res.BytesFreed += info.Size()
		for _, p := range recordedForms(path) {
			if _, err := h.cfg.DB.ForgetGIF(ctx, p); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete GIFs older than %s in %s: %w", cutoff.Format(time.RFC3339), h.cfg.GIFDir, err)
	}
	return nil
}

// recordedForms are the forms a GIF's path may have in a record: as found under GIFDir,
// and absolute.
func recordedForms(path string) []string {
	forms := []string{path}
	if abs, err := filepath.Abs(path); err == nil && abs != path {
		forms = append(forms, abs)
	}
	return forms
}

// DiskUsage is what a directory's files take.
type DiskUsage struct {
	Dir   string `json:"dir"`
	Files int    `json:"files"`
	Bytes int64  `json:"bytes"`
}

// MeasureDir sums the sizes of the regular files under dir. A missing dir uses nothing.
func MeasureDir(dir string) (DiskUsage, error) {
	u := DiskUsage{Dir: dir}
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !e.Type().IsRegular() {
			return nil
		}
		info, err := e.Info()
		if err != nil {
			return nil // gone meanwhile
		}
		u.Files++
		u.Bytes += info.Size()
		return nil
	})
	if err != nil {
		return u, fmt.Errorf("measure %s: %w", dir, err)
	}
	return u, nil
}
