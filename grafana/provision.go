package grafana

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"

	"credential-grafana/cg"
)

// ProvisionRequest says where a user's three databases are and how Grafana logs in.
type ProvisionRequest struct {
	// User is the user's name (^[a-z][a-z0-9_-]{0,39}$). Required.
	User string
	// Host and Port are where Grafana reaches PostgreSQL. Required.
	Host string
	Port int
	// SSLMode is the data sources' jsonData.sslmode. Defaults to "require".
	SSLMode string
	// Viewer is the read-only role Grafana connects as; ViewerPassword its password.
	// Required.
	Viewer         string
	ViewerPassword cg.Secret
	// Databases names the database of each kind. Defaults to kind.DatabaseName(User).
	Databases map[cg.Kind]string
	// MaxOpenConns is each data source's jsonData.maxOpenConns. Defaults to
	// DataSourceMaxOpenConns.
	MaxOpenConns int
}

// DataSourceMaxOpenConns is the default bound of the connections Grafana opens for one
// data source while its dashboards are queried.
const DataSourceMaxOpenConns = 5

// ProvisionResult is what ProvisionUser made.
type ProvisionResult struct {
	FolderUID      string
	DataSourceUIDs map[cg.Kind]string
}

var userNameRE = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,39}$`)

// DataSourceFor is the data source ProvisionUser makes for the kind: Grafana's
// PostgreSQL type, url "host:port", the viewer role, the database in
// jsonData.database and the password in secureJsonData.
func DataSourceFor(req ProvisionRequest, kind cg.Kind) DataSource {
	db := req.Databases[kind]
	if db == "" {
		db = kind.DatabaseName(req.User)
	}
	return DataSource{
		UID:    DataSourceUID(req.User, kind),
		Name:   DataSourceName(req.User, kind),
		Type:   PostgresType,
		Access: "proxy",
		URL:    net.JoinHostPort(req.Host, strconv.Itoa(req.Port)),
		User:   req.Viewer,
		JSONData: map[string]any{
			"database":        db,
			"sslmode":         cmp.Or(req.SSLMode, "require"),
			"postgresVersion": 1500,
			// Grafana sizes a database/sql pool per data source from these
			// (pkg/tsdb/grafana-postgresql-datasource/postgres.go): no idle connection,
			// and none older than a minute, so an idle tenant holds no server slot.
			"maxOpenConns":    cmp.Or(req.MaxOpenConns, DataSourceMaxOpenConns),
			"maxIdleConns":    0,
			"connMaxLifetime": 60,
			"timescaledb":     false,
		},
		SecureJSONData: map[string]string{"password": req.ViewerPassword.Reveal()},
	}
}

// ProvisionUser makes sure user's folder and one PostgreSQL data source per kind
// exist with the settings of req, then checks that Grafana can use each data source.
// Everything is found by its deterministic UID, so running it again after any failure
// finishes the job without duplicates; an existing data source is updated, so a
// changed password is applied. A refused token gives an error matching
// ErrUnauthorized; a data source Grafana cannot use one matching
// ErrDataSourceUnhealthy.
func (c *Client) ProvisionUser(ctx context.Context, req ProvisionRequest) (ProvisionResult, error) {
	if !userNameRE.MatchString(req.User) {
		return ProvisionResult{}, cg.Errorf(cg.EINVALID, "user name %q is not valid: use a lowercase letter then up to 39 of a-z, 0-9, _ and -", req.User)
	}
	if req.Host == "" || req.Port <= 0 || req.Viewer == "" {
		return ProvisionResult{}, cg.Errorf(cg.EINVALID, "provision %s in Grafana: the database host, port and viewer role are required", req.User)
	}
	res := ProvisionResult{FolderUID: FolderUID(req.User), DataSourceUIDs: map[cg.Kind]string{}}
	if err := c.ensureFolder(ctx, res.FolderUID, req.User); err != nil {
		return ProvisionResult{}, fmt.Errorf("provision %s in Grafana: %w", req.User, err)
	}
	for _, kind := range cg.Kinds {
		ds := DataSourceFor(req, kind)
		if err := c.ensureDataSource(ctx, ds); err != nil {
			return ProvisionResult{}, fmt.Errorf("provision %s in Grafana: %w", req.User, err)
		}
		res.DataSourceUIDs[kind] = ds.UID
	}
	for _, kind := range cg.Kinds {
		if _, err := c.CheckDataSource(ctx, res.DataSourceUIDs[kind]); err != nil {
			return ProvisionResult{}, fmt.Errorf("provision %s in Grafana: %s database: %w", req.User, kind, err)
		}
	}
	return res, nil
}

func (c *Client) ensureFolder(ctx context.Context, uid, title string) error {
	_, err := c.GetFolder(ctx, uid)
	if err == nil {
		return nil
	}
	if !errors.Is(err, ErrNotFound) {
		return err
	}
	_, err = c.CreateFolder(ctx, uid, title)
	if errors.Is(err, ErrConflict) {
		// Made by a concurrent run, or by an attempt whose answer was lost.
		_, err = c.GetFolder(ctx, uid)
	}
	return err
}

func (c *Client) ensureDataSource(ctx context.Context, ds DataSource) error {
	existing, err := c.GetDataSource(ctx, ds.UID)
	switch {
	case err == nil:
		ds.ID = existing.ID
		_, err = c.UpdateDataSource(ctx, ds)
		return err
	case !errors.Is(err, ErrNotFound):
		return err
	}
	_, err = c.CreateDataSource(ctx, ds)
	if !errors.Is(err, ErrConflict) {
		return err
	}
	// 409: the UID exists after all (a lost answer), or another data source has the name.
	existing, gerr := c.GetDataSource(ctx, ds.UID)
	if gerr != nil {
		if errors.Is(gerr, ErrNotFound) {
			return fmt.Errorf("another Grafana data source is already named %q: rename or delete it: %w", ds.Name, err)
		}
		return gerr
	}
	ds.ID = existing.ID
	_, err = c.UpdateDataSource(ctx, ds)
	return err
}

// DeprovisionUser deletes user's folder (and with it, in Grafana, its dashboards) and
// user's three data sources. What is already gone is skipped, so it can be re-run.
func (c *Client) DeprovisionUser(ctx context.Context, user string) error {
	if err := c.DeleteFolder(ctx, FolderUID(user)); err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("remove %s from Grafana: %w", user, err)
	}
	for _, kind := range cg.Kinds {
		if err := c.DeleteDataSource(ctx, DataSourceUID(user, kind)); err != nil && !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("remove %s from Grafana: %w", user, err)
		}
	}
	return nil
}
