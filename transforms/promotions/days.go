package promotions

import "time"

// day is a calendar date in the store's time zone and the instant its local midnight falls on.
type day struct {
	Date     time.Time // midnight UTC of the date (only the date matters)
	Midnight time.Time // local midnight of the date, as an instant
	// Due is true when Midnight is within (now, now+horizon]: a promotion starting that day, or ending the day
	// before, is an upcoming change.
	Due bool
}

// localDate returns the date of t in loc, as midnight UTC.
func localDate(t time.Time, loc *time.Location) time.Time {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// days returns every date in loc from now's date to the last date whose local midnight is within
// (now, now+horizon], in order. The first is now's date (the day the step resolves prices for); time.Date
// finds each local midnight, so a day of 23 or 25 hours (a DST change) counts as one day.
func days(now time.Time, loc *time.Location, horizon time.Duration) []day {
	end := now.Add(horizon)
	first := localDate(now, loc)
	var out []day
	for date := first; ; date = date.AddDate(0, 0, 1) {
		midnight := time.Date(date.Year(), date.Month(), date.Day(), 0, 0, 0, 0, loc)
		if midnight.After(end) {
			return out
		}
		out = append(out, day{Date: date, Midnight: midnight, Due: midnight.After(now)})
	}
}
