package grafanatest_test

import (
	"context"
	"math"
	"testing"
	"time"

	"credential-grafana/cg"
	"credential-grafana/db/dbtest"
	"credential-grafana/grafana/grafanatest"
)

func TestSampleFiguresAreRealistic(t *testing.T) {
	t.Parallel()
	tf := grafanatest.ExpectedFigures(cg.KindTiming, grafanatest.SampleRun{})
	first, last := tf.Timing[tf.Steps[0]], tf.Last()
	if !(last.WNS > first.WNS && last.TNS > first.TNS && last.ViolatingEndpoints < first.ViolatingEndpoints) {
		t.Errorf("timing does not improve: first %+v, last %+v", first, last)
	}
	if last.WNS >= 0 || last.ViolatingEndpoints == 0 {
		t.Errorf("the sample should still violate a little at finish: %+v", last)
	}
	ps := grafanatest.ExpectedFigures(cg.KindTiming, grafanatest.SampleRun{TimeUnit: "ps"})
	if math.Abs(ps.Last().WNS-1000*last.WNS) > 1e-3 {
		t.Errorf("ps WNS %v, ns WNS %v", ps.Last().WNS, last.WNS)
	}
	drc := grafanatest.ExpectedFigures(cg.KindDRC, grafanatest.SampleRun{})
	if drc.FinalViolations != 0 || drc.DRCByIteration[0] != 91 || len(drc.Steps) != 4 {
		t.Errorf("drc figures %+v", drc)
	}
	q := grafanatest.ExpectedFigures(cg.KindQOR, grafanatest.SampleRun{})
	if q.QOR["finish"].Area <= q.QOR["floorplan"].Area || q.QOR["finish"].PowerW <= 0 {
		t.Errorf("qor figures %+v", q.QOR)
	}
}

func TestCreateRunTableMatchesFigures(t *testing.T) {
	t.Parallel()
	name, _ := dbtest.NewDatabase(t)
	conn := dbtest.Connect(t, name)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	run := grafanatest.SampleRun{Seed: 42}
	for _, kind := range cg.Kinds {
		if err := grafanatest.CreateRunTable(ctx, conn, kind, "run "+kind.Slug(), run); err != nil {
			t.Fatal(err)
		}
		var comment string
		if err := conn.QueryRow(ctx, "SELECT obj_description($1::regclass, 'pg_class')", `"run `+kind.Slug()+`"`).Scan(&comment); err != nil {
			t.Fatal(err)
		}
		if comment != `{"kind":"`+string(kind)+`","schema_version":1}` {
			t.Errorf("%s comment %q", kind, comment)
		}
	}
	f := grafanatest.ExpectedFigures(cg.KindTiming, run)
	var wns, tns float64
	var nve int
	if err := conn.QueryRow(ctx, `SELECT min(slack), sum(least(slack, 0)), count(*) FILTER (WHERE slack < 0) FROM "run timing" WHERE stage = 'finish' AND check_type = 'setup'`).Scan(&wns, &tns, &nve); err != nil {
		t.Fatal(err)
	}
	if wns != f.Last().WNS || math.Abs(tns-f.Last().TNS) > 1e-9 || nve != f.Last().ViolatingEndpoints {
		t.Errorf("table gives WNS %v TNS %v NVE %d, figures %+v", wns, tns, nve, f.Last())
	}
	var final int
	if err := conn.QueryRow(ctx, `SELECT coalesce(sum(violation_count), 0) FROM "run drc" WHERE iteration = (SELECT max(iteration) FROM "run drc")`).Scan(&final); err != nil || final != 0 {
		t.Errorf("final DRC %d, %v", final, err)
	}
}
