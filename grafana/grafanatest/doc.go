// Package grafanatest is a fake Grafana for tests: an httptest server that speaks the
// parts of Grafana's HTTP API the service uses, with Grafana's status codes and bodies,
// and really runs SQL against PostgreSQL. It also makes realistic run tables
// (CreateRunTable) and knows their key figures (ExpectedFigures).
//
// API: GET /api/health (no auth); folders (POST, GET, DELETE /api/folders/:uid, which
// deletes the folder's dashboards; 409 on a duplicate uid); data sources (POST, GET, PUT,
// DELETE /api/datasources/uid/:uid; 409 {"message":"data source with the same name
// already exists"} on a duplicate name or uid; GET …/health really connects with the
// data source's settings and answers 200 {"status":"OK"} or 400 {"status":"ERROR"});
// POST /api/dashboards/db (overwrite; 412 version-mismatch and name-exists; 400 on a bad
// uid or an empty title); GET/DELETE /api/dashboards/uid/:uid; GET /api/search; and
// POST /api/ds/query, which runs each query's rawSql as sent (Grafana's frontend
// interpolates variables before sending; so does the page below, and
// grafana.InterpolateSQL in Go) against PostgreSQL with that data source's url, user,
// secureJsonData.password and jsonData.database, answering with data frames
// (results[refId].frames[].schema.fields and data.values) or, for a SQL error,
// results[refId].error with status 400 and an HTTP 400, as Grafana does.
//
// Orgs (orgs.go): org 1 is "Main Org."; the server admin (Server.AdminUser, Basic auth)
// alone may POST /api/orgs, GET /api/orgs/name/:name and DELETE /api/orgs/:id (which
// deletes everything in the org). Folders, data sources, dashboards and service
// accounts belong to one org: a request acts in the org of its token, or for the
// admin in X-Grafana-Org-Id (default 1). A service-account token (POST
// /api/serviceaccounts, …/:id/tokens) works in its own org only: with another org's
// X-Grafana-Org-Id it answers 401 api-key.organization-mismatch. Roles count: writing
// data sources and service accounts needs Admin, saving folders and dashboards Editor.
// Server.Token is an Admin of org 1. Orgs and ServiceAccounts show what is stored.
//
// Auth: every path but /api/health and /login needs the Bearer token (Server.Token or
// a service-account token), the admin's Basic credentials or the session cookie set by
// an authenticated page load (which stands for the same caller in the same org). Without them the API answers 401 {"message":"Unauthorized","messageId":
// "auth.unauthorized"} (a wrong token: "api-key.invalid"), and a page load is a 302 to
// /login.
//
// The page /d/<uid>/<slug>?var-<name>=…&kiosk&_dash.hideVariables&theme=dark|light
// behaves like Grafana's: its script resolves query variables that the URL does not
// set (their first value, or the saved current one), interpolates them into each
// panel's rawSql, runs each panel's queries with one POST /api/ds/query (sending
// X-Grafana-Org-Id when the URL has orgId), and draws the result: stat values large,
// tables as HTML tables, bar charts, histograms, pies and XY charts as SVG.
// window.__grafanaRunningQueryCount is incremented before each request to
// /api/ds/query and decremented when its answer has been read.
//
// Panel DOM contract (the same selectors as Grafana 11–13.2, which the capture relies
// on):
//
//   - each panel is a <section data-testid="data-testid Panel header <title>"> whose
//     header holds the title in an <h2>, and whose body is
//     <div data-testid="data-testid panel content">; the panels of a collapsed row are
//     not drawn;
//   - while its queries run a panel shows PanelChrome's loading bar,
//     <div aria-label="Panel loading bar">;
//   - a panel whose query failed also contains
//     <button data-testid="data-testid Panel status error" aria-label="status">, and, as
//     in Grafana 13.2, its message is only in the tooltip shown while the button is
//     hovered or focused: <div role="tooltip" data-testid="data-testid tooltip" id=…>,
//     named by the button's aria-describedby (no title attribute, nothing in the body);
//   - a panel without rows shows "No data", as Grafana does;
//   - an unknown dashboard UID gets Grafana's single-page app with HTTP 200, which then
//     draws <div data-testid="data-testid entity-not-found"> with "Dashboard not found",
//     titled "Not found - Dashboards - Grafana"; a known one is titled
//     "<title> - Dashboards - Grafana";
//   - when every panel has drawn, <body> gets data-cg-done="true" (the fake's own
//     marker; real Grafana has none).
package grafanatest
