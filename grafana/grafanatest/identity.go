package grafanatest

import (
	"net/http"
	"strings"
)

// Version is the Grafana release the fake answers GET /api/health with, unless
// WithVersion says otherwise.
const Version = "13.2.0"

// WithVersion makes GET /api/health report this Grafana version.
func WithVersion(v string) Option { return func(s *Server) { s.version = v } }

// signedInUser answers GET /api/user (pkg/api/user.go GetSignedInUser): the server admin
// for its Basic credentials, the service account for the token.
func (s *Server) signedInUser(w http.ResponseWriter, r *http.Request) {
	if _, _, basic := r.BasicAuth(); basic {
		writeJSON(w, http.StatusOK, map[string]any{"id": 1, "login": s.AdminUser, "isGrafanaAdmin": true, "orgId": 1})
		return
	}
	if strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
		writeJSON(w, http.StatusOK, map[string]any{"id": 2, "login": "sa-1-credential-grafana", "isGrafanaAdmin": false, "orgId": 1})
		return
	}
	writeJSON(w, http.StatusUnauthorized, map[string]any{"message": "Unauthorized"})
}
