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

// Mask shows a secret's shape without its value: its known prefix (xoxb-, glsa_, …) and
// its last 4 characters when it is long enough for that to give nothing away, otherwise
// only asterisks.
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
	if len(value)-len(prefix) < 12 {
		return prefix + "********"
	}
	return prefix + "********" + value[len(value)-4:]
}
