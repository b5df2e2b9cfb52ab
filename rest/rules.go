package rest

import (
	"net/http"

	"credential-grafana/cg"
	"credential-grafana/commands"
)

// ruleInput is the body of POST /api/v1/users/{id}/rules.
type ruleInput struct {
	Rule    string `json:"rule"`    // "wns < -0.05 ns"
	Mention string `json:"mention"` // "<@U…>", "<!subteam^S…>", "U…" or "S…"
	Design  string `json:"design"`  // optional: the one design it applies to
}

func (s *Server) listRules(w http.ResponseWriter, r *http.Request, actor commands.Actor) error {
	list, err := s.cfg.Service.ListRules(r.Context(), actor, r.PathValue("id"))
	if err != nil {
		return err
	}
	if list == nil {
		list = []cg.Rule{}
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}

func (s *Server) addRule(w http.ResponseWriter, r *http.Request, actor commands.Actor) error {
	var in ruleInput
	if err := decode(r, &in); err != nil {
		return err
	}
	rule, err := s.cfg.Service.AddRule(r.Context(), actor, r.PathValue("id"), in.Design, in.Rule, in.Mention)
	if err != nil {
		return invalidInput(err)
	}
	writeJSON(w, http.StatusCreated, rule)
	return nil
}

func (s *Server) removeRule(w http.ResponseWriter, r *http.Request, actor commands.Actor) error {
	rule, err := s.cfg.Service.RemoveRule(r.Context(), actor, r.PathValue("id"), r.PathValue("rule"))
	if err != nil {
		return invalidInput(err)
	}
	writeJSON(w, http.StatusOK, rule)
	return nil
}
