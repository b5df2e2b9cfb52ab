package app

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"credential-grafana/cg"
	"credential-grafana/commands"
)

// ruleUsage is the rule commands' part of the CLI's usage.
const ruleUsage = `Regression rules:
  rule add <user> "<rule>" <mention> [--design <design>]
                                          mention a Slack member (U…) or user group (S…) when a run
                                          breaks the rule: "wns < -0.05 ns", "drc > 0", "area > +5%"
                                          (against the previous run), "tns worse by 10%"; quote it
  rule list <user>                        list a user's rules with their numbers
  rule remove <user> <number>             remove a rule
`

// ruleFlags are the flags the rule commands take, each with a value.
var ruleFlags = []string{"design", "mention"}

// runRuleCommand runs `rule add|list|remove` as the CLI's administrator.
func runRuleCommand(ctx context.Context, svc *commands.Service, args cliArgs, out printer) error {
	actor := commands.CLI
	switch args.pos[1] {
	case "add":
		const use = `usage: credential-grafana rule add <user> "<rule>" <mention> [--design <design>]`
		mention, hasMention := args.flags["mention"]
		if len(args.pos) < 4 || (!hasMention && len(args.pos) != 5) || (hasMention && len(args.pos) != 4) {
			return cg.Errorf(cg.EINVALID, "%s (give the rule in quotes, and the member or group to mention after it)", use)
		}
		if !hasMention {
			mention = args.pos[4]
		}
		r, err := svc.AddRule(ctx, actor, args.pos[2], args.flags["design"], args.pos[3], mention)
		if err != nil {
			return err
		}
		return out.message(r, "rule #%d of %s%s: %s, mentioning %s", r.ID, r.User, cliDesign(r), r.Expr, r.Mention)
	case "list":
		if err := need(args, 3, "rule list <user>"); err != nil {
			return err
		}
		list, err := svc.ListRules(ctx, actor, args.pos[2])
		if err != nil {
			return err
		}
		if out.json {
			if list == nil {
				list = []cg.Rule{}
			}
			return out.encode(list)
		}
		if len(list) == 0 {
			_, err := fmt.Fprintf(out.w, "%s has no rules\n", args.pos[2])
			return err
		}
		tw := tabwriter.NewWriter(out.w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tRULE\tDESIGN\tMENTION\tADDED BY\tADDED")
		for _, r := range list {
			design := r.Design
			if design == "" {
				design = "(every design)"
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Expr, design, r.Mention, r.CreatedBy, r.CreatedAt.UTC().Format("2006-01-02 15:04"))
		}
		return tw.Flush()
	case "remove":
		if err := need(args, 4, "rule remove <user> <number>"); err != nil {
			return err
		}
		r, err := svc.RemoveRule(ctx, actor, args.pos[2], args.pos[3])
		if err != nil {
			return err
		}
		return out.message(r, "rule #%d of %s removed: %s", r.ID, r.User, r.Expr)
	}
	return cg.Errorf(cg.EINVALID, "unknown command %q: rule takes add, list or remove", strings.Join(args.pos[:2], " "))
}

func cliDesign(r cg.Rule) string {
	if r.Design == "" {
		return ""
	}
	return " for design " + r.Design
}

func init() {
	for _, f := range ruleFlags {
		valueFlags[f] = true
	}
}
