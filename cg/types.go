package cg

import "time"

// UserStatus is where a user is in its life.
type UserStatus string

// User statuses.
const (
	// UserProvisioning: creation started and has not finished; StatusReason says why
	// it stopped, and retrying the creation finishes it.
	UserProvisioning UserStatus = "provisioning"
	UserActive       UserStatus = "active"   // provisioned and scanned
	UserDisabled     UserStatus = "disabled" // kept, but not scanned and its API key refused
	UserRemoved      UserStatus = "removed"  // deactivated and its credentials removed
)

// User is a person or a project with its own three databases.
type User struct {
	ID           int64      `json:"id"`
	Name         string     `json:"username"`
	Status       UserStatus `json:"status"`
	StatusReason string     `json:"status_reason,omitempty"`
	SlackUserID  string     `json:"slack_user_id,omitempty"` // the Slack member who manages this user, if any
	CreatedAt    time.Time  `json:"created_at"`
	UpdatedAt    time.Time  `json:"updated_at"`
}

// Credential is one key/value pair of a user. Value is the plain value; a front-end
// shows Masked unless the value was explicitly revealed.
type Credential struct {
	Key       string    `json:"key_name"`
	Value     Secret    `json:"-"`
	Masked    string    `json:"key_value"`
	Secret    bool      `json:"secret"`
	UpdatedAt time.Time `json:"updated_at"`
	// Unreadable, when set, says why the stored secret does not decrypt and what to do
	// (put the old key in CREDENTIALS_KEY_PREVIOUS, or set the value again); Value is
	// then empty and Masked is "(unreadable)". The user's other values are unaffected.
	Unreadable string `json:"unreadable,omitempty"`
}

// DashboardState is where a run table is in the pipeline.
type DashboardState string

// Dashboard states, in pipeline order; Incompatible and Failed are end states that wait
// for a person.
const (
	DashboardPending      DashboardState = "pending"      // found by the scan, dashboard not made yet
	DashboardCreated      DashboardState = "created"      // dashboard exists in Grafana
	DashboardCaptured     DashboardState = "captured"     // GIF on disk
	DashboardPosting      DashboardState = "posting"      // Slack upload under way (the once-only guard)
	DashboardPosted       DashboardState = "posted"       // in Slack
	DashboardIncompatible DashboardState = "incompatible" // the table does not fit its kind; Reason says why
	DashboardFailed       DashboardState = "failed"       // a step gave up; LastError says why
	DashboardMuted        DashboardState = "muted"        // recorded but not posted, on request
)

// Dashboard is the record of one run table: its Grafana dashboard, its GIF and its post.
type Dashboard struct {
	ID               int64          `json:"id"`
	UserID           int64          `json:"user_id"`
	Kind             Kind           `json:"kind"`
	TableName        string         `json:"table_name"`
	UID              string         `json:"dashboard_uid"`
	URL              string         `json:"dashboard_url,omitempty"`
	LocalSnapshotURL string         `json:"local_snapshot_url,omitempty"` // the GIF's path
	State            DashboardState `json:"state"`
	Step             string         `json:"step,omitempty"` // the pipeline step last run
	LastError        string         `json:"last_error,omitempty"`
	Reason           string         `json:"reason,omitempty"` // why a table is incompatible
	SlackFileID      string         `json:"slack_file_id,omitempty"`
	SlackCompletedAt *time.Time     `json:"slack_completed_at,omitempty"` // Slack accepted the completion of SlackFileID
	PostingStartedAt *time.Time     `json:"posting_started_at,omitempty"`
	SlackSentAt      *time.Time     `json:"slack_sent_at,omitempty"`
	CreatedAt        time.Time      `json:"created_at"`
	UpdatedAt        time.Time      `json:"updated_at"`
}
