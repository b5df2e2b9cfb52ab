package grafanatest

import (
	"context"
	"testing"

	"credential-grafana/cg"
	"credential-grafana/db/dbtest"
	"credential-grafana/grafana"
)

// TimingRun is a TIMING run table in a database of its own, a fake Grafana with a data
// source for it, a client of that Grafana, and the run's dashboard rendered from the
// embedded template (not saved yet).
type TimingRun struct {
	Grafana       *Server
	Client        *grafana.Client
	DataSourceUID string
	Dashboard     grafana.Dashboard
	UID           string
}

// NewTimingRun makes a TimingRun of a sample gcd/nangate45 run in table, its run id runID.
func NewTimingRun(t testing.TB, table, runID string) TimingRun {
	t.Helper()
	database, _ := dbtest.NewDatabase(t)
	if err := CreateRunTable(context.Background(), dbtest.Connect(t, database), cg.KindTiming, table, SampleRun{}); err != nil {
		t.Fatal(err)
	}
	g := New(t)
	ds := g.AddDataSource(DataSource{Name: "timing", Type: grafana.PostgresType, URL: "127.0.0.1:5432", User: "postgres",
		JSONData: map[string]any{"database": database, "sslmode": "disable"}})
	client, err := grafana.New(grafana.Config{BaseURL: g.URL, Token: cg.Secret(g.Token)})
	if err != nil {
		t.Fatal(err)
	}
	templates, err := grafana.LoadTemplates("")
	if err != nil {
		t.Fatal(err)
	}
	dash, uid, err := templates.Render(grafana.RenderRequest{User: "alice", Kind: cg.KindTiming, Table: table, DataSourceUID: ds.UID,
		Run: grafana.RunInfo{Design: "gcd", Platform: "nangate45", RunID: runID}})
	if err != nil {
		t.Fatal(err)
	}
	return TimingRun{Grafana: g, Client: client, DataSourceUID: ds.UID, Dashboard: dash, UID: uid}
}
