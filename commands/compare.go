package commands

import (
	"context"
	"math"
	"slices"
	"strings"
	"sync"

	"credential-grafana/cg"
	"credential-grafana/db"
	"credential-grafana/grafana"
)

// CompareRun is one side of a comparison: a recorded run and its key figures as the
// pipeline recorded them.
type CompareRun struct {
	RecordID     int64       `json:"record_id"`
	User         string      `json:"user"`
	Kind         cg.Kind     `json:"kind"`
	Table        string      `json:"table"`
	Design       string      `json:"design,omitempty"`
	Platform     string      `json:"platform,omitempty"`
	RunID        string      `json:"run_id,omitempty"`
	Stage        string      `json:"stage,omitempty"`
	DashboardURL string      `json:"dashboard_url,omitempty"`
	Figures      []cg.Figure `json:"figures"`
}

// Ref is the run's fully qualified reference, "alice/TIMING/run_12".
func (r CompareRun) Ref() string { return r.User + "/" + string(r.Kind) + "/" + r.Table }

// Verdicts of a FigureChange.
const (
	VerdictBetter = "better"
	VerdictWorse  = "worse"
	VerdictSame   = "same"
)

// FigureChange is one key figure of both runs: B against A.
type FigureChange struct {
	Name string `json:"name"`
	// Unit is A's unit (B's when A lacks the figure); B's value is converted to it (ps/ns).
	Unit           string `json:"unit"`
	Decimals       int    `json:"decimals"`
	HigherIsBetter bool   `json:"higher_is_better"`
	// A and B are the two runs' values in Unit; nil when a run lacks the figure.
	A *float64 `json:"a"`
	B *float64 `json:"b"`
	// Difference is B − A, and Percent that difference in percent of |A|: nil when a
	// run lacks the figure (Percent also when A is 0).
	Difference *float64 `json:"difference,omitempty"`
	Percent    *float64 `json:"percent,omitempty"`
	// Verdict says whether B is better, worse or the same as A (same: no difference at
	// Decimals); "" when a run lacks the figure.
	Verdict string `json:"verdict,omitempty"`
}

// Comparison is two runs of one kind side by side.
type Comparison struct {
	A       CompareRun     `json:"a"`
	B       CompareRun     `json:"b"`
	Figures []FigureChange `json:"figures"`
	// DashboardURL is the comparison dashboard showing both runs; empty when there is
	// none, and DashboardNote then says why.
	DashboardURL  string `json:"dashboard_url,omitempty"`
	DashboardNote string `json:"dashboard_note,omitempty"`
}

// compareTemplate is the embedded comparison template, loaded once.
var compareTemplate = sync.OnceValues(grafana.LoadCompareTemplate)

// CompareRuns compares two recorded run tables among the users actor may manage. A ref
// is a table name, or qualified as "user/table", "KIND/table" or "user/KIND/table" when
// the name alone is ambiguous (cg.EINVALID says so and names the qualified forms). A
// table of a user the actor may not manage is not found, exactly as one that does not
// exist. Runs of two kinds, or the same run twice, are refused (cg.EINVALID). The
// differences are b against a.
func (s *Service) CompareRuns(ctx context.Context, actor Actor, a, b string) (Comparison, error) {
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	if a == "" || b == "" {
		return Comparison{}, cg.Errorf(cg.EINVALID, "two run tables are needed: `compare <table> <table>` (`dashboards <user>` lists them)")
	}
	users, err := s.managedUsers(ctx, actor)
	if err != nil {
		return Comparison{}, err
	}
	ra, ua, err := s.resolveRun(ctx, users, a)
	if err != nil {
		return Comparison{}, err
	}
	rb, ub, err := s.resolveRun(ctx, users, b)
	if err != nil {
		return Comparison{}, err
	}
	return s.compare(ctx, ra, ua, rb, ub)
}

// CompareRecords compares two run-table records by id (a post's "Compare with…"), each
// checked as CompareRuns checks a table: one of a user actor may not manage is not found.
func (s *Service) CompareRecords(ctx context.Context, actor Actor, aID, bID int64) (Comparison, error) {
	ra, ua, err := s.recordedRunFor(ctx, actor, aID)
	if err != nil {
		return Comparison{}, err
	}
	rb, ub, err := s.recordedRunFor(ctx, actor, bID)
	if err != nil {
		return Comparison{}, err
	}
	if err := usable(ra); err != nil {
		return Comparison{}, err
	}
	if err := usable(rb); err != nil {
		return Comparison{}, err
	}
	return s.compare(ctx, ra, ua, rb, ub)
}

