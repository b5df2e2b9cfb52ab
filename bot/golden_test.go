package bot

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/slack-go/slack"

	"credential-grafana/cg"
	"credential-grafana/commands"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares blocks, as JSON, with testdata/<name>.golden.json.
func golden(t *testing.T, name string, blocks []slack.Block) {
	t.Helper()
	got, err := json.MarshalIndent(slack.Blocks{BlockSet: blocks}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", name+".golden.json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./bot -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs from %s (go test ./bot -update rewrites it):\n%s", name, path, got)
	}
}

func f(v float64) *float64 { return &v }

var samplePosts = map[string]cg.Post{
	"post_timing": {
		User: "alice", Kind: cg.KindTiming, Database: "alice-timing_report", Table: "gcd_nangate45_run2",
		Design: "gcd", Platform: "nangate45", RunID: "run2", Stage: "6_final",
		DashboardUID: "cg-alice-timing-5f2a9c1e", DashboardURL: "https://grafana.example.com/d/cg-alice-timing-5f2a9c1e",
		Title: "TIMING · gcd on nangate45 · run2", PreviousTable: "gcd_nangate45_run1",
		Figures: []cg.Figure{
			{Name: "WNS", Value: -0.123, Unit: "ns", Previous: f(-0.2), HigherIsBetter: true, Decimals: 3},
			{Name: "TNS", Value: -1.52, Unit: "ns", Previous: f(-1.01), HigherIsBetter: true, Decimals: 2},
			{Name: "Violating endpoints", Value: 12, Previous: f(12), Decimals: 0},
		},
	},
	"post_qor": {
		User: "alice", Kind: cg.KindQOR, Database: "alice-QOR", Table: "aes_sky130hd_run7",
		Design: "aes", Platform: "sky130hd", RunID: "run7", Stage: "finish",
		DashboardUID: "cg-alice-qor-0b1c2d3e", DashboardURL: "https://grafana.example.com/d/cg-alice-qor-0b1c2d3e",
		PreviousTable: "aes_sky130hd_run6",
		Figures: []cg.Figure{
			{Name: "Area", Value: 84721.4, Unit: "µm²", Previous: f(85010.0), Decimals: 1},
			{Name: "Utilisation", Value: 41.7, Unit: "%", Previous: f(41.2), Decimals: 1},
			{Name: "Power", Value: 0.0213, Unit: "W", Previous: f(0.0209), Decimals: 4},
			{Name: "Cells", Value: 17345, Previous: f(17345), Decimals: 0},
		},
	},
	"post_timing_trend": {
		User: "alice", Kind: cg.KindTiming, Database: "alice-timing_report", Table: "gcd_nangate45_run4",
		Design: "gcd", Platform: "nangate45", RunID: "run4", Stage: "finish",
		DashboardUID: "cg-alice-timing-6a3b0d2f", DashboardURL: "https://grafana.example.com/d/cg-alice-timing-6a3b0d2f",
		Title: "TIMING · gcd on nangate45 · run4", PreviousTable: "gcd_nangate45_run3",
		Figures: []cg.Figure{
			{Name: "WNS", Value: -0.09, Unit: "ns", Previous: f(-0.12), HigherIsBetter: true, Decimals: 3,
				History: []float64{-0.1, -0.05, -0.12, -0.09}, Best: f(-0.05)},
			{Name: "Violating endpoints", Value: 3, Previous: f(7), Decimals: 0, History: []float64{9, 8, 7, 3}, Best: f(3)},
		},
	},
	"post_first_run": {
		User: "bob", Kind: cg.KindQOR, Database: "bob-qor", Table: "ibex_asap7_run1",
		Design: "ibex", Platform: "asap7", RunID: "run1", FirstRun: true,
		DashboardUID: "cg-bob-qor-11aa22bb", DashboardURL: "https://grafana.example.com/d/cg-bob-qor-11aa22bb",
		Figures: []cg.Figure{{Name: "Area", Value: 1520.5, Unit: "µm²", Decimals: 1, History: []float64{1520.5}, Best: f(1520.5)}},
	},
	"post_drc": {
		User: "bob", Kind: cg.KindDRC, Database: "bob-drc", Table: "ibex_asap7_run3",
		Design: "ibex", Platform: "asap7", RunID: "run3",
		DashboardUID: "cg-bob-drc-77aa88bb", DashboardURL: "https://grafana.example.com/d/cg-bob-drc-77aa88bb",
		Figures: []cg.Figure{{Name: "DRC violations", Value: 3, Decimals: 0}},
	},
}

