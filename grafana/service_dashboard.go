package grafana

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"credential-grafana/cg"
)

// The service's own dashboard: the fifth embedded template (templates/service.json),
// over the master database through a read-only role, in a folder of its own.

// ServiceTemplateFile is the embedded template of the service's own dashboard.
const ServiceTemplateFile = "service.json"

// ServiceFolderTitle is the title of the folder the service's own dashboard is in.
const ServiceFolderTitle = "credential-grafana service"

// ServiceTemplate is the validated template of the service's own dashboard.
type ServiceTemplate struct{ raw []byte }

// LoadServiceTemplate returns the embedded template of the service's own dashboard,
// validated by ValidateServiceTemplate.
func LoadServiceTemplate() (*ServiceTemplate, error) {
	data, err := embedded.ReadFile("templates/" + ServiceTemplateFile)
	if err != nil {
		return nil, fmt.Errorf("read embedded template %s: %w", ServiceTemplateFile, err)
	}
	if err := ValidateServiceTemplate("embedded "+ServiceTemplateFile, data); err != nil {
		return nil, err
	}
	return &ServiceTemplate{raw: data}, nil
}

// ValidateServiceTemplate checks the service dashboard's template as ValidateTemplate
// checks a kind's, less what is about one run table: valid JSON, known placeholders
// only (no table placeholder: it reads the master database), the dashboard's uid and
// title are placeholders, schemaVersion SchemaVersion, and every panel has a title, a
// pluginVersion of at least MinPluginVersion, is bound to the data source placeholder
// and has table-format SQL. file names the template in errors (*TemplateError).
func ValidateServiceTemplate(file string, data []byte) error {
	fail := func(panel, format string, args ...any) error {
		return &TemplateError{File: file, Panel: panel, Problem: fmt.Sprintf(format, args...)}
	}
	dash, err := decodeTemplate(data, fail)
	if err != nil {
		return err
	}
	if err := checkPlaceholders(dash, "", func(panel, problem string) error { return fail(panel, "%s", problem) }); err != nil {
		return err
	}
	if strings.Contains(string(data), PlaceholderTable) {
		return fail("", "%s has no meaning here: the service dashboard reads the master database's tables by name", PlaceholderTable)
	}
	if dash["uid"] != PlaceholderUID || dash["title"] != PlaceholderTitle {
		return fail("", "the dashboard's \"uid\" and \"title\" must be %q and %q", PlaceholderUID, PlaceholderTitle)
	}
	if sv, _ := dash["schemaVersion"].(float64); int(sv) != SchemaVersion {
		return fail("", "the dashboard's \"schemaVersion\" must be %d (Grafana 13.2)", SchemaVersion)
	}
	panels, _ := dash["panels"].([]any)
	n := 0
	for _, p := range allPanels(panels) {
		title, _ := p["title"].(string)
		typ, _ := p["type"].(string)
		if typ == "row" || typ == "text" {
			continue
		}
		n++
		if title == "" {
			return fail(fmt.Sprintf("#%v", p["id"]), "no title")
		}
		if problem := checkPluginVersion(p["pluginVersion"]); problem != "" {
			return fail(title, "%s", problem)
		}
		if !boundToDataSource(p["datasource"]) {
			return fail(title, "not bound to the data source: its \"datasource\" must be {\"type\": %q, \"uid\": %q}", PostgresType, PlaceholderDataSource)
		}
		targets, _ := p["targets"].([]any)
		if len(targets) == 0 {
			return fail(title, "no queries (\"targets\")")
		}
		for i, tg := range targets {
			tm, _ := tg.(map[string]any)
			if ds, ok := tm["datasource"]; ok && !boundToDataSource(ds) {
				return fail(title, "query %d is not bound to the data source %s", i+1, PlaceholderDataSource)
			}
			if sql, _ := tm["rawSql"].(string); strings.TrimSpace(sql) == "" {
				return fail(title, "query %d has no \"rawSql\"", i+1)
			}
			if f, _ := tm["format"].(string); f != "table" {
				return fail(title, "query %d must have format \"table\"", i+1)
			}
		}
	}
	if n == 0 {
		return fail("", "no panel with a query")
	}
	return nil
}

// ServiceDashboardRequest says where the master database is and how Grafana reads it.
type ServiceDashboardRequest struct {
	// InstallationID is this installation's id; the UIDs are made from it, so that
	// two installations can share a Grafana org. Required.
	InstallationID string
	// Host and Port are where Grafana reaches the master database; Database is its
	// name. Required.
	Host     string
	Port     int
	Database string
	// SSLMode is the data source's jsonData.sslmode. Defaults to "require".
	SSLMode string
	// Role and Password are the read-only role Grafana reads with. Required.
	Role     string
	Password cg.Secret
}

func serviceSuffix(installationID string) string {
	id := strings.ReplaceAll(installationID, "-", "")
	return id[:min(len(id), 12)]
}

