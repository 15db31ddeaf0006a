package retailpos

import (
	"fmt"
	"strings"
	"time"
)

// The promotions transform compares whole dates in the store's time zone, while X-Series gives instants
// (start_time/end_time in UTC without a zone suffix, valid_from/valid_to as timestamps). These helpers turn
// one into the other.

// Open-ended windows: a window without a start begins on openStart, one without an end lasts to openEnd.
var (
	openStart = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	openEnd   = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
)

// instantLayouts are the X-Series time forms read, tried in order: RFC 3339 (with a Z or an offset, with or
// without fractional seconds), and UTC without a zone suffix, with a T or a space.
var instantLayouts = []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02 15:04:05"}

// dateLayout is a bare calendar date, read as a date in the store's time zone.
const dateLayout = "2006-01-02"

// parseInstant reads an X-Series time; one without a zone is UTC.
func parseInstant(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range instantLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time (want e.g. 2026-11-27T08:00:00, UTC)", s)
}

// localDate returns the date of t in loc, as midnight UTC (only the date matters).
func localDate(t time.Time, loc *time.Location) time.Time {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// startDate returns the first date of a window starting at raw: the local date of the instant (a
// promotion starting during a day counts for that whole day), a bare date as is, openStart for "".
func startDate(raw string, loc *time.Location) (time.Time, error) {
	if strings.TrimSpace(raw) == "" {
		return openStart, nil
	}
	if d, err := time.Parse(dateLayout, strings.TrimSpace(raw)); err == nil {
		return d, nil
	}
	t, err := parseInstant(raw)
	if err != nil {
		return time.Time{}, err
	}
	return localDate(t, loc), nil
}

// endDate returns the last date of a window ending at raw: the local date of the instant, except that an
// end at exactly local midnight ends the day before (the window is over when that day begins); a bare date
// is the last date itself; "" is openEnd.
func endDate(raw string, loc *time.Location) (time.Time, error) {
	if strings.TrimSpace(raw) == "" {
		return openEnd, nil
	}
	if d, err := time.Parse(dateLayout, strings.TrimSpace(raw)); err == nil {
		return d, nil
	}
	t, err := parseInstant(raw)
	if err != nil {
		return time.Time{}, err
	}
	d := localDate(t, loc)
	if l := t.In(loc); l.Hour() == 0 && l.Minute() == 0 && l.Second() == 0 && l.Nanosecond() == 0 {
		d = d.AddDate(0, 0, -1)
	}
	return d, nil
}

// window is a promotion's or price book's dates, both inclusive.
type window struct{ start, end time.Time }

// parseWindow reads a window from its raw start and end.
func parseWindow(from, to string, loc *time.Location) (window, error) {
	start, err := startDate(from, loc)
	if err != nil {
		return window{}, fmt.Errorf("start: %w", err)
	}
	end, err := endDate(to, loc)
	if err != nil {
		return window{}, fmt.Errorf("end: %w", err)
	}
	return window{start: start, end: end}, nil
}