func TestPipelineMessageBlocksMatchGoldenFiles(t *testing.T) {
	t.Parallel()
	for name, p := range samplePosts {
		golden(t, name, PostBlocks(p))
	}
}

func goldenBot() *Bot {
	return &Bot{cfg: Config{Command: "/cg"}, slash: subcommands(), admins: newAdminSet([]string{"U0ADMIN001", "U0ADMIN002"}, "", nil, zerolog.Nop())}
}

func TestHelpBlocksMatchGoldenFile(t *testing.T) {
	t.Parallel()
	golden(t, "help", goldenBot().helpReply().Blocks)
}

func TestUserListBlocksMatchGoldenFile(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)
	users := []cg.User{
		{ID: 1, Name: "alice", Status: cg.UserActive, SlackUserID: "U0ALICE001", CreatedAt: at},
		{ID: 2, Name: "bob", Status: cg.UserProvisioning, StatusReason: "create database bob-drc failed: the name is taken", CreatedAt: at},
		{ID: 3, Name: "tapeout-q3", Status: cg.UserDisabled, CreatedAt: at},
	}
	golden(t, "user_list", userListReply("/cg", commands.UserPage{Users: users, Total: len(users)}).Blocks)
}

func TestUserListPageWithMoreBlocksMatchGoldenFile(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)
	users := []cg.User{
		{ID: 26, Name: "carol", Status: cg.UserActive, CreatedAt: at},
		{ID: 27, Name: "dave", Status: cg.UserActive, SlackUserID: "U0DAVE0001", CreatedAt: at},
	}
	golden(t, "user_list_page", userListReply("/cg", commands.UserPage{Users: users, NextCursor: "YWZ0ZXI6Mjc", Total: 60, More: 33}).Blocks)
}

func TestCredentialListBlocksMatchGoldenFile(t *testing.T) {
	t.Parallel()
	creds := []cg.Credential{
		{Key: "db_host", Masked: "db.example.com"},
		{Key: "db_pass", Masked: "********", Secret: true},
		{Key: "grafana_api_key", Masked: "glsa_********wxyz", Secret: true},
		{Key: "slack_channel_id", Masked: "C012AB3CD4E"},
	}
	golden(t, "cred_list", credListReply("/cg", "alice", creds).Blocks)
}

func TestFigureFormatting(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		fig  cg.Figure
		want string
	}{
		{cg.Figure{Name: "WNS", Value: -0.05, Unit: "ns", Decimals: 2}, "*WNS*\n`-0.05 ns`"},
		{cg.Figure{Name: "WNS", Value: -5, Unit: "ps", Previous: f(-12), HigherIsBetter: true}, "*WNS*\n`-5 ps`  ↑ +7 ps :white_check_mark: better"},
		{cg.Figure{Name: "Area", Value: 110, Unit: "µm²", Previous: f(100)}, "*Area*\n`110 µm²`  ↑ +10 µm² :small_red_triangle_down: worse"},
		{cg.Figure{Name: "Util", Value: 40.04, Unit: "%", Previous: f(40.01), Decimals: 1}, "*Util*\n`40.0%`  → no change"},
		{cg.Figure{Name: "DRC", Value: 2, Previous: f(9)}, "*DRC*\n`2`  ↓ −7 :white_check_mark: better"},
		{cg.Figure{Name: "DRC", Value: 2, Previous: f(9), History: []float64{5, 9, 2}, Best: f(2)}, "*DRC*\n`2`  ↓ −7 :white_check_mark: better\n`▄█▁`  best so far"},
		{cg.Figure{Name: "WNS", Value: -0.2, Unit: "ns", Decimals: 2, Previous: f(-0.1), HigherIsBetter: true, History: []float64{-0.1, -0.2}, Best: f(-0.1)},
			"*WNS*\n`-0.20 ns`  ↓ −0.10 ns :small_red_triangle_down: worse\n`█▁`  best -0.10 ns"},
		{cg.Figure{Name: "Area", Value: 7, History: []float64{7}, Best: f(7)}, "*Area*\n`7`"}, // a first run: no trend
	} {
		if got := FormatFigure(tc.fig); got != tc.want {
			t.Errorf("FormatFigure(%+v) = %q, want %q", tc.fig, got, tc.want)
		}
	}
}

