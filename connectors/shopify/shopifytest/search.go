package shopifytest

import (
	"fmt"
	"strings"
	"time"
)

// term is one condition of Shopify's search syntax: [-]field:[op]value.
type term struct {
	negate bool
	field  string
	op     string // ":", ">", ">=", "<", "<="
	value  string
	quoted bool
}

// parseSearch splits a search query into its terms. AND between terms is implied; an explicit AND is
// accepted. Values may be quoted with ' or ".
func parseSearch(q string) ([]term, error) {
	var out []term
	for i := 0; i < len(q); {
		for i < len(q) && q[i] == ' ' {
			i++
		}
		if i >= len(q) {
			break
		}
		start := i
		for i < len(q) && q[i] != ' ' {
			if q[i] == '\'' || q[i] == '"' {
				end := strings.IndexByte(q[i+1:], q[i])
				if end < 0 {
					return nil, fmt.Errorf("unterminated quote in search query %q", q)
				}
				i += end + 2
				continue
			}
			i++
		}
		word := q[start:i]
		if word == "AND" {
			continue
		}
		t := term{}
		if strings.HasPrefix(word, "-") {
			t.negate, word = true, word[1:]
		}
		name, rest, ok := strings.Cut(word, ":")
		if !ok {
			return nil, fmt.Errorf("search term %q has no field (the emulator supports field:value terms only)", word)
		}
		t.field, t.op = strings.ToLower(name), ":"
		for _, op := range []string{">=", "<=", ">", "<"} {
			if strings.HasPrefix(rest, op) {
				t.op, rest = op, rest[len(op):]
				break
			}
		}
		if len(rest) >= 2 && (rest[0] == '\'' || rest[0] == '"') && rest[len(rest)-1] == rest[0] {
			t.value, t.quoted = rest[1:len(rest)-1], true
		} else {
			t.value = rest
		}
		out = append(out, t)
	}
	return out, nil
}

// searchTime reads a date or date-time value. As on Shopify, an unquoted date-time keeps only its date: the
// query parser splits it at the colons of the time (the reason clients must quote the value).
func searchTime(t term) (time.Time, error) {
	v := t.value
	if !t.quoted {
		if d, _, ok := strings.Cut(v, "T"); ok {
			v = d
		}
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if tm, err := time.Parse(layout, v); err == nil {
			return tm.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("cannot read %q as a date in the search term %s", t.value, t.field)
}

// match reports whether an order satisfies every term. Fields other than updated_at, created_at, tag, name
// and id are ignored, as Shopify ignores unknown search fields.
func match(o *Order, terms []term) (bool, error) {
	for _, t := range terms {
		ok := true
		switch t.field {
		case "updated_at", "created_at":
			tm, err := searchTime(t)
			if err != nil {
				return false, err
			}
			v := o.updated()
			if t.field == "created_at" {
				v = o.CreatedAt
			}
			switch t.op {
			case ">":
				ok = v.After(tm)
			case ">=":
				ok = !v.Before(tm)
			case "<":
				ok = v.Before(tm)
			case "<=":
				ok = !v.After(tm)
			default:
				ok = v.Truncate(24 * time.Hour).Equal(tm.Truncate(24 * time.Hour))
			}
		case "tag":
			ok = false
			for _, tag := range o.Tags {
				if strings.EqualFold(tag, t.value) {
					ok = true
				}
			}
		case "name":
			ok = strings.EqualFold(strings.TrimPrefix(o.Name, "#"), strings.TrimPrefix(t.value, "#"))
		case "id":
			ok = fmt.Sprint(o.ID) == t.value
		default:
			continue
		}
		if ok == t.negate {
			return false, nil
		}
	}
	return true, nil
}
