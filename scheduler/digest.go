package scheduler

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/robfig/cron/v3"
	"github.com/rs/zerolog"

	"credential-grafana/cg"
	"credential-grafana/db"
)

// DigestNotifier posts a digest message. bot.Notifier is one.
type DigestNotifier interface {
	// PostDigest posts d to channel as one message. Errors are classified as Notifier's.
	PostDigest(ctx context.Context, token cg.Secret, channel string, d cg.Digest) error
}

// DigestConfig is what the digest scheduler needs.
type DigestConfig struct {
	DB     *db.DB
	Cipher *db.Cipher
	// Notifier posts the digests; nil switches digests off (they are not marked done).
	Notifier   DigestNotifier
	SlackToken cg.Secret // the service's bot token, for users without their own
	// TrendURL returns the trend dashboard of a design, "" when there is none (the digest
	// then links the design's latest run dashboard). Defaults to the link the pipeline
	// recorded with the design's runs (db.Dashboards.LatestTrendURL).
	TrendURL func(ctx context.Context, userID int64, kind cg.Kind, design, platform string) (string, error)
	// Lease is how long a claimed (digest, period) stays another replica's before it is
	// taken as dead mid-post and claimed again. Defaults to 10 minutes.
	Lease time.Duration
	// Spec is the cron spec of the passes. Defaults to every minute.
	Spec string
	// Now is the clock. Defaults to time.Now.
	Now    func() time.Time
	Logger zerolog.Logger
}

// DigestScheduler posts the digests that are due, once across replicas.
//
// Every pass (each minute) it finds, for each digest, the latest period that has ended
// and claims (digest, period end) in the master database with one conditional UPDATE:
// of the replicas passing at once one wins, the others skip it. The winner posts and then
// marks the period done. A period without runs is marked done without a post. Only the
// latest period is ever posted: digests missed while the service was down come as one,
// for the latest period, when it is back.
//
// Delivery is at least once, not exactly once: Slack's chat.postMessage has no
// idempotency key, so a replica that dies after Slack took the message but before it
// marked the period done leaves a claim that goes stale after Lease, and the period is
// posted again. The window is the time between Slack's answer and one UPDATE. A replica
// that dies before Slack took the message loses nothing: the stale claim is taken
// over. A failed post that may succeed later releases the claim for the next pass; one
// that cannot (no channel, a refused token) marks the period done and is logged.
type DigestScheduler struct {
	cfg  DigestConfig
	cron *cron.Cron
	ctx  context.Context
	stop context.CancelFunc
}

// NewDigestScheduler returns a digest scheduler over cfg with its defaults filled in.
func NewDigestScheduler(cfg DigestConfig) *DigestScheduler {
	cfg.Lease = cmp.Or(cfg.Lease, 10*time.Minute)
	cfg.Spec = cmp.Or(cfg.Spec, "@every 1m")
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.TrendURL == nil && cfg.DB != nil {
		cfg.TrendURL = cfg.DB.Dashboards().LatestTrendURL
	}
	return &DigestScheduler{cfg: cfg}
}

// Start runs a pass at once and then on the cron spec, until Stop or ctx ends.
func (s *DigestScheduler) Start(ctx context.Context) error {
	sched, err := cron.ParseStandard(s.cfg.Spec)
	if err != nil {
		return fmt.Errorf("digest schedule %q: %w", s.cfg.Spec, err)
	}
	s.ctx, s.stop = context.WithCancel(ctx)
	s.cron = cron.New(cron.WithChain(cron.SkipIfStillRunning(cron.DiscardLogger)))
	s.cron.Schedule(sched, cron.FuncJob(s.pass))
	go s.pass()
	s.cron.Start()
	return nil
}

// Stop stops the schedule and waits for a running pass to end.
func (s *DigestScheduler) Stop() {
	if s.stop == nil {
		return
	}
	s.stop()
	<-s.cron.Stop().Done()
}

func (s *DigestScheduler) pass() {
	if s.ctx.Err() != nil {
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, 5*time.Minute)
	defer cancel()
	if _, err := s.RunOnce(ctx); err != nil && s.ctx.Err() == nil {
		s.cfg.Logger.Error().Err(err).Msg("digest pass failed")
	}
}

// DigestResult says what one pass did.
type DigestResult struct {
	Posted int // digests posted
	Empty  int // periods without runs: done, nothing posted
	Failed int // posts that failed (released for the next pass, or given up when permanent)
}

// RunOnce does one pass: every due digest whose period this replica claims is built and
// posted (or found empty). Errors of one digest are logged and do not stop the others.
func (s *DigestScheduler) RunOnce(ctx context.Context) (DigestResult, error) {
	var res DigestResult
	if s.cfg.Notifier == nil {
		return res, nil
	}
	all, err := s.cfg.DB.Digests().List(ctx, 0)
	if err != nil {
		return res, err
	}
	now := s.cfg.Now()
	for _, d := range all {
		loc, err := cg.LoadTimeZone(d.TimeZone)
		if err != nil {
			s.cfg.Logger.Error().Err(err).Int64("digest", d.ID).Msg("digest skipped: its user's time zone does not load")
			continue
		}
		end := d.Schedule.LatestEnd(now, loc)
		if !d.LastPeriodEnd.Before(end) {
			continue
		}
		ok, err := s.cfg.DB.Digests().Claim(ctx, d.ID, end, now, now.Add(-s.cfg.Lease))
		if err != nil {
			return res, err
		}
		if !ok {
			continue // another replica has it
		}
		posted, err := s.deliver(ctx, d, loc, end)
		switch {
		case err != nil && !permanent(err):
			res.Failed++
			s.cfg.Logger.Warn().Err(err).Int64("digest", d.ID).Str("user", d.User).Msg("digest not posted: trying again at the next pass")
			if err := s.cfg.DB.Digests().Release(ctx, d.ID, end); err != nil {
				return res, err
			}
			continue
		case err != nil:
			res.Failed++
			s.cfg.Logger.Error().Err(err).Int64("digest", d.ID).Str("user", d.User).Msg("digest not posted, and retrying cannot help: this period is skipped")
		case posted:
			res.Posted++
		default:
			res.Empty++
		}
		if err := s.cfg.DB.Digests().Done(ctx, d.ID, end); err != nil {
			return res, err
		}
	}
	return res, nil
}

