package scheduler

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"credential-grafana/cg"
	"credential-grafana/db"
)

// trendRuns is how many runs a post's sparkline shows, this one included.
const trendRuns = 10

// historyConn connects to the user's database of kind to write its run history
// (db.HistorySchema). On the master server (db_host and db_port are the master
// database's) it connects as the service's own role (db.DB.ConnectTo), so the history
// is the service's: the tenant's roles only read it. A user whose administrator set
// db_host to another server has no master role there: the service then connects with
// the user's owner credentials (db_user, db_pass), and the history on that server is
// owned, and so writable, by the tenant's owner role. Either way the connection counts
// against the one-off connections.
func (p *Pipeline) historyConn(ctx context.Context, creds map[string]string, kind cg.Kind) (*pgx.Conn, error) {
	host, database := creds["db_host"], creds[kind.DatabaseCredentialKey()]
	if database == "" {
		return nil, cg.Errorf(cg.EINVALID, "credential %s is needed to reach the %s database", kind.DatabaseCredentialKey(), kind)
	}
	port := 5432
	if n, err := strconv.Atoi(creds["db_port"]); err == nil && n > 0 && n < 65536 {
		port = n
	}
	if host == p.cfg.DB.Host() && uint16(port) == p.cfg.DB.Port() {
		return p.cfg.DB.ConnectTo(ctx, database)
	}
	owner := map[string]string{"db_host": host, "db_port": creds["db_port"], kind.DatabaseCredentialKey(): database,
		"db_user": creds["db_user"], "db_pass": creds["db_pass"]}
	if owner["db_user"] == "" {
		return nil, cg.Errorf(cg.EINVALID, "credential db_user is needed to write the run history of the %s database on %s", kind, host)
	}
	cfg, err := UserDatabase(owner, kind, p.cfg.AllowedDBHosts)
	if err != nil {
		return nil, err
	}
	return p.cfg.DB.ConnectSide(ctx, cfg, "pipeline")
}

// summary is the run history row of a record.
func summary(d cg.Dashboard, f db.RunFacts, uid, url string) db.RunSummary {
	return db.RunSummary{Table: d.TableName, Kind: d.Kind, Design: f.Design, Platform: f.Platform, RunID: f.RunID,
		Stage: f.Stage, RecordedAt: d.CreatedAt, DashboardUID: uid, DashboardURL: url, Figures: f.Figures}
}

