package ascend

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Row reject reasons besides the GTIN ones (gtin.ReasonNonDigit, gtin.ReasonLength, gtin.ReasonCheckDigit).
const (
	reasonMissing    = "missing"
	reasonBadNumber  = "bad_number"
	reasonBadInteger = "bad_integer"
	reasonBadFlag    = "bad_flag"
	reasonBadDate    = "bad_date"
	reasonBadTime    = "bad_datetime"
	reasonFieldCount = "field_count"
	reasonBadQuote   = "bad_quote"
	reasonDuplicate  = "duplicate_sku"
)

// rowError is why one row cannot be used; Reason is one of the reason codes.
type rowError struct {
	Reason string
	Detail string
}

func (e *rowError) Error() string { return e.Reason + ": " + e.Detail }

// Typed values: ok is false when the field is empty. Numbers, flags and dates may have spaces around them;
// text values are kept byte for byte.
type (
	optInt struct {
		v  int64
		ok bool
	}
	optFloat struct {
		v  float64
		ok bool
	}
	// optDate is a calendar date as days since 1970-01-01 (Arrow's date32).
	optDate struct {
		v  int32
		ok bool
	}
)

func parseInt(col, s string) (optInt, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return optInt{}, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return optInt{}, &rowError{reasonBadInteger, fmt.Sprintf("%s %q is not a whole number", col, s)}
	}
	return optInt{n, true}, nil
}

// parseDecimal reads a decimal with a dot and no thousands separators or exponent: 12, -3.5, 1299.00.
func parseDecimal(col, s string) (optFloat, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return optFloat{}, nil
	}
	whole, frac, dot := strings.Cut(strings.TrimPrefix(s, "-"), ".")
	if !allDigits(whole) || (dot && !allDigits(frac)) {
		return optFloat{}, &rowError{reasonBadNumber, fmt.Sprintf("%s %q is not a decimal number such as 1299.99 (dot for decimals, no thousands separators)", col, s)}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return optFloat{}, &rowError{reasonBadNumber, fmt.Sprintf("%s %q: %v", col, s, err)}
	}
	return optFloat{f, true}, nil
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parseFlag reads Y or N (also Yes or No), in any case; ok is false when empty.
func parseFlag(col, s string) (v, ok bool, err error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "":
		return false, false, nil
	case "Y", "YES":
		return true, true, nil
	case "N", "NO":
		return false, true, nil
	}
	return false, false, &rowError{reasonBadFlag, fmt.Sprintf("%s %q: want Y or N", col, s)}
}

// parseDate reads YYYY-MM-DD.
func parseDate(col, s string) (optDate, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return optDate{}, nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return optDate{}, &rowError{reasonBadDate, fmt.Sprintf("%s %q: want a date YYYY-MM-DD", col, s)}
	}
	return optDate{int32(t.Unix() / 86400), true}, nil
}

// parseDateTime reads "YYYY-MM-DD HH:MM:SS" in loc.
func parseDateTime(col, s string, loc *time.Location) (time.Time, error) {
	t, err := time.ParseInLocation(time.DateTime, strings.TrimSpace(s), loc)
	if err != nil {
		return time.Time{}, &rowError{reasonBadTime, fmt.Sprintf("%s %q: want a date and time YYYY-MM-DD HH:MM:SS", col, s)}
	}
	return t, nil
}

// daysOf returns the calendar date of t in its location as days since 1970-01-01.
func daysOf(t time.Time) int32 {
	y, m, d := t.Date()
	return int32(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}
