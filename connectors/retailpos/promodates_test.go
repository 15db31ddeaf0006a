package retailpos

import (
	"strings"
	"testing"
	"time"
)

func TestWindowDates(t *testing.T) {
	la, err := time.LoadLocation("America/Los_Angeles")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		from, to string
		loc      *time.Location
		start    string // want, as 2006-01-02
		end      string
		err      string
	}{
		{name: "local midnight to the last second of a day", from: "2026-11-27T08:00:00", to: "2026-12-01T07:59:59",
			loc: la, start: "2026-11-27", end: "2026-11-30"},
		{name: "an end at local midnight ends the day before", from: "2026-11-27T08:00:00", to: "2026-12-01T08:00:00",
			loc: la, start: "2026-11-27", end: "2026-11-30"},
		{name: "a second past local midnight counts that day", from: "2026-11-27T07:59:59", to: "2026-12-01T08:00:01",
			loc: la, start: "2026-11-26", end: "2026-12-01"},
		{name: "the same instants in UTC", from: "2026-11-27T08:00:00", to: "2026-12-01T08:00:00",
			loc: time.UTC, start: "2026-11-27", end: "2026-12-01"},
		{name: "midnight UTC in UTC", from: "2026-11-27T00:00:00", to: "2026-12-01T00:00:00",
			loc: time.UTC, start: "2026-11-27", end: "2026-11-30"},
		{name: "PDT midnight before the clocks go back", from: "2026-10-30T07:00:00", to: "2026-11-01T07:00:00",
			loc: la, start: "2026-10-30", end: "2026-10-31"},
		{name: "PST midnight after the clocks go back", from: "2026-11-01T07:00:00", to: "2026-11-02T08:00:00",
			loc: la, start: "2026-11-01", end: "2026-11-01"},
		{name: "RFC 3339 with an offset", from: "2026-11-27T08:00:00+00:00", to: "2026-11-30T23:59:59-08:00",
			loc: la, start: "2026-11-27", end: "2026-11-30"},
		{name: "fractional seconds and Z", from: "2026-11-27T08:00:00.000Z", to: "2026-12-01T07:59:59.999Z",
			loc: la, start: "2026-11-27", end: "2026-11-30"},
		{name: "a space instead of T", from: "2026-11-27 08:00:00", to: "2026-12-01 08:00:00",
			loc: la, start: "2026-11-27", end: "2026-11-30"},
		{name: "bare dates are local dates", from: "2026-11-27", to: "2026-11-30", loc: la, start: "2026-11-27", end: "2026-11-30"},
		{name: "open-ended", from: "2026-11-27T08:00:00", to: "", loc: la, start: "2026-11-27", end: "9999-12-31"},
		{name: "no start", from: "", to: "2026-12-01T08:00:00", loc: la, start: "1970-01-01", end: "2026-11-30"},
		{name: "unreadable start", from: "Nov 27", to: "", loc: la, err: `start: "Nov 27" is not a time`},
		{name: "unreadable end", from: "2026-11-27", to: "2026-13-01T00:00:00", loc: la, err: `end: "2026-13-01T00:00:00" is not a time`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w, err := parseWindow(c.from, c.to, c.loc)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := w.start.Format(dateLayout) + " – " + w.end.Format(dateLayout); got != c.start+" – "+c.end {
				t.Errorf("window %s, want %s – %s", got, c.start, c.end)
			}
		})
	}
}
