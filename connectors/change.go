package connectors

import (
	"fmt"
	"time"

	"github.com/possync/possync/record"
)

// Action is what a change does to one record of the target.
type Action string

// Actions. Deactivate keeps the record on the target but takes it off sale (the pipeline's diff options say
// which field carries activity and when a missing record is deactivated rather than deleted).
const (
	Create     Action = "create"
	Update     Action = "update"
	Delete     Action = "delete"
	Deactivate Action = "deactivate"
)

// Actions lists every action in the order plans show them.
var Actions = []Action{Create, Update, Deactivate, Delete}

// Change is one planned change to one record.
type Change struct {
	// ID identifies the change: the same change planned again (after a crash) has the same ID.
	ID     string
	Action Action
	// Key holds the key fields.
	Key record.Record
	// Fields names the fields that changed (updates and deactivations); empty for create and delete.
	Fields []string
	// Before is the record as last applied (nil for create).
	Before record.Record
	// After is the whole desired record (nil for delete).
	After record.Record
}

// KeyString formats the key for messages: "sku=A1" or "store=1,sku=A1".
func (c *Change) KeyString(key []string) string {
	return FormatKey(key, c.Key)
}

// FormatKey formats key fields of r in the given order.
func FormatKey(key []string, r record.Record) string {
	s := ""
	for i, k := range key {
		if i > 0 {
			s += ","
		}
		s += k + "=" + FormatValue(r[k])
	}
	return s
}

// FormatValue formats a record value the way plans and messages print it.
func FormatValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return x
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case float64:
		return fmt.Sprint(x)
	default:
		return fmt.Sprint(x)
	}
}

// AppendEntry appends c as one JSON object, its members in this order:
//
//	{"id":…,"action":…,"key":{…},"fields":[…],"before":{…}|null,"after":{…}|null}
//
// with record keys sorted and fields [] when none. It is the form of the runner's intents and, with an "at"
// member added, of the file sink's change log lines (EncodedApplier), so that a change sent to such a sink
// is encoded once. encoding/json decodes it into a Change (member names match the fields regardless of
// case).
func (c *Change) AppendEntry(e *record.JSON, dst []byte) ([]byte, error) {
	var err error
	dst = append(dst, `{"id":`...)
	dst = e.AppendString(dst, c.ID)
	dst = append(dst, `,"action":`...)
	dst = e.AppendString(dst, string(c.Action))
	dst = append(dst, `,"key":`...)
	if dst, err = e.AppendRecord(dst, c.Key); err != nil {
		return dst, fmt.Errorf("key: %w", err)
	}
	dst = append(dst, `,"fields":`...)
	if c.Fields == nil {
		dst = append(dst, "[]"...)
	} else {
		dst = e.AppendStrings(dst, c.Fields)
	}
	dst = append(dst, `,"before":`...)
	if dst, err = e.AppendRecord(dst, c.Before); err != nil {
		return dst, fmt.Errorf("before: %w", err)
	}
	dst = append(dst, `,"after":`...)
	if dst, err = e.AppendRecord(dst, c.After); err != nil {
		return dst, fmt.Errorf("after: %w", err)
	}
	return append(dst, '}'), nil
}
