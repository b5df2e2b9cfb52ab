package cg_test

import (
	"testing"

	"credential-grafana/cg"
)

func TestRulesAreReadIntoTheirNormalisedFormWhichReadsBackTheSame(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"wns < -0.05 ns", "wns < -0.05 ns"},
		{`"wns<-0.05ns"`, "wns < -0.05 ns"},
		{"WNS <= −50 ps", "wns <= -50 ps"},
		{"wns < 0", "wns < 0"},
		{"drc > 0", "drc > 0"},
		{"violating >= 10", "nve >= 10"},
		{"area > +5%", "area > +5%"},
		{"area > 5 %", "area > +5%"},
		{"area > 1200 um2", "area > 1200 µm²"},
		{"area > 1200", "area > 1200 µm²"},
		{"cells < -2.5%", "cells < -2.5%"},
		{"utilisation >= 80%", "util >= 80%"},
		{"util > +5%", "util > +5%"},
		{"power > 1.5 W", "power > 1.5 W"},
		{"power > 15 mW", "power > 15 mW"},
		{"tns worse by 10%", "tns worse by 10%"},
		{"TNS Worse By 2.5 %", "tns worse by 2.5%"},
		{"“wns < -0.05 ns”", "wns < -0.05 ns"},
	} {
		c, err := cg.ParseCondition(tc.in)
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if got := c.String(); got != tc.want {
			t.Errorf("%q reads as %q, want %q", tc.in, got, tc.want)
		}
		again, err := cg.ParseCondition(c.String())
		if err != nil || again.String() != c.String() {
			t.Errorf("%q does not read back as itself: %q, %v", c.String(), again.String(), err)
		}
	}
}

func TestBadRulesAreRefusedWithWhatIsWrong(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"", "a rule is required, e.g. `wns < -0.05 ns`, `drc > 0`, `area > +5%` or `tns worse by 10%`"},
		{"wnss < 0", "unknown metric `wnss`: did you mean `wns`?"},
		{"utilisaton > 80%", "unknown metric `utilisaton`: did you mean `util`?"},
		{"frequency > 1", "unknown metric `frequency`: rules watch wns, tns, nve, area, util, cells, power, drc"},
		{"< 0", "a rule starts with the metric it watches (wns, tns, nve, area, util, cells, power, drc), e.g. `wns < -0.05 ns`, `drc > 0`, `area > +5%` or `tns worse by 10%`"},
		{"wns", "`wns` needs a comparison after it: <, <=, >, >= or `worse by`, e.g. `wns < -0.05 ns`"},
		{"wns = 0", "`=` is not a comparison rules know: use <, <=, > or >="},
		{"wns below 0", "`wns` needs a comparison after it, not `below`: <, <=, >, >= or `worse by`, e.g. `wns < -0.05 ns`"},
		{"wns <", "`wns <` needs a number after it, e.g. `wns < -0.05 ns`"},
		{"drc > many", "`many` is not a number: write the threshold as a number, e.g. `drc > 0`"},
		{"wns < -0.05", "`wns < -0.05` needs a unit: `wns` is in ns or ps, e.g. `wns < -0.05 ns`"},
		{"power > 2", "`power > 2` needs a unit: `power` is in mW or W, e.g. `power > 1.5 mW`"},
		{"area > 1200 ns", "`area` is in µm², not ns"},
		{"wns < -5 mW", "`wns` is in ns or ps, not mW"},
		{"area > 1200 acres", "unknown unit `acres` for `area`: use µm² (or um2)"},
		{"power > 2 MW", "unknown unit `MW` for `power`: use mW or W"},
		{"drc > 0 ns", "`drc` is a count: it takes no unit, not `ns`"},
		{"wns < -0.05 ns or drc > 0", "unexpected `or` after `wns < -0.05 ns`: a rule is one comparison, e.g. `wns < -0.05 ns`, `drc > 0`, `area > +5%` or `tns worse by 10%`"},
		{"tns worse 10%", "`worse by` takes a percentage above 0, e.g. `tns worse by 10%`"},
		{"tns worse by 10", "`worse by` takes a percentage above 0, e.g. `tns worse by 10%`"},
		{"tns worse by -10%", "`worse by` takes a percentage above 0, e.g. `tns worse by 10%`"},
		{"tns worse by 0%", "`worse by` takes a percentage above 0, e.g. `tns worse by 10%`"},
		{"wns < Inf ns", "`Inf` is not a number: write the threshold as a number, e.g. `wns < -0.05 ns`"},
	} {
		_, err := cg.ParseCondition(tc.in)
		if err == nil {
			t.Errorf("%q was accepted", tc.in)
			continue
		}
		if cg.ErrorCode(err) != cg.EINVALID || cg.ErrorMessage(err) != tc.want {
			t.Errorf("%q:\n got %s %q\nwant %q", tc.in, cg.ErrorCode(err), cg.ErrorMessage(err), tc.want)
		}
	}
}

