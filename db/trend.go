package db

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"credential-grafana/cg"
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

// LatestTrendURL returns the newest trend dashboard link recorded for the user's design
// on platform, "" when none was. The trend dashboard spans the three kinds, so a link
// recorded with a run of any kind serves (kind is taken for the digest's signature and
// not used).
func (r Dashboards) LatestTrendURL(ctx context.Context, userID int64, _ cg.Kind, design, platform string) (string, error) {
	var url string
	err := r.db.Pool.QueryRow(ctx, `SELECT trend_url FROM dashboards
		WHERE user_id = $1 AND design = $2 AND platform = $3 AND trend_url <> '' ORDER BY id DESC LIMIT 1`,
		userID, design, platform).Scan(&url)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read the trend dashboard of %s: %w", design, err)
	}
	return url, nil
}
