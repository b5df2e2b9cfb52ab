package grafana

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// PostgresType is the type of Grafana's PostgreSQL data source (since 10.2.3;
// "postgres" is its old alias).
const PostgresType = "grafana-postgresql-datasource"

// Health is Grafana's answer to GET /api/health.
type Health struct {
	Database string `json:"database"`
	Version  string `json:"version"`
	Commit   string `json:"commit"`
}

// Health asks whether Grafana is up. It sends no credentials.
func (c *Client) Health(ctx context.Context) (Health, error) {
	var h Health
	if err := c.do(ctx, request{method: http.MethodGet, path: "/api/health", noAuth: true}, &h); err != nil {
		return Health{}, fmt.Errorf("grafana health: %w", err)
	}
	return h, nil
}

// Folder is a Grafana folder.
type Folder struct {
	ID      int64  `json:"id,omitempty"`
	UID     string `json:"uid"`
	Title   string `json:"title"`
	URL     string `json:"url,omitempty"`
	Version int    `json:"version,omitempty"`
}

// CreateFolder creates a folder. A folder with the same UID gives an error matching
// ErrConflict.
func (c *Client) CreateFolder(ctx context.Context, uid, title string) (Folder, error) {
	var f Folder
	err := c.do(ctx, request{method: http.MethodPost, path: "/api/folders", body: map[string]string{"uid": uid, "title": title}}, &f)
	if err != nil {
		return Folder{}, fmt.Errorf("create folder %q: %w", uid, err)
	}
	return f, nil
}

// GetFolder returns the folder with this UID, or an error matching ErrNotFound.
func (c *Client) GetFolder(ctx context.Context, uid string) (Folder, error) {
	var f Folder
	if err := c.do(ctx, request{method: http.MethodGet, path: "/api/folders/" + url.PathEscape(uid)}, &f); err != nil {
		return Folder{}, fmt.Errorf("get folder %q: %w", uid, err)
	}
	return f, nil
}

// DeleteFolder deletes a folder and, as Grafana does, every dashboard in it. A missing
// folder gives an error matching ErrNotFound.
func (c *Client) DeleteFolder(ctx context.Context, uid string) error {
	if err := c.do(ctx, request{method: http.MethodDelete, path: "/api/folders/" + url.PathEscape(uid)}, nil); err != nil {
		return fmt.Errorf("delete folder %q: %w", uid, err)
	}
	return nil
}

// DataSource is a Grafana data source as the API writes and reads it. SecureJSONData is
// write-only: Grafana never returns it (SecureJSONFields says which keys are set).
type DataSource struct {
	ID               int64             `json:"id,omitempty"`
	UID              string            `json:"uid,omitempty"`
	OrgID            int64             `json:"orgId,omitempty"`
	Name             string            `json:"name"`
	Type             string            `json:"type"`
	Access           string            `json:"access,omitempty"`
	URL              string            `json:"url"`
	User             string            `json:"user,omitempty"`
	Database         string            `json:"database,omitempty"` // deprecated by Grafana: use JSONData["database"]
	IsDefault        bool              `json:"isDefault"`
	ReadOnly         bool              `json:"readOnly,omitempty"`
	Version          int               `json:"version,omitempty"`
	JSONData         map[string]any    `json:"jsonData,omitempty"`
	SecureJSONData   map[string]string `json:"secureJsonData,omitempty"`
	SecureJSONFields map[string]bool   `json:"secureJsonFields,omitempty"`
}

// String never shows SecureJSONData.
func (d DataSource) String() string {
	return fmt.Sprintf("data source %q (uid %s, type %s, url %s, user %s)", d.Name, d.UID, d.Type, d.URL, d.User)
}

// GoString never shows SecureJSONData.
func (d DataSource) GoString() string { return d.String() }

type dataSourceReply struct {
	ID         int64      `json:"id"`
	Message    string     `json:"message"`
	Name       string     `json:"name"`
	DataSource DataSource `json:"datasource"`
}

// CreateDataSource creates a data source and returns it as Grafana stored it. A data
// source with the same name or UID gives an error matching ErrConflict.
func (c *Client) CreateDataSource(ctx context.Context, ds DataSource) (DataSource, error) {
	var r dataSourceReply
	if err := c.do(ctx, request{method: http.MethodPost, path: "/api/datasources", body: ds}, &r); err != nil {
		return DataSource{}, fmt.Errorf("create data source %q: %w", ds.Name, err)
	}
	if r.DataSource.ID == 0 {
		r.DataSource.ID = r.ID
	}
	return r.DataSource, nil
}

