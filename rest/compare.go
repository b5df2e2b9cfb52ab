package rest

import (
	"net/http"

	"credential-grafana/cg"
	"credential-grafana/commands"
)

// compareRuns answers GET /api/v1/compare?a=<table>&b=<table>: two recorded runs side by
// side (commands.CompareRuns), b against a.
func (s *Server) compareRuns(w http.ResponseWriter, r *http.Request, actor commands.Actor) error {
	q := r.URL.Query()
	for k := range q {
		if k != "a" && k != "b" {
			return cg.Errorf(cg.EINVALID, "unknown query parameter %q: give the two run tables as ?a=<table>&b=<table>", k)
		}
	}
	if len(q["a"]) > 1 || len(q["b"]) > 1 {
		return cg.Errorf(cg.EINVALID, "give each of a and b once: ?a=<table>&b=<table>")
	}
	c, err := s.cfg.Service.CompareRuns(r.Context(), actor, q.Get("a"), q.Get("b"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}