// ServiceFolderUID, ServiceDataSourceUID and ServiceDashboardUID are the UIDs of the
// service's own folder, data source and dashboard, e.g. "cg-service-5f0c1a2b3c4d".
func ServiceFolderUID(installationID string) string {
	return "cg-service-" + serviceSuffix(installationID)
}

// ServiceDataSourceUID is the UID of the data source over the master database.
func ServiceDataSourceUID(installationID string) string {
	return "cg-service-db-" + serviceSuffix(installationID)
}

// ServiceDashboardUID is the UID of the service's own dashboard.
func ServiceDashboardUID(installationID string) string {
	return "cg-service-dash-" + serviceSuffix(installationID)
}

// ErrServiceDashboard is matched by the error of a service dashboard panel whose SQL
// fails in Grafana.
var ErrServiceDashboard = errors.New("grafana: service dashboard panel query failed")

// Render builds the service's own dashboard for the data source dsUID.
func (t *ServiceTemplate) Render(installationID, dsUID string) (Dashboard, error) {
	var dash map[string]any
	if err := json.Unmarshal(t.raw, &dash); err != nil {
		return nil, fmt.Errorf("render the service dashboard: %w", err)
	}
	out := substitute(dash, map[string]string{
		PlaceholderUID:        ServiceDashboardUID(installationID),
		PlaceholderTitle:      "credential-grafana: runs, posts, failures and queue",
		PlaceholderDataSource: dsUID,
	}).(map[string]any)
	return Dashboard(out), nil
}

// ProvisionServiceDashboard makes sure the service's own folder (ServiceFolderTitle),
// its data source over the master database (the read-only role of req) and its
// dashboard (from t) exist and work: the data source's health is checked and every
// panel's SQL is run through Grafana before the dashboard is saved. Everything is found
// by its deterministic UID and updated, so it can be run again after any failure. A
// panel that fails gives an error matching ErrServiceDashboard naming it; a data source
// Grafana cannot use one matching ErrDataSourceUnhealthy. c needs the org Admin role
// (data sources).
func (c *Client) ProvisionServiceDashboard(ctx context.Context, t *ServiceTemplate, req ServiceDashboardRequest) (SavedDashboard, error) {
	fail := func(err error) (SavedDashboard, error) {
		return SavedDashboard{}, fmt.Errorf("provision the service's own dashboard: %w", err)
	}
	if req.InstallationID == "" || req.Host == "" || req.Port <= 0 || req.Database == "" || req.Role == "" {
		return fail(cg.Errorf(cg.EINVALID, "the installation id, database host, port, name and role are required"))
	}
	folder := ServiceFolderUID(req.InstallationID)
	if err := c.ensureFolder(ctx, folder, ServiceFolderTitle); err != nil {
		return fail(err)
	}
	ds := DataSource{
		UID:    ServiceDataSourceUID(req.InstallationID),
		Name:   "credential-grafana service " + serviceSuffix(req.InstallationID),
		Type:   PostgresType,
		Access: "proxy",
		URL:    net.JoinHostPort(req.Host, strconv.Itoa(req.Port)),
		User:   req.Role,
		JSONData: map[string]any{
			"database": req.Database, "sslmode": cmp.Or(req.SSLMode, "require"), "postgresVersion": 1500,
			"maxOpenConns": 2, "maxIdleConns": 2, "connMaxLifetime": 14400, "timescaledb": false,
		},
		SecureJSONData: map[string]string{"password": req.Password.Reveal()},
	}
	if err := c.ensureDataSource(ctx, ds); err != nil {
		return fail(err)
	}
	if _, err := c.CheckDataSource(ctx, ds.UID); err != nil {
		return fail(err)
	}
	dash, err := t.Render(req.InstallationID, ds.UID)
	if err != nil {
		return fail(err)
	}
	if err := c.checkServicePanels(ctx, dash); err != nil {
		return fail(err)
	}
	saved, err := c.SaveDashboard(ctx, SaveDashboardRequest{Dashboard: dash, FolderUID: folder, Overwrite: true,
		Message: "credential-grafana: the service's own dashboard"})
	if err != nil {
		return fail(err)
	}
	return saved, nil
}

// checkServicePanels runs every panel's SQL through Grafana (one POST /api/ds/query).
func (c *Client) checkServicePanels(ctx context.Context, d Dashboard) error {
	req := QueryRequest{}
	titles := map[string]string{}
	for i, p := range d.Panels() {
		for _, q := range p.Queries {
			ref := fmt.Sprintf("panel%d_%s", i, q.RefID)
			titles[ref] = p.Title
			req.Queries = append(req.Queries, Query{RefID: ref, DataSource: DataSourceRef{Type: PostgresType, UID: q.DataSourceUID},
				RawSQL: q.RawSQL, Format: q.Format})
		}
	}
	resp, err := c.Query(ctx, req)
	if err != nil {
		return err
	}
	var errs []error
	for _, q := range req.Queries {
		if res := resp.Results[q.RefID]; res.Error != "" {
			errs = append(errs, fmt.Errorf("panel %q: %s", titles[q.RefID], res.Error))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", errors.Join(errs...), ErrServiceDashboard)
	}
	return nil
}
