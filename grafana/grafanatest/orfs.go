package grafanatest

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"credential-grafana/cg"
)

// The METRICS2.1 metadata of 12 OpenROAD-flow-scripts reference runs (BSD-3, licence in
// testdata/orfs beside them), loaded as run tables the way a flow would write them.
//
//go:embed testdata/orfs/metadata-*.json
var orfsFiles embed.FS

// ORFSStages are the flow stages of a METRICS2.1 file in flow order; their index is the
// QOR table's stage_order. Sub-steps (floorplan_io, globalplace_skip_io, …) are left out.
var ORFSStages = []string{"synth", "floorplan", "globalplace", "placeopt", "detailedplace", "cts", "globalroute", "detailedroute", "finish"}

// ORFSRun is one reference run: its design, platform and metrics by METRICS2.1 key
// (e.g. "finish__design__instance__area").
type ORFSRun struct {
	Name     string // "nangate45_gcd"
	Design   string
	Platform string
	Metrics  map[string]any
}

// ORFSRuns returns the 12 reference runs, sorted by name.
func ORFSRuns() ([]ORFSRun, error) {
	entries, err := orfsFiles.ReadDir("testdata/orfs")
	if err != nil {
		return nil, fmt.Errorf("read ORFS runs: %w", err)
	}
	var runs []ORFSRun
	for _, e := range entries {
		b, err := orfsFiles.ReadFile(path.Join("testdata/orfs", e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read ORFS run %s: %w", e.Name(), err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("parse ORFS run %s: %w", e.Name(), err)
		}
		name := strings.TrimSuffix(strings.TrimPrefix(e.Name(), "metadata-base-ok."), ".json")
		platform, design, _ := strings.Cut(name, "_")
		runs = append(runs, ORFSRun{Name: name, Design: design, Platform: platform, Metrics: m})
	}
	sort.Slice(runs, func(i, j int) bool { return runs[i].Name < runs[j].Name })
	return runs, nil
}

// RunID is the run id the tables carry.
func (r ORFSRun) RunID() string { return "orfs-base-" + r.Name }

// Value returns the number at key, if the run has one.
func (r ORFSRun) Value(key string) (float64, bool) {
	switch v := r.Metrics[key].(type) {
	case float64:
		return v, true
	}
	return 0, false
}

// TimeUnit is the unit of the run's timing figures: ps on asap7, ns elsewhere.
func (r ORFSRun) TimeUnit() string {
	if r.Platform == "asap7" {
		return "ps"
	}
	return "ns"
}

// QORMetric is one METRICS2.1 value in the QOR table's long form.
type QORMetric struct {
	Stage      string
	StageOrder int
	Metric     string // e.g. "design__instance__count"
	Corner     string
	Qualifier  string // e.g. "class:buffer", "iter:3", "site:…"; "" when none
	Value      float64
	Text       string // a textual value (runtimes); Value is NaN then
}

// splitKey turns "finish__design__instance__count__class:buffer" into its stage,
// metric, corner and qualifier; ok is false for keys outside the flow stages.
// Newer flows write "__" where older ones wrote ":" before a modifier value
// (iter:2 / iter__2); both are read.
func splitKey(key string) (stage, metric, corner, qualifier string, ok bool) {
	parts := strings.Split(key, "__")
	if len(parts) < 2 || stageOrder(parts[0]) < 0 {
		return "", "", "", "", false
	}
	stage, parts = parts[0], parts[1:]
	var keep []string
	for i := 0; i < len(parts); i++ {
		p := parts[i]
		name, val, colon := strings.Cut(p, ":")
		if !colon && (p == "iter" || p == "class" || p == "corner") && i+1 < len(parts) {
			name, val, colon = p, parts[i+1], true
			i++
		}
		switch {
		case !colon:
			keep = append(keep, p)
		case name == "corner":
			corner = val
		case name == "class" || name == "iter" || name == "net":
			qualifier = name + ":" + val
		default: // design__rows:<site>, design__sites:<site>
			keep = append(keep, name)
			qualifier = "site:" + val
		}
	}
	return stage, strings.Join(keep, "__"), corner, qualifier, true
}

func stageOrder(stage string) int {
	for i, s := range ORFSStages {
		if s == stage {
			return i
		}
	}
	return -1
}

// QOR returns the run's metrics in the QOR table's long form, in key order.
func (r ORFSRun) QOR() []QORMetric {
	keys := make([]string, 0, len(r.Metrics))
	for k := range r.Metrics {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []QORMetric
	seen := map[[4]string]bool{}
	for _, k := range keys {
		stage, metric, corner, qual, ok := splitKey(k)
		if !ok {
			continue
		}
		id := [4]string{stage, metric, corner, qual}
		if seen[id] {
			continue
		}
		seen[id] = true
		m := QORMetric{Stage: stage, StageOrder: stageOrder(stage), Metric: metric, Corner: corner, Qualifier: qual, Value: math.NaN()}
		switch v := r.Metrics[k].(type) {
		case float64:
			m.Value = v
		case string:
			m.Text = v
		default:
			continue
		}
		out = append(out, m)
	}
	return out
}

// HasQOR reports whether the run has metric (exactly, with no qualifier) at stage.
func (r ORFSRun) HasQOR(stage, metric string) bool {
	_, ok := r.Value(stage + "__" + metric)
	return ok
}

// TimingStage is the real setup figures of one stage: worst slack, total negative
// slack and violating endpoints, in the run's time unit.
type TimingStage struct {
	Stage      string
	WS, TNS    float64
	Violations int
}

// Timing returns the stages that report setup timing, in flow order.
func (r ORFSRun) Timing() []TimingStage {
	var out []TimingStage
	for _, s := range ORFSStages {
		ws, ok1 := r.Value(s + "__timing__setup__ws")
		tns, ok2 := r.Value(s + "__timing__setup__tns")
		if !ok1 || !ok2 {
			continue
		}
		v := 0
		if n, ok := r.Value(s + "__timing__drv__setup_violation_count"); ok {
			v = int(n)
		}
		// Keep the three consistent, as a real endpoint list is: every violating slack
		// is at least WS, so TNS >= v*WS, and a negative WS is one violation at least.
		switch {
		case ws >= 0:
			v, tns = 0, 0
		case v < 1 || tns < ws*float64(v): // more negative than v endpoints of WS can be
			v = int(math.Max(1, math.Ceil(tns/ws-1e-9)))
		}
		if v > 1 && tns >= ws { // the others would not violate
			v = 1
		}
		if v == 1 {
			tns = ws
		}
		out = append(out, TimingStage{Stage: s, WS: ws, TNS: tns, Violations: v})
	}
	return out
}

// DRCIteration is the violation total after one detailed-route iteration.
type DRCIteration struct {
	Iteration  int
	Violations int
}

// DRC returns the detailed-route iterations in order.
func (r ORFSRun) DRC() []DRCIteration {
	var out []DRCIteration
	for k := range r.Metrics {
		_, metric, _, qual, ok := splitKey(k)
		if !ok || metric != "route__drc_errors" || !strings.HasPrefix(qual, "iter:") {
			continue
		}
		it, err := strconv.Atoi(strings.TrimPrefix(qual, "iter:"))
		n, ok := r.Value(k)
		if err != nil || !ok {
			continue
		}
		out = append(out, DRCIteration{Iteration: it, Violations: int(n)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Iteration < out[j].Iteration })
	return out
}

// maxMarkers is how many violations of an iteration get a marker row with a bounding
// box; the rest are written as rule/layer buckets, as a flow that caps its marker
// report does.
const maxMarkers = 300

// CreateORFSRunTable writes run into a new table of kind, as a flow would: QOR is the
// METRICS2.1 file in long form; TIMING is one row per endpoint per stage, synthetic
// endpoints whose per-stage minimum, sum of negative slack and count of violations are
// the run's real WS, TNS and violating endpoints; DRC has one row per marker (or bucket)
// per iteration whose totals are the run's real per-iteration counts, with a synthetic
// rule and layer split, and one row with violation_count 0 for a clean iteration.
func CreateORFSRunTable(ctx context.Context, conn *pgx.Conn, kind cg.Kind, table string, run ORFSRun) error {
	ddl, cols := fullTable(kind, pgx.Identifier{table}.Sanitize())
	var rows [][]any
	switch kind {
	case cg.KindQOR:
		for _, m := range run.QOR() {
			var value, text any
			if math.IsNaN(m.Value) {
				text = m.Text
			} else {
				value = m.Value
			}
			rows = append(rows, []any{run.RunID(), run.Design, run.Platform, m.Stage, int16(m.StageOrder), m.Metric, m.Corner, m.Qualifier, value, text, ""})
		}
	case cg.KindTiming:
		rows = orfsTimingRows(run)
	case cg.KindDRC:
		rows = orfsDRCRows(run)
	default:
		return fmt.Errorf("create ORFS run table: unknown kind %q", kind)
	}
	return fillRunTable(ctx, conn, kind, table, ddl, cols, rows)
}

func orfsTimingRows(run ORFSRun) [][]any {
	rng := rand.New(rand.NewPCG(uint64(len(run.Name)), 17))
	unit := run.TimeUnit()
	clock := 0.46
	if unit == "ps" {
		clock = 460
	}
	var rows [][]any
	n := 0
	add := func(stage string, slack float64) {
		n++
		required := round(clock*(0.95+0.05*rng.Float64()), 4)
		rows = append(rows, []any{run.RunID(), run.Design, run.Platform, stage, "default", "setup", "core_clock",
			fmt.Sprintf("_%d_/CK", 100+rng.IntN(900)), fmt.Sprintf("_%d_/D", n), "core_clock", "core_clock",
			round(required-slack, 6), required, slack, int32(4 + rng.IntN(20)), unit})
	}
	for _, s := range run.Timing() {
		n = 0
		if s.Violations == 0 {
			add(s.Stage, s.WS)
		} else {
			add(s.Stage, s.WS)
			if s.Violations > 1 {
				each := (s.TNS - s.WS) / float64(s.Violations-1)
				for i := 1; i < s.Violations; i++ {
					add(s.Stage, each)
				}
			}
		}
		// Endpoints that meet timing.
		for i := 0; i < 12; i++ {
			add(s.Stage, round(math.Abs(s.WS)+clock*0.02*float64(i+1), 6))
		}
	}
	return rows
}

func orfsDRCRows(run ORFSRun) [][]any {
	rng := rand.New(rand.NewPCG(uint64(len(run.Name)), 19))
	die := 40.0
	if a, ok := run.Value("finish__design__die__area"); ok && a > 0 {
		die = math.Sqrt(a)
	}
	rules := []struct{ rule, layer string }{{"Short", "metal2"}, {"Metal Spacing", "metal3"}, {"EOL Spacing", "metal2"}, {"Cut Spacing", "via1"}}
	var rows [][]any
	add := func(it int, rule string, layer any, n int, box []any) {
		rows = append(rows, append(append([]any{run.RunID(), run.Design, run.Platform, "openroad-drt", "detailedroute", int32(it), rule, nil, layer, int32(n)}, box...), nil, false))
	}
	for _, it := range run.DRC() {
		if it.Violations == 0 {
			add(it.Iteration, "(clean)", nil, 0, []any{nil, nil, nil, nil})
			continue
		}
		counts := make([]int, len(rules))
		for i := 0; i < it.Violations; i++ {
			counts[int(math.Min(float64(len(rules)-1), math.Floor(rng.ExpFloat64())))]++
		}
		markers := 0
		for k, r := range rules {
			for i := 0; i < counts[k]; i++ {
				if markers == maxMarkers {
					add(it.Iteration, r.rule, r.layer, counts[k]-i, []any{nil, nil, nil, nil})
					break
				}
				markers++
				x, y := round(rng.Float64()*die, 4), round(rng.Float64()*die, 4)
				add(it.Iteration, r.rule, r.layer, 1, []any{x, y, round(x+0.14, 4), round(y+0.07, 4)})
			}
		}
	}
	return rows
}
