package slacktest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// --- response_url -----------------------------------------------------------------------

type responseURL struct {
	url       string
	channelID string
	userID    string
	uses      int
	expires   time.Time
	posts     []ResponsePost
}

// ResponsePost is a message an app posted to a response_url.
type ResponsePost struct {
	URL             string
	Body            json.RawMessage
	ResponseType    string // "ephemeral" (Slack's default) or "in_channel"
	Text            string
	Blocks          json.RawMessage
	ReplaceOriginal bool
	DeleteOriginal  bool
	At              time.Time
}

// newResponseURL hands out a response_url that works 5 times within 30 minutes.
func (s *Server) newResponseURL(channelID, userID string) string {
	s.seq++
	u := &responseURL{
		url:       fmt.Sprintf("%s/response/%s%d-%x", s.ts.URL, s.cfg.teamID, s.seq, s.seq*2654435761),
		channelID: channelID, userID: userID, expires: time.Now().Add(s.cfg.responseURLLifetime),
	}
	s.responseURLs[u.url] = u
	return u.url
}

// NewResponseURL hands out a response_url for a member in a channel, as a slash command
// or a button in a message would: for tests that post a reply without a Socket Mode client.
func (s *Server) NewResponseURL(channelID, userID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.newResponseURL(channelID, userID)
}

// ResponsePosts lists what was posted to the response_url, in order.
func (s *Server) ResponsePosts(responseURL string) []ResponsePost {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.responseURLs[responseURL]; u != nil {
		return append([]ResponsePost(nil), u.posts...)
	}
	return nil
}

