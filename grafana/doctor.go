package grafana

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"credential-grafana/cg"
)

// The Grafana releases the templates and the client are written for (README, "Grafana
// versions").
const (
	MinSupportedMajor = 11
	MaxSupportedMajor = 13
)

// DoctorRequest says what Doctor may try.
type DoctorRequest struct {
	// Probe is a temporary data source Doctor creates, health-checks and deletes, to
	// prove Grafana reaches the user databases; nil skips that check.
	Probe *DataSource
	// Admin is a client with GRAFANA_USER/GRAFANA_PASSWORD (Basic auth), to check that
	// they are a Grafana server admin; nil skips that check.
	Admin *Client
}

// Doctor checks, as the first contact with a real Grafana: reachable and its version,
// the token and its org, the PostgreSQL plugin, whether the token may create folders,
// dashboards and data sources (each made and deleted again, under a random
// "cg-doctor-…" UID), whether a data source reaches the user databases, and whether the
// Basic credentials are a server admin. Every finding that fails says what fixes it.
func (c *Client) Doctor(ctx context.Context, req DoctorRequest) []cg.Finding {
	find := func(check string, ok bool, detail, fix string) cg.Finding {
		f := cg.Finding{Area: "grafana", Check: check, OK: ok, Detail: detail}
		if !ok {
			f.Fix = fix
		}
		return f
	}
	skip := func(check, why string) cg.Finding {
		return cg.Finding{Area: "grafana", Check: check, Skipped: true, Detail: why}
	}
	var out []cg.Finding
	h, err := c.Health(ctx)
	if err != nil {
		return append(out, find("reachable", false, fmt.Sprintf("%s does not answer: %v", c.BaseURL(), err),
			"check GRAFANA_BASE_URL (scheme, host, port and sub-path) and that this machine reaches Grafana"))
	}
	out = append(out, find("reachable", true, fmt.Sprintf("%s answers (database %s)", c.BaseURL(), h.Database), ""))
	major, _ := strconv.Atoi(strings.SplitN(strings.TrimPrefix(h.Version, "v"), ".", 2)[0])
	supported := major >= MinSupportedMajor && major <= MaxSupportedMajor
	out = append(out, find("version", supported, fmt.Sprintf("Grafana %s (supported: %d.x to %d.x)", h.Version, MinSupportedMajor, MaxSupportedMajor),
		fmt.Sprintf("upgrade Grafana to %d.x or later; older releases migrate the dashboards differently", MinSupportedMajor)))

	var org struct {
		ID   int64  `json:"id"`
		Name string `json:"name"`
	}
	if err := c.do(ctx, request{method: http.MethodGet, path: "/api/org"}, &org); err != nil {
		out = append(out, find("token", false, fmt.Sprintf("the token does not work: %v", err),
			"make a service-account token in Grafana (Administration → Users and access → Service accounts → Add service account with the Admin role → Add token) and set GRAFANA_API_KEY"))
		return append(out, skip("permissions", "not checked: the token does not work"))
	}
	out = append(out, find("token", true, fmt.Sprintf("works in org %d (%s)", org.ID, org.Name), ""))

	if v, err := c.PostgresPlugin(ctx); err != nil {
		out = append(out, find("postgres plugin", false, err.Error(),
			"install the plugin: grafana cli plugins install "+PostgresType+" (then restart Grafana), or use a Grafana release that bundles it"))
	} else {
		out = append(out, find("postgres plugin", true, PostgresType+" "+v+" is installed", ""))
	}

	suffix := randomSuffix()
	mayDash := c.doctorDashboards(ctx, "cg-doctor-"+suffix)
	out = append(out, mayDash)
	var mayDS cg.Finding
	var dsErr error
	if req.Probe != nil {
		p := *req.Probe
		p.UID, p.Name = "cg-doctor-"+suffix, "credential-grafana doctor "+suffix
		mayDS, dsErr = c.doctorDataSource(ctx, p)
		out = append(out, mayDS)
	} else {
		mayDS = skip("data sources", "not checked: no user database to point a test data source at")
		out = append(out, mayDS)
	}
	role := "Admin (may create folders, dashboards and data sources)"
	switch {
	case !mayDash.OK:
		role = "Viewer or less (may not create folders and dashboards)"
	case !mayDS.OK && !mayDS.Skipped && errors.Is(dsErr, ErrForbidden):
		role = "Editor (folders and dashboards, but not data sources)"
	}
	out = append(out, find("role", mayDash.OK && (mayDS.OK || mayDS.Skipped), "the token's role, from what it may do: "+role,
		"give the service account the Admin role in its org (Administration → Service accounts → the account → Role)"))
	if req.Admin != nil {
		out = append(out, req.Admin.doctorServerAdmin(ctx))
	}
	return out
}

func randomSuffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// doctorDashboards creates a folder and a dashboard in it, then deletes both.
func (c *Client) doctorDashboards(ctx context.Context, uid string) cg.Finding {
	f := cg.Finding{Area: "grafana", Check: "folders and dashboards"}
	if _, err := c.CreateFolder(ctx, uid, "credential-grafana doctor "+uid); err != nil {
		f.Detail = fmt.Sprintf("may not create a folder: %v", err)
		f.Fix = "give the service account the Editor role at least (Admin to make data sources too)"
		return f
	}
	defer func() { _ = c.DeleteFolder(context.WithoutCancel(ctx), uid) }()
	dash := map[string]any{"uid": uid, "title": "credential-grafana doctor", "schemaVersion": SchemaVersion, "panels": []any{}}
	if _, err := c.SaveDashboard(ctx, SaveDashboardRequest{Dashboard: dash, FolderUID: uid, Overwrite: true}); err != nil {
		f.Detail = fmt.Sprintf("made a folder but may not save a dashboard in it: %v", err)
		f.Fix = "give the service account the Editor role at least"
		return f
	}
	if err := c.DeleteDashboard(ctx, uid); err != nil {
		f.Detail = fmt.Sprintf("saved a dashboard but may not delete it: %v", err)
		f.Fix = "give the service account the Editor role at least"
		return f
	}
	f.OK, f.Detail = true, "made and deleted a folder and a dashboard"
	return f
}

// doctorDataSource creates ds, checks its health and deletes it; the error is the
// creation's, if it failed.
func (c *Client) doctorDataSource(ctx context.Context, ds DataSource) (cg.Finding, error) {
	f := cg.Finding{Area: "grafana", Check: "data sources"}
	created, err := c.CreateDataSource(ctx, ds)
	if err != nil {
		f.Detail = fmt.Sprintf("may not create a data source: %v", err)
		f.Fix = "give the service account the Admin role in its org (data sources need it)"
		if errors.Is(err, ErrPluginMissing) {
			f.Fix = "install the PostgreSQL plugin: grafana cli plugins install " + PostgresType
		}
		return f, err
	}
	defer func() { _ = c.DeleteDataSource(context.WithoutCancel(ctx), created.UID) }()
	if _, err := c.CheckDataSource(ctx, created.UID); err != nil {
		f.Detail = fmt.Sprintf("made a data source for %s, but Grafana cannot reach the database: %v", ds.URL, err)
		f.Fix = "set USER_DB_HOST and USER_DB_PORT to an address Grafana reaches (not 127.0.0.1 when Grafana runs elsewhere), and let Grafana's host through pg_hba.conf and the firewall"
		return f, nil
	}
	f.OK, f.Detail = true, fmt.Sprintf("made a data source for %s, Grafana reached the database, and deleted it", ds.URL)
	return f, nil
}

// doctorServerAdmin checks that the client's Basic credentials are a Grafana server
// admin (GET /api/user, isGrafanaAdmin), as org isolation needs.
func (c *Client) doctorServerAdmin(ctx context.Context) cg.Finding {
	f := cg.Finding{Area: "grafana", Check: "server admin"}
	var u struct {
		Login          string `json:"login"`
		IsGrafanaAdmin bool   `json:"isGrafanaAdmin"`
	}
	if err := c.do(ctx, request{method: http.MethodGet, path: "/api/user"}, &u); err != nil {
		f.Detail = fmt.Sprintf("GRAFANA_USER and GRAFANA_PASSWORD do not sign in: %v", err)
		f.Fix = "set GRAFANA_USER and GRAFANA_PASSWORD to a Grafana server admin's login"
		return f
	}
	if !u.IsGrafanaAdmin {
		f.Detail = fmt.Sprintf("%s signs in but is not a Grafana server admin", u.Login)
		f.Fix = "make the user a server admin (Administration → Users → the user → Grafana Admin: Yes), or use the admin login"
		return f
	}
	f.OK, f.Detail = true, u.Login+" is a Grafana server admin"
	return f
}
