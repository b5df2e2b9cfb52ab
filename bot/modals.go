package bot

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/slack-go/slack"

	"credential-grafana/cg"
	"credential-grafana/commands"
)

// Modal callback IDs, and the block IDs of their inputs (response_action errors name
// them). Every input's element has the action ID "input".
const (
	CallbackUserAdd    = "cg_user_add"
	CallbackCredSet    = "cg_cred_set"
	CallbackUserRemove = "cg_user_remove"

	BlockName    = "cg_name"
	BlockOwner   = "cg_owner"
	BlockChannel = "cg_channel"
	BlockUser    = "cg_user"
	BlockKey     = "cg_key"
	BlockValue   = "cg_value"

	inputAction = "input"
)

// submitHandler runs a modal's submission as actor (from the payload's user_id) and
// returns the ack: errors on the fields, or the view to show next.
type submitHandler func(ctx context.Context, b *Bot, cb slack.InteractionCallback, actor commands.Actor) *slack.ViewSubmissionResponse

func submitHandlers() map[string]submitHandler {
	return map[string]submitHandler{
		CallbackUserAdd:    submitUserAdd,
		CallbackCredSet:    submitCredSet,
		CallbackUserRemove: submitUserRemove,
	}
}

// modal is a modal view, fitted to Slack's limits (fitView).
func modal(callbackID, title, submit string, blocks ...slack.Block) slack.ModalViewRequest {
	v := slack.ModalViewRequest{
		Type: slack.VTModal, CallbackID: callbackID, Title: plain(title),
		Close: plain("Cancel"), Blocks: slack.Blocks{BlockSet: blocks},
	}
	if submit != "" {
		v.Submit = plain(submit)
	}
	return fitView(v)
}

// messageView is a modal that only says something: a result, or that work goes on.
func messageView(title, text string) *slack.ModalViewRequest {
	v := modal("cg_message", title, "", slack.NewSectionBlock(mrkdwn(text), nil, nil))
	v.Close = plain("Close")
	return &v
}

func input(blockID, label, hint string, el slack.BlockElement, optional bool) *slack.InputBlock {
	var h *slack.TextBlockObject
	if hint != "" {
		h = plain(hint)
	}
	in := slack.NewInputBlock(blockID, plain(label), h, el)
	in.Optional = optional
	return in
}

// --- add a user -----------------------------------------------------------------------

// UserAddModal is the "add a user" form: a name, the Slack member who owns it, the channel
// its runs are posted to.
func UserAddModal() slack.ModalViewRequest {
	name := slack.NewPlainTextInputBlockElement(plain("alice"), inputAction)
	name.MaxLength = 40
	owner := slack.NewOptionsSelectBlockElement(slack.OptTypeUser, plain("Who manages it"), inputAction)
	channel := slack.NewOptionsSelectBlockElement(slack.OptTypeConversations, plain("Where its runs are posted"), inputAction)
	channel.Filter = &slack.SelectBlockElementFilter{Include: []string{"public", "private"}, ExcludeBotUsers: true}
	return modal(CallbackUserAdd, "Add a user", "Create",
		input(BlockName, "Name", commands.UsernameRule, name, false),
		input(BlockOwner, "Slack owner", "They may manage its credentials and dashboards.", owner, true),
		input(BlockChannel, "Channel", "Empty: the service's default channel. Invite the bot to a private channel.", channel, true),
	)
}

func (b *Bot) openUserAddModal(ctx context.Context, triggerID string) error {
	if _, err := b.api.OpenViewContext(ctx, triggerID, UserAddModal()); err != nil {
		return fmt.Errorf("open the add-user form: %w", err)
	}
	return nil
}

func stateValue(cb slack.InteractionCallback, blockID string) slack.BlockAction {
	if cb.View.State == nil {
		return slack.BlockAction{}
	}
	return cb.View.State.Values[blockID][inputAction]
}

