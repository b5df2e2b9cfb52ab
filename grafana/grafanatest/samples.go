package grafanatest

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/jackc/pgx/v5"

	"credential-grafana/cg"
)

// SampleRun describes a generated run. Zero fields take the defaults given.
type SampleRun struct {
	Design   string // defaults to "gcd"
	Platform string // defaults to "nangate45"
	RunID    string // defaults to "2025-02-05t0129"
	Seed     int64  // the same seed gives the same rows; defaults to 1
	TimeUnit string // "ns" (default) or "ps": TIMING values are scaled to it
	// Endpoints is the number of timing endpoints per stage, corner and check.
	// Defaults to 40.
	Endpoints int
	// Corners are the TIMING corners. Defaults to a typical and a slow corner.
	Corners []string
	// DRCTotals are the violations after each detailed-route iteration. Defaults to
	// the real gcd/nangate45 run: 91, 27, 21, 0.
	DRCTotals []int
	// MinimalColumns makes a table with only the contract's required columns.
	MinimalColumns bool
}

func (r SampleRun) withDefaults() SampleRun {
	if r.Design == "" {
		r.Design = "gcd"
	}
	if r.Platform == "" {
		r.Platform = "nangate45"
	}
	if r.RunID == "" {
		r.RunID = "2025-02-05t0129"
	}
	if r.Seed == 0 {
		r.Seed = 1
	}
	if r.TimeUnit == "" {
		r.TimeUnit = "ns"
	}
	if r.Endpoints == 0 {
		r.Endpoints = 40
	}
	if len(r.Corners) == 0 {
		r.Corners = []string{"nom_tt_025C_1v10", "slow_ss_100C_0v95"}
	}
	if len(r.DRCTotals) == 0 {
		r.DRCTotals = []int{91, 27, 21, 0}
	}
	return r
}

// TimingStages are the stages of a TIMING sample, in flow order.
var TimingStages = []string{"floorplan", "globalplace", "placeopt", "detailedplace", "cts", "globalroute", "detailedroute", "finish"}

// QORStages are the stages of a QOR sample with their stage_order.
var QORStages = []string{"synth", "floorplan", "globalplace", "placeopt", "detailedplace", "cts", "globalroute", "detailedroute", "finish"}

// StageFigures are a TIMING stage's key figures over all corners (setup checks).
type StageFigures struct {
	WNS                float64 // min(slack)
	TNS                float64 // sum of negative slacks
	ViolatingEndpoints int     // slack < 0
	Endpoints          int
	HoldWNS            float64
}

// QORFigures are a QOR stage's key figures.
type QORFigures struct {
	Area        float64 // µm²
	Utilization float64 // ratio
	Instances   float64
	PowerW      float64
}

// Figures are the expected key figures of a sample, for asserting on what a pipeline
// shows.
type Figures struct {
	Kind  cg.Kind
	Steps []string // the step variable's values, in the order the dashboard lists them
	// TIMING
	LastStage string
	Timing    map[string]StageFigures // by stage
	// QOR
	QOR map[string]QORFigures // by stage
	// DRC
	DRCByIteration  map[int]int // violations per iteration
	FinalViolations int
}

// Last returns the TIMING figures at the last stage.
func (f Figures) Last() StageFigures { return f.Timing[f.LastStage] }

// CreateRunTable creates table in conn's database with the realistic shape of kind
// (see the project's contract), fills it with rows generated from run, and marks it
// with COMMENT ON TABLE … '{"kind":"…","schema_version":1}'.
func CreateRunTable(ctx context.Context, conn *pgx.Conn, kind cg.Kind, table string, run SampleRun) error {
	_, err := createRunTable(ctx, conn, kind, table, run)
	return err
}

// ExpectedFigures returns the key figures of the sample CreateRunTable makes for kind
// and run, without a database.
func ExpectedFigures(kind cg.Kind, run SampleRun) Figures {
	run = run.withDefaults()
	switch kind {
	case cg.KindTiming:
		_, f := timingRows(run)
		return f
	case cg.KindQOR:
		_, f := qorRows(run)
		return f
	case cg.KindDRC:
		_, f := drcRows(run)
		return f
	}
	return Figures{Kind: kind}
}

