package cg

import "strings"

// Secret is a string that never prints itself: String, GoString, MarshalJSON and
// MarshalText all give "[redacted]", so a secret put in a log field or a JSON reply by
// mistake shows nothing. Reveal returns the value for the one place that needs it.
type Secret string

const redacted = "[redacted]"

// Reveal returns the secret's value.
func (s Secret) Reveal() string { return string(s) }

// String implements fmt.Stringer.
func (s Secret) String() string { return redacted }

// GoString implements fmt.GoStringer.
func (s Secret) GoString() string { return redacted }

// MarshalJSON implements json.Marshaler.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText implements encoding.TextMarshaler.
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// Empty reports whether the secret has no value.
func (s Secret) Empty() bool { return s == "" }

// Mask shows a secret's shape without its value: its known type prefix (xoxb-, glsa_,
// …, the same for every token of its kind) and, of the rest, the last 4 characters
// only when the rest is at least 16 characters long, so that at least 12 stay hidden;
// otherwise only asterisks. Characters are counted as runes, so no rune is cut.
func Mask(value string) string {
	if value == "" {
		return ""
	}
	prefix := ""
	for _, p := range []string{"xoxb-", "xoxp-", "xapp-", "glsa_", "cgk_"} {
		if strings.HasPrefix(value, p) {
			prefix = p
			break
		}
	}
	rest := []rune(value[len(prefix):])
	if len(rest) < maskMinLength {
		return prefix + "********"
	}
	return prefix + "********" + string(rest[len(rest)-maskShown:])
}

// maskMinLength is the length from which Mask shows maskShown characters of a secret.
const (
	maskMinLength = 16
	maskShown     = 4
)
