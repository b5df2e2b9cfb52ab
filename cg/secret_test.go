package cg_test

import (
	"strings"
	"testing"

	"credential-grafana/cg"
)

// Masking shows a known type prefix (the same for every token of that kind) and, of the
// rest, at most its last 4 characters, and none at all when the rest is under 16.
func TestMaskShowsAtMostFourCharactersAndNoneUnder16(t *testing.T) {
	for _, tc := range []struct{ value, want string }{
		{"", ""},
		{"abc", "********"},
		{"password1234", "********"},                       // 12: the old rule showed "1234"
		{"fifteen-chars-x", "********"},                    // 15
		{"sixteen-chars-xy", "********s-xy"},               // 16
		{strings.Repeat("a", 44) + "wxyz", "********wxyz"}, // long
		{"glsa_" + strings.Repeat("q", 15), "glsa_********"},
		{"glsa_" + strings.Repeat("q", 12) + "1234", "glsa_********1234"},
		{"xoxb-42-abcdef", "xoxb-********"},
		{"cgk_" + strings.Repeat("k", 48) + "9876", "cgk_********9876"},
		{"pässwörd-ü-ölé-ÿ", "********lé-ÿ"}, // 16 runes: the last 4 runes, never half of one
	} {
		if got := cg.Mask(tc.value); got != tc.want {
			t.Errorf("Mask(%q) = %q, want %q", tc.value, got, tc.want)
		}
	}
}
