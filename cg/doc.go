// Package cg holds the plain domain types every other package may import: users,
// credentials, dashboards, the three run kinds, regression rules (their parser and
// their check against a run's figures), the Secret type that never prints its
// value, and the small coded Error that front-ends turn into an HTTP status or a Slack
// message. It imports nothing from this module.
package cg
