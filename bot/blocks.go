package bot

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"credential-grafana/cg"
	"credential-grafana/commands"
	"credential-grafana/scheduler"
)

// esc escapes the three characters mrkdwn reserves (&, <, >), so that text from a table,
// a user or Grafana shows as it is: unescaped, "<!channel>" would notify the channel and
// "<https://x|y>" would be a link (https://api.slack.com/reference/surfaces/formatting,
// "Escaping text"). Everything the bot puts into mrkdwn or a message's text that it did
// not write itself goes through esc.
func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// link is a mrkdwn link to url labelled with text; a | in the URL would end it early.
func link(url, text string) string {
	return "<" + esc(strings.ReplaceAll(url, "|", "%7C")) + "|" + esc(text) + ">"
}

// sections packs lines into as few section blocks as fit Slack's 3000 characters each
// (with room to spare).
func sections(lines []string) []slack.Block {
	var out []slack.Block
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 {
			out = append(out, slack.NewSectionBlock(mrkdwn(cur.String()), nil, nil))
			cur.Reset()
		}
	}
	for _, l := range lines {
		l = cutMrkdwn(l, maxSectionText-100)
		if utf8.RuneCountInString(cur.String())+utf8.RuneCountInString(l)+1 > maxSectionText-100 {
			flush()
		}
		if cur.Len() > 0 {
			cur.WriteByte('\n')
		}
		cur.WriteString(l)
	}
	flush()
	return out
}

// capBlocks keeps blocks within limit blocks, saying how much was left out, and cuts
// every field to its limit (fitBlocks).
func capBlocks(blocks []slack.Block, limit int) []slack.Block { return fitBlocks(blocks, limit, 0) }

// helpReply lists every command with an example.
func (b *Bot) helpReply() reply {
	cmd := b.cfg.Command
	blocks := []slack.Block{
		slack.NewHeaderBlock(plain("credential-grafana in Slack")),
		slack.NewSectionBlock(mrkdwn("Your chip-design runs as Grafana dashboards, GIFs and posts. Everything below answers only you, "+
			"and anything secret (an API key, a revealed credential) is shown only to you. Secrets go into forms, never into the command line."), nil, nil),
	}
	var everyone, admins []string
	for _, s := range b.slash {
		line := fmt.Sprintf("`%s` — %s\n      e.g. `%s %s`", esc(s.usage(cmd)), esc(s.about), esc(cmd), esc(s.example))
		if s.admin {
			admins = append(admins, line)
		} else {
			everyone = append(everyone, line)
		}
	}
	blocks = append(blocks, slack.NewSectionBlock(mrkdwn("*For everyone* (on the users linked to you)"), nil, nil))
	blocks = append(blocks, sections(everyone)...)
	blocks = append(blocks, slack.NewSectionBlock(mrkdwn("*For administrators*"), nil, nil))
	blocks = append(blocks, sections(admins)...)
	blocks = append(blocks, slack.NewContextBlock("", mrkdwn("Open the app's *Home* tab for your users, their recent dashboards and buttons to add a user or set a credential. "+
		b.admins.whoCanHelp())))
	return reply{Text: "credential-grafana: `" + cmd + " help` lists the commands", Blocks: blocks}
}

func statusEmoji(s cg.UserStatus) string {
	switch s {
	case cg.UserActive:
		return ":large_green_circle:"
	case cg.UserProvisioning:
		return ":hourglass_flowing_sand:"
	case cg.UserDisabled:
		return ":double_vertical_bar:"
	}
	return ":wastebasket:"
}

func userLine(u cg.User) string {
	line := fmt.Sprintf("*%s* · %s %s", esc(u.Name), statusEmoji(u.Status), u.Status)
	if u.SlackUserID != "" {
		line += " · owner <@" + u.SlackUserID + ">"
	}
	line += " · since " + u.CreatedAt.UTC().Format("2006-01-02")
	if u.StatusReason != "" {
		line += "\n      _" + esc(u.StatusReason) + "_"
	}
	return line
}

