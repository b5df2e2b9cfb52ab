package rest

import (
	"net/http"

	"credential-grafana/commands"
)

// newAPIKey issues a new API key for the user and revokes the old one: POST
// /api/v1/users/{id}/key, by an administrator or with the user's own key. The reply
// carries the key once.
func (s *Server) newAPIKey(w http.ResponseWriter, r *http.Request, actor commands.Actor) error {
	res, err := s.cfg.Service.NewAPIKey(r.Context(), actor, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, userResponse{User: res.User, APIKey: res.APIKey.Reveal()})
	return nil
}
