package grafana_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"credential-grafana/cg"
	"credential-grafana/grafana"
	"credential-grafana/grafana/grafanatest"
)

func provisionRequest(t *testing.T, u userDB) grafana.ProvisionRequest {
	host, port := pgHostPort(t)
	return grafana.ProvisionRequest{User: "alice", Host: host, Port: port, SSLMode: "disable", Viewer: u.Viewer, ViewerPassword: u.Password,
		Databases: map[cg.Kind]string{cg.KindTiming: u.Name, cg.KindQOR: u.Name, cg.KindDRC: u.Name}, MaxOpenConns: 3}
}

func TestProvisionUserCreatesFolderAndDataSources(t *testing.T) {
	t.Parallel()
	u := newUserDB(t)
	u.grantViewer(t)
	fake := grafanatest.New(t)
	client := newClient(t, fake)
	req := provisionRequest(t, u)
	res, err := client.ProvisionUser(ctxT(t), req)
	if err != nil {
		t.Fatal(err)
	}
	if res.FolderUID != "cg-alice" || len(fake.Folders()) != 1 || fake.Folders()[0].UID != "cg-alice" {
		t.Errorf("folder %q, fake has %+v", res.FolderUID, fake.Folders())
	}
	dss := fake.DataSources()
	if len(dss) != 3 {
		t.Fatalf("%d data sources, want 3", len(dss))
	}
	for _, kind := range cg.Kinds {
		ds, ok := fake.DataSource(res.DataSourceUIDs[kind])
		if !ok {
			t.Fatalf("no data source for %s", kind)
		}
		want := fmt.Sprintf("%s:%d", req.Host, req.Port)
		if ds.UID != grafana.DataSourceUID("alice", kind) || ds.Name != grafana.DataSourceName("alice", kind) || ds.Type != "grafana-postgresql-datasource" ||
			ds.URL != want || ds.User != u.Viewer || ds.JSONData["database"] != u.Name || ds.JSONData["sslmode"] != "disable" ||
			ds.JSONData["postgresVersion"] != float64(1500) || ds.JSONData["maxOpenConns"] != float64(3) ||
			ds.SecureJSONData["password"] != u.Password.Reveal() || ds.Database != "" {
			t.Errorf("%s data source: %+v", kind, ds)
		}
	}
	if n := fake.Requests(http.MethodGet, "/api/datasources/uid/"); n < 3 {
		t.Errorf("health not checked: %d GETs", n)
	}
}

func TestProvisionUserRetryAfterFailureDoesNotDuplicate(t *testing.T) {
	t.Parallel()
	u := newUserDB(t)
	u.grantViewer(t)
	fake := grafanatest.New(t)
	client := newClient(t, fake)
	ctx := ctxT(t)
	req := provisionRequest(t, u)
	// Grafana fails (500) once the folder and the TIMING data source exist.
	fake.FailNext("/api/datasources/uid/"+grafana.DataSourceUID("alice", cg.KindQOR), http.StatusInternalServerError, 100)
	_, err := client.ProvisionUser(ctx, req)
	var apiErr *grafana.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 500 {
		t.Fatalf("first attempt: %v, want a 500", err)
	}
	if len(fake.DataSources()) != 1 || len(fake.Folders()) != 1 {
		t.Fatalf("after the failure: %d data sources, %d folders", len(fake.DataSources()), len(fake.Folders()))
	}
	if fake.Requests("", "/api/datasources/uid/"+grafana.DataSourceUID("alice", cg.KindQOR)) == 0 {
		t.Fatal("the failure was never hit")
	}
	fake.ClearFailures() // Grafana is back
	if _, err := client.ProvisionUser(ctx, req); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if len(fake.DataSources()) != 3 || len(fake.Folders()) != 1 {
		t.Errorf("after the retry: %d data sources, %d folders", len(fake.DataSources()), len(fake.Folders()))
	}
	// A third run changes the password and still duplicates nothing.
	req.ViewerPassword = "new-password"
	if _, err := client.ProvisionUser(ctx, req); err != nil {
		t.Fatal(err)
	}
	for _, ds := range fake.DataSources() {
		if ds.SecureJSONData["password"] != "new-password" {
			t.Errorf("%s kept its old password", ds.UID)
		}
	}
	if len(fake.DataSources()) != 3 {
		t.Errorf("%d data sources", len(fake.DataSources()))
	}
}

