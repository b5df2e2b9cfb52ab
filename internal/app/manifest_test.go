package app

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The Slack app manifest asks for exactly the bot scopes the product's calls need (per
// Slack's method reference), each with a comment naming the call that needs it. A scope
// no call uses (channels:read, groups:read, users:read, the history scopes) is refused.
func TestManifestAsksForExactlyTheScopesTheCallsUse(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(moduleRoot, "slack-app-manifest.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]string{ // scope -> a call that needs it
		"commands":        "slash command",
		"chat:write":      "chat.postMessage",
		"files:write":     "files.completeUploadExternal",
		"files:read":      "files.info",
		"channels:join":   "conversations.join",
		"usergroups:read": "usergroups.users.list",
	}
	text := string(raw)
	bot := text[strings.Index(text, "    bot:\n"):]
	bot = bot[:strings.Index(bot, "\nsettings:")]
	var got []string
	for _, m := range regexp.MustCompile(`(?m)^\s+- ([a-z:.]+)\s*(?:#\s*(.*))?$`).FindAllStringSubmatch(bot, -1) {
		scope, comment := m[1], m[2]
		got = append(got, scope)
		call, ok := used[scope]
		if !ok {
			t.Errorf("the manifest asks for %s, which no call uses", scope)
			continue
		}
		if !strings.Contains(comment, call) {
			t.Errorf("scope %s: comment %q does not name the call that needs it (%s)", scope, comment, call)
		}
	}
	for scope := range used {
		if !slices.Contains(got, scope) {
			t.Errorf("the manifest lacks %s, which %s needs", scope, used[scope])
		}
	}
}
