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
	// History is the design's last values of this figure, oldest first and this run's
	// last (at most 10), in Unit, for the post's sparkline; Best the best value of all
	// its runs so far, this one included. Both are set only when posting.
	History []float64 `json:"history,omitempty"`
	Best    *float64  `json:"best,omitempty"`
}

// BrokenRule is a regression rule a run broke, as recorded with the run and posted.
type BrokenRule struct {
	RuleID  int64  `json:"rule_id"`
	Rule    string `json:"rule"`    // as stored, normalised: "wns < -0.05 ns"
	Mention string `json:"mention"` // "<@U…>", "<!subteam^S…>", or ""
	Detail  string `json:"detail"`  // what broke it: "WNS -0.081 ns is below -0.05 ns"
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
	// FirstRun says this is the first run of Design recorded for the user and kind.
	FirstRun bool
	// TrendURL links to the design's trend dashboard, when there is one.
	TrendURL string
	// Broken lists the regression rules this run broke; the post says so first.
	Broken []BrokenRule
	At     time.Time
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

// ConvertUnit converts v from unit from to unit to: the same unit, or ps and ns (a run
// table's times are in either). Any other pair of units does not convert.
func ConvertUnit(v float64, from, to string) (float64, bool) {
	switch {
	case from == to:
		return v, true
	case from == "ps" && to == "ns":
		return v / 1000, true
	case from == "ns" && to == "ps":
		return v * 1000, true
	}
	return 0, false
}

// In returns f's value in the unit of like when f is the same figure (by name), so
// that two runs' figures compare whatever time unit each table used.
func (f Figure) In(like Figure) (float64, bool) {
	if f.Name != like.Name {
		return 0, false
	}
	return ConvertUnit(f.Value, f.Unit, like.Unit)
}
