package app

import (
	"context"
	"fmt"
	"time"

	"credential-grafana/scheduler"
)

// startHousekeeping starts the hourly house-keeping (scan_runs to SCAN_HISTORY, GIFs to
// GIF_RETENTION; one replica at a time) and returns the function that stops it.
func (m *Main) startHousekeeping(ctx context.Context) func() {
	hk := scheduler.NewHousekeeper(scheduler.HousekeepingConfig{
		DB: m.DB, GIFDir: m.Config.GIFCaptureDir,
		ScanHistory:  time.Duration(m.Config.ScanHistoryDays) * 24 * time.Hour,
		GIFRetention: time.Duration(m.Config.GIFRetentionDays) * 24 * time.Hour,
		Logger:       m.Log,
	})
	hk.Start(ctx)
	return hk.Stop
}

// humanBytes writes n bytes as "512 B", "3.2 MB", "1.1 GB" (powers of 1000).
func humanBytes(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}
