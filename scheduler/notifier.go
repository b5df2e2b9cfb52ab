package scheduler

import (
	"context"
	"errors"
	"time"

	"credential-grafana/cg"
)

// Notifier posts recorded dashboards to Slack. main hands the scheduler the one from
// package bot. Errors may implement RetryAfter() time.Duration (Slack rate-limited us:
// try again after that long) or Permanent() bool (retrying cannot help: the bot is not
// in the channel, the channel does not exist, the token was refused); the message of a
// permanent error is shown to people as it is.
type Notifier interface {
	// Post uploads the GIF with the message to p.Channel and returns the Slack file's
	// ID. The file's title carries p.DashboardUID so that FindPost can find it.
	Post(ctx context.Context, p cg.Post) (fileID string, err error)
	// FindPost looks in channel for a post of dashboardUID made since since: the guard
	// that keeps a crash between posting and recording it from posting twice.
	FindPost(ctx context.Context, token cg.Secret, channel, dashboardUID string, since time.Time) (fileID string, found bool, err error)
	// Tell posts a short plain message, for problems a user must hear of once.
	Tell(ctx context.Context, token cg.Secret, channel, text string) error
}

// retryAfter returns how long to wait before trying again after a rate limit, or 0.
func retryAfter(err error) time.Duration {
	var ra interface{ RetryAfter() time.Duration }
	if errors.As(err, &ra) {
		return ra.RetryAfter()
	}
	return 0
}

// permanent reports whether retrying err cannot help.
func permanent(err error) bool {
	var p interface{ Permanent() bool }
	return errors.As(err, &p) && p.Permanent()
}
