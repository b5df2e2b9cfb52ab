package grafana

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"credential-grafana/cg"
)

// MaxUIDLength is the longest UID Grafana accepts.
const MaxUIDLength = 40

// hashLen is the number of hex digits of the hash that ends a shortened name.
const hashLen = 12

// FolderUID is the UID of user's folder, e.g. "cg-alice".
func FolderUID(user string) string {
	return shorten("cg-"+user, "folder\x00"+user)
}

// DataSourceUID is the UID of user's data source of kind, e.g. "cg-alice-timing".
func DataSourceUID(user string, kind cg.Kind) string {
	return shorten("cg-"+user+"-"+kind.Slug(), "datasource\x00"+user+"\x00"+string(kind))
}

// DataSourceName is the name of user's data source of kind: its database's name in
// lowercase, e.g. "alice-timing_report", "alice-qor".
func DataSourceName(user string, kind cg.Kind) string {
	return shorten(strings.ToLower(kind.DatabaseName(user)), "dsname\x00"+user+"\x00"+string(kind))
}

// DashboardUID is the UID of the dashboard of run table in user's database of kind,
// e.g. "alice-timing-gcd_nangate45_20250205t0129". A table whose name is not all
// [a-z0-9_], or a UID that would be longer than 40 characters, gets a readable prefix
// and a hash of the exact user, kind and table: "alice-timing-gcd_2025-0a1b2c3d4e5f".
func DashboardUID(user string, kind cg.Kind, table string) string {
	readable := user + "-" + kind.Slug() + "-" + table
	key := "dashboard\x00" + user + "\x00" + string(kind) + "\x00" + table
	for _, r := range table {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return hashed(readable, key)
		}
	}
	return shorten(readable, key)
}

// shorten returns readable when it is a valid UID of at most 40 characters, and the
// hashed form otherwise.
func shorten(readable, key string) string {
	if len(readable) <= MaxUIDLength && validUIDChars(readable) {
		return readable
	}
	return hashed(readable, key)
}

// hashed is the readable form with invalid characters replaced by "_", cut to leave
// room for "-" and 12 hex digits of the SHA-256 of key.
func hashed(readable, key string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(readable) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	prefix := b.String()
	if max := MaxUIDLength - hashLen - 1; len(prefix) > max {
		prefix = prefix[:max]
	}
	sum := sha256.Sum256([]byte(key))
	return strings.TrimRight(prefix, "-_") + "-" + hex.EncodeToString(sum[:])[:hashLen]
}

func validUIDChars(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}
