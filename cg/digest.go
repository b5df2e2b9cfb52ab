package cg

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // time zones work without the system's zoneinfo (a scratch image)
)

// Digest periods.
const (
	DigestDaily  = "daily"
	DigestWeekly = "weekly"
)

// DigestSchedule is when a digest is posted: every day, or every week on Weekday, at
// Minute minutes after midnight in the user's time zone.
type DigestSchedule struct {
	Every   string       `json:"every"` // DigestDaily or DigestWeekly
	Weekday time.Weekday `json:"weekday"`
	Minute  int          `json:"minute"` // 0–1439
}

var weekdays = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// String is the schedule as it is written: "daily 09:00", "weekly mon 09:00".
func (s DigestSchedule) String() string {
	at := fmt.Sprintf("%02d:%02d", s.Minute/60, s.Minute%60)
	if s.Every == DigestWeekly {
		return "weekly " + weekdays[s.Weekday] + " " + at
	}
	return "daily " + at
}

// ParseDigestSchedule parses "daily HH:MM" or "weekly <day> HH:MM" (given as words).
func ParseDigestSchedule(words []string) (DigestSchedule, error) {
	usage := "use `daily HH:MM` or `weekly mon HH:MM`"
	if len(words) == 0 {
		return DigestSchedule{}, Errorf(EINVALID, "a schedule is required: %s", usage)
	}
	var s DigestSchedule
	switch strings.ToLower(words[0]) {
	case DigestDaily:
		if len(words) != 2 {
			return s, Errorf(EINVALID, "a daily digest takes one time of day: `daily 09:00`")
		}
		s.Every = DigestDaily
	case DigestWeekly:
		if len(words) != 3 {
			return s, Errorf(EINVALID, "a weekly digest takes a day and a time of day: `weekly mon 09:00`")
		}
		s.Every = DigestWeekly
		d, err := ParseWeekday(words[1])
		if err != nil {
			return s, err
		}
		s.Weekday = d
	default:
		return s, Errorf(EINVALID, "unknown digest period `%s`: %s", words[0], usage)
	}
	m, err := ParseTimeOfDay(words[len(words)-1])
	if err != nil {
		return s, err
	}
	s.Minute = m
	return s, nil
}

// ParseWeekday parses a day's name: its first three letters or the whole name.
func ParseWeekday(w string) (time.Weekday, error) {
	l := strings.ToLower(w)
	for i, d := range weekdays {
		if l == d || (len(l) > 3 && strings.ToLower(time.Weekday(i).String()) == l) {
			return time.Weekday(i), nil
		}
	}
	return 0, Errorf(EINVALID, "unknown day `%s`: use mon, tue, wed, thu, fri, sat or sun", w)
}

// ParseTimeOfDay parses "HH:MM" (00:00–23:59) into minutes after midnight.
func ParseTimeOfDay(w string) (int, error) {
	bad := Errorf(EINVALID, "`%s` is not a time of day: use HH:MM, 00:00–23:59", w)
	h, m, ok := strings.Cut(w, ":")
	if !ok || len(h) < 1 || len(h) > 2 || len(m) != 2 {
		return 0, bad
	}
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if err1 != nil || err2 != nil || hh < 0 || hh > 23 || mm < 0 || mm > 59 || strings.HasPrefix(h, "+") || strings.HasPrefix(m, "+") {
		return 0, bad
	}
	return hh*60 + mm, nil
}

// LoadTimeZone loads an IANA time zone ("Europe/Berlin", "UTC"). Local, which would be
// the service's own zone, is refused.
func LoadTimeZone(name string) (*time.Location, error) {
	if name == "" || name == "Local" || strings.EqualFold(name, "local") {
		return nil, Errorf(EINVALID, "a time zone is required: an IANA name such as Europe/Berlin, America/New_York or UTC")
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, Errorf(EINVALID, "unknown time zone `%s`: use an IANA name such as Europe/Berlin, America/New_York or UTC", name)
	}
	return loc, nil
}

// at is the schedule's time on the calendar day y-m-d in loc. A time the day skips
// (a DST gap) is normalised forward by time.Date.
func (s DigestSchedule) at(y int, m time.Month, d int, loc *time.Location) time.Time {
	return time.Date(y, m, d, s.Minute/60, s.Minute%60, 0, 0, loc)
}

// LatestEnd is the end of the latest period that has ended by now: the latest posting
// time at or before now, in loc.
func (s DigestSchedule) LatestEnd(now time.Time, loc *time.Location) time.Time {
	l := now.In(loc)
	y, m, d := l.Date()
	back := 0
	step := 1
	if s.Every == DigestWeekly {
		back = (int(l.Weekday()) - int(s.Weekday) + 7) % 7
		step = 7
	}
	t := s.at(y, m, d-back, loc)
	if t.After(now) {
		t = s.at(y, m, d-back-step, loc)
	}
	return t
}

// Start is the start of the period that ends at end, in loc: the same time of day on the
// calendar day before (daily) or seven days before (weekly), so a period across a DST
// change is 23 or 25 hours (167 or 169) long.
func (s DigestSchedule) Start(end time.Time, loc *time.Location) time.Time {
	l := end.In(loc)
	y, m, d := l.Date()
	if s.Every == DigestWeekly {
		return s.at(y, m, d-7, loc)
	}
	return s.at(y, m, d-1, loc)
}

// Digest is one digest message: the designs with runs in [Start, End) in the user's
// time zone.
type Digest struct {
	DigestID int64
	User     string
	Schedule DigestSchedule
	TimeZone string
	Start    time.Time // in TimeZone
	End      time.Time // in TimeZone
	Designs  []DigestDesign
}

// DigestDesign is one design's runs in a digest's period.
type DigestDesign struct {
	Kind     Kind
	Design   string
	Platform string
	// Runs is how many runs of the design are in the period.
	Runs int
	// Latest is the period's latest run: its table, run id, stage and when it was found.
	LatestTable string
	LatestRunID string
	Stage       string
	LatestAt    time.Time
	// Figures are the latest run's, with Previous (the run before it, in or before the
	// period) and History (the design's last values, at most 10, this run's last).
	Figures []Figure
	// Broken are the rules the period's runs broke, latest run first.
	Broken []BrokenRule
	// URL is the design's trend dashboard (TrendLink) or else the latest run's dashboard.
	URL       string
	TrendLink bool
}