// GetDataSource returns the data source with this UID, or an error matching ErrNotFound.
func (c *Client) GetDataSource(ctx context.Context, uid string) (DataSource, error) {
	var ds DataSource
	if err := c.do(ctx, request{method: http.MethodGet, path: "/api/datasources/uid/" + url.PathEscape(uid)}, &ds); err != nil {
		return DataSource{}, fmt.Errorf("get data source %q: %w", uid, err)
	}
	return ds, nil
}

// UpdateDataSource replaces the data source with ds.UID by ds. Secure fields given in
// ds.SecureJSONData replace the stored ones; the others are kept.
func (c *Client) UpdateDataSource(ctx context.Context, ds DataSource) (DataSource, error) {
	if ds.UID == "" {
		return DataSource{}, fmt.Errorf("update data source %q: no UID", ds.Name)
	}
	var r dataSourceReply
	if err := c.do(ctx, request{method: http.MethodPut, path: "/api/datasources/uid/" + url.PathEscape(ds.UID), body: ds}, &r); err != nil {
		return DataSource{}, fmt.Errorf("update data source %q: %w", ds.UID, err)
	}
	return r.DataSource, nil
}

// DeleteDataSource deletes the data source with this UID. A missing one gives an error
// matching ErrNotFound.
func (c *Client) DeleteDataSource(ctx context.Context, uid string) error {
	if err := c.do(ctx, request{method: http.MethodDelete, path: "/api/datasources/uid/" + url.PathEscape(uid)}, nil); err != nil {
		return fmt.Errorf("delete data source %q: %w", uid, err)
	}
	return nil
}

// PostgresPlugin returns the version of Grafana's PostgreSQL data source plugin (GET
// /api/plugins/grafana-postgresql-datasource/settings), or an error matching
// ErrPluginMissing when this Grafana has none.
func (c *Client) PostgresPlugin(ctx context.Context) (string, error) {
	var r struct {
		Info struct {
			Version string `json:"version"`
		} `json:"info"`
	}
	if err := c.do(ctx, request{method: http.MethodGet, path: "/api/plugins/" + PostgresType + "/settings"}, &r); err != nil {
		return "", fmt.Errorf("read the PostgreSQL plugin's settings: %w", err)
	}
	return r.Info.Version, nil
}

// DataSourceHealth is Grafana's verdict on a data source.
type DataSourceHealth struct {
	Status  string `json:"status"` // "OK" or "ERROR"
	Message string `json:"message"`
}

// ErrDataSourceUnhealthy is matched by the error CheckDataSource returns when Grafana
// cannot use the data source (wrong host, password, database…).
var ErrDataSourceUnhealthy = errors.New("grafana: data source unhealthy")

// CheckDataSource asks Grafana to test the data source (GET …/health). When Grafana
// answers ERROR the error matches ErrDataSourceUnhealthy and carries Grafana's message.
func (c *Client) CheckDataSource(ctx context.Context, uid string) (DataSourceHealth, error) {
	var h DataSourceHealth
	body, err := c.doRaw(ctx, request{method: http.MethodGet, path: "/api/datasources/uid/" + url.PathEscape(uid) + "/health"})
	var apiErr *APIError
	if err != nil && (!errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusBadRequest) {
		return DataSourceHealth{}, fmt.Errorf("check data source %q: %w", uid, err)
	}
	if jerr := json.Unmarshal(body, &h); jerr != nil && err == nil {
		return DataSourceHealth{}, fmt.Errorf("check data source %q: Grafana's answer is not the JSON expected: %w", uid, jerr)
	}
	if err != nil || !strings.EqualFold(h.Status, "OK") {
		msg := cmpOr(h.Message, "no message")
		return h, fmt.Errorf("check data source %q: Grafana cannot use it: %s: %w", uid, msg, ErrDataSourceUnhealthy)
	}
	return h, nil
}

