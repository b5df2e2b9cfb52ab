package grafana_test

import (
	"testing"

	"credential-grafana/cg"
	"credential-grafana/grafana"
)

// Grafana keeps a database/sql pool per PostgreSQL data source, sized from jsonData:
// SetMaxOpenConns(maxOpenConns), SetMaxIdleConns(maxIdleConns) and
// SetConnMaxLifetime(connMaxLifetime seconds) (grafana/grafana
// pkg/tsdb/grafana-postgresql-datasource/postgres.go, newInstanceSettings). With idle
// connections kept, every tenant whose dashboard was once looked at holds some of the
// server's slots for hours; with none, an idle tenant holds none.
func TestDataSourcesKeepNoIdleConnection(t *testing.T) {
	for _, kind := range cg.Kinds {
		ds := grafana.DataSourceFor(grafana.ProvisionRequest{User: "alice", Host: "db", Port: 5432, Viewer: "alice_viewer"}, kind)
		if ds.JSONData["maxIdleConns"] != 0 {
			t.Errorf("%s: maxIdleConns %v, want 0", kind, ds.JSONData["maxIdleConns"])
		}
		if life, ok := ds.JSONData["connMaxLifetime"].(int); !ok || life <= 0 || life > 300 {
			t.Errorf("%s: connMaxLifetime %v, want a few minutes at most (seconds; 0 would mean forever)", kind, ds.JSONData["connMaxLifetime"])
		}
		if n, ok := ds.JSONData["maxOpenConns"].(int); !ok || n < 1 || n > grafana.DataSourceMaxOpenConns {
			t.Errorf("%s: maxOpenConns %v, want 1..%d", kind, ds.JSONData["maxOpenConns"], grafana.DataSourceMaxOpenConns)
		}
	}
}