// CompareChoices returns the run of the dashboard ref names (UID or id) and up to limit
// other recorded runs of its design, newest first, for a "Compare with…" menu.
func (s *Service) CompareChoices(ctx context.Context, actor Actor, ref string, limit int) (CompareRun, []CompareRun, error) {
	d, u, err := s.dashboardFor(ctx, actor, ref)
	if err != nil {
		return CompareRun{}, nil, err
	}
	run, err := s.db.Dashboards().RecordedRunByID(ctx, d.ID)
	if err != nil {
		return CompareRun{}, nil, err
	}
	if err := usable(run); err != nil {
		return CompareRun{}, nil, err
	}
	if run.Design == "" {
		return CompareRun{}, nil, cg.Errorf(cg.ECONFLICT, "table `%s` does not say its design, so it has no other runs to pick from: use `compare <table> <table>`", run.TableName)
	}
	if limit <= 0 || limit > 100 {
		limit = 25
	}
	others, err := s.db.Dashboards().OtherRuns(ctx, run, limit)
	if err != nil {
		return CompareRun{}, nil, err
	}
	out := make([]CompareRun, 0, len(others))
	for _, o := range others {
		out = append(out, compareRun(o, u))
	}
	return compareRun(run, u), out, nil
}

func (s *Service) recordedRunFor(ctx context.Context, actor Actor, id int64) (db.RecordedRun, cg.User, error) {
	notFound := cg.Errorf(cg.ENOTFOUND, "no run %d among your users: `dashboards <user>` lists their run tables", id)
	run, err := s.db.Dashboards().RecordedRunByID(ctx, id)
	if cg.ErrorCode(err) == cg.ENOTFOUND {
		return run, cg.User{}, notFound
	}
	if err != nil {
		return run, cg.User{}, err
	}
	u, err := s.users.ByID(ctx, run.UserID)
	if err != nil {
		return run, u, err
	}
	if !actor.mayManage(u) {
		return db.RecordedRun{}, cg.User{}, notFound
	}
	return run, u, nil
}

// runRef is one reading of a reference: a table, maybe with its user and kind.
type runRef struct {
	user  string
	kind  cg.Kind
	table string
}

// readings are the ways ref can be read: the whole of it as a table name, and, when it
// has slashes, "user/table", "KIND/table" and "user/KIND/table".
func readings(ref string) []runRef {
	out := []runRef{{table: ref}}
	parts := strings.SplitN(ref, "/", 3)
	switch len(parts) {
	case 2:
		out = append(out, runRef{user: parts[0], table: parts[1]})
		if k, err := cg.ParseKind(parts[0]); err == nil {
			out = append(out, runRef{kind: k, table: parts[1]})
		}
	case 3:
		if k, err := cg.ParseKind(parts[1]); err == nil {
			out = append(out, runRef{user: parts[0], kind: k, table: parts[2]})
		}
		out = append(out, runRef{user: parts[0], table: parts[1] + "/" + parts[2]})
	}
	return out
}

// resolveRun finds the one recorded run ref names among users.
func (s *Service) resolveRun(ctx context.Context, users []cg.User, ref string) (db.RecordedRun, cg.User, error) {
	byID := map[int64]cg.User{}
	for _, u := range users {
		byID[u.ID] = u
	}
	var found []db.RecordedRun
	for _, r := range readings(ref) {
		if r.table == "" {
			continue
		}
		var ids []int64
		for _, u := range users {
			if r.user == "" || u.Name == r.user {
				ids = append(ids, u.ID)
			}
		}
		if len(ids) == 0 {
			continue
		}
		runs, err := s.db.Dashboards().RunsNamed(ctx, ids, r.table)
		if err != nil {
			return db.RecordedRun{}, cg.User{}, err
		}
		for _, run := range runs {
			if (r.kind == "" || run.Kind == r.kind) && !slices.ContainsFunc(found, func(f db.RecordedRun) bool { return f.ID == run.ID }) {
				found = append(found, run)
			}
		}
	}
	switch len(found) {
	case 0:
		return db.RecordedRun{}, cg.User{}, cg.Errorf(cg.ENOTFOUND, "no run table `%s` among your users: `dashboards <user>` lists their run tables", ref)
	case 1:
		run := found[0]
		if err := usable(run); err != nil {
			return run, cg.User{}, err
		}
		return run, byID[run.UserID], nil
	}
	var forms []string
	for _, f := range found {
		forms = append(forms, "`"+byID[f.UserID].Name+"/"+string(f.Kind)+"/"+f.TableName+"`")
	}
	return db.RecordedRun{}, cg.User{}, cg.Errorf(cg.EINVALID, "run table `%s` is ambiguous: there are %d of that name; name one as %s",
		ref, len(found), strings.Join(forms, " or "))
}

// usable says why a recorded run cannot be compared yet, or nil.
func usable(run db.RecordedRun) error {
	switch {
	case run.State == cg.DashboardIncompatible:
		return cg.Errorf(cg.ECONFLICT, "run table `%s` does not fit the %s template (%s): it has no figures to compare", run.TableName, run.Kind, run.Reason)
	case !run.HasFigures:
		return cg.Errorf(cg.ECONFLICT, "run table `%s` has no recorded figures yet (its dashboard is %s): compare it once its dashboard is made", run.TableName, run.State)
	}
	return nil
}

