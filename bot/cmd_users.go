package bot

import (
	"context"
	"fmt"
	"strings"

	"github.com/slack-go/slack"

	"credential-grafana/cg"
	"credential-grafana/commands"
)

// userAddForm opens the "add a user" form when no name is given.
func userAddForm(r *request) modalOpener {
	if len(r.args) > 0 {
		return nil
	}
	return func(ctx context.Context, r *request) error { return r.b.openUserAddModal(ctx, r.triggerID) }
}

// createInput is what "user add" was given: the name, the owner (--owner or a mention)
// and the channel (--channel or a channel mention).
func createInput(r *request) commands.CreateUserInput {
	in := commands.CreateUserInput{Username: r.args[0]}
	in.SlackUserID = firstOf(r.flags["owner"], r.flags["slack-user"])
	if in.SlackUserID == "" && len(r.users) > 0 {
		in.SlackUserID = r.users[0]
	}
	in.SlackChannelID = r.flags["channel"]
	if in.SlackChannelID == "" && len(r.channels) > 0 {
		in.SlackChannelID = r.channels[0]
	}
	return in
}

func firstOf(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

func runUserAdd(ctx context.Context, r *request) reply {
	res, err := r.b.svc.CreateUser(ctx, r.actor(ctx), createInput(r))
	if err != nil {
		return r.b.errorReply(err, "user add")
	}
	return reply{Text: createdText(res)}
}

// createdText says what creating a user did, with its API key: this text goes only to
// the person who asked (an ephemeral reply or their own modal).
func createdText(res commands.CreateUserResult) string {
	var dbs []string
	for _, k := range cg.Kinds {
		dbs = append(dbs, "`"+res.Databases[k]+"`")
	}
	verb := "is ready"
	if res.Resumed {
		verb = "is finished"
	}
	s := fmt.Sprintf(":white_check_mark: User *%s* %s, with databases %s.", res.User.Name, verb, strings.Join(dbs, ", "))
	if res.User.SlackUserID != "" {
		s += " Owner: <@" + res.User.SlackUserID + ">."
	}
	if !res.APIKey.Empty() {
		s += "\n:key: Its API key, shown this once and only to you (only its hash is stored):\n`" + res.APIKey.Reveal() + "`"
	}
	return s
}

// usersPerReply is how many users one `user list` reply shows: with its header, notes and
// button it stays within maxMessageBlocks even when every user takes a section of its own.
const usersPerReply = 25

func runUserList(ctx context.Context, r *request) reply {
	return r.b.userListPage(ctx, r.userID, "")
}

// pressUserListMore answers "Show more" under a user list with the next page; the
// cursor is the button's value, the users those the presser may manage.
func pressUserListMore(ctx context.Context, b *Bot, cb slack.InteractionCallback, act *slack.BlockAction) {
	b.respond(ctx, cb.ResponseURL, b.userListPage(ctx, cb.User.ID, act.Value))
}

func (b *Bot) userListPage(ctx context.Context, userID, cursor string) reply {
	page, err := b.svc.ListUsersPage(ctx, b.actor(ctx, userID), commands.PageRequest{Limit: usersPerReply, Cursor: cursor, Count: true})
	if err != nil {
		return b.errorReply(err, "user list")
	}
	return userListReply(b.cfg.Command, page)
}

func runUserShow(ctx context.Context, r *request) reply {
	d, err := r.b.svc.ShowUser(ctx, r.actor(ctx), r.args[0])
	if err != nil {
		return r.b.errorReply(err, "user show")
	}
	return userShowReply(r.b.cfg.Command, d)
}

// userRemoveForm always asks for confirmation in a modal.
func userRemoveForm(*request) modalOpener {
	return func(ctx context.Context, r *request) error {
		if !r.actor(ctx).Admin { // refuse before asking for a confirmation that could not be honoured
			return cg.Errorf(cg.EFORBIDDEN, "only an administrator may remove users")
		}
		_, drop := r.flags["drop-databases"]
		return r.b.openRemoveModal(ctx, r.triggerID, r.args[0], drop)
	}
}

func statusText(verb string, u cg.User) string {
	return fmt.Sprintf(":white_check_mark: User *%s* %s: now %s %s.", u.Name, verb, statusEmoji(u.Status), u.Status)
}

func runUserDisable(ctx context.Context, r *request) reply {
	u, err := r.b.svc.DisableUser(ctx, r.actor(ctx), r.args[0])
	if err != nil {
		return r.b.errorReply(err, "user disable")
	}
	return reply{Text: statusText("disabled", u)}
}

func runUserEnable(ctx context.Context, r *request) reply {
	u, err := r.b.svc.EnableUser(ctx, r.actor(ctx), r.args[0])
	if err != nil {
		return r.b.errorReply(err, "user enable")
	}
	return reply{Text: statusText("enabled", u)}
}

func runUserRetry(ctx context.Context, r *request) reply {
	res, err := r.b.svc.RetryUser(ctx, r.actor(ctx), r.args[0])
	if err != nil {
		return r.b.errorReply(err, "user retry")
	}
	return reply{Text: createdText(res)}
}
