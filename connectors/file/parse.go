package file

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// parser appends the value a text denotes to a builder of one field type, or says why it cannot.
type parser func(b array.Builder, s string) error

// parserFor returns the parser of a field type (see record.ArrowType).
func parserFor(t arrow.DataType) parser {
	switch t.ID() {
	case arrow.INT64:
		return parseInt
	case arrow.FLOAT64:
		return parseFloat
	case arrow.BOOL:
		return parseBool
	case arrow.DATE32:
		return parseDate
	case arrow.TIMESTAMP:
		return parseTimestamp
	}
	return parseString
}

// parsers returns the parsers of a schema's fields.
func parsers(schema *arrow.Schema) []parser {
	out := make([]parser, schema.NumFields())
	for i, f := range schema.Fields() {
		out[i] = parserFor(f.Type)
	}
	return out
}

func parseString(b array.Builder, s string) error {
	b.(*array.StringBuilder).Append(s)
	return nil
}

func parseInt(b array.Builder, s string) error {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return fmt.Errorf("%q is not an integer", s)
	}
	b.(*array.Int64Builder).Append(n)
	return nil
}

func parseFloat(b array.Builder, s string) error {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return fmt.Errorf("%q is not a number", s)
	}
	b.(*array.Float64Builder).Append(f)
	return nil
}

func parseBool(b array.Builder, s string) error {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "t", "yes", "y", "1":
		b.(*array.BooleanBuilder).Append(true)
	case "false", "f", "no", "n", "0":
		b.(*array.BooleanBuilder).Append(false)
	default:
		return fmt.Errorf("%q is not a boolean (want true/false, t/f, yes/no, y/n or 1/0)", s)
	}
	return nil
}

func parseDate(b array.Builder, s string) error {
	t, err := time.Parse(time.DateOnly, strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("%q is not a date (want YYYY-MM-DD)", s)
	}
	b.(*array.Date32Builder).Append(arrow.Date32FromTime(t))
	return nil
}

// timestampLayouts are the accepted timestamp forms; a fraction of a second may follow the seconds in any of
// them, and a time without an offset is UTC.
var timestampLayouts = []string{
	time.RFC3339,
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02T15:04:05",
	time.DateTime,
	time.DateOnly,
}

func parseTimestamp(b array.Builder, s string) error {
	text := strings.TrimSpace(s)
	for _, layout := range timestampLayouts {
		t, err := time.Parse(layout, text)
		if err != nil {
			continue
		}
		tb := b.(*array.TimestampBuilder)
		ts, err := arrow.TimestampFromTime(t, tb.Type().(*arrow.TimestampType).Unit)
		if err != nil {
			return fmt.Errorf("timestamp %q: %w", s, err)
		}
		tb.Append(ts)
		return nil
	}
	return fmt.Errorf("%q is not a timestamp (want RFC 3339 or YYYY-MM-DD hh:mm:ss)", s)
}
