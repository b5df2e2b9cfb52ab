package commands

import (
	"context"
	"strconv"
	"strings"
	"unicode"

	"credential-grafana/cg"
)

// maxDesignName bounds the design a rule is scoped to.
const maxDesignName = 200

// AddRule stores a regression rule of the user ref names: expr is its condition (see
// cg.ParseCondition), design the one design it applies to ("" for every design), mention
// the Slack member or user group a run that breaks it mentions (see cg.ParseMention).
// Only who may manage the user may add one; the rule is stored normalised and audited.
// Bad input is refused with cg.EINVALID and changes nothing.
func (s *Service) AddRule(ctx context.Context, actor Actor, ref, design, expr, mention string) (cg.Rule, error) {
	u, err := s.userFor(ctx, actor, ref)
	if err != nil {
		return cg.Rule{}, err
	}
	cond, err := cg.ParseCondition(expr)
	if err != nil {
		return cg.Rule{}, err
	}
	m, err := cg.ParseMention(mention)
	if err != nil {
		return cg.Rule{}, err
	}
	design = strings.TrimSpace(design)
	if len(design) > maxDesignName || strings.ContainsFunc(design, unicode.IsControl) {
		return cg.Rule{}, cg.Errorf(cg.EINVALID, "a design is a name of at most %d characters on one line, as the run tables' design column has it", maxDesignName)
	}
	rule, err := s.db.Rules().Add(ctx, u.ID, cg.Rule{User: u.Name, Design: design, Expr: cond.String(), Mention: m, CreatedBy: actor.Name})
	if err != nil {
		return cg.Rule{}, err
	}
	s.record(ctx, actor, "rule.add", u.Name, map[string]any{"rule_id": rule.ID, "rule": rule.Expr, "design": rule.Design, "mention": rule.Mention})
	return rule, nil
}

// ListRules returns the rules of the user ref names, oldest first.
func (s *Service) ListRules(ctx context.Context, actor Actor, ref string) ([]cg.Rule, error) {
	u, err := s.userFor(ctx, actor, ref)
	if err != nil {
		return nil, err
	}
	return s.db.Rules().List(ctx, u.ID)
}

// RemoveRule deletes rule id ("3" or "#3") of the user ref names, audited, and returns
// it. Returns cg.ENOTFOUND when the user has no such rule.
func (s *Service) RemoveRule(ctx context.Context, actor Actor, ref, id string) (cg.Rule, error) {
	u, err := s.userFor(ctx, actor, ref)
	if err != nil {
		return cg.Rule{}, err
	}
	n, err := strconv.ParseInt(strings.TrimPrefix(strings.TrimSpace(id), "#"), 10, 64)
	if err != nil || n <= 0 {
		return cg.Rule{}, cg.Errorf(cg.EINVALID, "`%s` is not a rule number: `rule list %s` shows the rules with their numbers", truncate(id, 40), u.Name)
	}
	rule, err := s.db.Rules().Remove(ctx, u.ID, n)
	if cg.ErrorCode(err) == cg.ENOTFOUND {
		return rule, cg.Errorf(cg.ENOTFOUND, "%s has no rule #%d: `rule list %s` shows its rules", u.Name, n, u.Name)
	}
	if err != nil {
		return rule, err
	}
	s.record(ctx, actor, "rule.remove", u.Name, map[string]any{"rule_id": rule.ID, "rule": rule.Expr, "design": rule.Design, "mention": rule.Mention})
	return rule, nil
}
