package scheduler_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"credential-grafana/cg"
	"credential-grafana/db"
	"credential-grafana/db/dbtest"
	"credential-grafana/grafana"
	"credential-grafana/grafana/grafanatest"
)

// TestANewRunUpdatesTheTrendDashboardAndThePostLinksToIt: each run of gcd on nangate45
// saves the design's trend dashboard again in the user's folder, bound to the user's
// own data sources, with the runs recorded so far; both posts carry its link (with the
// org), and a run without a design gets none.
func TestANewRunUpdatesTheTrendDashboardAndThePostLinksToIt(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	// The user was made before the service kept a run history: its QoR and DRC
	// databases have none, and the trend dashboard's panels over them need one.
	for _, k := range []cg.Kind{cg.KindQOR, cg.KindDRC} {
		dbtest.Exec(t, k.DatabaseName(w.user), "DROP SCHEMA "+db.HistorySchema+" CASCADE")
	}
	trendUID := grafana.TrendUID(w.user, "gcd", "nangate45")
	for i, runID := range []string{"r1", "r2"} {
		run := grafanatest.SampleRun{Design: "gcd", Platform: "nangate45", RunID: runID, Seed: int64(i + 1)}
		table := "gcd_nangate45_" + runID
		w.createTable(t, cg.KindTiming, table, run)
		w.scan(t)
		list := w.waitPosted(t, i+1, 3*time.Minute)
		trend, ok := w.grafana.Dashboard(trendUID)
		if !ok {
			t.Fatalf("run %s: no trend dashboard %s in Grafana", runID, trendUID)
		}
		if trend.Version != i+1 || !strings.HasSuffix(trend.Message, table) {
			t.Fatalf("run %s: trend dashboard at version %d (%q), want saved again for this run", runID, trend.Version, trend.Message)
		}
		if trend.FolderUID != grafana.FolderUID(w.user) || trend.Title != "Trend · gcd · nangate45" {
			t.Fatalf("trend dashboard in folder %q titled %q", trend.FolderUID, trend.Title)
		}
		if err := grafana.Dashboard(trend.Model).CheckBoundToAny(grafana.TrendDataSources(w.user)...); err != nil {
			t.Fatal(err)
		}
		var d cg.Dashboard
		for _, x := range list {
			if x.TableName == table {
				d = x
			}
		}
		url, err := w.env.DB.Dashboards().TrendURL(ctx, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(url, "/d/"+trendUID) || !strings.Contains(url, "?orgId=") {
			t.Fatalf("run %s: trend link %q", runID, url)
		}
		found := false
		for _, m := range w.slack.Messages(channel) {
			if strings.Contains(string(m.Blocks), d.URL) {
				var blocks []map[string]any
				if err := json.Unmarshal(m.Blocks, &blocks); err != nil {
					t.Fatal(err)
				}
				found = strings.Contains(string(m.Blocks), `"url":"`+url+`"`) && strings.Contains(string(m.Blocks), `"text":"Trend"`)
			}
		}
		if !found {
			t.Fatalf("run %s: the post has no Trend button to %s", runID, url)
		}
	}
	// The dashboard's panels see both runs through the Grafana fake.
	client, err := grafana.New(grafana.Config{BaseURL: w.grafana.URL, Token: cg.Secret(w.grafana.Token)})
	if err != nil {
		t.Fatal(err)
	}
	trend, _ := w.grafana.Dashboard(trendUID)
	rows, err := client.CheckTrend(ctx, grafana.Dashboard(trend.Model))
	if err != nil {
		t.Fatal(err)
	}
	if rows["Timing runs"] != 2 || rows["WNS across runs"] != 2 || rows["Latest WNS"] != 1 {
		t.Fatalf("trend panels' rows %v: want both runs", rows)
	}

	// A run that names no design has no trend dashboard and no link.
	w.createTable(t, cg.KindTiming, "nameless", grafanatest.SampleRun{MinimalColumns: true})
	w.scan(t)
	list := w.waitPosted(t, 3, 3*time.Minute)
	for _, d := range list {
		if d.TableName != "nameless" {
			continue
		}
		if url, err := w.env.DB.Dashboards().TrendURL(ctx, d.ID); err != nil || url != "" {
			t.Fatalf("a run without a design has the trend link %q (%v)", url, err)
		}
	}
}

// runDashboards is the fake Grafana's dashboards less the trend dashboards (whose
// UIDs start "trend-", grafana.TrendUID), which the pipeline saves beside a named
// design's run dashboards once its run history is there.
func runDashboards(w *world) []grafanatest.Dashboard {
	var out []grafanatest.Dashboard
	for _, d := range w.grafana.Dashboards() {
		if !strings.HasPrefix(d.UID, "trend-") {
			out = append(out, d)
		}
	}
	return out
}