func TestMentionsAreReadAsSlackWritesThem(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want, err string }{
		{"<@U012AB3CD>", "<@U012AB3CD>", ""},
		{"<@U012AB3CD|alice>", "<@U012AB3CD>", ""},
		{"U012AB3CD", "<@U012AB3CD>", ""},
		{"<!subteam^S0TIMING1|@timing>", "<!subteam^S0TIMING1>", ""},
		{"S0TIMING1", "<!subteam^S0TIMING1>", ""},
		{"", "", "a rule names who to mention when it breaks: a Slack member (@name in Slack, or a member ID such as U012AB3CD) or a user group (@group in Slack, or its ID S…)"},
		{"@alice", "", "`@alice` is not a Slack member or user group: mention one (@name in Slack), or give a member ID (U…) or group ID (S…)"},
		{"<!channel>", "", "`<!channel>` is not a Slack member or user group: mention one (@name in Slack), or give a member ID (U…) or group ID (S…)"},
	} {
		got, err := cg.ParseMention(tc.in)
		if cg.ErrorMessage(err) != tc.err || got != tc.want {
			t.Errorf("%q: got %q, %q; want %q, %q", tc.in, got, cg.ErrorMessage(err), tc.want, tc.err)
		}
	}
}

func ptr(v float64) *float64 { return &v }

func TestRulesFireOnTheFiguresThatBreakThemAndOnlyThose(t *testing.T) {
	t.Parallel()
	timingNS := []cg.Figure{
		{Name: "WNS", Value: -0.081, Unit: "ns", HigherIsBetter: true, Decimals: 3, Previous: ptr(-0.02)},
		{Name: "TNS", Value: -1.2, Unit: "ns", HigherIsBetter: true, Decimals: 3, Previous: ptr(-1.0)},
	}
	timingPS := []cg.Figure{{Name: "WNS", Value: -81, Unit: "ps", HigherIsBetter: true, Decimals: 1}}
	qor := []cg.Figure{
		{Name: "Area", Value: 1070, Unit: "µm²", Decimals: 1, Previous: ptr(1000)},
		{Name: "Power", Value: 2.5, Unit: "mW", Decimals: 3, Previous: ptr(2.6)},
		{Name: "Utilisation", Value: 81, Unit: "%", Decimals: 1},
	}
	for _, tc := range []struct {
		rule    string
		figures []cg.Figure
		detail  string // "" = quiet
	}{
		{"wns < -0.05 ns", timingNS, "WNS -0.081 ns is below -0.05 ns"},
		{"wns < -0.1 ns", timingNS, ""},
		{"wns < -50 ps", timingNS, "WNS -0.081 ns is below -50 ps"},
		{"wns < -0.05 ns", timingPS, "WNS -81.0 ps is below -0.05 ns"},
		{"wns < -90 ps", timingPS, ""},
		{"wns < -0.05 ns", qor, ""}, // no WNS in a QoR run
		{"tns worse by 10%", timingNS, "TNS is 20.0% worse than the previous run (-1.000 ns → -1.200 ns), at least 10%"},
		{"tns worse by 25%", timingNS, ""},
		{"tns worse by 10%", []cg.Figure{{Name: "TNS", Value: -1.2, Unit: "ns", HigherIsBetter: true}}, ""}, // first run
		{"area > +5%", qor, "Area changed +7.0% against the previous run (1000.0 µm² → 1070.0 µm²), above +5%"},
		{"area > +10%", qor, ""},
		{"power < -3%", qor, "Power changed -3.8% against the previous run (2.600 mW → 2.500 mW), below -3%"},
		{"power worse by 1%", qor, ""}, // power went down: better
		{"power > 2 mW", qor, "Power 2.500 mW is above 2 mW"},
		{"power > 0.002 W", qor, "Power 2.500 mW is above 0.002 W"},
		{"power > 0.003 W", qor, ""},
		{"util >= 80%", qor, "Utilisation 81.0% is at or above 80%"},
		{"util > +1%", qor, ""}, // no previous run
	} {
		b, ok := cg.Rule{ID: 7, Expr: tc.rule, Mention: "<@U012AB3CD>"}.Check(tc.figures)
		if ok != (tc.detail != "") || b.Detail != tc.detail {
			t.Errorf("%q: broken %v %q, want %q", tc.rule, ok, b.Detail, tc.detail)
			continue
		}
		if ok && (b.RuleID != 7 || b.Rule != tc.rule || b.Mention != "<@U012AB3CD>") {
			t.Errorf("%q: broken rule %+v", tc.rule, b)
		}
	}
}
