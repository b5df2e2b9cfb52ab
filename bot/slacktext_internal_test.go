package bot

import (
	"fmt"
	"slices"
	"testing"
)

func TestUnescapeSlashTextReadsWhatWasTyped(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ sent, typed string }{
		{"<https://grafana.example.com>", "https://grafana.example.com"},
		{"<https://grafana.example.com/d/x?a=1&amp;b=2>", "https://grafana.example.com/d/x?a=1&b=2"},
		{"<http://db.example.com|db.example.com>", "db.example.com"},
		{"<https://db.example.com|db.example.com>", "db.example.com"},
		{"<http://grafana.example.com:3000/|grafana.example.com:3000/>", "grafana.example.com:3000/"},
		{"<https://grafana.example.com|Grafana>", "https://grafana.example.com"},
		{"<mailto:ops@example.com|ops@example.com>", "ops@example.com"},
		{"<mailto:ops@example.com>", "ops@example.com"},
		{"<@U0ALICE001>", "@U0ALICE001"},
		{"<@U0ALICE001|alice>", "@alice"},
		{"<#C0RESULTS1|eda-results>", "#eda-results"},
		{"<#C0RESULTS1|>", "#C0RESULTS1"},
		{"<!subteam^S0ADMINS01|@eda-admins>", "@eda-admins"},
		{"<!subteam^S0ADMINS01>", "@S0ADMINS01"},
		{"<!here>", "@here"},
		{"<!channel>", "@channel"},
		{"<!date^1392734382^{date_short}|Feb 18, 2014>", "Feb 18, 2014"},
		{"a&amp;b &lt;x&gt; 1&gt;0", "a&b <x> 1>0"},
		{"&lt;@U0ALICE001&gt;", "<@U0ALICE001>"}, // typed as text: stays text
		{"&amp;lt;", "&lt;"},
		{"plain-word_1", "plain-word_1"},
		{"", ""},
	} {
		if got := unescapeSlashText(tc.sent); got != tc.typed {
			t.Errorf("unescapeSlashText(%q) = %q, want %q", tc.sent, got, tc.typed)
		}
	}
}

func TestParseWordsReadsSlackEscapedText(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		sent            string
		words           []string
		flags           map[string]string
		users, channels []string
	}{
		{sent: "cred set alice grafana_url <https://grafana.example.com>", words: []string{"cred", "set", "alice", "grafana_url", "https://grafana.example.com"}},
		{sent: "cred set alice db_host <http://db.example.com|db.example.com>", words: []string{"cred", "set", "alice", "db_host", "db.example.com"}},
		{sent: "user add carol <@U0ALICE001|alice> <#C0RESULTS1|eda-results>", words: []string{"user", "add", "carol"},
			users: []string{"U0ALICE001"}, channels: []string{"C0RESULTS1"}},
		{sent: "user add carol --owner <@U0ALICE001|alice> --channel=<#C0RESULTS1|eda results>", words: []string{"user", "add", "carol"},
			flags: map[string]string{"owner": "U0ALICE001", "channel": "C0RESULTS1"}},
		{sent: "user add carol --Owner=U0ALICE001 --drop-databases", words: []string{"user", "add", "carol"},
			flags: map[string]string{"owner": "U0ALICE001", "drop-databases": ""}},
		{sent: "user show &lt;@U0ALICE001&gt;", words: []string{"user", "show", "<@U0ALICE001>"}},
		{sent: "cred  set\u00a0alice <https://x.example.com|a label with spaces>", words: []string{"cred", "set", "alice", "https://x.example.com"}},
		{sent: "ping <!here> <!subteam^S0ADMINS01|@eda-admins>", words: []string{"ping", "@here", "@eda-admins"}},
	} {
		words, flags, users, channels := parseWords(tc.sent)
		if tc.flags == nil {
			tc.flags = map[string]string{}
		}
		if !slices.Equal(words, tc.words) || fmt.Sprint(flags) != fmt.Sprint(tc.flags) || !slices.Equal(users, tc.users) || !slices.Equal(channels, tc.channels) {
			t.Errorf("parseWords(%q) = %q %v %q %q, want %q %v %q %q", tc.sent, words, flags, users, channels, tc.words, tc.flags, tc.users, tc.channels)
		}
	}
}