// userListReply lists a page of users with their status and owner; when more follow, it
// says how many and offers a "Show more" button (ActionUserListMore, the next page's
// cursor as its value) and the CLI and REST lists that give them all.
func userListReply(cmd string, page commands.UserPage) reply {
	users := page.Users
	if len(users) == 0 {
		return reply{Text: "No users you may manage yet. An administrator adds one with `" + cmd + " user add &lt;name&gt;`."}
	}
	title := fmt.Sprintf("Users (%d)", len(users))
	if first := page.Total - page.More - len(users) + 1; page.Total > len(users) && first >= 1 {
		title = fmt.Sprintf("Users %d–%d of %d", first, first+len(users)-1, page.Total)
	}
	blocks := []slack.Block{slack.NewHeaderBlock(plain(title))}
	lines := make([]string, 0, len(users))
	for _, u := range users {
		lines = append(lines, userLine(u))
	}
	blocks = append(blocks, sections(lines)...)
	blocks = append(blocks, slack.NewContextBlock("", mrkdwn("`"+cmd+" user show &lt;name&gt;` shows one with its credentials.")))
	if page.NextCursor != "" {
		blocks = append(blocks, moreBlocks(page.More, ActionUserListMore, page.NextCursor,
			"`credential-grafana user list` (CLI) or `GET /api/v1/users` (REST, paged) lists them all")...)
	}
	return reply{Text: fmt.Sprintf("%d users", len(users)), Blocks: capBlocks(blocks, maxMessageBlocks)}
}

// moreBlocks say that more items follow a page (more of them, when counted) and offer
// the "Show more" button with value (the next page's cursor), and where else to see all.
func moreBlocks(more int, actionID, value, elsewhere string) []slack.Block {
	text := "… and more"
	if more > 0 {
		text = fmt.Sprintf("… and %d more", more)
	}
	return []slack.Block{
		slack.NewContextBlock("", mrkdwn(text+": *Show more* lists the next ones; "+elsewhere+".")),
		slack.NewActionBlock("", slack.NewButtonBlockElement(actionID, value, plain("Show more"))),
	}
}

func credLines(creds []cg.Credential) []string {
	lines := make([]string, 0, len(creds))
	for _, c := range creds {
		v := c.Masked
		if v == "" {
			v = " "
		}
		lock := ""
		if c.Secret {
			lock = " :lock:"
		}
		line := fmt.Sprintf("`%s`%s  `%s`", c.Key, lock, esc(v))
		if c.Unreadable != "" {
			line += "  " + esc(c.Unreadable)
		}
		lines = append(lines, line)
	}
	return lines
}

// credListReply lists a user's credentials, secrets masked.
func credListReply(cmd, user string, creds []cg.Credential) reply {
	if len(creds) == 0 {
		return reply{Text: fmt.Sprintf("%s has no credentials. `%s cred set %s` adds one.", esc(user), cmd, esc(user))}
	}
	blocks := []slack.Block{slack.NewHeaderBlock(plain("Credentials of " + user))}
	blocks = append(blocks, sections(credLines(creds))...)
	blocks = append(blocks, slack.NewContextBlock("", mrkdwn(fmt.Sprintf(
		":lock: secrets are encrypted and masked. `%s cred reveal %s &lt;key&gt;` shows one only to you; `%s cred set %s` changes one in a form.",
		cmd, esc(user), cmd, esc(user)))))
	return reply{Text: fmt.Sprintf("%d credentials of %s", len(creds), user), Blocks: capBlocks(blocks, 50)}
}

