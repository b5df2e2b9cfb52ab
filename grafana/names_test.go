package grafana_test

import (
	"regexp"
	"strings"
	"testing"

	"credential-grafana/cg"
	"credential-grafana/grafana"
)

var uidRE = regexp.MustCompile(`^[a-z0-9_-]{1,40}$`)

func TestNamesAreValidStableAndDistinct(t *testing.T) {
	t.Parallel()
	users := []string{"alice", "b", "a-b_c", strings.Repeat("z", 40)}
	tables := []string{"gcd_nangate45_20250205t0129", "GCD", "gcd", "x$stage", "with space", `it's "q"`, "表", strings.Repeat("é", 31) + "x",
		strings.Repeat("a", 63), strings.Repeat("a", 62) + "b", "a-b", "a_b"}
	seen := map[string]string{}
	note := func(what, name string) {
		t.Helper()
		if !uidRE.MatchString(name) {
			t.Errorf("%s = %q: not lowercase [a-z0-9_-]{1,40}", what, name)
		}
		if prev, ok := seen[name]; ok {
			t.Errorf("%s and %s both give %q", prev, what, name)
		}
		seen[name] = what
	}
	for _, u := range users {
		note("FolderUID("+u+")", grafana.FolderUID(u))
		for _, k := range cg.Kinds {
			note("DataSourceUID("+u+","+string(k)+")", grafana.DataSourceUID(u, k))
			if n := grafana.DataSourceName(u, k); !uidRE.MatchString(n) {
				t.Errorf("DataSourceName(%s, %s) = %q", u, k, n)
			}
			for _, tb := range tables {
				what := "DashboardUID(" + u + "," + string(k) + "," + tb + ")"
				uid := grafana.DashboardUID(u, k, tb)
				note(what, uid)
				if again := grafana.DashboardUID(u, k, tb); again != uid {
					t.Errorf("%s not stable: %q then %q", what, uid, again)
				}
			}
		}
	}
	// Readable when possible.
	for got, want := range map[string]string{
		grafana.FolderUID("alice"):                                                  "cg-alice",
		grafana.DataSourceUID("alice", cg.KindQOR):                                  "cg-alice-qor",
		grafana.DataSourceName("alice", cg.KindTiming):                              "alice-timing_report",
		grafana.DashboardUID("alice", cg.KindTiming, "gcd_nangate45_20250205t0129"): "alice-timing-gcd_nangate45_20250205t0129",
	} {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
	if uid := grafana.DashboardUID("alice", cg.KindDRC, "GCD run"); !strings.HasPrefix(uid, "alice-drc-gcd_run-") {
		t.Errorf("hashed UID %q lacks its readable prefix", uid)
	}
}
