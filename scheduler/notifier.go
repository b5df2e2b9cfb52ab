package scheduler

import (
	"context"
	"errors"
	"time"

	"credential-grafana/cg"
)

// Notifier posts recorded dashboards to Slack. internal/app hands the scheduler the one from
// package bot. Errors may implement RetryAfter() time.Duration (Slack rate-limited us:
// try again after that long) or Permanent() bool (retrying cannot help: the bot is not
// in the channel, the channel does not exist, the token was refused); the message of a
// permanent error is shown to people as it is.
type Notifier interface {
	// Upload sends p's GIF to Slack without sharing it (files.getUploadURLExternal, then
	// the bytes to the upload URL) and returns the file's ID. The caller records the ID
	// before Share, so that whatever happens next is decided by that ID alone.
	Upload(ctx context.Context, p cg.Post) (fileID string, err error)
	// Share completes the upload of fileID into p.Channel as one message: the GIF with
	// the figures, the link and the buttons (files.completeUploadExternal). A rate
	// limit comes back as RetryAfter: call Share again with the same file, never Upload.
	Share(ctx context.Context, p cg.Post, fileID string) error
	// ShareState asks Slack (files.info) whether fileID is shared in channel.
	ShareState(ctx context.Context, token cg.Secret, channel, fileID string) (cg.ShareState, error)
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