// userShowReply is a user with its databases and masked credentials.
func userShowReply(cmd string, d commands.UserDetail) reply {
	blocks := []slack.Block{
		slack.NewHeaderBlock(plain("User " + d.Name)),
		slack.NewSectionBlock(mrkdwn(userLine(d.User)), nil, nil),
	}
	var dbs []string
	for _, k := range cg.Kinds {
		dbs = append(dbs, fmt.Sprintf("%s `%s`", k, d.Databases[k]))
	}
	blocks = append(blocks, slack.NewSectionBlock(mrkdwn("*Databases*  "+strings.Join(dbs, " · ")), nil, nil))
	if len(d.Credentials) > 0 {
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn("*Credentials*"), nil, nil))
		blocks = append(blocks, sections(credLines(d.Credentials))...)
	}
	blocks = append(blocks, slack.NewContextBlock("", mrkdwn(fmt.Sprintf("`%s dashboards %s` lists its runs.", cmd, d.Name))))
	return reply{Text: "User " + d.Name + " (" + string(d.Status) + ")", Blocks: capBlocks(blocks, 50)}
}

// dashboardLine is one run table: kind, table, state, link and what went wrong.
func dashboardLine(d cg.Dashboard) string {
	name := fmt.Sprintf("%s `%s`", d.Kind, esc(d.TableName))
	if d.URL != "" {
		name = fmt.Sprintf("%s %s", d.Kind, link(d.URL, d.TableName))
	}
	state := string(d.State)
	if d.State == cg.DashboardPosted && d.SlackSentAt != nil {
		state = "posted " + d.SlackSentAt.UTC().Format("2006-01-02 15:04") + " UTC"
	}
	line := fmt.Sprintf("%s · %s · `%s`", name, state, d.UID)
	switch {
	case d.Reason != "":
		line += "\n      _" + esc(truncate(d.Reason, 300)) + "_"
	case d.LastError != "":
		line += "\n      :warning: _" + esc(truncate(d.LastError, 300)) + "_"
	}
	return line
}

// dashboardsReply lists a page of a user's runs (of kind, "" for every kind), newest
// first; when more follow, it says how many and offers a "Show more" button
// (ActionDashboardsMore) and the CLI list.
func dashboardsReply(cmd, user, kind string, page commands.DashboardPage) reply {
	list := page.Dashboards
	if len(list) == 0 {
		return reply{Text: fmt.Sprintf("No run tables of %s yet. `%s scan %s` looks for new ones now.", esc(user), cmd, esc(user))}
	}
	lines := make([]string, 0, len(list))
	for _, d := range list {
		lines = append(lines, dashboardLine(d))
	}
	blocks := append([]slack.Block{slack.NewHeaderBlock(plain("Runs of " + user))}, sections(lines)...)
	blocks = append(blocks, slack.NewContextBlock("", mrkdwn(fmt.Sprintf("`%s recapture &lt;uid&gt;` records a GIF again; `%s mute &lt;uid&gt;` stops a design's posts.", cmd, cmd))))
	if page.NextCursor != "" {
		value, _ := json.Marshal(dashboardsMore{User: user, Kind: kind, Cursor: page.NextCursor})
		blocks = append(blocks, moreBlocks(page.More, ActionDashboardsMore, string(value),
			"`credential-grafana dashboards "+esc(user)+"` (CLI) lists the newest 50")...)
	}
	return reply{Text: fmt.Sprintf("%d runs of %s", len(list), user), Blocks: capBlocks(blocks, maxMessageBlocks)}
}

// dashboardsMore is the value of a runs list's "Show more" button: which list, and where
// it goes on. It comes back in a payload, so it is only a request: the press is checked
// like a typed command.
type dashboardsMore struct {
	User   string `json:"user"`
	Kind   string `json:"kind,omitempty"`
	Cursor string `json:"cursor"`
}

func tableNames(list []cg.Dashboard, n int) string {
	var names []string
	for i, d := range list {
		if i == n {
			names = append(names, fmt.Sprintf("and %d more", len(list)-n))
			break
		}
		names = append(names, "`"+esc(d.TableName)+"`")
	}
	return strings.Join(names, ", ")
}

func scanSummary(res *scheduler.ScanResult) string {
	s := fmt.Sprintf("%d users, %d databases, %d tables in %s", res.Users, res.Databases, res.Tables, res.Duration.Round(time.Millisecond))
	return s + scanFindings(res)
}

