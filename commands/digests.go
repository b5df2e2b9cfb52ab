package commands

import (
	"context"
	"strconv"
	"strings"
	"time"

	"credential-grafana/cg"
	"credential-grafana/db"
)

// DigestUsage is how the digest command is written, for refusals and help.
const DigestUsage = "`digest <user> daily HH:MM`, `digest <user> weekly mon HH:MM`, `digest <user> timezone Europe/Berlin`, `digest <user> list`, `digest <user> off` or `digest <user> remove <id>`"

// Digests is a user's digests and the time zone they are in.
type Digests struct {
	User     string            `json:"user"`
	TimeZone string            `json:"time_zone"`
	Digests  []db.DigestRecord `json:"digests"`
	// Changed says what the command did: "added", "unchanged", "removed 2", "time zone set"; "" for a list.
	Changed string `json:"changed,omitempty"`
}

// Digest runs a digest command for the user ref: words are what follows the user
// (`daily 09:00`, `weekly mon 09:00`, `timezone Europe/Berlin`, `list`, `off`,
// `remove 3`). Bad input is refused and changes nothing; changes are audited.
func (s *Service) Digest(ctx context.Context, actor Actor, ref string, words []string, now time.Time) (Digests, error) {
	u, err := s.userFor(ctx, actor, ref)
	if err != nil {
		return Digests{}, err
	}
	if len(words) == 0 {
		return Digests{}, cg.Errorf(cg.EINVALID, "say what to do with the digests of %s: %s", u.Name, DigestUsage)
	}
	repo := s.db.Digests()
	tz, err := repo.TimeZone(ctx, u.ID)
	if err != nil {
		return Digests{}, err
	}
	loc, err := cg.LoadTimeZone(tz)
	if err != nil {
		loc = time.UTC
	}
	changed := ""
	switch verb := strings.ToLower(words[0]); verb {
	case "list":
		if len(words) != 1 {
			return Digests{}, cg.Errorf(cg.EINVALID, "`digest %s list` takes nothing more", u.Name)
		}
	case "timezone", "tz":
		if len(words) != 2 {
			return Digests{}, cg.Errorf(cg.EINVALID, "give one time zone: `digest %s timezone Europe/Berlin`", u.Name)
		}
		nl, err := cg.LoadTimeZone(words[1])
		if err != nil {
			return Digests{}, err
		}
		if err := repo.SetTimeZone(ctx, u.ID, nl.String(), func(sc cg.DigestSchedule) time.Time { return sc.LatestEnd(now, nl) }); err != nil {
			return Digests{}, err
		}
		s.record(ctx, actor, "digest.timezone", u.Name, map[string]any{"time_zone": nl.String(), "was": tz})
		changed = "time zone set"
	case "off":
		if len(words) != 1 {
			return Digests{}, cg.Errorf(cg.EINVALID, "`digest %s off` takes nothing more (to remove one digest: `digest %s remove <id>`)", u.Name, u.Name)
		}
		n, err := repo.RemoveAll(ctx, u.ID)
		if err != nil {
			return Digests{}, err
		}
		s.record(ctx, actor, "digest.off", u.Name, map[string]any{"removed": n})
		changed = "removed " + strconv.FormatInt(n, 10)
	case "remove", "rm":
		if len(words) != 2 {
			return Digests{}, cg.Errorf(cg.EINVALID, "give one digest id: `digest %s remove 3` (`digest %s list` shows them)", u.Name, u.Name)
		}
		id, err := strconv.ParseInt(words[1], 10, 64)
		if err != nil || id <= 0 {
			return Digests{}, cg.Errorf(cg.EINVALID, "digest id `%s` is not a number: `digest %s list` shows the ids", words[1], u.Name)
		}
		ok, err := repo.Remove(ctx, u.ID, id)
		if err != nil {
			return Digests{}, err
		}
		if !ok {
			return Digests{}, cg.Errorf(cg.ENOTFOUND, "%s has no digest %d: `digest %s list` shows its digests", u.Name, id, u.Name)
		}
		s.record(ctx, actor, "digest.remove", u.Name, map[string]any{"digest": id})
		changed = "removed 1"
	case cg.DigestDaily, cg.DigestWeekly:
		sc, err := cg.ParseDigestSchedule(words)
		if err != nil {
			return Digests{}, err
		}
		// The first digest is the next period's: the one that ended before now is not
		// posted at once.
		d, created, err := repo.Add(ctx, u.ID, sc, sc.LatestEnd(now, loc), actor.Name)
		if err != nil {
			return Digests{}, err
		}
		changed = "unchanged"
		if created {
			changed = "added"
			s.record(ctx, actor, "digest.add", u.Name, map[string]any{"digest": d.ID, "schedule": sc.String()})
		}
	default:
		return Digests{}, cg.Errorf(cg.EINVALID, "unknown digest command `%s`: %s", words[0], DigestUsage)
	}
	return s.listDigests(ctx, u, changed)
}

func (s *Service) listDigests(ctx context.Context, u cg.User, changed string) (Digests, error) {
	out := Digests{User: u.Name, Changed: changed}
	var err error
	if out.TimeZone, err = s.db.Digests().TimeZone(ctx, u.ID); err != nil {
		return out, err
	}
	if out.Digests, err = s.db.Digests().List(ctx, u.ID); err != nil {
		return out, err
	}
	return out, nil
}
