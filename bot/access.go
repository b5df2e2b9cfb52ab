package bot

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/slack-go/slack"

	"credential-grafana/commands"
)

// adminGroupTTL is how long the admin group's members are cached (usergroups.users.list
// is Tier 2).
const adminGroupTTL = 5 * time.Minute

// adminSet says who the administrators are: the configured member IDs and the members of
// the configured user group.
type adminSet struct {
	users []string
	group string
	api   *slack.Client
	log   zerolog.Logger

	mu        sync.Mutex
	members   []string
	fetchedAt time.Time
}

func newAdminSet(users []string, group string, api *slack.Client, log zerolog.Logger) *adminSet {
	var clean []string
	for _, u := range users {
		if u = strings.TrimSpace(u); u != "" {
			clean = append(clean, u)
		}
	}
	return &adminSet{users: clean, group: strings.TrimSpace(group), api: api, log: log}
}

// isAdmin reports whether the Slack member is an administrator. A failure to read the
// group counts as "not a member" (and keeps the last known members).
func (a *adminSet) isAdmin(ctx context.Context, userID string) bool {
	if slices.Contains(a.users, userID) {
		return true
	}
	if a.group == "" {
		return false
	}
	return slices.Contains(a.groupMembers(ctx), userID)
}

func (a *adminSet) groupMembers(ctx context.Context) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.fetchedAt.IsZero() && time.Since(a.fetchedAt) < adminGroupTTL {
		return a.members
	}
	members, err := a.api.GetUserGroupMembersContext(ctx, a.group)
	if err != nil {
		a.log.Warn().Err(err).Str("usergroup", a.group).Msg("read slack admin group")
		return a.members
	}
	a.members, a.fetchedAt = members, time.Now()
	return a.members
}

// whoCanHelp names the administrators for a refusal: "<@U1>, <@U2> or <!subteam^S1>".
func (a *adminSet) whoCanHelp() string {
	var names []string
	for _, u := range a.users {
		names = append(names, "<@"+u+">")
	}
	if a.group != "" {
		names = append(names, "<!subteam^"+a.group+">")
	}
	switch len(names) {
	case 0:
		return "Ask whoever runs credential-grafana: no Slack administrators are configured (SLACK_ADMIN_USERS)."
	case 1:
		return "Ask " + names[0] + ", who administers credential-grafana."
	}
	return "Ask " + strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1] + ", who administer credential-grafana."
}

// actor is who a Slack request acts as, always from the payload's user_id: an
// administrator, or a member who manages the users linked to them.
func (b *Bot) actor(ctx context.Context, userID string) commands.Actor {
	return commands.Actor{Name: "slack:" + userID, SlackUserID: userID, Admin: b.admins.isAdmin(ctx, userID)}
}
