package grafana

import (
	"context"
	"errors"
	"fmt"

	"credential-grafana/cg"
)

// ErrPanelQuery is matched by the error CheckDashboard returns when a panel's or a
// variable's SQL fails in Grafana.
var ErrPanelQuery = errors.New("grafana: panel query failed")

// CheckDashboard runs a rendered dashboard's SQL through Grafana before it is
// published, as Grafana's frontend would: the kind's step variable's query first, then
// every panel's queries at the last step value (one POST /api/ds/query). It returns the
// step values in the dashboard's order (the frames a recording steps through). A query
// that fails gives an error matching ErrPanelQuery that names the panel and carries
// Grafana's message; a table with no rows gives no steps and no error.
func (c *Client) CheckDashboard(ctx context.Context, d Dashboard, kind cg.Kind) ([]string, error) {
	step := kind.StepVariable()
	steps, err := c.VariableValues(ctx, d, step)
	if err != nil {
		return nil, err
	}
	vars := map[string]string{}
	if len(steps) > 0 {
		vars[step] = steps[len(steps)-1]
	}
	req := QueryRequest{}
	titles := map[string]string{}
	for i, p := range d.Panels() {
		for _, q := range p.Queries {
			ref := fmt.Sprintf("panel%d_%s", i, q.RefID)
			titles[ref] = p.Title
			req.Queries = append(req.Queries, Query{RefID: ref, DataSource: DataSourceRef{Type: PostgresType, UID: q.DataSourceUID},
				RawSQL: InterpolateSQL(q.RawSQL, vars), Format: q.Format})
		}
	}
	if len(req.Queries) == 0 {
		return steps, nil
	}
	resp, err := c.Query(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("check dashboard %s: %w", d.UID(), err)
	}
	var errs []error
	for _, q := range req.Queries {
		if res := resp.Results[q.RefID]; res.Error != "" {
			errs = append(errs, fmt.Errorf("panel %q: %s", titles[q.RefID], res.Error))
		}
	}
	if len(errs) > 0 {
		return steps, fmt.Errorf("check dashboard %s: %w: %w", d.UID(), errors.Join(errs...), ErrPanelQuery)
	}
	return steps, nil
}

// VariableValues runs the query of the dashboard's variable name through Grafana and
// returns its values in order, as the variable's drop-down would list them. A query that
// fails gives an error matching ErrPanelQuery.
func (c *Client) VariableValues(ctx context.Context, d Dashboard, name string) ([]string, error) {
	for _, v := range d.Variables() {
		if v.Name != name {
			continue
		}
		resp, err := c.Query(ctx, QueryRequest{Queries: []Query{{RefID: "A", DataSource: DataSourceRef{Type: PostgresType, UID: v.DataSourceUID}, RawSQL: v.Query}}})
		if err != nil {
			return nil, fmt.Errorf("check dashboard %s: %w", d.UID(), err)
		}
		res := resp.Results["A"]
		if res.Error != "" {
			return nil, fmt.Errorf("check dashboard %s: variable $%s: %s: %w", d.UID(), name, res.Error, ErrPanelQuery)
		}
		var values []string
		for _, f := range res.Frames {
			if len(f.Data.Values) > 0 {
				for _, val := range f.Data.Values[0] {
					values = append(values, fmt.Sprint(val))
				}
			}
		}
		return values, nil
	}
	return nil, fmt.Errorf("check dashboard %s: no variable $%s", d.UID(), name)
}
