// Package grafana owns everything the service says to Grafana and every dashboard it
// makes there:
//
//   - Client, a small hand-written HTTP client (health, folders, data sources and their
//     health, dashboards, search, POST /api/ds/query) with typed errors (*APIError and
//     the sentinels ErrUnauthorized, ErrForbidden, ErrNotFound, ErrConflict,
//     ErrPreconditionFailed), retries with backoff on timeouts, connection errors and
//     5xx only, and a token that is never logged;
//   - the deterministic names of a user's folder, data sources and dashboards
//     (FolderUID, DataSourceUID, DataSourceName, DashboardUID);
//   - idempotent provisioning of a user's folder and data sources (ProvisionUser,
//     DeprovisionUser);
//   - the run-table contract of each kind (Contract, CheckColumns, ContractTable);
//   - the dashboard templates (embedded, overridable from a directory), their
//     validation (LoadTemplates) and safe rendering (Templates.Render), a check of a
//     rendered dashboard's SQL through Grafana that also returns the step values
//     (Client.CheckDashboard, with InterpolateSQL doing what Grafana's frontend does to
//     $var), and the kiosk URL a capture opens (KioskURL);
//   - the trend dashboard of a user's design and platform (Templates.RenderTrend, the
//     embedded templates/trend.json over cg_history.runs in the user's three databases,
//     TrendUID, Client.CheckTrend, Dashboard.CheckBoundToAny).
//
// Placeholders: a template is a Grafana dashboard JSON in which these strings are
// replaced when a dashboard is rendered, inside parsed JSON values (never in JSON text):
//
//	${__cg.uid}         the dashboard UID (DashboardUID); must be the whole "uid" value
//	${__cg.title}       the dashboard title; must be the whole "title" value
//	${__cg.datasource}  the data source UID; the "uid" of every datasource object
//	${__cg.table}       the run table as a quoted SQL identifier; only inside SQL
//	                    ("rawSql" of targets, "query"/"definition" of variables)
//	${__cg.time_unit}   the run's time unit as a Grafana unit ("ns" or "ps")
//
// The trend template has its own: ${__cg.uid}, ${__cg.title}, ${__cg.datasource_timing},
// ${__cg.datasource_qor}, ${__cg.datasource_drc} (the user's data source of each kind)
// and ${__cg.design}, ${__cg.platform} (quoted SQL string literals, QuoteLiteral; only
// inside SQL).
//
// Anything else that looks like ${__cg.…} is refused when templates are loaded. Grafana
// interpolates $var, ${var} and [[var]] inside rawSql, so a table name containing "$" or
// "[" is written as a U&"…" identifier with those characters escaped (see
// QuoteIdentifier): the SQL Grafana runs never contains them.
package grafana
