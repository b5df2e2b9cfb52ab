package scheduler

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"credential-grafana/cg"
	"credential-grafana/db"
)

// RunFacts is what the pipeline reads from a run table itself: who ran it and its key
// figures at the last stage (what the record keeps), and the unit of its times.
type RunFacts struct {
	db.RunFacts
	TimeUnit string // TIMING: "ns" or "ps"
}

// stageOrder is METRICS2.1's flow order; stages it does not know sort after them.
var stageOrder = []string{"synth", "floorplan", "globalplace", "placeopt", "detailedplace", "cts", "globalroute", "detailedroute", "finish"}

func stageRank(s string) int {
	if i := slices.Index(stageOrder, strings.ToLower(s)); i >= 0 {
		return i
	}
	return len(stageOrder)
}

// ReadRunFacts reads a run table's design, platform, run and key figures over conn (a
// connection to the user's database as its read-only role). The table's name is
// quoted; optional columns are used only when present.
func ReadRunFacts(ctx context.Context, conn *pgx.Conn, kind cg.Kind, table string) (RunFacts, error) {
	var f RunFacts
	t := pgx.Identifier{table}.Sanitize()
	rows, err := conn.Query(ctx, `SELECT a.attname FROM pg_attribute a
		WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped`, t)
	if err != nil {
		return f, fmt.Errorf("read columns of %s: %w", table, err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return f, fmt.Errorf("read columns of %s: %w", table, err)
	}
	cols := map[string]bool{}
	for _, n := range names {
		cols[n] = true
	}
	text := func(col string) string {
		if !cols[col] {
			return "''"
		}
		return "coalesce(min(" + pgx.Identifier{col}.Sanitize() + "::text), '')"
	}
	if err := conn.QueryRow(ctx, "SELECT "+text("design")+", "+text("platform")+", "+text("run_id")+" FROM "+t).
		Scan(&f.Design, &f.Platform, &f.RunID); err != nil {
		return f, fmt.Errorf("read run of %s: %w", table, err)
	}
	switch kind {
	case cg.KindTiming:
		err = timingFacts(ctx, conn, t, cols, &f)
	case cg.KindQOR:
		err = qorFacts(ctx, conn, t, &f)
	case cg.KindDRC:
		err = drcFacts(ctx, conn, t, cols, &f)
	}
	return f, err
}

func timingFacts(ctx context.Context, conn *pgx.Conn, t string, cols map[string]bool, f *RunFacts) error {
	unit := "'ns'"
	if cols["time_unit"] {
		unit = "coalesce(min(time_unit), 'ns')"
	}
	rows, err := conn.Query(ctx, `SELECT stage, min(slack), sum(least(slack, 0)), count(*) FILTER (WHERE slack < 0), `+unit+`
		FROM `+t+` WHERE check_type = 'setup' GROUP BY stage`)
	if err != nil {
		return fmt.Errorf("read timing figures: %w", err)
	}
	type stageFig struct {
		stage    string
		wns, tns float64
		nve      int
		unit     string
	}
	all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (stageFig, error) {
		var s stageFig
		err := r.Scan(&s.stage, &s.wns, &s.tns, &s.nve, &s.unit)
		return s, err
	})
	if err != nil {
		return fmt.Errorf("read timing figures: %w", err)
	}
	if len(all) == 0 {
		return nil
	}
	last := slices.MaxFunc(all, func(a, b stageFig) int { return stageRank(a.stage) - stageRank(b.stage) })
	f.Stage, f.TimeUnit = last.stage, strings.ToLower(last.unit)
	dec := 3
	if f.TimeUnit == "ps" {
		dec = 1
	}
	f.Figures = []cg.Figure{
		{Name: "WNS", Value: last.wns, Unit: f.TimeUnit, HigherIsBetter: true, Decimals: dec},
		{Name: "TNS", Value: last.tns, Unit: f.TimeUnit, HigherIsBetter: true, Decimals: dec},
		{Name: "Violating endpoints", Value: float64(last.nve), Decimals: 0},
	}
	return nil
}

func qorFacts(ctx context.Context, conn *pgx.Conn, t string, f *RunFacts) error {
	rows, err := conn.Query(ctx, `SELECT DISTINCT ON (metric) metric, value, unit, stage FROM `+t+`
		WHERE value IS NOT NULL AND qualifier = '' AND metric = ANY($1)
		ORDER BY metric, stage_order DESC, corner`, []string{
		"design__instance__area", "design__instance__utilization", "power__total", "design__instance__count"})
	if err != nil {
		return fmt.Errorf("read QoR figures: %w", err)
	}
	defer rows.Close()
	found := map[string]cg.Figure{}
	for rows.Next() {
		var metric, unit, stage string
		var v float64
		if err := rows.Scan(&metric, &v, &unit, &stage); err != nil {
			return err
		}
		if f.Stage == "" || stageRank(stage) > stageRank(f.Stage) {
			f.Stage = stage
		}
		switch metric {
		case "design__instance__area":
			found[metric] = cg.Figure{Name: "Area", Value: v, Unit: "µm²", Decimals: 1}
		case "design__instance__utilization":
			found[metric] = cg.Figure{Name: "Utilisation", Value: v * 100, Unit: "%", Decimals: 1}
		case "power__total": // watts, whatever the unit column says (METRICS2.1)
			found[metric] = cg.Figure{Name: "Power", Value: v * 1000, Unit: "mW", Decimals: 3}
		case "design__instance__count":
			found[metric] = cg.Figure{Name: "Cells", Value: v, Decimals: 0}
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, m := range []string{"design__instance__area", "design__instance__utilization", "power__total", "design__instance__count"} {
		if fig, ok := found[m]; ok {
			f.Figures = append(f.Figures, fig)
		}
	}
	return nil
}

func drcFacts(ctx context.Context, conn *pgx.Conn, t string, cols map[string]bool, f *RunFacts) error {
	waived := ""
	if cols["waived"] {
		waived = " AND NOT waived"
	}
	// The final count: the sign-off rows (iteration -1) when there are any, else the
	// last iteration of the detailed router.
	var final int64
	var iteration int
	err := conn.QueryRow(ctx, `WITH last AS (
			SELECT CASE WHEN bool_or(iteration = -1) THEN -1 ELSE max(iteration) END AS it FROM `+t+`)
		SELECT coalesce(sum(violation_count) FILTER (WHERE true`+waived+`), 0), coalesce(min(last.it), 0)
		FROM `+t+`, last WHERE iteration = last.it`).Scan(&final, &iteration)
	if err != nil {
		return fmt.Errorf("read DRC figures: %w", err)
	}
	f.Stage = fmt.Sprintf("iteration %d", iteration)
	if iteration == -1 {
		f.Stage = "sign-off"
	}
	f.Figures = []cg.Figure{{Name: "DRC violations", Value: float64(final), Decimals: 0}}
	return nil
}

// compare sets each figure's Previous from prev, converting time units when needed.
func compare(cur, prev []cg.Figure) []cg.Figure {
	out := slices.Clone(cur)
	for i, c := range out {
		for _, p := range prev {
			if v, ok := p.In(c); ok {
				out[i].Previous = &v
			}
		}
	}
	return out
}
