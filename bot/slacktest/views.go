package slacktest

import (
	"encoding/json"
	"fmt"
	"maps"
	"time"
)

type trigger struct {
	id     string
	userID string
	issued time.Time
	used   bool
}

type view struct {
	id         string
	userID     string
	typ        string
	externalID string
	hash       string
	rootID     string
	previousID string
	fields     map[string]json.RawMessage // the view as the app gave it
}

// ViewCall is one views.* call the fake accepted.
type ViewCall struct {
	Method     string // views.open, views.push, views.update, views.publish, response_action:update, response_action:push
	ViewID     string
	UserID     string
	TriggerID  string
	ExternalID string
	View       json.RawMessage // the view as sent
	At         time.Time
}

// ViewCalls lists the accepted views.* calls in order.
func (s *Server) ViewCalls() []ViewCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]ViewCall(nil), s.viewCalls...)
}

// View is the current content of a view, as the app last set it, with its owner.
func (s *Server) View(viewID string) (v json.RawMessage, userID string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	vw := s.views[viewID]
	if vw == nil {
		return nil, "", false
	}
	raw, _ := json.Marshal(vw.fields)
	return raw, vw.userID, true
}

// HomeView is the App Home view last published for the user.
func (s *Server) HomeView(userID string) (json.RawMessage, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.viewCalls) - 1; i >= 0; i-- {
		if c := s.viewCalls[i]; c.Method == "views.publish" && c.UserID == userID {
			return c.View, true
		}
	}
	return nil, false
}

// IssueTrigger hands out a trigger_id for the user, as Slack does with an interaction.
func (s *Server) IssueTrigger(userID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issueTrigger(userID)
}

func (s *Server) issueTrigger(userID string) string {
	s.seq++
	t := &trigger{id: fmt.Sprintf("%d.%d.%032x", time.Now().Unix(), 1000000001+s.seq, s.seq*7919), userID: userID, issued: time.Now()}
	s.triggers[t.id] = t
	return t.id
}

// exchangeTrigger spends a trigger: single use, and only within the trigger lifetime.
func (s *Server) exchangeTrigger(id string, now time.Time) (*trigger, *slackError) {
	if id == "" {
		return nil, errCode("invalid_arguments", "[ERROR] missing required field: trigger_id [json-pointer:/trigger_id]")
	}
	t := s.triggers[id]
	switch {
	case t == nil:
		return nil, errCode("invalid_trigger_id")
	case t.used:
		return nil, errCode("exchanged_trigger_id")
	case now.Sub(t.issued) > s.cfg.triggerLifetime:
		return nil, errCode("expired_trigger_id")
	}
	t.used = true
	return t, nil
}

func (s *Server) viewsOpen(c *apiCall) (map[string]any, *slackError) {
	return s.openModal(c, "views.open")
}

func (s *Server) viewsPush(c *apiCall) (map[string]any, *slackError) {
	return s.openModal(c, "views.push")
}

func (s *Server) openModal(c *apiCall, method string) (map[string]any, *slackError) {
	fields, e := s.validateView(c.p.raw("view"), "modal")
	if e != nil {
		return nil, e
	}
	if e := s.checkExternalID(str(fields["external_id"]), ""); e != nil {
		return nil, e
	}
	t, e := s.exchangeTrigger(c.p.str("trigger_id"), c.now)
	if e != nil {
		return nil, e
	}
	v := s.newView(t.userID, "modal", fields)
	if method == "views.push" {
		if prev := s.latestModal(t.userID); prev != nil {
			v.rootID, v.previousID = prev.rootID, prev.id
		}
	}
	s.viewCalls = append(s.viewCalls, ViewCall{
		Method: method, ViewID: v.id, UserID: t.userID, TriggerID: t.id, ExternalID: v.externalID,
		View: c.p.raw("view"), At: c.now,
	})
	return map[string]any{"view": s.viewJSON(v, nil)}, nil
}

func (s *Server) latestModal(userID string) *view {
	for i := len(s.viewCalls) - 1; i >= 0; i-- {
		vc := s.viewCalls[i]
		if vc.UserID == userID && (vc.Method == "views.open" || vc.Method == "views.push") {
			return s.views[vc.ViewID]
		}
	}
	return nil
}

