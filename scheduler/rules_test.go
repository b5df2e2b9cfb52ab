package scheduler_test

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"credential-grafana/cg"
	"credential-grafana/commands"
	"credential-grafana/grafana/grafanatest"
)

// scaledORFSRun is a real OpenROAD run as a later run of the same design would look:
// its setup slack (WS and TNS at every stage) scaled by timing, its instance area by
// area, under a run name of its own.
func scaledORFSRun(base grafanatest.ORFSRun, suffix string, timing, area float64) grafanatest.ORFSRun {
	m := maps.Clone(base.Metrics)
	for k, v := range m {
		f, ok := v.(float64)
		switch {
		case !ok:
		case strings.HasSuffix(k, "__timing__setup__ws") || strings.HasSuffix(k, "__timing__setup__tns"):
			m[k] = f * timing
		case strings.Contains(k, "__design__instance__area"):
			m[k] = f * area
		}
	}
	base.Metrics, base.Name = m, base.Name+"_"+suffix
	return base
}

// postOf is the Slack message that posted table, and its blocks.
func postOf(t *testing.T, w *world, table string) []map[string]any {
	t.Helper()
	for _, m := range fileMessages(w, channel) {
		if !strings.Contains(string(m.Blocks), "table `"+table+"`") {
			continue
		}
		var blocks []map[string]any
		if err := json.Unmarshal(m.Blocks, &blocks); err != nil {
			t.Fatal(err)
		}
		return blocks
	}
	t.Fatalf("no post of %s", table)
	return nil
}

func TestRegressionRulesFireOnTheOpenROADRunsThatBreakThemAndThePostSaysSoFirst(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	gcd, aes := orfsRun(t, "nangate45_gcd"), orfsRun(t, "nangate45_aes") // WNS -0.072 and -0.109 ns at finish
	add := func(design, expr, mention string) cg.Rule {
		t.Helper()
		r, err := w.env.Service.AddRule(ctx, commands.CLI, w.user, design, expr, mention)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	absolute := add("", "wns < -0.05 ns", "U0TIMING01")              // every design
	converted := add("gcd", "wns < -70 ps", "<@U0TIMING01>")         // gcd only, in ps against ns figures
	worse := add("", "tns worse by 10%", "<!subteam^S0TIMING01|@t>") // against the previous run
	relative := add("gcd", "area > +5%", "S0QOR00001")

	// Run 1 of gcd: slack halved (WNS -0.036 ns); the first run of aes beside it.
	// Run 2: the real figures (WNS -0.072 ns, TNS twice as bad), area +10%.
	// Run 3: slack 5% worse than run 2, area +1.8%.
	steps := []struct {
		runs map[string]grafanatest.ORFSRun
		want map[string][]int64 // table → rules broken
	}{
		{map[string]grafanatest.ORFSRun{"gcd_r1": scaledORFSRun(gcd, "r1", 0.5, 1), "aes_r1": aes}, map[string][]int64{
			"timing_gcd_r1": nil, "qor_gcd_r1": nil,
			"timing_aes_r1": {absolute.ID}, // not converted (gcd only), not worse (first run)
			"qor_aes_r1":    nil,
		}},
		{map[string]grafanatest.ORFSRun{"gcd_r2": scaledORFSRun(gcd, "r2", 1, 1.10)}, map[string][]int64{
			"timing_gcd_r2": {absolute.ID, converted.ID, worse.ID}, "qor_gcd_r2": {relative.ID},
		}},
		{map[string]grafanatest.ORFSRun{"gcd_r3": scaledORFSRun(gcd, "r3", 1.05, 1.12)}, map[string][]int64{
			"timing_gcd_r3": {absolute.ID, converted.ID}, "qor_gcd_r3": nil,
		}},
	}
	posted := 0
	for _, step := range steps {
		for name, run := range step.runs {
			for _, kind := range []cg.Kind{cg.KindTiming, cg.KindQOR} {
				if err := grafanatest.CreateORFSRunTable(ctx, ownerConn(t, w.user, kind), kind, kind.Slug()+"_"+name, run); err != nil {
					t.Fatal(err)
				}
			}
		}
		w.scan(t)
		posted += 2 * len(step.runs)
		list := w.waitPosted(t, posted, 4*time.Minute)
		for _, d := range list {
			want, ok := step.want[d.TableName]
			if !ok {
				continue
			}
			recorded, err := w.env.DB.Dashboards().RulesBroken(ctx, d.ID)
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			for _, b := range recorded {
				got = append(got, b.RuleID)
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s broke rules %v, want %v: %+v", d.TableName, got, want, recorded)
			}
			blocks := postOf(t, w, d.TableName)
			first, _ := json.Marshal(blocks[0])
			isBroken := blocks[0]["block_id"] == "cg_post_rules_broken"
			if isBroken != (len(want) > 0) {
				t.Errorf("%s: post starts with %s", d.TableName, first)
				continue
			}
			var text string
			if isBroken {
				text = blocks[0]["text"].(map[string]any)["text"].(string)
			}
			for _, b := range recorded {
				line := "`" + strings.NewReplacer("<", "&lt;", ">", "&gt;").Replace(b.Rule) + "` — " +
					strings.NewReplacer("<", "&lt;", ">", "&gt;").Replace(b.Detail) + " " + b.Mention
				if !strings.Contains(text, line) {
					t.Errorf("%s: the post does not say %q first:\n%s", d.TableName, line, text)
				}
			}
		}
	}
	// What the posts said, in words.
	for table, want := range map[string]string{
		"timing_gcd_r2": "TNS is 100.0% worse than the previous run",
		"qor_gcd_r2":    "Area changed +10.0% against the previous run",
		"timing_aes_r1": "WNS -0.109 ns is below -0.05 ns <@U0TIMING01>",
	} {
		if b, _ := json.Marshal(postOf(t, w, table)[0]); !strings.Contains(string(b), strings.NewReplacer("<", `\u003c`, ">", `\u003e`).Replace(want)) {
			t.Errorf("%s's post does not say %q:\n%s", table, want, b)
		}
	}
	if mentions := strings.Count(string(mustMarshal(postOf(t, w, "timing_gcd_r2")[0])), `\u003c!subteam^S0TIMING01\u003e`); mentions != 1 {
		t.Errorf("the group is mentioned %d times in timing_gcd_r2's post, want once", mentions)
	}
}

func mustMarshal(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
