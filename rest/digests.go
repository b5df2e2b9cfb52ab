package rest

import (
	"net/http"
	"strings"
	"time"

	"credential-grafana/cg"
	"credential-grafana/commands"
	"credential-grafana/db"
)

func (s *Server) listDigests(w http.ResponseWriter, r *http.Request, actor commands.Actor) error {
	d, err := s.cfg.Service.Digest(r.Context(), actor, r.PathValue("id"), []string{"list"}, time.Now())
	if err != nil {
		return err
	}
	writeDigests(w, http.StatusOK, d)
	return nil
}

type digestInput struct {
	// Schedule is "daily HH:MM" or "weekly <day> HH:MM".
	Schedule string `json:"schedule"`
	// TimeZone, when set, is the user's new time zone (set before the schedule is added).
	TimeZone string `json:"time_zone"`
}

// putDigest sets the time zone and/or adds a digest (a schedule already set is left as
// it is). Either both are valid and applied, or nothing changes.
func (s *Server) putDigest(w http.ResponseWriter, r *http.Request, actor commands.Actor) error {
	var in digestInput
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.Schedule == "" && in.TimeZone == "" {
		return cg.Errorf(cg.EINVALID, `send {"schedule": "weekly mon 09:00"} and/or {"time_zone": "Europe/Berlin"}`)
	}
	// Check both before changing either.
	if in.TimeZone != "" {
		if _, err := cg.LoadTimeZone(in.TimeZone); err != nil {
			return invalidInput(err)
		}
	}
	words := strings.Fields(in.Schedule)
	if in.Schedule != "" {
		if _, err := cg.ParseDigestSchedule(words); err != nil {
			return invalidInput(err)
		}
	}
	ctx, id, now := r.Context(), r.PathValue("id"), time.Now()
	d, err := s.cfg.Service.Digest(ctx, actor, id, []string{"list"}, now)
	if err != nil {
		return err
	}
	if in.TimeZone != "" {
		if d, err = s.cfg.Service.Digest(ctx, actor, id, []string{"timezone", in.TimeZone}, now); err != nil {
			return invalidInput(err)
		}
	}
	if in.Schedule != "" {
		if d, err = s.cfg.Service.Digest(ctx, actor, id, words, now); err != nil {
			return invalidInput(err)
		}
	}
	writeDigests(w, http.StatusOK, d)
	return nil
}

func (s *Server) deleteDigests(w http.ResponseWriter, r *http.Request, actor commands.Actor) error {
	words := []string{"off"}
	if d := r.PathValue("digest"); d != "" {
		words = []string{"remove", d}
	}
	if _, err := s.cfg.Service.Digest(r.Context(), actor, r.PathValue("id"), words, time.Now()); err != nil {
		return invalidInput(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func writeDigests(w http.ResponseWriter, status int, d commands.Digests) {
	if d.Digests == nil {
		d.Digests = []db.DigestRecord{}
	}
	writeJSON(w, status, d)
}