func TestLimiterSpacesPostsPerChannelInOrder(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newChannelLimiter(time.Second)
	l.now = func() time.Time { return now }
	var slots []time.Time
	for range 3 {
		slots = append(slots, l.reserve("C1"))
	}
	other := l.reserve("C2")
	for i, s := range slots {
		if want := now.Add(time.Duration(i) * time.Second); !s.Equal(want) {
			t.Errorf("slot %d = %v, want %v", i, s, want)
		}
	}
	if !other.Equal(now) {
		t.Errorf("another channel waits: %v", other)
	}
	now = now.Add(10 * time.Second) // idle channel: no waiting
	if s := l.reserve("C1"); !s.Equal(now) {
		t.Errorf("after a pause, slot = %v, want now", s)
	}
}

func TestParseWordsReadsFlagsAndMentions(t *testing.T) {
	t.Parallel()
	words, flags, users, channels := parseWords("user add  alice <@U0ALICE001|alice> --channel <#C0RESULTS1|eda> --drop-databases")
	if len(words) != 3 || words[2] != "alice" || flags["channel"] != "C0RESULTS1" || users[0] != "U0ALICE001" || len(channels) != 0 {
		t.Fatalf("words %q flags %v users %v channels %v", words, flags, users, channels)
	}
	if _, ok := flags["drop-databases"]; !ok {
		t.Fatalf("flags %v", flags)
	}
}

func TestMatchSuggestsTheNearestCommand(t *testing.T) {
	t.Parallel()
	b := goldenBot()
	for _, tc := range []struct{ text, want string }{
		{"usr lst", "/cg user list"},
		{"user shw alice", "/cg user show <user>"},
		{"user show", "/cg user show <user>"},
		{"statsu", "/cg status"},
		{"cred", "/cg cred list <user>"},
	} {
		words, _, _, _ := parseWords(tc.text)
		_, _, problem := b.match(words)
		if problem == nil || !strings.Contains(problem.Text, "Did you mean `"+esc(tc.want)) || !strings.Contains(problem.Text, "I understood `/cg "+tc.text) {
			t.Errorf("%q: %+v, want a suggestion of %q", tc.text, problem, tc.want)
		}
	}
}

// The notification text (and the whole message when Slack refuses the blocks) carries
// each figure's change, sparkline and best, and says a first run is the first.
func TestPostTextCarriesTheTrend(t *testing.T) {
	t.Parallel()
	got := PostText(samplePosts["post_timing_trend"])
	for _, want := range []string{"WNS -0.090 ns (+0.030 ns vs previous, ▃█▁▄, best -0.050 ns)", "Violating endpoints 3 (−4 vs previous, █▇▆▁, best so far)"} {
		if !strings.Contains(got, want) {
			t.Errorf("PostText = %q, want it to contain %q", got, want)
		}
	}
	if got := PostText(samplePosts["post_first_run"]); !strings.Contains(got, "The first run of ibex") || strings.Contains(got, "best") {
		t.Errorf("PostText of a first run = %q, want it to say so and show no trend", got)
	}
}
