package cg

import "time"

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

	// ExistingFileID, when set, is the GIF an interrupted post already uploaded (found
	// by the notifier's FindPost): the notifier does not upload it again, and posts the
	// message that goes with it unless the channel has it since ResumeSince.
	ExistingFileID string
	ResumeSince    time.Time
}