// scanFindings is what a scan found: new and incompatible tables, unreachable databases.
func scanFindings(res *scheduler.ScanResult) string {
	s := ""
	if len(res.New) > 0 {
		s += fmt.Sprintf("; %d new: %s", len(res.New), tableNames(res.New, 10))
	} else {
		s += "; nothing new"
	}
	if len(res.Incompatible) > 0 {
		s += fmt.Sprintf("; %d incompatible: %s", len(res.Incompatible), tableNames(res.Incompatible, 10))
	}
	if len(res.Failures) > 0 {
		var f []string
		for _, uf := range res.Failures {
			f = append(f, fmt.Sprintf("%s %s (%s)", uf.User, uf.Kind, esc(uf.Error)))
		}
		s += fmt.Sprintf("; %d databases could not be reached: %s", len(res.Failures), strings.Join(f, "; "))
	}
	return s
}

func statusReply(st commands.Status) reply {
	var lines []string
	for _, c := range st.Components {
		switch {
		case c.Off != "":
			lines = append(lines, fmt.Sprintf(":heavy_minus_sign: *%s* off: %s", c.Name, esc(c.Off)))
		case c.OK && c.Note != "":
			lines = append(lines, fmt.Sprintf(":warning: *%s*: %s", c.Name, esc(c.Note)))
		case c.OK:
			lines = append(lines, fmt.Sprintf(":white_check_mark: *%s*", c.Name))
		case c.Error == "": // only administrators see why
			lines = append(lines, fmt.Sprintf(":x: *%s* is not working: an administrator's `status` says why", c.Name))
		default:
			lines = append(lines, fmt.Sprintf(":x: *%s*: %s", c.Name, esc(c.Error)))
		}
	}
	switch {
	case st.LastScan == nil:
		lines = append(lines, ":mag: no scan recorded yet")
	case st.Everyone:
		lines = append(lines, fmt.Sprintf(":mag: last scan %s UTC: %s", st.LastScan.StartedAt.UTC().Format("2006-01-02 15:04:05"), scanSummary(st.LastScan)))
	default:
		lines = append(lines, fmt.Sprintf(":mag: last scan %s UTC, for your users: %s", st.LastScan.StartedAt.UTC().Format("2006-01-02 15:04:05"),
			strings.TrimPrefix(scanFindings(st.LastScan), "; ")))
	}
	if st.Everyone {
		lines = append(lines, fmt.Sprintf(":inbox_tray: queue: %d jobs", st.Queue))
	} else if len(st.Users) == 0 {
		lines = append(lines, "No users are linked to you, so there is nothing more to show.")
	}
	if st.Everyone {
		for _, j := range st.Waiting {
			lines = append(lines, fmt.Sprintf(":hourglass: job %d %s (dashboard %d) waits to be taken over since %s UTC: its process %s stopped",
				j.JobID, j.Kind, j.DashboardID, j.Since.UTC().Format("2006-01-02 15:04:05"), esc(j.Process)))
		}
	}
	var states []string
	for s, n := range st.Dashboards {
		states = append(states, fmt.Sprintf("%s %d", s, n))
	}
	sort.Strings(states)
	if len(states) > 0 {
		lines = append(lines, ":bar_chart: dashboards: "+strings.Join(states, " · "))
	}
	if st.Hint != "" {
		lines = append(lines, ":stethoscope: "+esc(st.Hint))
	}
	blocks := append([]slack.Block{slack.NewHeaderBlock(plain("credential-grafana status"))}, sections(lines)...)
	if len(st.Failures) > 0 {
		var f []string
		for _, d := range st.Failures {
			f = append(f, dashboardLine(d))
		}
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn("*Recent failures*"), nil, nil))
		blocks = append(blocks, sections(f)...)
	}
	return reply{Text: "credential-grafana status", Blocks: capBlocks(blocks, 50)}
}
