package grafanatest

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// The fake is as strict as Grafana 13.2 where Grafana would silently change or refuse
// what the product sends. Real Grafana accepts a dashboard of any schemaVersion and any
// panel and migrates them when a browser loads it; the fake refuses those it would
// migrate, so a test sees at save time what a person would see as an empty panel.

// SchemaVersion is the dashboard schema the fake emulates (Grafana 13.2:
// apps/dashboard/pkg/migration/schemaversion, the latest migration is v42).
const SchemaVersion = 42

// PostgresPluginID is the plugin id of Grafana's PostgreSQL data source; "postgres" is
// its alias (GRAFANA.md: since 10.2.3; in 13.x an external plugin bundled with the
// release).
const PostgresPluginID = "grafana-postgresql-datasource"

// WithoutPostgresPlugin makes the fake a Grafana build without the PostgreSQL data
// source plugin: creating a data source of that type, checking its health and querying
// it answer 404 {"message":"Plugin not found"}, and GET
// /api/plugins/grafana-postgresql-datasource/settings answers 404 too.
func WithoutPostgresPlugin() Option { return func(s *Server) { s.noPostgresPlugin = true } }

func isPostgresType(t string) bool { return t == PostgresPluginID || t == "postgres" }

// pluginMissing answers 404 "Plugin not found" and reports true when the data source
// type needs the plugin this fake lacks. Grafana's plugin API answers unregistered
// plugins so (pkg/api/plugins.go, plugins.ErrPluginNotRegistered -> 404).
func (s *Server) pluginMissing(w http.ResponseWriter, typ string) bool {
	s.mu.Lock()
	missing := s.noPostgresPlugin && isPostgresType(typ)
	s.mu.Unlock()
	if missing {
		writeJSON(w, http.StatusNotFound, map[string]any{"message": "Plugin not found", "messageId": "plugin.notFound"})
	}
	return missing
}

// pluginSettings answers GET /api/plugins/{id}/settings for the data source plugins the
// fake has.
func (s *Server) pluginSettings(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if id != PostgresPluginID {
		writeJSON(w, http.StatusNotFound, map[string]any{"message": "Plugin not found", "messageId": "plugin.notFound"})
		return
	}
	if s.pluginMissing(w, id) {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "type": "datasource", "name": "PostgreSQL", "enabled": true,
		"info": map[string]any{"version": "13.2.0"}})
}

// dashboardProblem says what Grafana 13.2 would migrate or refuse in a dashboard model,
// or "".
func dashboardProblem(model map[string]any) string {
	switch v := model["schemaVersion"].(type) {
	case nil:
		return "the dashboard has no schemaVersion: Grafana would migrate it from the oldest schema"
	case float64:
		if int(v) > SchemaVersion {
			return fmt.Sprintf("schemaVersion %v is unknown to this Grafana (13.2 knows up to %d)", v, SchemaVersion)
		}
		if int(v) < SchemaVersion {
			return fmt.Sprintf("schemaVersion %v is older than %d: Grafana would migrate the dashboard when it loads", v, SchemaVersion)
		}
	default:
		return "schemaVersion is not a number"
	}
	panels, _ := model["panels"].([]any)
	for _, p := range flattenPanels(panels) {
		typ, _ := p["type"].(string)
		if typ == "row" {
			continue
		}
		title, _ := p["title"].(string)
		// Grafana's PanelModel runs the plugin's migration handler whenever the saved
		// pluginVersion differs from the running one, and handlers treat "" as the oldest
		// shape (public/app/plugins/panel/xychart/migrations.ts).
		if v, _ := p["pluginVersion"].(string); v == "" {
			return fmt.Sprintf("panel %q (%s) has no pluginVersion: Grafana would run its migrations as if its options were from before 10.4", title, typ)
		} else if major, _ := strconv.Atoi(strings.SplitN(v, ".", 2)[0]); major < 11 {
			return fmt.Sprintf("panel %q (%s) has pluginVersion %s: Grafana would migrate its options", title, typ, v)
		}
	}
	return ""
}

func flattenPanels(panels []any) []map[string]any {
	var out []map[string]any
	for _, p := range panels {
		pm, ok := p.(map[string]any)
		if !ok {
			continue
		}
		out = append(out, pm)
		if nested, ok := pm["panels"].([]any); ok {
			out = append(out, flattenPanels(nested)...)
		}
	}
	return out
}
