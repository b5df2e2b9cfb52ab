package db

import (
	"context"
	"fmt"
)

// SetTrendURL records, in q, the link to the trend dashboard of dashboard id's design
// and platform ("" when it has none).
func (r Dashboards) SetTrendURL(ctx context.Context, q DBTX, id int64, url string) error {
	if _, err := q.Exec(ctx, "UPDATE dashboards SET trend_url = $2 WHERE id = $1", id, url); err != nil {
		return fmt.Errorf("record the trend dashboard of dashboard %d: %w", id, err)
	}
	return nil
}

// TrendURL returns what SetTrendURL recorded for dashboard id.
func (r Dashboards) TrendURL(ctx context.Context, id int64) (string, error) {
	var url string
	if err := r.db.Pool.QueryRow(ctx, "SELECT trend_url FROM dashboards WHERE id = $1", id).Scan(&url); err != nil {
		return "", fmt.Errorf("read the trend dashboard of dashboard %d: %w", id, err)
	}
	return url, nil
}
