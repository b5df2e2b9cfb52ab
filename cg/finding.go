package cg

// Finding is one line of `credential-grafana doctor`: a check of one thing the service
// needs from PostgreSQL, Grafana or Slack, and either that it is fine or what is wrong
// and what fixes it.
type Finding struct {
	// Area is "postgres", "grafana" or "slack".
	Area string `json:"area"`
	// Check names what was checked, e.g. "reachable", "scopes".
	Check string `json:"check"`
	// OK is true when the check passed.
	OK bool `json:"ok"`
	// Skipped is true when the check did not run (not configured, or an earlier check
	// failed); OK is then false and Detail says why.
	Skipped bool `json:"skipped,omitempty"`
	// Detail is what was seen, e.g. "Grafana 13.2.0 (supported: 11.x to 13.x)".
	Detail string `json:"detail"`
	// Fix is the command or setting that fixes a failed check.
	Fix string `json:"fix,omitempty"`
}

// Failed reports whether any finding failed (skipped ones do not count).
func Failed(fs []Finding) bool {
	for _, f := range fs {
		if !f.OK && !f.Skipped {
			return true
		}
	}
	return false
}