func TestProvisionUserAdoptsExistingAndRefusesForeignName(t *testing.T) {
	t.Parallel()
	u := newUserDB(t)
	u.grantViewer(t)
	fake := grafanatest.New(t)
	client := newClient(t, fake)
	ctx := ctxT(t)
	req := provisionRequest(t, u)
	// A data source left by an attempt whose answer was lost, with a stale password.
	fake.AddDataSource(grafanatest.DataSource{UID: grafana.DataSourceUID("alice", cg.KindDRC), Name: grafana.DataSourceName("alice", cg.KindDRC),
		Type: grafana.PostgresType, URL: "old:5432", SecureJSONData: map[string]string{"password": "old"}})
	if _, err := client.ProvisionUser(ctx, req); err != nil {
		t.Fatal(err)
	}
	ds, _ := fake.DataSource(grafana.DataSourceUID("alice", cg.KindDRC))
	if ds.SecureJSONData["password"] != u.Password.Reveal() || ds.JSONData["database"] != u.Name || len(fake.DataSources()) != 3 {
		t.Errorf("existing data source not updated: %+v", ds)
	}
	// Another user's data source holds bob's name under another UID.
	fake.AddDataSource(grafanatest.DataSource{UID: "foreign", Name: grafana.DataSourceName("bob", cg.KindTiming), Type: grafana.PostgresType})
	req.User = "bob"
	_, err := client.ProvisionUser(ctx, req)
	if !errors.Is(err, grafana.ErrConflict) || !strings.Contains(err.Error(), `already named "bob-timing_report"`) {
		t.Errorf("foreign name: %v", err)
	}
}

func TestProvisionUserRefusedToken(t *testing.T) {
	t.Parallel()
	u := newUserDB(t)
	fake := grafanatest.New(t)
	client := newClient(t, fake, func(c *grafana.Config) { c.Token = "glsa_revoked" })
	_, err := client.ProvisionUser(ctxT(t), provisionRequest(t, u))
	if !errors.Is(err, grafana.ErrUnauthorized) || !strings.Contains(err.Error(), "Grafana refused the token") {
		t.Errorf("err = %v", err)
	}
	if len(fake.Folders())+len(fake.DataSources()) != 0 {
		t.Error("something was created with a refused token")
	}
}

func TestProvisionUserUnhealthyDataSource(t *testing.T) {
	t.Parallel()
	u := newUserDB(t)
	fake := grafanatest.New(t)
	client := newClient(t, fake)
	req := provisionRequest(t, u)
	req.Viewer = "no_such_role_" + strings.ToLower(u.Viewer)
	_, err := client.ProvisionUser(ctxT(t), req)
	if !errors.Is(err, grafana.ErrDataSourceUnhealthy) || !strings.Contains(err.Error(), "no_such_role_") {
		t.Errorf("err = %v", err)
	}
}

func TestProvisionUserValidates(t *testing.T) {
	t.Parallel()
	fake := grafanatest.New(t)
	client := newClient(t, fake)
	for _, req := range []grafana.ProvisionRequest{
		{User: "Alice", Host: "h", Port: 1, Viewer: "v"},
		{User: "alice", Port: 1, Viewer: "v"},
		{User: "alice", Host: "h", Port: 1},
	} {
		if _, err := client.ProvisionUser(ctxT(t), req); cg.ErrorCode(err) != cg.EINVALID {
			t.Errorf("%+v: %v", req, err)
		}
	}
	if fake.Requests("", "/") != 0 {
		t.Error("invalid requests reached Grafana")
	}
}

func TestDeprovisionUser(t *testing.T) {
	t.Parallel()
	u := newUserDB(t)
	u.grantViewer(t)
	fake := grafanatest.New(t)
	client := newClient(t, fake)
	ctx := ctxT(t)
	res, err := client.ProvisionUser(ctx, provisionRequest(t, u))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.SaveDashboard(ctx, grafana.SaveDashboardRequest{Dashboard: map[string]any{"uid": "d1", "title": "t", "schemaVersion": 42}, FolderUID: res.FolderUID, Overwrite: true}); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second run finds nothing and succeeds
		if err := client.DeprovisionUser(ctx, "alice"); err != nil {
			t.Fatal(err)
		}
	}
	if len(fake.Folders())+len(fake.DataSources())+len(fake.Dashboards()) != 0 {
		t.Errorf("left: %+v %+v %+v", fake.Folders(), fake.DataSources(), fake.Dashboards())
	}
}
