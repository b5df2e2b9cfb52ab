package slacktest

import (
	"net/http"
	"sort"
	"strings"
)

// Scopes: Slack checks the bot token's OAuth scopes on every Web API call and answers
// missing_scope with the scope the method needed ("needed") and the token's scopes
// ("provided"); every answer to a bot token carries the token's scopes in the
// x-oauth-scopes header and the method's in x-accepted-oauth-scopes. Checked against
// Slack's method pages (each lists its "Bot token scopes") and its scopes guide
// ("Checking scopes": x-oauth-scopes, x-accepted-oauth-scopes).

// DefaultBotScopes are the scopes the default bot token has: every scope a method of the
// fake needs, so tests that do not care about scopes never meet missing_scope.
var DefaultBotScopes = []string{
	"commands", "chat:write", "files:write", "files:read", "channels:read", "channels:join",
	"groups:read", "users:read", "usergroups:read", "channels:history", "groups:history",
	"im:history", "mpim:history",
}

// WithBotScopes gives the default bot token exactly these scopes, as an app installed
// with them would have.
func WithBotScopes(scopes ...string) Option {
	return func(c *config) { c.botScopes = append([]string{}, scopes...) }
}

// methodScope is the scope a bot token needs for a method, given the channel kind for
// conversations.* ("" when the method needs none).
func (s *Server) methodScope(method string, p params) string {
	switch method {
	case "chat.postMessage", "chat.postEphemeral", "chat.update":
		return "chat:write"
	case "conversations.join":
		return "channels:join"
	case "files.getUploadURLExternal", "files.completeUploadExternal":
		return "files:write"
	case "files.info", "files.list":
		return "files:read"
	case "users.info":
		return "users:read"
	case "usergroups.users.list":
		return "usergroups:read"
	case "conversations.info", "conversations.history":
		suffix := ":read"
		if method == "conversations.history" {
			suffix = ":history"
		}
		id := p.str("channel")
		switch {
		case strings.HasPrefix(id, "D"):
			return "im" + suffix
		case s.channels[id] != nil && s.channels[id].private:
			return "groups" + suffix
		}
		return "channels" + suffix
	}
	return ""
}

func (s *Server) botScopes() []string {
	if s.cfg.botScopes != nil {
		return s.cfg.botScopes
	}
	return DefaultBotScopes
}

// checkScope sets the scope headers for a bot token and answers missing_scope when the
// token lacks the method's scope; it reports whether it answered.
func (s *Server) checkScope(w http.ResponseWriter, method, tok string, p params) bool {
	t := s.tokens[tok]
	if t == nil || t.app {
		return false
	}
	have := s.botScopes()
	sorted := append([]string{}, have...)
	sort.Strings(sorted)
	w.Header().Set("X-OAuth-Scopes", strings.Join(sorted, ","))
	need := s.methodScope(method, p)
	w.Header().Set("X-Accepted-OAuth-Scopes", need)
	if need == "" {
		return false
	}
	for _, sc := range have {
		if sc == need {
			return false
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": "missing_scope", "needed": need, "provided": strings.Join(sorted, ",")})
	return true
}
