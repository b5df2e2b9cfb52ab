package rest

import (
	"net/http"
	"net/url"
	"strconv"

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

// listUsers answers one page of users, by id: ?limit (1 to 500, default 50) and ?cursor
// (the previous page's next cursor). The body is the array of users, as before paging,
// with the next page in the Link (rel="next") and X-Next-Cursor headers; with
// ?envelope=true it is {"users": […], "next_cursor": "…"} ("" on the last page).
func (s *Server) listUsers(w http.ResponseWriter, r *http.Request, actor commands.Actor) error {
	envelope, err := boolQuery(r, "envelope")
	if err != nil {
		return err
	}
	req := commands.PageRequest{Cursor: r.URL.Query().Get("cursor")}
	if v := r.URL.Query().Get("limit"); v != "" {
		if req.Limit, err = strconv.Atoi(v); err != nil {
			return cg.Errorf(cg.EINVALID, "query parameter limit is %q: give a whole number from 1 to %d (default %d)", v, commands.MaxPageLimit, commands.DefaultPageLimit)
		}
		if req.Limit == 0 { // 0 is no default here: the client asked for nothing
			return cg.Errorf(cg.EINVALID, "query parameter limit is 0: give a whole number from 1 to %d (default %d)", commands.MaxPageLimit, commands.DefaultPageLimit)
		}
	}
	page, err := s.cfg.Service.ListUsersPage(r.Context(), actor, req)
	if err != nil {
		return err
	}
	if page.NextCursor != "" {
		next := url.Values{"cursor": {page.NextCursor}}
		if v := r.URL.Query().Get("limit"); v != "" {
			next.Set("limit", v)
		}
		if envelope {
			next.Set("envelope", "true")
		}
		w.Header().Set("Link", "<"+r.URL.Path+"?"+next.Encode()+`>; rel="next"`)
		w.Header().Set("X-Next-Cursor", page.NextCursor)
	}
	if envelope {
		writeJSON(w, http.StatusOK, page)
		return nil
	}
	writeJSON(w, http.StatusOK, page.Users)
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