func (s *Server) handleResponseURL(w http.ResponseWriter, r *http.Request) {
	p, err := readParams(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	full := s.ts.URL + r.URL.Path
	u := s.responseURLs[full]
	now := time.Now()
	switch {
	case u == nil:
		writeJSON(w, http.StatusNotFound, map[string]any{"ok": false, "error": "no_such_url"})
		return
	case now.After(u.expires):
		writeJSON(w, http.StatusNotFound, map[string]any{"ok": false, "error": "expired_url"})
		return
	case u.uses >= s.cfg.responseURLUses:
		writeJSON(w, http.StatusNotFound, map[string]any{"ok": false, "error": "used_url"})
		return
	case err != nil:
		writeJSON(w, http.StatusBadRequest, map[string]any{"ok": false, "error": "invalid_payload"})
		return
	}
	if payload := p.form.Get("payload"); p.js == nil && payload != "" {
		if json.Unmarshal([]byte(payload), &p.js) != nil {
			writeJSON(w, http.StatusBadRequest, map[string]any{"ok": false, "error": "invalid_payload"})
			return
		}
	}
	post := ResponsePost{
		URL: full, ResponseType: p.str("response_type"), Text: p.str("text"), Blocks: p.raw("blocks"),
		ReplaceOriginal: p.boolean("replace_original"), DeleteOriginal: p.boolean("delete_original"), At: now,
	}
	if post.ResponseType == "" {
		post.ResponseType = "ephemeral"
	}
	post.Body, _ = json.Marshal(p.js)
	if !post.DeleteOriginal {
		if post.Text == "" && len(post.Blocks) == 0 && len(p.raw("attachments")) == 0 {
			writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": "no_text"})
			return
		}
		if len(post.Text) > maxMessageText {
			writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": "msg_too_long"})
			return
		}
		if len(post.Blocks) > 0 {
			if e := s.validateMessageBlocks(post.Blocks); e != nil {
				writeSlackError(w, e)
				return
			}
		}
	}
	u.uses++
	u.posts = append(u.posts, post)
	if post.ResponseType == "in_channel" && !post.ReplaceOriginal && !post.DeleteOriginal {
		s.messages[u.channelID] = append(s.messages[u.channelID], &Message{
			Channel: u.channelID, TS: s.nextTS(now), User: BotUserID, Text: post.Text, Blocks: post.Blocks, PostedAt: now,
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true})
}

// --- slash commands ---------------------------------------------------------------------

// SlashCommand is a slash command a user runs. The fake fills the team, app, response_url
// and trigger_id.
type SlashCommand struct {
	Command string // "/cg"
	// Text is what the member typed. A mention picked from the composer's list may be
	// written as the client sends it (<@U…>, <#C…>); @name and #name of a member or
	// channel the fake knows count as picked. Unless the command's should_escape is false
	// (WithSlashCommandEscaping), the app receives it escaped as Slack escapes it.
	Text      string
	UserID    string
	UserName  string // defaults to the user's name, if added with AddUser
	ChannelID string
}

// SendSlashCommand delivers a slash_commands envelope to a connected client, waiting until
// one is connected. The Delivery carries the response_url and trigger_id it handed out.
func (s *Server) SendSlashCommand(ctx context.Context, cmd SlashCommand) (*Delivery, error) {
	if !strings.HasPrefix(cmd.Command, "/") || cmd.UserID == "" || cmd.ChannelID == "" {
		return nil, errors.New("slacktest: a slash command needs Command (\"/…\"), UserID and ChannelID")
	}
	s.mu.Lock()
	name := cmd.UserName
	if name == "" {
		name = s.userName(cmd.UserID)
	}
	channelName := "unknown"
	if c := s.channels[cmd.ChannelID]; c != nil {
		channelName = c.name
	}
	if strings.HasPrefix(cmd.ChannelID, "D") {
		channelName = "directmessage"
	}
	respURL := s.newResponseURL(cmd.ChannelID, cmd.UserID)
	trig := s.issueTrigger(cmd.UserID)
	text := cmd.Text
	if !s.cfg.rawSlashText[cmd.Command] {
		text = s.escapeSlashText(text)
	}
	s.mu.Unlock()
	payload := map[string]any{
		"token": verificationToken, "team_id": s.cfg.teamID, "team_domain": s.cfg.teamDomain,
		"channel_id": cmd.ChannelID, "channel_name": channelName, "user_id": cmd.UserID, "user_name": name,
		"command": cmd.Command, "text": text, "api_app_id": AppID, "is_enterprise_install": "false",
		"response_url": respURL, "trigger_id": trig,
	}
	raw, _ := json.Marshal(payload)
	return s.send(ctx, &Delivery{Type: "slash_commands", Payload: raw, ResponseURL: respURL, TriggerID: trig}, true)
}

// --- interactive ------------------------------------------------------------------------

func (s *Server) userJSON(userID string) map[string]any {
	name := s.userName(userID)
	return map[string]any{"id": userID, "username": name, "name": name, "team_id": s.cfg.teamID}
}

func (s *Server) teamJSON() map[string]any {
	return map[string]any{"id": s.cfg.teamID, "domain": s.cfg.teamDomain}
}

// BlockAction is a user pressing a button (or choosing from a menu) in a message or a view.
type BlockAction struct {
	UserID   string
	ActionID string
	BlockID  string
	Value    string
	Type     string // element type, "button" by default
	// Either the message the element is in...
	ChannelID string
	MessageTS string
	// ...or the view (modal or App Home).
	ViewID string
}

// SendBlockAction delivers an interactive block_actions envelope. For a message it includes
// the message (if the fake has it) and a response_url; it always carries a fresh trigger_id.
func (s *Server) SendBlockAction(ctx context.Context, a BlockAction) (*Delivery, error) {
	if a.UserID == "" || a.ActionID == "" || (a.ViewID == "" && a.ChannelID == "") {
		return nil, errors.New("slacktest: a block action needs UserID, ActionID and ChannelID or ViewID")
	}
	if a.Type == "" {
		a.Type = "button"
	}
	if a.BlockID == "" {
		a.BlockID = "block-" + a.ActionID
	}
	now := time.Now()
	actionTS := fmt.Sprintf("%d.%06d", now.Unix(), now.Nanosecond()/1000)
	action := map[string]any{
		"action_id": a.ActionID, "block_id": a.BlockID, "type": a.Type, "action_ts": actionTS,
	}
	if a.Type == "static_select" {
		action["selected_option"] = map[string]any{"text": map[string]any{"type": "plain_text", "text": a.Value}, "value": a.Value}
	} else {
		action["value"] = a.Value
		action["text"] = map[string]any{"type": "plain_text", "text": a.ActionID}
	}
	s.mu.Lock()
	trig := s.issueTrigger(a.UserID)
	payload := map[string]any{
		"type": "block_actions", "user": s.userJSON(a.UserID), "api_app_id": AppID, "token": verificationToken,
		"trigger_id": trig, "team": s.teamJSON(), "enterprise": nil, "is_enterprise_install": false,
		"actions": []any{action}, "state": map[string]any{"values": map[string]any{}},
	}
	var respURL string
	if a.ViewID != "" {
		v := s.views[a.ViewID]
		if v == nil {
			s.mu.Unlock()
			return nil, fmt.Errorf("slacktest: no view %s", a.ViewID)
		}
		payload["container"] = map[string]any{"type": "view", "view_id": v.id}
		payload["view"] = s.viewJSON(v, nil)
	} else {
		respURL = s.newResponseURL(a.ChannelID, a.UserID)
		payload["container"] = map[string]any{
			"type": "message", "message_ts": a.MessageTS, "channel_id": a.ChannelID, "is_ephemeral": false,
		}
		name := ""
		if c := s.channels[a.ChannelID]; c != nil {
			name = c.name
		}
		payload["channel"] = map[string]any{"id": a.ChannelID, "name": name}
		payload["response_url"] = respURL
		if m := s.findMessage(a.ChannelID, a.MessageTS); m != nil {
			payload["message"] = s.messageJSON(m, false)
		}
	}
	s.mu.Unlock()
	raw, _ := json.Marshal(payload)
	return s.send(ctx, &Delivery{Type: "interactive", Payload: raw, ResponseURL: respURL, TriggerID: trig}, false)
}

// InputValue is what a user entered in one input element of a modal.
type InputValue struct {
	Type                 string // plain_text_input (default), static_select, users_select, conversations_select, channels_select, multi_static_select
	Value                string // plain_text_input
	SelectedOption       string // static_select: the chosen option's value
	SelectedOptions      []string
	SelectedUser         string
	SelectedConversation string
	SelectedChannel      string
}

func (v InputValue) json() map[string]any {
	option := func(val string) map[string]any {
		return map[string]any{"text": map[string]any{"type": "plain_text", "text": val}, "value": val}
	}
	switch v.Type {
	case "", "plain_text_input":
		return map[string]any{"type": "plain_text_input", "value": v.Value}
	case "static_select", "external_select", "radio_buttons":
		if v.SelectedOption == "" {
			return map[string]any{"type": v.Type, "selected_option": nil}
		}
		return map[string]any{"type": v.Type, "selected_option": option(v.SelectedOption)}
	case "multi_static_select", "checkboxes":
		opts := []any{}
		for _, o := range v.SelectedOptions {
			opts = append(opts, option(o))
		}
		return map[string]any{"type": v.Type, "selected_options": opts}
	case "users_select":
		return map[string]any{"type": v.Type, "selected_user": v.SelectedUser}
	case "conversations_select":
		return map[string]any{"type": v.Type, "selected_conversation": v.SelectedConversation}
	case "channels_select":
		return map[string]any{"type": v.Type, "selected_channel": v.SelectedChannel}
	}
	return map[string]any{"type": v.Type, "value": v.Value}
}

// ViewSubmission is a user submitting an open modal.
type ViewSubmission struct {
	ViewID string
	UserID string                           // defaults to the user the view was opened for
	Values map[string]map[string]InputValue // block_id -> action_id -> value
}

// SendViewSubmission delivers an interactive view_submission envelope for a view the app
// opened. The client's ack payload (response_action errors/update/push/clear) is in the Ack;
// an "update" or "push" also changes the fake's views (see ViewCalls, Method
// "response_action:update" or "response_action:push").
func (s *Server) SendViewSubmission(ctx context.Context, sub ViewSubmission) (*Delivery, error) {
	s.mu.Lock()
	v := s.views[sub.ViewID]
	if v == nil || v.typ != "modal" {
		s.mu.Unlock()
		return nil, fmt.Errorf("slacktest: no modal %q", sub.ViewID)
	}
	user := sub.UserID
	if user == "" {
		user = v.userID
	}
	values := map[string]any{}
	for blockID, actions := range sub.Values {
		m := map[string]any{}
		for actionID, val := range actions {
			m[actionID] = val.json()
		}
		values[blockID] = m
	}
	trig := s.issueTrigger(user)
	payload := map[string]any{
		"type": "view_submission", "team": s.teamJSON(), "user": s.userJSON(user), "api_app_id": AppID,
		"token": verificationToken, "trigger_id": trig, "view": s.viewJSON(v, values),
		"response_urls": []any{}, "is_enterprise_install": false, "enterprise": nil,
	}
	s.mu.Unlock()
	raw, _ := json.Marshal(payload)
	return s.send(ctx, &Delivery{Type: "interactive", Payload: raw, TriggerID: trig, viewID: v.id}, true)
}

// SendViewClosed delivers an interactive view_closed envelope (sent only for views opened
// with notify_on_close, which the fake does not check).
func (s *Server) SendViewClosed(ctx context.Context, viewID, userID string) (*Delivery, error) {
	s.mu.Lock()
	v := s.views[viewID]
	if v == nil {
		s.mu.Unlock()
		return nil, fmt.Errorf("slacktest: no view %q", viewID)
	}
	if userID == "" {
		userID = v.userID
	}
	payload := map[string]any{
		"type": "view_closed", "team": s.teamJSON(), "user": s.userJSON(userID), "api_app_id": AppID,
		"token": verificationToken, "view": s.viewJSON(v, nil), "is_cleared": false, "is_enterprise_install": false,
	}
	s.mu.Unlock()
	raw, _ := json.Marshal(payload)
	return s.send(ctx, &Delivery{Type: "interactive", Payload: raw}, false)
}

// SendShortcut delivers an interactive global shortcut envelope with a fresh trigger_id.
func (s *Server) SendShortcut(ctx context.Context, callbackID, userID string) (*Delivery, error) {
	s.mu.Lock()
	trig := s.issueTrigger(userID)
	now := time.Now()
	payload := map[string]any{
		"type": "shortcut", "token": verificationToken, "action_ts": fmt.Sprintf("%d.%06d", now.Unix(), now.Nanosecond()/1000),
		"team": s.teamJSON(), "user": s.userJSON(userID), "is_enterprise_install": false, "enterprise": nil,
		"callback_id": callbackID, "trigger_id": trig,
	}
	s.mu.Unlock()
	raw, _ := json.Marshal(payload)
	return s.send(ctx, &Delivery{Type: "interactive", Payload: raw, TriggerID: trig}, false)
}

// --- events ------------------------------------------------------------------------------

// Event is an Events API event, e.g.
// Event{Event: map[string]any{"type": "app_home_opened", "user": "U…", "tab": "home"}}.
type Event struct {
	EventID string // generated ("Ev…") when empty
	Event   any    // the inner event; must have a "type" slack-go's slackevents knows
}

// SendEvent delivers an events_api envelope. Redeliver sends it again as Slack does after
// a missed ack.
func (s *Server) SendEvent(ctx context.Context, ev Event) (*Delivery, error) {
	s.mu.Lock()
	if ev.EventID == "" {
		ev.EventID = s.nextID("Ev")
	}
	s.mu.Unlock()
	now := time.Now()
	payload := map[string]any{
		"token": verificationToken, "team_id": s.cfg.teamID, "api_app_id": AppID, "event": ev.Event,
		"type": "event_callback", "event_id": ev.EventID, "event_time": now.Unix(),
		"authorizations": []any{map[string]any{
			"enterprise_id": nil, "team_id": s.cfg.teamID, "user_id": BotUserID, "is_bot": true, "is_enterprise_install": false,
		}},
		"is_ext_shared_channel": false, "event_context": "4-fake-" + ev.EventID,
	}
	raw, err := json.Marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("slacktest: marshal event: %w", err)
	}
	return s.send(ctx, &Delivery{Type: "events_api", Payload: raw, EventID: ev.EventID}, false)
}

// Redeliver sends a delivery's payload again in a new envelope with retry_attempt one higher
// and the reason ("timeout" is what Slack says after a missed ack), as Slack retries events.
func (s *Server) Redeliver(ctx context.Context, d *Delivery, reason string) (*Delivery, error) {
	return s.send(ctx, &Delivery{
		Type: d.Type, Payload: d.Payload, RetryAttempt: d.RetryAttempt + 1, RetryReason: reason,
		ResponseURL: d.ResponseURL, TriggerID: d.TriggerID, EventID: d.EventID,
	}, d.AcceptsResponsePayload)
}