func createRunTable(ctx context.Context, conn *pgx.Conn, kind cg.Kind, table string, run SampleRun) (Figures, error) {
	run = run.withDefaults()
	ident := pgx.Identifier{table}.Sanitize()
	var ddl string
	var cols []string
	var rows [][]any
	var figs Figures
	switch kind {
	case cg.KindTiming:
		ddl, cols = fullTable(kind, ident)
		rows, figs = timingRows(run)
		if run.MinimalColumns {
			ddl = `CREATE TABLE ` + ident + ` (stage text, corner text, check_type text, path_group text, startpoint text, endpoint text, arrival double precision, required double precision, slack double precision)`
			cols, rows = project(cols, rows, "stage", "corner", "check_type", "path_group", "startpoint", "endpoint", "arrival", "required", "slack")
		}
	case cg.KindQOR:
		ddl, cols = fullTable(kind, ident)
		rows, figs = qorRows(run)
		if run.MinimalColumns {
			ddl = `CREATE TABLE ` + ident + ` (stage text, stage_order integer, metric text, corner text, qualifier text, value numeric)`
			cols, rows = project(cols, rows, "stage", "stage_order", "metric", "corner", "qualifier", "value")
		}
	case cg.KindDRC:
		ddl, cols = fullTable(kind, ident)
		rows, figs = drcRows(run)
		if run.MinimalColumns {
			ddl = `CREATE TABLE ` + ident + ` (iteration bigint, rule text, layer text, violation_count integer, x_min real, y_min real, x_max real, y_max real)`
			cols, rows = project(cols, rows, "iteration", "rule", "layer", "violation_count", "x_min", "y_min", "x_max", "y_max")
		}
	default:
		return Figures{}, fmt.Errorf("create run table: unknown kind %q", kind)
	}
	if err := fillRunTable(ctx, conn, kind, table, ddl, cols, rows); err != nil {
		return Figures{}, err
	}
	return figs, nil
}

// fullTable is the DDL and the columns of kind's realistic run table named ident.
func fullTable(kind cg.Kind, ident string) (ddl string, cols []string) {
	switch kind {
	case cg.KindTiming:
		ddl = `CREATE TABLE ` + ident + ` (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id        text             NOT NULL,
    design        text             NOT NULL,
    platform      text             NOT NULL,
    stage         text             NOT NULL,
    corner        text             NOT NULL DEFAULT 'default',
    check_type    text             NOT NULL CHECK (check_type IN ('setup', 'hold')),
    path_group    text             NOT NULL,
    startpoint    text             NOT NULL,
    endpoint      text             NOT NULL,
    launch_clock  text,
    capture_clock text,
    arrival       double precision NOT NULL,
    required      double precision NOT NULL,
    slack         double precision NOT NULL,
    logic_depth   integer,
    time_unit     text             NOT NULL DEFAULT 'ns'
)`
		cols = []string{"run_id", "design", "platform", "stage", "corner", "check_type", "path_group", "startpoint", "endpoint", "launch_clock", "capture_clock", "arrival", "required", "slack", "logic_depth", "time_unit"}
	case cg.KindQOR:
		ddl = `CREATE TABLE ` + ident + ` (
    run_id      text             NOT NULL,
    design      text             NOT NULL,
    platform    text             NOT NULL,
    stage       text             NOT NULL,
    stage_order smallint         NOT NULL,
    metric      text             NOT NULL,
    corner      text             NOT NULL DEFAULT '',
    qualifier   text             NOT NULL DEFAULT '',
    value       double precision,
    value_text  text,
    unit        text             NOT NULL DEFAULT '',
    PRIMARY KEY (stage, metric, corner, qualifier)
)`
		cols = []string{"run_id", "design", "platform", "stage", "stage_order", "metric", "corner", "qualifier", "value", "value_text", "unit"}
	case cg.KindDRC:
		ddl = `CREATE TABLE ` + ident + ` (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id           text             NOT NULL,
    design           text             NOT NULL,
    platform         text             NOT NULL,
    tool             text             NOT NULL,
    stage            text             NOT NULL,
    iteration        integer          NOT NULL DEFAULT -1,
    rule             text             NOT NULL,
    rule_description text,
    layer            text,
    violation_count  integer          NOT NULL DEFAULT 1 CHECK (violation_count >= 0),
    x_min            double precision,
    y_min            double precision,
    x_max            double precision,
    y_max            double precision,
    sources          text,
    waived           boolean          NOT NULL DEFAULT false
)`
		cols = []string{"run_id", "design", "platform", "tool", "stage", "iteration", "rule", "rule_description", "layer", "violation_count", "x_min", "y_min", "x_max", "y_max", "sources", "waived"}
	}
	return ddl, cols
}