// writeHistory writes runs into the run history of the user's database of kind, making
// the history first if the database has none (one made before the service kept one).
func (p *Pipeline) writeHistory(ctx context.Context, creds map[string]string, user string, kind cg.Kind, runs ...db.RunSummary) error {
	conn, err := p.historyConn(ctx, creds, kind)
	if err != nil {
		return fmt.Errorf("reach %s to write its run history: %w", kind.DatabaseName(user), err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	owner := ""
	if conn.Config().User != creds["db_user"] {
		owner = creds["db_user"] // the owner reads the service's history; as the owner, it owns it
	}
	if err := db.EnsureHistory(ctx, conn, owner, creds["db_viewer_user"]); err != nil {
		return err
	}
	for _, r := range runs {
		if err := db.RecordRun(ctx, conn, r); err != nil {
			return err
		}
	}
	return nil
}

// BackfillResult says what one backfill of the run history did.
type BackfillResult struct {
	// Skipped is true when another replica was backfilling: nothing was done.
	Skipped bool
	// Databases whose history was backfilled, and the rows written into them.
	Databases, Runs int
	// Failed are the databases that could not be backfilled, with why: they are tried
	// again at the next backfill.
	Failed map[string]string
}

// backfillLock is the advisory lock one replica at a time backfills under.
const backfillLock = "credential-grafana history backfill"

// BackfillHistory writes the run history rows of the runs recorded before the service
// wrote one with each run: every user database of a user and kind not yet marked
// backfilled in the master database (history_backfilled) gets the rows of its recorded
// runs, and is then marked, so it is done once. The rows are upserts, so a backfill cut
// short and done again writes nothing twice. One replica at a time does it; the
// pipeline's Start runs it once. A database that cannot be reached is left unmarked
// for the next one.
func (p *Pipeline) BackfillHistory(ctx context.Context) (BackfillResult, error) {
	res := BackfillResult{Failed: map[string]string{}}
	conn, err := p.cfg.DB.Pool.Acquire(ctx)
	if err != nil {
		return res, err
	}
	defer conn.Release()
	var locked bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock(hashtext($1))", backfillLock).Scan(&locked); err != nil {
		return res, fmt.Errorf("take the history backfill lock: %w", err)
	}
	if !locked {
		res.Skipped = true
		return res, nil
	}
	defer func() {
		if _, err := conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(hashtext($1))", backfillLock); err != nil {
			conn.Conn().Close(context.Background()) // the lock goes with the session
		}
	}()
	repo := p.cfg.DB.Dashboards()
	todo, err := repo.HistoryToBackfill(ctx)
	if err != nil {
		return res, err
	}
	for _, kinds := range todo {
		for kind, runs := range kinds {
			j, err := p.load(ctx, runs[0].Dashboard.ID)
			if err != nil {
				return res, err
			}
			name := kind.DatabaseName(j.user.Name)
			rows := make([]db.RunSummary, len(runs))
			for i, r := range runs {
				rows[i] = summary(r.Dashboard, r.RunFacts, r.Dashboard.UID, r.Dashboard.URL)
			}
			if err := p.writeHistory(ctx, j.creds, j.user.Name, kind, rows...); err != nil {
				if ctx.Err() != nil {
					return res, err
				}
				res.Failed[name] = err.Error()
				p.log.Warn().Err(err).Str("database", name).Msg("could not backfill the run history; trying again at the next start")
				continue
			}
			if err := repo.MarkBackfilled(ctx, j.user.ID, kind, len(rows)); err != nil {
				return res, err
			}
			res.Databases++
			res.Runs += len(rows)
		}
	}
	if err := repo.MarkBackfilledWithoutRuns(ctx); err != nil {
		return res, err
	}
	if res.Databases > 0 || len(res.Failed) > 0 {
		p.log.Info().Int("databases", res.Databases).Int("runs", res.Runs).Int("failed", len(res.Failed)).Msg("run history backfilled")
	}
	return res, nil
}

// trend sets, on each figure of post, its history (the last trendRuns runs of the
// design up to this one, in the figure's unit) and its best value so far, and
// post.FirstRun when no earlier run of the design was recorded.
func (p *Pipeline) trend(ctx context.Context, d cg.Dashboard, post *cg.Post) error {
	if post.Design == "" {
		return nil
	}
	repo := p.cfg.DB.Dashboards()
	runs, err := repo.History(ctx, d.UserID, d.Kind, post.Design, d.ID, trendRuns)
	if err != nil {
		return err
	}
	post.FirstRun = len(runs) == 0 || (len(runs) == 1 && runs[0].DashboardID == d.ID)
	ranges, err := repo.Ranges(ctx, d.UserID, d.Kind, post.Design, d.ID)
	if err != nil {
		return err
	}
	for i := range post.Figures {
		f := &post.Figures[i]
		f.History = nil
		for _, r := range runs {
			if r.DashboardID == d.ID {
				continue // this run's value is the one posted, last
			}
			v := math.NaN() // a run without the figure leaves a gap
			for _, o := range r.Figures {
				if c, ok := o.In(*f); ok {
					v = c
					break
				}
			}
			f.History = append(f.History, v)
		}
		f.History = append(f.History, f.Value)
		if len(f.History) > trendRuns {
			f.History = f.History[len(f.History)-trendRuns:]
		}
		best := f.Value
		for _, r := range ranges {
			lo, ok1 := cg.Figure{Name: r.Name, Unit: r.Unit, Value: r.Min}.In(*f)
			hi, ok2 := cg.Figure{Name: r.Name, Unit: r.Unit, Value: r.Max}.In(*f)
			if !ok1 || !ok2 {
				continue
			}
			if f.HigherIsBetter {
				best = max(best, hi)
			} else {
				best = min(best, lo)
			}
		}
		f.Best = &best
	}
	return nil
}

// backfillAtStart runs the backfill once, in the background, after Start; Stop waits
// for it.
func (p *Pipeline) backfillAtStart(ctx context.Context) {
	bctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
	defer cancel()
	if _, err := p.BackfillHistory(bctx); err != nil && ctx.Err() == nil {
		p.log.Warn().Err(err).Msg("could not backfill the run history; trying again at the next start")
	}
}
