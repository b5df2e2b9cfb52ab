package app

import (
	"context"
	"strings"
	"testing"

	"credential-grafana/cg"
	"credential-grafana/commands/commandstest"
	"credential-grafana/db"
	"credential-grafana/db/dbtest"
)

// `credential-grafana compare a b` prints both runs and each figure's difference (B
// against A, ps converted to A's ns), and refuses a missing or unknown table with exit
// code 2 or 1 and a message.
func TestCLICompare(t *testing.T) {
	envFile, cli := cliEnv(t)
	user := dbtest.UniqueName("clicmp")
	commandstest.DropUserLater(t, user)
	if code, out, errOut := cli("", "user", "add", user); code != 0 {
		t.Fatalf("user add: %d %s %s", code, out, errOut)
	}
	cfg, err := LoadConfig(envFile)
	if err != nil {
		t.Fatal(err)
	}
	d, err := db.Open(context.Background(), db.Config{URL: cfg.DatabaseURL.Reveal(), MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	fig := func(wns float64, unit string) db.RunFacts {
		return db.RunFacts{Design: "gcd", RunID: "r", Figures: []cg.Figure{{Name: "WNS", Value: wns, Unit: unit, HigherIsBetter: true, Decimals: 3},
			{Name: "Violating endpoints", Value: 5}}}
	}
	commandstest.RecordRunIn(t, d, user, cg.KindTiming, "run_1", fig(-0.2, "ns"))
	commandstest.RecordRunIn(t, d, user, cg.KindTiming, "run_2", fig(-250, "ps"))

	code, out, errOut := cli("", "compare", "run_1", user+"/TIMING/run_2")
	if code != 0 {
		t.Fatalf("compare: %d %s %s", code, out, errOut)
	}
	for _, want := range []string{"A " + user + "/TIMING/run_1 · design gcd", "WNS", "-0.200 ns", "-0.250 ns", "-0.050 ns", "-25.0% worse", "0.0% same"} {
		if !strings.Contains(out, want) {
			t.Errorf("compare output lacks %q:\n%s", want, out)
		}
	}
	if code, _, errOut := cli("", "compare", "run_1"); code != 2 || !strings.Contains(errOut, "usage: credential-grafana compare <table> <table>") {
		t.Errorf("one table: %d %s", code, errOut)
	}
	if code, _, errOut := cli("", "compare", "run_1", "nope"); code != 1 || !strings.Contains(errOut, "no run table `nope`") {
		t.Errorf("unknown table: %d %s", code, errOut)
	}
}
