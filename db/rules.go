package db

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"credential-grafana/cg"
)

// Rules is the repository of regression rules (table rules), one user's each.
type Rules struct{ db *DB }

// Rules returns the rules repository.
func (d *DB) Rules() Rules { return Rules{d} }

const ruleColumns = `r.id, u.username, r.design, r.expr, r.mention, r.created_by, r.created_at`

func scanRule(row pgx.CollectableRow) (cg.Rule, error) {
	var r cg.Rule
	err := row.Scan(&r.ID, &r.User, &r.Design, &r.Expr, &r.Mention, &r.CreatedBy, &r.CreatedAt)
	return r, err
}

// Add stores a rule of userID; r.Expr must be normalised and r.Mention checked. Returns
// cg.ECONFLICT when the user has the same rule (design, expression and mention) already.
func (r Rules) Add(ctx context.Context, userID int64, rule cg.Rule) (cg.Rule, error) {
	rows, err := r.db.Pool.Query(ctx, `WITH r AS (
			INSERT INTO rules (user_id, design, expr, mention, created_by) VALUES ($1, $2, $3, $4, $5) RETURNING *)
		SELECT `+ruleColumns+` FROM r JOIN users u ON u.id = r.user_id`, userID, rule.Design, rule.Expr, rule.Mention, rule.CreatedBy)
	added := rule
	if err == nil {
		added, err = pgx.CollectExactlyOneRow(rows, scanRule)
	}
	if isUniqueViolation(err) {
		return rule, cg.Errorf(cg.ECONFLICT, "%s already has the rule `%s`%s mentioning %s", rule.User, rule.Expr, designWords(rule.Design), rule.Mention)
	}
	if err != nil {
		return rule, fmt.Errorf("add rule of user %d: %w", userID, err)
	}
	return added, nil
}

func designWords(design string) string {
	if design == "" {
		return ""
	}
	return " for design " + design
}

// List returns userID's rules, oldest first.
func (r Rules) List(ctx context.Context, userID int64) ([]cg.Rule, error) {
	rows, err := r.db.Pool.Query(ctx, `SELECT `+ruleColumns+` FROM rules r JOIN users u ON u.id = r.user_id
		WHERE r.user_id = $1 ORDER BY r.id`, userID)
	if err != nil {
		return nil, fmt.Errorf("list rules of user %d: %w", userID, err)
	}
	list, err := pgx.CollectRows(rows, scanRule)
	if err != nil {
		return nil, fmt.Errorf("list rules of user %d: %w", userID, err)
	}
	return list, nil
}

// ForDesign returns the rules of userID that apply to a run of design: those for every
// design, and those for this one (none of these when design is ""), oldest first.
func (r Rules) ForDesign(ctx context.Context, userID int64, design string) ([]cg.Rule, error) {
	rows, err := r.db.Pool.Query(ctx, `SELECT `+ruleColumns+` FROM rules r JOIN users u ON u.id = r.user_id
		WHERE r.user_id = $1 AND (r.design = '' OR ($2 <> '' AND r.design = $2)) ORDER BY r.id`, userID, design)
	if err != nil {
		return nil, fmt.Errorf("list rules of user %d for design %q: %w", userID, design, err)
	}
	list, err := pgx.CollectRows(rows, scanRule)
	if err != nil {
		return nil, fmt.Errorf("list rules of user %d for design %q: %w", userID, design, err)
	}
	return list, nil
}

// Remove deletes rule id of userID and returns it. Returns cg.ENOTFOUND when userID has
// no such rule.
func (r Rules) Remove(ctx context.Context, userID, id int64) (cg.Rule, error) {
	rows, err := r.db.Pool.Query(ctx, `WITH r AS (DELETE FROM rules WHERE user_id = $1 AND id = $2 RETURNING *)
		SELECT `+ruleColumns+` FROM r JOIN users u ON u.id = r.user_id`, userID, id)
	if err != nil {
		return cg.Rule{}, fmt.Errorf("remove rule %d of user %d: %w", id, userID, err)
	}
	rule, err := pgx.CollectExactlyOneRow(rows, scanRule)
	if errors.Is(err, pgx.ErrNoRows) {
		return rule, cg.Errorf(cg.ENOTFOUND, "no rule #%d", id)
	}
	if err != nil {
		return rule, fmt.Errorf("remove rule %d of user %d: %w", id, userID, err)
	}
	return rule, nil
}

// SetRulesBroken records the rules a run broke on its record (dashboards.rules_broken).
func (r Dashboards) SetRulesBroken(ctx context.Context, id int64, broken []cg.BrokenRule) error {
	if broken == nil {
		broken = []cg.BrokenRule{}
	}
	b, err := json.Marshal(broken)
	if err != nil {
		return fmt.Errorf("record broken rules of dashboard %d: %w", id, err)
	}
	if _, err := r.db.Pool.Exec(ctx, "UPDATE dashboards SET rules_broken = $2 WHERE id = $1", id, b); err != nil {
		return fmt.Errorf("record broken rules of dashboard %d: %w", id, err)
	}
	return nil
}

// RulesBroken returns the rules a run broke, as recorded when it was posted.
func (r Dashboards) RulesBroken(ctx context.Context, id int64) ([]cg.BrokenRule, error) {
	var broken []cg.BrokenRule
	if err := r.db.Pool.QueryRow(ctx, "SELECT rules_broken FROM dashboards WHERE id = $1", id).Scan(&broken); err != nil {
		return nil, fmt.Errorf("read broken rules of dashboard %d: %w", id, err)
	}
	return broken, nil
}
