package rest_test

import (
	"net/url"
	"strings"
	"testing"

	"credential-grafana/cg"
	"credential-grafana/db"
)

// GET /api/v1/compare answers the comparison of two recorded runs to their user's key
// (b against a, ps converted to A's ns), refuses another user's key exactly as for a
// table that does not exist, and refuses a missing table or an unknown parameter.
func TestCompareEndpoint(t *testing.T) {
	t.Parallel()
	b := setup(t)
	name := b.env.UniqueUser(t, "rcmp")
	key := b.env.CreateUser(t, name).APIKey.Reveal()
	otherKey := b.env.CreateUser(t, b.env.UniqueUser(t, "rcmpo")).APIKey.Reveal()
	fig := func(wns float64, unit string) db.RunFacts {
		return db.RunFacts{Design: "gcd", Figures: []cg.Figure{{Name: "WNS", Value: wns, Unit: unit, HigherIsBetter: true, Decimals: 3}}}
	}
	odd := `run '2"&b=x`
	b.env.RecordRun(t, name, cg.KindTiming, "run_1", fig(-0.2, "ns"))
	b.env.RecordRun(t, name, cg.KindTiming, odd, fig(-100, "ps"))

	r := b.do(t, "GET", "/api/v1/compare?a=run_1&b="+url.QueryEscape(odd), key, "")
	if r.status != 200 {
		t.Fatalf("compare: %d %s", r.status, r.raw)
	}
	figs, _ := r.body["figures"].([]any)
	if len(figs) != 1 {
		t.Fatalf("figures: %s", r.raw)
	}
	f := figs[0].(map[string]any)
	if f["name"] != "WNS" || f["unit"] != "ns" || f["a"] != -0.2 || f["b"] != -0.1 || f["verdict"] != "better" ||
		!near(f["difference"].(float64), 0.1) || !near(f["percent"].(float64), 50) {
		t.Errorf("WNS: %v", f)
	}
	if bb, _ := r.body["b"].(map[string]any); bb["table"] != odd {
		t.Errorf("b: %v", r.body["b"])
	}

	// For the other key, run_1 is another user's table and nope no table at all.
	foreign := b.do(t, "GET", "/api/v1/compare?a=run_1&b=nope", otherKey, "")
	unknown := b.do(t, "GET", "/api/v1/compare?a=nope&b=run_1", otherKey, "")
	if unknown.status != 404 || foreign.status != 404 || strings.ReplaceAll(unknown.errorMessage(), "`nope`", "`run_1`") != foreign.errorMessage() {
		t.Errorf("another user's table: %d %q; an unknown one: %d %q", foreign.status, foreign.errorMessage(), unknown.status, unknown.errorMessage())
	}
	if !strings.Contains(foreign.errorMessage(), "no run table `run_1` among your users") {
		t.Errorf("another key's answer: %q", foreign.errorMessage())
	}
	for path, want := range map[string]string{
		"/api/v1/compare?a=run_1":             "two run tables are needed",
		"/api/v1/compare?a=run_1&b=run_1":     "compare two different runs",
		"/api/v1/compare?a=run_1&c=run_2":     "unknown query parameter \"c\"",
		"/api/v1/compare?a=run_1&a=x&b=run_1": "give each of a and b once",
	} {
		r := b.do(t, "GET", path, key, "")
		if r.status != 400 || !strings.Contains(r.errorMessage(), want) {
			t.Errorf("GET %s: %d %s, want 400 saying %q", path, r.status, r.raw, want)
		}
	}
}

func near(a, b float64) bool { d := a - b; return d < 1e-9 && d > -1e-9 }