func submitUserAdd(ctx context.Context, b *Bot, cb slack.InteractionCallback, actor commands.Actor) *slack.ViewSubmissionResponse {
	in := commands.CreateUserInput{
		Username:       strings.TrimSpace(stateValue(cb, BlockName).Value),
		SlackUserID:    stateValue(cb, BlockOwner).SelectedUser,
		SlackChannelID: stateValue(cb, BlockChannel).SelectedConversation,
	}
	res, err := b.svc.CreateUser(ctx, actor, in)
	if err != nil {
		return b.fieldError(err, "user add", func(msg string) string {
			switch {
			case strings.Contains(msg, "Slack member"):
				return BlockOwner
			case strings.Contains(msg, "channel ID"):
				return BlockChannel
			}
			return BlockName
		})
	}
	return slack.NewUpdateViewSubmissionResponse(messageView("User created", createdText(res)))
}

// fieldError answers a refused submission: invalid input, a conflict or a refusal on the
// field it concerns (blockFor picks it from the message), anything else as a view.
func (b *Bot) fieldError(err error, what string, blockFor func(msg string) string) *slack.ViewSubmissionResponse {
	msg := cg.ErrorMessage(err)
	switch cg.ErrorCode(err) {
	case cg.EINVALID, cg.ECONFLICT, cg.ENOTFOUND:
		return slack.NewErrorsViewSubmissionResponse(map[string]string{blockFor(msg): truncate(msg, maxErrorText)})
	case cg.EFORBIDDEN:
		return slack.NewErrorsViewSubmissionResponse(map[string]string{blockFor(msg): truncate("Sorry, "+msg+". "+b.admins.whoCanHelp(), maxErrorText)})
	}
	return slack.NewUpdateViewSubmissionResponse(messageView("Not done", b.errorReply(err, what).Text))
}

// --- set a credential -----------------------------------------------------------------

// CredSetModal is the credential form for user (a picker over users when user is ""): a
// key picker from the catalogue, preselected when key is known, and a value field.
func CredSetModal(user, key string, users []cg.User) slack.ModalViewRequest {
	var blocks []slack.Block
	if user != "" {
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn("Credential of *"+esc(user)+"*"), nil, nil))
	} else {
		var opts []*slack.OptionBlockObject
		for _, u := range users[:min(len(users), 100)] {
			opts = append(opts, slack.NewOptionBlockObject(u.Name, plain(u.Name), nil))
		}
		if len(opts) == 0 {
			opts = append(opts, slack.NewOptionBlockObject("-", plain("no user you may manage"), nil))
		}
		blocks = append(blocks, input(BlockUser, "User", "", slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("Choose a user"), inputAction, opts...), false))
	}
	var opts []*slack.OptionBlockObject
	var initial *slack.OptionBlockObject
	spec, keyErr := commands.LookupKey(key)
	for _, k := range commands.Keys {
		label := k.Name
		if k.Secret {
			label += " 🔒"
		}
		o := slack.NewOptionBlockObject(k.Name, plain(label), plain(k.Describe))
		if keyErr == nil && k.Name == spec.Name {
			initial = o
		}
		opts = append(opts, o)
	}
	keys := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("Choose a key"), inputAction, opts...)
	keys.InitialOption = initial
	value := slack.NewPlainTextInputBlockElement(plain("the value"), inputAction)
	value.MaxLength = 3000
	blocks = append(blocks,
		input(BlockKey, "Key", "", keys, false),
		input(BlockValue, "Value", "Secret values (🔒) are encrypted at rest and shown masked from now on.", value, false),
	)
	v := modal(CallbackCredSet, "Set a credential", "Save", blocks...)
	v.PrivateMetadata = user // which user the form is for; who may change it is checked again on submit
	return fitView(v)
}

