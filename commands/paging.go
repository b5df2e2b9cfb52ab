package commands

import (
	"context"
	"encoding/base64"
	"strconv"
	"strings"

	"credential-grafana/cg"
	"credential-grafana/db"
)

// Page sizes of the paged lists.
const (
	// DefaultPageLimit is how many items a page holds when the request does not say.
	DefaultPageLimit = 50
	// MaxPageLimit is the most a page may hold.
	MaxPageLimit = 500
)

// PageRequest asks for one page of a list.
type PageRequest struct {
	// Limit is how many items the page holds at most: 1 to MaxPageLimit, 0 for
	// DefaultPageLimit.
	Limit int
	// Cursor is the NextCursor of the previous page, "" for the first page.
	Cursor string
	// Count asks for the totals (Total, More) too, at the cost of one more query.
	Count bool
}

// UserPage is one page of users, by id.
type UserPage struct {
	Users []cg.User `json:"users"`
	// NextCursor asks for the page after this one; "" on the last page.
	NextCursor string `json:"next_cursor"`
	// Total counts every user of the list and More those after this page; only when
	// the request asked to Count.
	Total int `json:"-"`
	More  int `json:"-"`
}

// cursorPrefix marks the cursors this package hands out: a cursor carries the id of the
// last item of its page, the list continues past it in the list's order. The encoding is
// not part of any contract (clients pass a cursor back unchanged).
const cursorPrefix = "after:"

func encodeCursor(id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + strconv.FormatInt(id, 10)))
}

// decodeCursor returns the id a cursor continues after: 0 for "". Returns cg.EINVALID for
// anything this package did not hand out.
func decodeCursor(cursor string) (int64, error) {
	if cursor == "" {
		return 0, nil
	}
	bad := cg.Errorf(cg.EINVALID, "cursor %q is not one this service handed out: pass the next_cursor of the previous page unchanged, or leave cursor out to start at the first page", cursor)
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return 0, bad
	}
	digits, ok := strings.CutPrefix(string(raw), cursorPrefix)
	if !ok {
		return 0, bad
	}
	id, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || id <= 0 {
		return 0, bad
	}
	return id, nil
}

// pageLimit checks a page's limit: 0 means DefaultPageLimit. Returns cg.EINVALID outside
// 1 to MaxPageLimit.
func pageLimit(limit int) (int, error) {
	switch {
	case limit == 0:
		return DefaultPageLimit, nil
	case limit < 0 || limit > MaxPageLimit:
		return 0, cg.Errorf(cg.EINVALID, "limit is %d: give a whole number from 1 to %d (default %d)", limit, MaxPageLimit, DefaultPageLimit)
	}
	return limit, nil
}

// userFilter is the users actor may list. Returns cg.EFORBIDDEN for an actor that is
// neither an administrator nor linked to any user.
func userFilter(actor Actor) (db.UserFilter, error) {
	if !actor.Admin && actor.SlackUserID == "" && actor.UserID == 0 {
		return db.UserFilter{}, cg.Errorf(cg.EFORBIDDEN, "only an administrator may list users")
	}
	return db.UserFilter{All: actor.Admin, SlackUserID: actor.SlackUserID, UserID: actor.UserID}, nil
}

// ListUsersPage returns one page of the users actor may manage, by id (every user for an
// administrator; the one user of an API key; the users linked to a Slack member), with
// the cursor of the next page. Returns cg.EINVALID for a bad limit or cursor, and
// cg.EFORBIDDEN for an actor linked to no user.
func (s *Service) ListUsersPage(ctx context.Context, actor Actor, req PageRequest) (UserPage, error) {
	f, err := userFilter(actor)
	if err != nil {
		return UserPage{}, err
	}
	limit, err := pageLimit(req.Limit)
	if err != nil {
		return UserPage{}, err
	}
	after, err := decodeCursor(req.Cursor)
	if err != nil {
		return UserPage{}, err
	}
	users, err := s.users.Page(ctx, f, after, limit+1) // one more says whether a next page exists
	if err != nil {
		return UserPage{}, err
	}
	page := UserPage{Users: users}
	if len(users) > limit {
		page.Users = users[:limit]
		page.NextCursor = encodeCursor(page.Users[limit-1].ID)
	}
	if page.Users == nil {
		page.Users = []cg.User{}
	}
	if req.Count {
		last := after
		if n := len(page.Users); n > 0 {
			last = page.Users[n-1].ID
		}
		if page.Total, page.More, err = s.users.Count(ctx, f, last); err != nil {
			return UserPage{}, err
		}
	}
	return page, nil
}

// EachUser calls fn with every user actor may manage, by id, a page of MaxPageLimit at a
// time, so that a long list never sits in memory whole. It stops at fn's first error.
func (s *Service) EachUser(ctx context.Context, actor Actor, fn func(cg.User) error) error {
	req := PageRequest{Limit: MaxPageLimit}
	for {
		page, err := s.ListUsersPage(ctx, actor, req)
		if err != nil {
			return err
		}
		for _, u := range page.Users {
			if err := fn(u); err != nil {
				return err
			}
		}
		if page.NextCursor == "" {
			return nil
		}
		req.Cursor = page.NextCursor
	}
}

// DashboardPage is one page of a user's run-table records, newest first.
type DashboardPage struct {
	Dashboards []cg.Dashboard `json:"dashboards"`
	// NextCursor asks for the page after this one; "" on the last page.
	NextCursor string `json:"next_cursor"`
	// Total counts every record of the list and More those after this page; only when
	// the request asked to Count.
	Total int `json:"-"`
	More  int `json:"-"`
}

// ListDashboardsPage returns one page of a user's run-table records (kind "" for all
// kinds), newest first, with the cursor of the next page. Returns cg.EINVALID for a bad
// kind, limit or cursor, and cg.EFORBIDDEN for a user actor may not manage.
func (s *Service) ListDashboardsPage(ctx context.Context, actor Actor, ref, kind string, req PageRequest) (DashboardPage, error) {
	u, err := s.userFor(ctx, actor, ref)
	if err != nil {
		return DashboardPage{}, err
	}
	var k cg.Kind
	if kind != "" {
		if k, err = cg.ParseKind(kind); err != nil {
			return DashboardPage{}, err
		}
	}
	limit, err := pageLimit(req.Limit)
	if err != nil {
		return DashboardPage{}, err
	}
	before, err := decodeCursor(req.Cursor)
	if err != nil {
		return DashboardPage{}, err
	}
	list, err := s.db.Dashboards().Page(ctx, u.ID, k, before, limit+1)
	if err != nil {
		return DashboardPage{}, err
	}
	page := DashboardPage{Dashboards: list}
	if len(list) > limit {
		page.Dashboards = list[:limit]
		page.NextCursor = encodeCursor(page.Dashboards[limit-1].ID)
	}
	if page.Dashboards == nil {
		page.Dashboards = []cg.Dashboard{}
	}
	if req.Count {
		last := before
		if n := len(page.Dashboards); n > 0 {
			last = page.Dashboards[n-1].ID
		}
		if page.Total, page.More, err = s.db.Dashboards().Count(ctx, u.ID, k, last); err != nil {
			return DashboardPage{}, err
		}
	}
	return page, nil
}
