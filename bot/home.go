package bot

import (
	"context"
	"fmt"

	"github.com/slack-go/slack"

	"credential-grafana/cg"
	"credential-grafana/commands"
)

// homeUsers and homeDashboards bound the App Home to Slack's 100 blocks.
const (
	homeUsers      = 20
	homeDashboards = 5
)

// publishHome shows the viewer's App Home: the users they may manage with their status
// and recent dashboards, and buttons that open the add-user and credential forms.
func (b *Bot) publishHome(ctx context.Context, userID string) {
	actor := b.actor(ctx, userID)
	page, err := b.svc.ListUsersPage(ctx, actor, commands.PageRequest{Limit: homeUsers, Count: true})
	if err != nil && cg.ErrorCode(err) != cg.EFORBIDDEN {
		b.metrics.handlerErrors.WithLabelValues("app_home_opened").Inc()
		b.log.Error().Err(err).Str("slack_user", userID).Msg("list users for app home")
	}
	recent := map[string][]cg.Dashboard{}
	for _, u := range page.Users {
		if list, err := b.svc.ListDashboards(ctx, actor, u.Name, "", homeDashboards); err == nil {
			recent[u.Name] = list
		}
	}
	view := slack.HomeTabViewRequest{Type: slack.VTHomeTab, Blocks: slack.Blocks{BlockSet: HomeBlocks(b.cfg.Command, actor, page, recent, b.admins.whoCanHelp())}}
	if _, err := b.api.PublishViewContext(ctx, slack.PublishViewContextRequest{UserID: userID, View: view}); err != nil {
		b.metrics.handlerErrors.WithLabelValues("app_home_opened").Inc()
		b.log.Error().Err(err).Str("slack_user", userID).Msg("slack views.publish failed")
	}
}

// HomeBlocks is the App Home of actor: the first page of their users (at most 20 shown)
// with status and recent dashboards, how many more there are and where to see them
// (page.More, when counted), and the buttons.
func HomeBlocks(cmd string, actor commands.Actor, page commands.UserPage, recent map[string][]cg.Dashboard, whoCanHelp string) []slack.Block {
	users := page.Users
	intro := "You manage the users linked to your Slack account. " + whoCanHelp
	buttons := []slack.BlockElement{slack.NewButtonBlockElement(ActionHomeSetCredential, "", plain("Set credential"))}
	if actor.Admin {
		intro = "You are an administrator: you may manage every user."
		buttons = append([]slack.BlockElement{slack.NewButtonBlockElement(ActionHomeAddUser, "", plain("Add user")).WithStyle(slack.StylePrimary)}, buttons...)
	}
	blocks := []slack.Block{
		slack.NewHeaderBlock(plain("credential-grafana")),
		slack.NewSectionBlock(mrkdwn(intro+fmt.Sprintf(" `%s help` lists every command.", cmd)), nil, nil),
		slack.NewActionBlock("cg_home_actions", buttons...),
		slack.NewDividerBlock(),
	}
	if len(users) == 0 {
		return append(blocks, slack.NewSectionBlock(mrkdwn("No users you may manage yet."), nil, nil))
	}
	for _, u := range users[:min(len(users), homeUsers)] {
		set := slack.NewButtonBlockElement(ActionHomeSetCredential, u.Name, plain("Set credential"))
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn(userLine(u)), nil, slack.NewAccessory(set)))
		var lines []string
		for _, d := range recent[u.Name] {
			lines = append(lines, "• "+dashboardLine(d))
		}
		if len(lines) == 0 {
			lines = append(lines, "_no run tables yet_")
		}
		blocks = append(blocks, sections(lines)...)
	}
	if more := max(page.More, len(users)-homeUsers); more > 0 || page.NextCursor != "" {
		text := "… and more"
		if more > 0 {
			text = fmt.Sprintf("… and %d more", more)
		}
		blocks = append(blocks, slack.NewContextBlock("", mrkdwn(fmt.Sprintf("%s: `%s user list` pages through them all.", text, cmd))))
	}
	return capBlocks(blocks, 100)
}
