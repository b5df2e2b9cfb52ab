package scheduler

import (
	"context"

	"credential-grafana/cg"
)

// checkRules evaluates the user's regression rules for the post's design on its figures
// (already compared with the previous run) and records what broke on the run's record
// (dashboards.rules_broken); a post built again records the same again.
func (p *Pipeline) checkRules(ctx context.Context, j job, post cg.Post) ([]cg.BrokenRule, error) {
	rules, err := p.cfg.DB.Rules().ForDesign(ctx, j.user.ID, post.Design)
	if err != nil {
		return nil, err
	}
	var broken []cg.BrokenRule
	for _, r := range rules {
		if b, ok := r.Check(post.Figures); ok {
			broken = append(broken, b)
		}
	}
	if err := p.cfg.DB.Dashboards().SetRulesBroken(ctx, j.d.ID, broken); err != nil {
		return nil, err
	}
	if len(broken) > 0 {
		p.log.Info().Str("dashboard_uid", j.d.UID).Int("rules_broken", len(broken)).Msg("run broke regression rules")
	}
	return broken, nil
}