func (s *Server) checkExternalID(externalID, selfID string) *slackError {
	if externalID == "" {
		return nil
	}
	for _, v := range s.views {
		if v.externalID == externalID && v.id != selfID {
			return errCode("duplicate_external_id")
		}
	}
	return nil
}

func (s *Server) newView(userID, typ string, fields map[string]json.RawMessage) *view {
	v := &view{id: s.nextID("V"), userID: userID, typ: typ, fields: fields, externalID: str(fields["external_id"])}
	v.rootID = v.id
	v.hash = s.newHash()
	s.views[v.id] = v
	return v
}

func (s *Server) newHash() string {
	s.seq++
	return fmt.Sprintf("%d.%08x", time.Now().Unix(), s.seq*104729)
}

func (s *Server) viewsUpdate(c *apiCall) (map[string]any, *slackError) {
	var v *view
	switch id, ext := c.p.str("view_id"), c.p.str("external_id"); {
	case id != "":
		v = s.views[id]
	case ext != "":
		for _, cand := range s.views {
			if cand.externalID == ext {
				v = cand
			}
		}
	default:
		return nil, errCode("invalid_arguments", "[ERROR] must provide view_id or external_id [json-pointer:/view_id]")
	}
	if v == nil {
		return nil, errCode("not_found")
	}
	fields, e := s.validateView(c.p.raw("view"), v.typ)
	if e != nil {
		return nil, e
	}
	if h := c.p.str("hash"); h != "" && h != v.hash {
		return nil, errCode("hash_conflict")
	}
	if e := s.checkExternalID(str(fields["external_id"]), v.id); e != nil {
		return nil, e
	}
	v.fields = fields
	if ext := str(fields["external_id"]); ext != "" {
		v.externalID = ext
	}
	v.hash = s.newHash()
	s.viewCalls = append(s.viewCalls, ViewCall{
		Method: "views.update", ViewID: v.id, UserID: v.userID, ExternalID: v.externalID, View: c.p.raw("view"), At: c.now,
	})
	return map[string]any{"view": s.viewJSON(v, nil)}, nil
}

func (s *Server) viewsPublish(c *apiCall) (map[string]any, *slackError) {
	userID := c.p.str("user_id")
	if s.users[userID] == nil {
		return nil, errCode("user_not_found")
	}
	fields, e := s.validateView(c.p.raw("view"), "home")
	if e != nil {
		return nil, e
	}
	var v *view
	for _, cand := range s.views {
		if cand.typ == "home" && cand.userID == userID {
			v = cand
		}
	}
	if v != nil {
		if h := c.p.str("hash"); h != "" && h != v.hash {
			return nil, errCode("hash_conflict")
		}
		v.fields = fields
		v.hash = s.newHash()
	} else {
		v = s.newView(userID, "home", fields)
	}
	s.viewCalls = append(s.viewCalls, ViewCall{
		Method: "views.publish", ViewID: v.id, UserID: userID, View: c.p.raw("view"), At: c.now,
	})
	return map[string]any{"view": s.viewJSON(v, nil)}, nil
}

// viewJSON renders a view as Slack returns it, with the state values given (if any).
func (s *Server) viewJSON(v *view, values any) map[string]any {
	out := map[string]any{}
	for k, raw := range maps.All(v.fields) {
		out[k] = raw
	}
	if values == nil {
		values = map[string]any{}
	}
	for k, def := range map[string]any{"private_metadata": "", "callback_id": "", "external_id": "", "clear_on_close": false, "notify_on_close": false} {
		if _, ok := out[k]; !ok {
			out[k] = def
		}
	}
	out["id"] = v.id
	out["team_id"] = s.cfg.teamID
	out["type"] = v.typ
	out["state"] = map[string]any{"values": values}
	out["hash"] = v.hash
	out["root_view_id"] = v.rootID
	out["previous_view_id"] = nil
	if v.previousID != "" {
		out["previous_view_id"] = v.previousID
	}
	out["app_id"] = AppID
	out["app_installed_team_id"] = s.cfg.teamID
	out["bot_id"] = BotID
	return out
}