// fillRunTable creates table with ddl, copies rows into cols and marks it with its kind,
// in one transaction.
func fillRunTable(ctx context.Context, conn *pgx.Conn, kind cg.Kind, table, ddl string, cols []string, rows [][]any) error {
	ident := pgx.Identifier{table}.Sanitize()
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("create run table %q: %w", table, err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, ddl); err != nil {
		return fmt.Errorf("create run table %q: %w", table, err)
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromRows(rows)); err != nil {
		return fmt.Errorf("fill run table %q: %w", table, err)
	}
	comment := fmt.Sprintf(`{"kind":%q,"schema_version":1}`, string(kind))
	if _, err := tx.Exec(ctx, "COMMENT ON TABLE "+ident+" IS '"+comment+"'"); err != nil {
		return fmt.Errorf("comment on run table %q: %w", table, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("create run table %q: %w", table, err)
	}
	return nil
}

// project keeps the named columns.
func project(cols []string, rows [][]any, keep ...string) ([]string, [][]any) {
	idx := make([]int, len(keep))
	for i, k := range keep {
		idx[i] = -1
		for j, c := range cols {
			if c == k {
				idx[i] = j
			}
		}
	}
	out := make([][]any, len(rows))
	for r, row := range rows {
		nr := make([]any, len(keep))
		for i, j := range idx {
			nr[i] = row[j]
		}
		out[r] = nr
	}
	return keep, out
}

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

// timingRows makes one row per endpoint per stage, corner and check. The setup slack
// of endpoint i is a fixed base minus a penalty that shrinks stage by stage (and is
// larger in the slow corner), so WNS and TNS improve across the flow; a few endpoints
// still violate at the end.
func timingRows(run SampleRun) ([][]any, Figures) {
	rng := rand.New(rand.NewPCG(uint64(run.Seed), 7))
	scale := 1.0
	if run.TimeUnit == "ps" {
		scale = 1000
	}
	period := 0.46
	type ep struct {
		start, end string
		base, hold float64
		depth      int
	}
	eps := make([]ep, run.Endpoints)
	for i := range eps {
		start := fmt.Sprintf("_%d_/CK", 480+rng.IntN(40))
		if rng.IntN(3) == 0 {
			start = fmt.Sprintf("req_msg[%d]", rng.IntN(32))
		}
		end := fmt.Sprintf("_%d_/D", 480+i)
		if i%7 == 6 {
			end = fmt.Sprintf("resp_msg[%d]", i%16)
		}
		eps[i] = ep{start: start, end: end, base: -0.03 + rng.Float64()*0.25, hold: 0.005 + rng.Float64()*0.08, depth: 4 + rng.IntN(20)}
	}
	figs := Figures{Kind: cg.KindTiming, Steps: TimingStages, LastStage: TimingStages[len(TimingStages)-1], Timing: map[string]StageFigures{}}
	var rows [][]any
	for s, stage := range TimingStages {
		penalty := 0.09 * float64(len(TimingStages)-1-s) / float64(len(TimingStages)-1)
		f := StageFigures{WNS: math.Inf(1), HoldWNS: math.Inf(1)}
		for c, corner := range run.Corners {
			cornerPenalty := 0.015 * float64(c)
			for _, check := range []string{"setup", "hold"} {
				for i, e := range eps {
					var slack float64
					if check == "setup" {
						slack = e.base - penalty - cornerPenalty + 0.002*math.Sin(float64(i*7+s))
					} else {
						slack = e.hold - 0.01*float64(len(TimingStages)-1-s)/7 + 0.001*math.Cos(float64(i+s))
					}
					slack = round(slack*scale, 6)
					required := round((period-0.02*float64(i%3))*scale, 4)
					if check == "hold" {
						required = round(0.02*scale, 4)
					}
					arrival := round(required-slack, 6)
					if check == "hold" {
						arrival = round(required+slack, 6)
					}
					rows = append(rows, []any{run.RunID, run.Design, run.Platform, stage, corner, check, "core_clock", e.start, e.end,
						"core_clock", "core_clock", arrival, required, slack, int32(e.depth), run.TimeUnit})
					if check == "setup" {
						f.Endpoints++
						f.WNS = math.Min(f.WNS, slack)
						if slack < 0 {
							f.TNS += slack
							f.ViolatingEndpoints++
						}
					} else {
						f.HoldWNS = math.Min(f.HoldWNS, slack)
					}
				}
			}
		}
		figs.Timing[stage] = f
	}
	return rows, figs
}

// qorRows makes METRICS2.1 rows: area, utilisation, instance counts and power per
// stage (area and power growing as the flow repairs timing), cell classes at finish,
// setup WS/TNS and runtimes.
func qorRows(run SampleRun) ([][]any, Figures) {
	rng := rand.New(rand.NewPCG(uint64(run.Seed), 11))
	figs := Figures{Kind: cg.KindQOR, Steps: QORStages, QOR: map[string]QORFigures{}}
	core := 1082.89 * (0.9 + 0.2*rng.Float64())
	baseArea := 560.0 * (0.9 + 0.2*rng.Float64())
	baseCount := 480.0 + float64(rng.IntN(40))
	var rows [][]any
	add := func(stage string, order int, metric, corner, qual string, value any, text any, unit string) {
		rows = append(rows, []any{run.RunID, run.Design, run.Platform, stage, int16(order), metric, corner, qual, value, text, unit})
	}
	tu := run.TimeUnit
	tscale := 1.0
	if tu == "ps" {
		tscale = 1000
	}
	for order, stage := range QORStages {
		growth := 1 + 0.07*float64(order)
		area := round(baseArea*growth, 3)
		count := math.Round(baseCount * (1 + 0.045*float64(order)))
		util := round(area/core, 6)
		power := round(0.0018*growth*(0.95+0.1*rng.Float64()), 8)
		add(stage, order, "design__instance__area", "", "", area, nil, "um^2")
		add(stage, order, "design__instance__count", "", "", count, nil, "")
		add(stage, order, "design__instance__count__stdcell", "", "", count, nil, "")
		add(stage, order, "runtime__total", "", "", nil, fmt.Sprintf("0:00:%05.2f", 1+rng.Float64()*20), "")
		add(stage, order, "mem__peak", "", "", round(100+rng.Float64()*300, 1), nil, "MB")
		f := QORFigures{Area: area, Instances: count, Utilization: math.NaN(), PowerW: math.NaN()}
		if stage != "synth" {
			add(stage, order, "design__instance__utilization", "", "", util, nil, "ratio")
			add(stage, order, "design__core__area", "", "", round(core, 3), nil, "um^2")
			internal, switching, leakage := round(power*0.55, 9), round(power*0.44, 9), round(power*0.01, 9)
			add(stage, order, "power__total", "", "", power, nil, "W")
			add(stage, order, "power__internal__total", "", "", internal, nil, "W")
			add(stage, order, "power__switching__total", "", "", switching, nil, "W")
			add(stage, order, "power__leakage__total", "", "", leakage, nil, "W")
			ws := round((0.01-0.06*math.Sin(float64(order)/2.5))*tscale, 6)
			add(stage, order, "timing__setup__ws", "", "", ws, nil, tu)
			add(stage, order, "timing__setup__tns", "", "", round(math.Min(ws, 0)*20, 6), nil, tu)
			add(stage, order, "timing__setup__ws", "slow", "", round(ws-0.02*tscale, 6), nil, tu)
			f.Utilization, f.PowerW = util, power
		}
		if stage == "detailedroute" {
			for i, n := range run.DRCTotals {
				add(stage, order, "route__drc_errors", "", fmt.Sprintf("iter:%d", i), float64(n), nil, "")
			}
		}
		if stage == "finish" || stage == "cts" {
			classes := []string{"multi_input_combinational_cell", "inverter", "sequential_cell", "timing_repair_buffer", "buffer", "clock_buffer", "clock_inverter"}
			share := []float64{0.56, 0.12, 0.05, 0.16, 0.03, 0.01, 0.005}
			for i, cl := range classes {
				add(stage, order, "design__instance__count", "", "class:"+cl, math.Round(count*share[i]), nil, "")
				add(stage, order, "design__instance__area", "", "class:"+cl, round(area*share[i], 3), nil, "um^2")
			}
		}
		figs.QOR[stage] = f
	}
	return rows, figs
}

// drcRows makes the detailed-route iterations: markers with bounding boxes for the
// first two iterations, aggregated buckets for the others, and one '(clean)' row with
// violation_count 0 when an iteration has no violation.
func drcRows(run SampleRun) ([][]any, Figures) {
	rng := rand.New(rand.NewPCG(uint64(run.Seed), 13))
	figs := Figures{Kind: cg.KindDRC, DRCByIteration: map[int]int{}}
	rules := []struct{ rule, layer string }{{"Short", "metal2"}, {"Short", "metal3"}, {"Metal Spacing", "metal2"}, {"EOL Spacing", "metal2"}, {"NS Metal", "metal1"}, {"Cut Spacing", "via1"}}
	var rows [][]any
	add := func(it int, rule string, layer any, n int, box []any, sources any) {
		rows = append(rows, append(append([]any{run.RunID, run.Design, run.Platform, "openroad-drt", "detailedroute", int32(it), rule, nil, layer, int32(n)}, box...), sources, false))
	}
	for it, total := range run.DRCTotals {
		figs.Steps = append(figs.Steps, fmt.Sprint(it))
		figs.DRCByIteration[it] = total
		if total == 0 {
			add(it, "(clean)", nil, 0, []any{nil, nil, nil, nil}, nil)
			continue
		}
		// Split the total over the rules, most on the first ones.
		counts := make([]int, len(rules))
		for i := 0; i < total; i++ {
			k := int(math.Min(float64(len(rules)-1), math.Floor(rng.ExpFloat64()*1.3)))
			counts[k]++
		}
		for k, r := range rules {
			if counts[k] == 0 {
				continue
			}
			if it < 2 {
				for i := 0; i < counts[k]; i++ {
					x, y := round(5+rng.Float64()*32, 4), round(5+rng.Float64()*30, 4)
					w, h := round(0.07+0.12*rng.Float64(), 4), round(0.07+0.07*rng.Float64(), 4)
					add(it, r.rule, r.layer, 1, []any{x, y, round(x+w, 4), round(y+h, 4)}, fmt.Sprintf("net:_%d_ net:_%d_", 100+rng.IntN(400), 100+rng.IntN(400)))
				}
			} else {
				add(it, r.rule, r.layer, counts[k], []any{nil, nil, nil, nil}, nil)
			}
		}
	}
	last := len(run.DRCTotals) - 1
	figs.FinalViolations = run.DRCTotals[last]
	return rows, figs
}