func compareRun(r db.RecordedRun, u cg.User) CompareRun {
	return CompareRun{RecordID: r.ID, User: u.Name, Kind: r.Kind, Table: r.TableName, Design: r.Design, Platform: r.Platform,
		RunID: r.RunID, Stage: r.Stage, DashboardURL: r.URL, Figures: r.Figures}
}

func (s *Service) compare(ctx context.Context, ra db.RecordedRun, ua cg.User, rb db.RecordedRun, ub cg.User) (Comparison, error) {
	a, b := compareRun(ra, ua), compareRun(rb, ub)
	if ra.ID == rb.ID {
		return Comparison{}, cg.Errorf(cg.EINVALID, "both names are run table `%s`: compare two different runs", a.Ref())
	}
	if a.Kind != b.Kind {
		return Comparison{}, cg.Errorf(cg.EINVALID, "`%s` is a %s run and `%s` a %s run: only runs of one kind can be compared", a.Ref(), a.Kind, b.Ref(), b.Kind)
	}
	c := Comparison{A: a, B: b, Figures: CompareFigures(a.Figures, b.Figures)}
	if ua.ID != ub.ID {
		c.DashboardNote = "no comparison dashboard: the runs are in two users' databases"
		return c, nil
	}
	link, err := s.compareDashboard(ctx, ua, a.Kind, a.Table, b.Table)
	if err != nil {
		if cg.ErrorCode(err) == cg.EINTERNAL {
			s.log.Error().Err(err).Str("user", ua.Name).Str("kind", string(a.Kind)).Msg("comparison dashboard failed")
			c.DashboardNote = "no comparison dashboard: Grafana could not be reached"
		} else {
			c.DashboardNote = "no comparison dashboard: " + cg.ErrorMessage(err)
		}
		return c, nil
	}
	c.DashboardURL = link
	return c, nil
}

// compareDashboard makes sure u's comparison dashboard of kind exists in u's folder and
// returns its link for tables a and b.
func (s *Service) compareDashboard(ctx context.Context, u cg.User, kind cg.Kind, a, b string) (string, error) {
	if s.grafana == nil {
		return "", cg.Errorf(cg.EUNAVAILABLE, "Grafana is not configured")
	}
	t, err := compareTemplate()
	if err != nil {
		return "", err
	}
	creds, err := s.creds.Map(ctx, u.ID)
	if err != nil {
		return "", err
	}
	client, _, err := s.grafana.For(creds)
	if err != nil {
		return "", err
	}
	saved, err := client.EnsureCompareDashboard(ctx, t, u.Name, kind)
	if err != nil {
		return "", grafanaError(client.BaseURL(), err)
	}
	orgID, err := client.CurrentOrgID(ctx)
	if err != nil {
		return "", grafanaError(client.BaseURL(), err)
	}
	return grafana.CompareURL(client.BaseURL(), saved.URL, orgID, a, b), nil
}

// CompareFigures sets the figures of a and b side by side, in a's order and then the
// figures only b has: B against A, B's value converted to A's unit when they are ps and
// ns. A figure whose units cannot be converted is shown for each run without a
// difference.
func CompareFigures(a, b []cg.Figure) []FigureChange {
	var out []FigureChange
	used := map[int]bool{}
	for _, fa := range a {
		va := fa.Value
		ch := FigureChange{Name: fa.Name, Unit: fa.Unit, Decimals: fa.Decimals, HigherIsBetter: fa.HigherIsBetter, A: &va}
		if i := slices.IndexFunc(b, func(f cg.Figure) bool { return f.Name == fa.Name }); i >= 0 {
			used[i] = true
			if vb, ok := cg.ConvertUnit(b[i].Value, b[i].Unit, fa.Unit); ok {
				ch.B = &vb
				ch.Decimals = max(fa.Decimals, b[i].Decimals)
				diff := vb - va
				ch.Difference = &diff
				if va != 0 {
					p := 100 * diff / math.Abs(va)
					ch.Percent = &p
				}
				ch.Verdict = verdict(diff, ch.Decimals, fa.HigherIsBetter)
			}
		}
		out = append(out, ch)
	}
	for i, fb := range b {
		if used[i] {
			continue
		}
		vb := fb.Value
		out = append(out, FigureChange{Name: fb.Name, Unit: fb.Unit, Decimals: fb.Decimals, HigherIsBetter: fb.HigherIsBetter, B: &vb})
	}
	return out
}

func verdict(diff float64, decimals int, higherIsBetter bool) string {
	scale := math.Pow(10, float64(max(decimals, 0)))
	if math.Round(math.Abs(diff)*scale) == 0 {
		return VerdictSame
	}
	if (diff > 0) == higherIsBetter {
		return VerdictBetter
	}
	return VerdictWorse
}
