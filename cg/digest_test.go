package cg_test

import (
	"testing"
	"time"

	"credential-grafana/cg"
)

func TestDigestPeriodsAreCalendarDaysAndWeeksInTheZone(t *testing.T) {
	ny, err := cg.LoadTimeZone("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	daily := cg.DigestSchedule{Every: cg.DigestDaily, Minute: 9 * 60}
	weekly := cg.DigestSchedule{Every: cg.DigestWeekly, Weekday: time.Monday, Minute: 9 * 60}
	cases := []struct {
		s          cg.DigestSchedule
		now        time.Time
		start, end time.Time
	}{
		// Before 09:00: the period that ended yesterday.
		{daily, time.Date(2026, 11, 2, 8, 59, 0, 0, ny), time.Date(2026, 10, 31, 9, 0, 0, 0, ny), time.Date(2026, 11, 1, 9, 0, 0, 0, ny)},
		// 1 November 2026: clocks go back in New York, the day is 25 hours.
		{daily, time.Date(2026, 11, 1, 9, 0, 0, 0, ny), time.Date(2026, 10, 31, 9, 0, 0, 0, ny), time.Date(2026, 11, 1, 9, 0, 0, 0, ny)},
		{weekly, time.Date(2026, 11, 4, 12, 0, 0, 0, ny), time.Date(2026, 10, 26, 9, 0, 0, 0, ny), time.Date(2026, 11, 2, 9, 0, 0, 0, ny)},
		{weekly, time.Date(2026, 11, 2, 8, 0, 0, 0, ny), time.Date(2026, 10, 19, 9, 0, 0, 0, ny), time.Date(2026, 10, 26, 9, 0, 0, 0, ny)},
	}
	for _, c := range cases {
		end := c.s.LatestEnd(c.now, ny)
		start := c.s.Start(end, ny)
		if !end.Equal(c.end) || !start.Equal(c.start) {
			t.Errorf("%s at %s: [%s, %s), want [%s, %s)", c.s, c.now, start, end, c.start, c.end)
		}
	}
	if d := daily.Start(time.Date(2026, 11, 1, 9, 0, 0, 0, ny), ny); time.Date(2026, 11, 1, 9, 0, 0, 0, ny).Sub(d) != 25*time.Hour {
		t.Errorf("the day clocks go back is %s", time.Date(2026, 11, 1, 9, 0, 0, 0, ny).Sub(d))
	}
}