// openCredSetModal opens the credential form for user, or for a user to pick among
// those actor may manage (user ""). For a user actor may not manage it opens only the
// refusal: a button's value comes from the payload and may name anyone.
func (b *Bot) openCredSetModal(ctx context.Context, triggerID string, actor commands.Actor, user, key string) error {
	var users []cg.User
	if user != "" {
		if _, err := b.svc.ManagedUser(ctx, actor, user); err != nil {
			view := messageView("Set a credential", b.errorReply(err, "cred set").Text)
			if _, oerr := b.api.OpenViewContext(ctx, triggerID, *view); oerr != nil {
				return fmt.Errorf("open the credential form's refusal: %w", oerr)
			}
			return nil
		}
	} else {
		// The form's select holds at most maxOptions users: the first page of them.
		page, err := b.svc.ListUsersPage(ctx, actor, commands.PageRequest{Limit: maxOptions})
		if err != nil {
			return err
		}
		users = page.Users
	}
	if _, err := b.api.OpenViewContext(ctx, triggerID, CredSetModal(user, key, users)); err != nil {
		return fmt.Errorf("open the credential form: %w", err)
	}
	return nil
}

func submitCredSet(ctx context.Context, b *Bot, cb slack.InteractionCallback, actor commands.Actor) *slack.ViewSubmissionResponse {
	user := cb.View.PrivateMetadata
	userBlock := BlockValue
	if user == "" {
		user, userBlock = stateValue(cb, BlockUser).SelectedOption.Value, BlockUser
	}
	key := stateValue(cb, BlockKey).SelectedOption.Value
	value := stateValue(cb, BlockValue).Value
	c, err := b.svc.SetCredential(ctx, actor, user, key, value, commands.Upsert)
	if err != nil {
		return b.fieldError(err, "cred set", func(msg string) string {
			switch {
			case strings.Contains(msg, "credential key"):
				return BlockKey
			case cg.ErrorCode(err) == cg.EFORBIDDEN || strings.Contains(msg, "user"):
				return userBlock
			}
			return BlockValue
		})
	}
	return slack.NewUpdateViewSubmissionResponse(messageView("Saved",
		fmt.Sprintf(":white_check_mark: Saved `%s` of *%s*: `%s`.", c.Key, esc(user), esc(c.Masked))))
}

// --- remove a user --------------------------------------------------------------------

type removeMetadata struct {
	User string `json:"user"`
	Drop bool   `json:"drop_databases"`
}

// RemoveModal asks to confirm removing user (and dropping its databases with drop).
func RemoveModal(user string, drop bool) slack.ModalViewRequest {
	text := fmt.Sprintf(":warning: Remove *%s*? Its API key is forgotten and its credentials are deleted; its databases stay.", esc(user))
	if drop {
		text = fmt.Sprintf(":rotating_light: Remove *%s* and *drop its three databases and roles*? Every run table in them is deleted for good.", esc(user))
	}
	md, _ := json.Marshal(removeMetadata{User: user, Drop: drop})
	v := modal(CallbackUserRemove, "Remove a user", "Remove", slack.NewSectionBlock(mrkdwn(text), nil, nil))
	v.PrivateMetadata = string(md)
	return fitView(v)
}

func (b *Bot) openRemoveModal(ctx context.Context, triggerID, user string, drop bool) error {
	if _, err := b.api.OpenViewContext(ctx, triggerID, RemoveModal(user, drop)); err != nil {
		return fmt.Errorf("open the confirmation: %w", err)
	}
	return nil
}

func submitUserRemove(ctx context.Context, b *Bot, cb slack.InteractionCallback, actor commands.Actor) *slack.ViewSubmissionResponse {
	var md removeMetadata
	if err := json.Unmarshal([]byte(cb.View.PrivateMetadata), &md); err != nil || md.User == "" {
		return slack.NewUpdateViewSubmissionResponse(messageView("Not done", ":warning: This form is damaged; run the command again."))
	}
	res, err := b.svc.RemoveUser(ctx, actor, md.User, commands.RemoveOptions{DropDatabases: md.Drop, Yes: md.Drop})
	if err != nil {
		text := b.errorReply(err, "user remove").Text
		return slack.NewUpdateViewSubmissionResponse(messageView("Not removed", text))
	}
	text := fmt.Sprintf(":white_check_mark: User *%s* removed; its databases stay.", esc(res.User.Name))
	if res.DroppedDatabases {
		text = fmt.Sprintf(":white_check_mark: User *%s* removed, its databases and roles dropped.", esc(res.User.Name))
	}
	return slack.NewUpdateViewSubmissionResponse(messageView("User removed", text))
}