// errDigestNowhere is a digest with nowhere to go: permanent.
type errDigestNowhere struct{ msg string }

func (e errDigestNowhere) Error() string   { return e.msg }
func (e errDigestNowhere) Permanent() bool { return true }

// deliver builds the digest of the period ending at end and posts it, and reports
// whether there was anything to post.
func (s *DigestScheduler) deliver(ctx context.Context, d db.DigestRecord, loc *time.Location, end time.Time) (bool, error) {
	u, err := s.cfg.DB.Users().ByID(ctx, d.UserID)
	if err != nil {
		return false, err
	}
	if u.Status != cg.UserActive {
		return false, nil // inactive means silent
	}
	dig, err := BuildDigest(ctx, s.cfg.DB, d, loc, end, s.cfg.TrendURL)
	if err != nil || len(dig.Designs) == 0 {
		return false, err
	}
	list, err := s.cfg.DB.Credentials(s.cfg.Cipher).List(ctx, u.ID)
	if err != nil {
		return false, err
	}
	creds := map[string]string{}
	for _, c := range list {
		if c.Unreadable != "" && c.Key == "slack_bot_token" {
			// Never the service's token instead of the user's own (as Pipeline.post).
			return false, errDigestNowhere{fmt.Sprintf("user %s's own slack_bot_token does not decrypt, so its digest is not posted (never with the service's token instead): %s", u.Name, c.Unreadable)}
		}
		if c.Unreadable == "" {
			creds[c.Key] = c.Value.Reveal()
		}
	}
	// As the run posts (Pipeline.slackTarget): the user's own token, else the service's,
	// and the user's own channel only.
	token := s.cfg.SlackToken
	if t := creds["slack_bot_token"]; t != "" {
		token = cg.Secret(t)
	}
	channel := creds["slack_channel_id"]
	if token.Empty() || channel == "" {
		return false, errDigestNowhere{fmt.Sprintf("user %s has no slack_channel_id or no bot token: its digest goes nowhere else", u.Name)}
	}
	if err := s.cfg.Notifier.PostDigest(ctx, token, channel, dig); err != nil {
		return false, err
	}
	return true, nil
}

// digestHistory is how many runs a digest's sparkline shows.
const digestHistory = 10

// BuildDigest reads the digest of d's period ending at end: every design with runs in
// [start, end), its latest figures against the run before, their last values, the rules
// the period's runs broke, and a link.
func BuildDigest(ctx context.Context, m *db.DB, d db.DigestRecord, loc *time.Location, end time.Time,
	trendURL func(context.Context, int64, cg.Kind, string, string) (string, error)) (cg.Digest, error) {
	start := d.Schedule.Start(end, loc)
	dig := cg.Digest{DigestID: d.ID, User: d.User, Schedule: d.Schedule, TimeZone: loc.String(), Start: start.In(loc), End: end.In(loc)}
	runs, err := m.Digests().PeriodRuns(ctx, d.UserID, start, end)
	if err != nil {
		return dig, err
	}
	type key struct {
		kind             cg.Kind
		design, platform string
	}
	var order []key
	byKey := map[key][]db.PeriodRun{}
	for _, r := range runs {
		k := key{r.Kind, r.Design, r.Platform}
		if _, ok := byKey[k]; !ok {
			order = append(order, k)
		}
		byKey[k] = append(byKey[k], r)
	}
	for _, k := range order {
		in := byKey[k]
		latest := in[len(in)-1]
		recent, err := m.Digests().RecentRuns(ctx, d.UserID, k.kind, k.design, k.platform, end, digestHistory)
		if err != nil {
			return dig, err
		}
		dd := cg.DigestDesign{Kind: k.kind, Design: k.design, Platform: k.platform, Runs: len(in),
			LatestTable: latest.Table, LatestRunID: latest.RunID, Stage: latest.Stage, LatestAt: latest.At.In(loc),
			URL: latest.DashboardURL}
		for _, f := range latest.Figures {
			f.History, f.Previous, f.Best = nil, nil, nil
			for _, r := range recent {
				if v, ok := figureIn(r.Figures, f); ok {
					f.History = append(f.History, v)
				}
			}
			if len(recent) >= 2 {
				if v, ok := figureIn(recent[len(recent)-2].Figures, f); ok {
					f.Previous = &v
				}
			}
			dd.Figures = append(dd.Figures, f)
		}
		for _, r := range slices.Backward(in) {
			dd.Broken = append(dd.Broken, r.Broken...)
		}
		if trendURL != nil {
			u, err := trendURL(ctx, d.UserID, k.kind, k.design, k.platform)
			if err != nil {
				return dig, err
			}
			if u != "" {
				dd.URL, dd.TrendLink = u, true
			}
		}
		dig.Designs = append(dig.Designs, dd)
	}
	return dig, nil
}

// figureIn returns the value of the figure named like f among figs, in f's unit.
func figureIn(figs []cg.Figure, f cg.Figure) (float64, bool) {
	for _, g := range figs {
		if v, ok := g.In(f); ok {
			return v, true
		}
	}
	return 0, false
}
