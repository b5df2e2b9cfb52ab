package scheduler_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"credential-grafana/cg"
	"credential-grafana/grafana/grafanatest"
	"credential-grafana/scheduler"
)

// TestARecordingOfAPageThatIsNotTheDashboardIsNeitherCapturedNorPosted: when the dashboard
// URL shows a login form (a proxy in front of Grafana), the recorder refuses it; the record
// fails at the capture step saying what the page was, and nothing is uploaded. It used to be
// recorded as a GIF of the login form, marked captured with 0 panel errors, and posted.
func TestARecordingOfAPageThatIsNotTheDashboardIsNeitherCapturedNorPosted(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.grafana.SetHook(func(rw http.ResponseWriter, r *http.Request) bool {
		if !strings.HasPrefix(r.URL.Path, "/d/") {
			return false
		}
		rw.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(rw, `<!doctype html><title>Sign in</title><body><form method="post" action="/oauth2/sign_in">
			<input name="username"><input name="password" type="password"><button>Sign in</button></form></body>`)
		return true
	})
	w.createTable(t, cg.KindTiming, "gcd_nangate45_proxy", grafanatest.SampleRun{})
	w.scan(t)

	u, err := w.env.DB.Users().ByName(context.Background(), w.user)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	var d cg.Dashboard
	for {
		list, err := w.env.DB.Dashboards().List(context.Background(), u.ID, cg.KindTiming, 1)
		if err != nil || len(list) != 1 {
			t.Fatalf("records: %v %v", list, err)
		}
		d = list[0]
		if d.State == cg.DashboardFailed || d.State == cg.DashboardCaptured || d.State == cg.DashboardPosted || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if d.State != cg.DashboardFailed || d.Step != scheduler.StepCapture || !strings.Contains(d.LastError, "the page is a login form") {
		t.Fatalf("record: state %s step %s error %q; want failed at capture saying the page is a login form", d.State, d.Step, d.LastError)
	}
	if n := len(w.slack.CompletedUploads()); n != 0 {
		t.Fatalf("%d uploads of a login form", n)
	}
}