func cmpOr(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// SaveDashboardRequest is the body of POST /api/dashboards/db.
type SaveDashboardRequest struct {
	Dashboard any    `json:"dashboard"`
	FolderUID string `json:"folderUid,omitempty"` // without it an update moves the dashboard to the root
	Overwrite bool   `json:"overwrite"`
	Message   string `json:"message,omitempty"`
}

// SavedDashboard is Grafana's answer to a save.
type SavedDashboard struct {
	ID      int64  `json:"id"`
	UID     string `json:"uid"`
	URL     string `json:"url"` // "/d/<uid>/<slug>", below the base URL
	Status  string `json:"status"`
	Version int    `json:"version"`
	Slug    string `json:"slug"`
}

// SaveDashboard creates or updates a dashboard. Without Overwrite a stale version or a
// dashboard of the same title in the folder gives an error matching
// ErrPreconditionFailed (APIError.Status says "version-mismatch" or "name-exists").
func (c *Client) SaveDashboard(ctx context.Context, req SaveDashboardRequest) (SavedDashboard, error) {
	var s SavedDashboard
	if err := c.do(ctx, request{method: http.MethodPost, path: "/api/dashboards/db", body: req}, &s); err != nil {
		return SavedDashboard{}, fmt.Errorf("save dashboard: %w", err)
	}
	return s, nil
}

// DashboardWithMeta is Grafana's answer to GET /api/dashboards/uid/:uid.
type DashboardWithMeta struct {
	Dashboard map[string]any `json:"dashboard"`
	Meta      DashboardMeta  `json:"meta"`
}

// DashboardMeta is the part of a dashboard's metadata the service uses.
type DashboardMeta struct {
	Slug      string `json:"slug"`
	URL       string `json:"url"`
	FolderUID string `json:"folderUid"`
	Version   int    `json:"version"`
}

// GetDashboard returns the dashboard with this UID, or an error matching ErrNotFound.
func (c *Client) GetDashboard(ctx context.Context, uid string) (DashboardWithMeta, error) {
	var d DashboardWithMeta
	if err := c.do(ctx, request{method: http.MethodGet, path: "/api/dashboards/uid/" + url.PathEscape(uid)}, &d); err != nil {
		return DashboardWithMeta{}, fmt.Errorf("get dashboard %q: %w", uid, err)
	}
	return d, nil
}

// DeleteDashboard deletes the dashboard with this UID. A missing one gives an error
// matching ErrNotFound.
func (c *Client) DeleteDashboard(ctx context.Context, uid string) error {
	if err := c.do(ctx, request{method: http.MethodDelete, path: "/api/dashboards/uid/" + url.PathEscape(uid)}, nil); err != nil {
		return fmt.Errorf("delete dashboard %q: %w", uid, err)
	}
	return nil
}

// SearchQuery filters GET /api/search. Empty fields are left out.
type SearchQuery struct {
	Query      string   // words in the title
	Type       string   // "dash-db" or "dash-folder"
	FolderUIDs []string // only in these folders
	Tags       []string
	Limit      int
}

// SearchHit is one result of a search.
type SearchHit struct {
	ID          int64    `json:"id"`
	UID         string   `json:"uid"`
	Title       string   `json:"title"`
	URL         string   `json:"url"`
	Type        string   `json:"type"`
	Tags        []string `json:"tags"`
	FolderUID   string   `json:"folderUid,omitempty"`
	FolderTitle string   `json:"folderTitle,omitempty"`
}

// Search lists dashboards and folders.
func (c *Client) Search(ctx context.Context, q SearchQuery) ([]SearchHit, error) {
	v := url.Values{}
	if q.Query != "" {
		v.Set("query", q.Query)
	}
	if q.Type != "" {
		v.Set("type", q.Type)
	}
	for _, f := range q.FolderUIDs {
		v.Add("folderUIDs", f)
	}
	for _, t := range q.Tags {
		v.Add("tag", t)
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	var hits []SearchHit
	if err := c.do(ctx, request{method: http.MethodGet, path: "/api/search", query: v}, &hits); err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	return hits, nil
}

// DataSourceRef names a data source in a panel, a target or a query.
type DataSourceRef struct {
	Type string `json:"type,omitempty"`
	UID  string `json:"uid"`
}

// Query is one query of POST /api/ds/query, here a SQL one. Grafana's frontend
// interpolates dashboard variables before it sends RawSQL; use InterpolateSQL to do the
// same.
type Query struct {
	RefID         string        `json:"refId"`
	DataSource    DataSourceRef `json:"datasource"`
	RawSQL        string        `json:"rawSql"`
	Format        string        `json:"format,omitempty"` // "table" (default here) or "time_series"
	RawQuery      bool          `json:"rawQuery,omitempty"`
	EditorMode    string        `json:"editorMode,omitempty"`
	IntervalMS    int64         `json:"intervalMs,omitempty"`
	MaxDataPoints int64         `json:"maxDataPoints,omitempty"`
}

// QueryRequest is the body of POST /api/ds/query. From and To default to "now-6h" and
// "now"; run tables have no time column, so they do not matter.
type QueryRequest struct {
	From    string  `json:"from"`
	To      string  `json:"to"`
	Queries []Query `json:"queries"`
}

// QueryResponse is Grafana's answer: one result per refId.
type QueryResponse struct {
	Results map[string]QueryResult `json:"results"`
}

// QueryResult is the answer to one query: data frames, or an error.
type QueryResult struct {
	Status      int     `json:"status,omitempty"`
	Error       string  `json:"error,omitempty"`
	ErrorSource string  `json:"errorSource,omitempty"`
	Frames      []Frame `json:"frames"`
}

// Frame is a data frame: a schema and its columns of values.
type Frame struct {
	Schema FrameSchema `json:"schema"`
	Data   FrameData   `json:"data"`
}

// FrameSchema describes the fields of a frame.
type FrameSchema struct {
	Name   string          `json:"name,omitempty"`
	RefID  string          `json:"refId,omitempty"`
	Meta   json.RawMessage `json:"meta,omitempty"`
	Fields []Field         `json:"fields"`
}

// Field is one column of a frame.
type Field struct {
	Name     string    `json:"name"`
	Type     string    `json:"type"` // "string", "number", "boolean", "time", "other"
	TypeInfo FieldType `json:"typeInfo"`
}

// FieldType is the Go type Grafana's backend used for a field.
type FieldType struct {
	Frame    string `json:"frame"` // "string", "float64", "int64", "bool", "time.Time"…
	Nullable bool   `json:"nullable,omitempty"`
}

// FrameData holds the values, one slice per field.
type FrameData struct {
	Values [][]any `json:"values"`
}

// Rows is the number of rows of the frame.
func (f Frame) Rows() int {
	if len(f.Data.Values) == 0 {
		return 0
	}
	return len(f.Data.Values[0])
}

// Rows is the number of rows in all frames of the result.
func (r QueryResult) Rows() int {
	n := 0
	for _, f := range r.Frames {
		n += f.Rows()
	}
	return n
}

// Err returns the errors of the failed queries, joined, or nil.
func (r QueryResponse) Err() error {
	var errs []error
	for ref, res := range r.Results {
		if res.Error != "" {
			errs = append(errs, fmt.Errorf("query %s: %s", ref, res.Error))
		}
	}
	return errors.Join(errs...)
}

// Query runs queries through Grafana (POST /api/ds/query). A query that fails in the
// data source does not make Query fail: Grafana answers 400 with the error in
// Results[refId].Error (see QueryResponse.Err); other failures are errors.
func (c *Client) Query(ctx context.Context, q QueryRequest) (QueryResponse, error) {
	q.From = cmpOr(q.From, "now-6h")
	q.To = cmpOr(q.To, "now")
	for i := range q.Queries {
		q.Queries[i].Format = cmpOr(q.Queries[i].Format, "table")
		q.Queries[i].RawQuery = true
		q.Queries[i].EditorMode = cmpOr(q.Queries[i].EditorMode, "code")
	}
	var r QueryResponse
	body, err := c.doRaw(ctx, request{method: http.MethodPost, path: "/api/ds/query", body: q})
	var apiErr *APIError
	if err != nil {
		if errors.As(err, &apiErr) && (apiErr.StatusCode == http.StatusBadRequest || apiErr.StatusCode == http.StatusMultiStatus) {
			if jerr := json.Unmarshal(body, &r); jerr == nil && len(r.Results) > 0 {
				return r, nil
			}
		}
		return QueryResponse{}, fmt.Errorf("query: %w", err)
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return QueryResponse{}, fmt.Errorf("query: Grafana's answer is not the JSON expected: %w", err)
	}
	return r, nil
}
