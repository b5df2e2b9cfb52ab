package cg

import (
	"fmt"
	"strings"
)

// Kind is the kind of a run table and of the database it lives in.
type Kind string

// The three kinds. Each has its own database per user and its own dashboard template.
const (
	KindTiming Kind = "TIMING"
	KindQOR    Kind = "QOR"
	KindDRC    Kind = "DRC"
)

// Kinds lists every kind in a stable order.
var Kinds = []Kind{KindTiming, KindQOR, KindDRC}

// DatabaseSuffix is what follows "<user>-" in the name of the kind's database.
func (k Kind) DatabaseSuffix() string {
	switch k {
	case KindTiming:
		return "timing_report"
	case KindQOR:
		return "QOR"
	case KindDRC:
		return "drc"
	}
	return ""
}

// DatabaseName is the name of user's database of this kind, e.g. "alice-timing_report".
func (k Kind) DatabaseName(user string) string { return user + "-" + k.DatabaseSuffix() }

// Slug is the kind in lowercase letters, for UIDs, file names and credential keys.
func (k Kind) Slug() string { return strings.ToLower(string(k)) }

// DatabaseCredentialKey is the credential holding the name of the kind's database.
func (k Kind) DatabaseCredentialKey() string {
	switch k {
	case KindTiming:
		return "db_timing_report"
	case KindQOR:
		return "db_qor"
	case KindDRC:
		return "db_drc"
	}
	return ""
}

// DataSourceCredentialKey is the credential holding the UID of the kind's Grafana data source.
func (k Kind) DataSourceCredentialKey() string { return "grafana_uid_" + k.Slug() }

// StepVariable is the dashboard variable a recording steps through: "stage" for
// TIMING and QOR, "iteration" for DRC.
func (k Kind) StepVariable() string {
	if k == KindDRC {
		return "iteration"
	}
	return "stage"
}

// Valid reports whether k is one of the three kinds.
func (k Kind) Valid() bool { return k.DatabaseSuffix() != "" }

// ParseKind accepts a kind in any case ("timing", "TIMING", "qor", "drc") or the
// suffix of its database ("timing_report").
func ParseKind(s string) (Kind, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "timing", "timing_report":
		return KindTiming, nil
	case "qor":
		return KindQOR, nil
	case "drc":
		return KindDRC, nil
	}
	return "", Errorf(EINVALID, "unknown kind %q: use TIMING, QOR or DRC", s)
}

// String returns the kind's name.
func (k Kind) String() string { return string(k) }

// GoString makes %#v readable in test failures.
func (k Kind) GoString() string { return fmt.Sprintf("cg.Kind(%q)", string(k)) }
