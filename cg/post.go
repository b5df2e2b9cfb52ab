package cg

import (
	"errors"
	"time"
)

// Figure is one key figure of a run, with the previous run's value of the same design
// when there is one.
type Figure struct {
	Name  string  `json:"name"`  // "WNS", "Area"
	Value float64 `json:"value"` // in Unit
	Unit  string  `json:"unit"`  // "ns", "ps", "µm²", "W", "%", ""
	// Previous is the previous run's value, in Unit; nil when there is none.
	Previous *float64 `json:"previous,omitempty"`
	// HigherIsBetter says which way a change is an improvement (slack: higher; area,
	// power, violations: lower).
	HigherIsBetter bool `json:"higher_is_better"`
	// Decimals is how many decimals to show.
	Decimals int `json:"decimals"`
}

// Post is a recorded dashboard on its way to Slack.
type Post struct {
	// Token is the bot token to post with: the user's own, or the service's.
	Token   Secret
	Channel string // a channel ID
	GIFPath string

	User         string
	Kind         Kind
	Database     string
	Table        string
	Design       string
	Platform     string
	RunID        string
	Stage        string // the stage the figures are taken at (TIMING, QOR)
	DashboardUID string
	DashboardURL string
	Title        string
	Figures      []Figure
	// PreviousTable is the table the figures are compared with, if any.
	PreviousTable string
	At            time.Time
}

// ErrUploadGone is what a notifier's Share wraps when Slack no longer knows the upload
// it was asked to complete (never completed, and discarded): only a new upload can go on.
var ErrUploadGone = errors.New("the upload is gone from Slack")

// ShareState is what Slack's files.info says of an uploaded file in one channel.
type ShareState int

const (
	// ShareUnknown: files.info answers file_not_found. The upload was never completed
	// (or Slack discarded it): completing the same file ID is the way on.
	ShareUnknown ShareState = iota
	// SharePending: the file exists, but its share in the channel is not there yet.
	// Slack shares a completed upload asynchronously (1–3 s later): wait, never repeat.
	SharePending
	// ShareDone: files.info lists a share of the file in the channel.
	ShareDone
)

// String names the state for logs and errors.
func (s ShareState) String() string {
	switch s {
	case SharePending:
		return "pending"
	case ShareDone:
		return "shared"
	}
	return "unknown"
}
