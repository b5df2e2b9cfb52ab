package rest

import (
	"net/http"

	"credential-grafana/cg"
	"credential-grafana/commands"
)

// userResponse is a user as the REST API shows it; api_key only right after creation.
type userResponse struct {
	cg.User
	APIKey      string             `json:"api_key,omitempty"`
	Databases   map[cg.Kind]string `json:"databases,omitempty"`
	Credentials []cg.Credential    `json:"credentials,omitempty"`
	Resumed     bool               `json:"resumed,omitempty"`
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request, actor commands.Actor) error {
	var in commands.CreateUserInput
	if err := decode(r, &in); err != nil {
		return err
	}
	res, err := s.cfg.Service.CreateUser(r.Context(), actor, in)
	if err != nil {
		return invalidInput(err)
	}
	status := http.StatusCreated
	if res.Resumed {
		status = http.StatusOK
	}
	writeJSON(w, status, userResponse{User: res.User, APIKey: res.APIKey.Reveal(), Databases: res.Databases, Resumed: res.Resumed})
	return nil
}

func (s *Server) retryUser(w http.ResponseWriter, r *http.Request, actor commands.Actor) error {
	res, err := s.cfg.Service.RetryUser(r.Context(), actor, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, userResponse{User: res.User, APIKey: res.APIKey.Reveal(), Databases: res.Databases, Resumed: true})
	return nil
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request, actor commands.Actor) error {
	users, err := s.cfg.Service.ListUsers(r.Context(), actor)
	if err != nil {
		return err
	}
	if users == nil {
		users = []cg.User{}
	}
	writeJSON(w, http.StatusOK, users)
	return nil
}

func (s *Server) showUser(w http.ResponseWriter, r *http.Request, actor commands.Actor) error {
	d, err := s.cfg.Service.ShowUser(r.Context(), actor, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, userResponse{User: d.User, Databases: d.Databases, Credentials: d.Credentials})
	return nil
}

func (s *Server) removeUser(w http.ResponseWriter, r *http.Request, actor commands.Actor) error {
	var opt commands.RemoveOptions
	var err error
	if opt.DropDatabases, err = boolQuery(r, "drop_databases"); err != nil {
		return err
	}
	if opt.Yes, err = boolQuery(r, "yes"); err != nil {
		return err
	}
	res, err := s.cfg.Service.RemoveUser(r.Context(), actor, r.PathValue("id"), opt)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

func (s *Server) disableUser(w http.ResponseWriter, r *http.Request, actor commands.Actor) error {
	u, err := s.cfg.Service.DisableUser(r.Context(), actor, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, u)
	return nil
}

func (s *Server) enableUser(w http.ResponseWriter, r *http.Request, actor commands.Actor) error {
	u, err := s.cfg.Service.EnableUser(r.Context(), actor, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, u)
	return nil
}

func (s *Server) listCredentials(w http.ResponseWriter, r *http.Request, actor commands.Actor) error {
	list, err := s.cfg.Service.ListCredentials(r.Context(), actor, r.PathValue("id"))
	if err != nil {
		return err
	}
	if list == nil {
		list = []cg.Credential{}
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}

type credentialInput struct {
	KeyName  string  `json:"key_name"`
	KeyValue *string `json:"key_value"`
}

func (s *Server) createCredential(w http.ResponseWriter, r *http.Request, actor commands.Actor) error {
	var in credentialInput
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.KeyName == "" || in.KeyValue == nil {
		return cg.Errorf(cg.EINVALID, `send {"key_name": "…", "key_value": "…"}: both fields are required`)
	}
	c, err := s.cfg.Service.SetCredential(r.Context(), actor, r.PathValue("id"), in.KeyName, *in.KeyValue, commands.CreateOnly)
	if err != nil {
		return invalidInput(err)
	}
	writeJSON(w, http.StatusCreated, c)
	return nil
}

func (s *Server) updateCredential(w http.ResponseWriter, r *http.Request, actor commands.Actor) error {
	var in credentialInput
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.KeyValue == nil {
		return cg.Errorf(cg.EINVALID, `send {"key_value": "…"}: key_value is required`)
	}
	if in.KeyName != "" && in.KeyName != r.PathValue("key") {
		return cg.Errorf(cg.EINVALID, "key_name %q in the body differs from %q in the path: leave it out or make them equal", in.KeyName, r.PathValue("key"))
	}
	c, err := s.cfg.Service.SetCredential(r.Context(), actor, r.PathValue("id"), r.PathValue("key"), *in.KeyValue, commands.UpdateOnly)
	if err != nil {
		return invalidInput(err)
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

func (s *Server) deleteCredential(w http.ResponseWriter, r *http.Request, actor commands.Actor) error {
	if err := s.cfg.Service.DeleteCredential(r.Context(), actor, r.PathValue("id"), r.PathValue("key")); err != nil {
		return invalidInput(err) // an unknown key is 422, as on POST and PUT
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
