package pipetest

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/record"
	"github.com/possync/possync/runner"
	"github.com/possync/possync/runner/plan"
)

// convert turns a YAML value into the Go value a field of type t holds (record.Value's types).
func convert(v any, t arrow.DataType) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch record.TypeName(t) {
	case "string":
		switch x := v.(type) {
		case string:
			return x, nil
		case []any, map[string]any: // a field holding JSON text (order lines)
			b, err := json.Marshal(x)
			if err != nil {
				return nil, fmt.Errorf("encode as JSON: %w", err)
			}
			return string(b), nil
		case int, int64, float64, bool:
			return fmt.Sprint(x), nil
		case time.Time:
			return x.UTC().Format(time.RFC3339Nano), nil
		}
	case "int":
		switch x := v.(type) {
		case int:
			return int64(x), nil
		case int64:
			return x, nil
		case float64:
			if x == math.Trunc(x) {
				return int64(x), nil
			}
		case string:
			if n, err := strconv.ParseInt(x, 10, 64); err == nil {
				return n, nil
			}
		}
	case "float":
		switch x := v.(type) {
		case int:
			return float64(x), nil
		case int64:
			return float64(x), nil
		case float64:
			return x, nil
		case string:
			if f, err := strconv.ParseFloat(x, 64); err == nil {
				return f, nil
			}
		}
	case "bool":
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case "date", "timestamp":
		if tm, ok := asTime(v); ok {
			return tm, nil
		}
	default:
		return nil, fmt.Errorf("fields of type %s cannot be given in a test", t)
	}
	return nil, fmt.Errorf("%s is not a %s", show(v), record.TypeName(t))
}

// asTime reads a time: a YAML timestamp, an RFC 3339 text or a date (2026-11-20, midnight UTC).
func asTime(v any) (time.Time, bool) {
	switch x := v.(type) {
	case time.Time:
		return x.UTC(), true
	case string:
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05Z07:00", "2006-01-02 15:04:05", "2006-01-02"} {
			if t, err := time.Parse(layout, x); err == nil {
				return t.UTC(), true
			}
		}
	}
	return time.Time{}, false
}

// equal reports whether a produced value got matches an expected YAML value: numbers by value (floats to
// 1e-9 relative), times by instant (an expected date or RFC 3339 text), scalars against text by their text.
func equal(want, got any) bool {
	if want == nil || got == nil {
		return want == nil && got == nil
	}
	if wf, ok := number(want); ok {
		if gf, ok := number(got); ok {
			return wf == gf || math.Abs(wf-gf) <= 1e-9*math.Max(math.Abs(wf), math.Abs(gf))
		}
	}
	if gt, ok := got.(time.Time); ok {
		wt, ok := asTime(want)
		return ok && wt.Equal(gt)
	}
	switch g := got.(type) {
	case string:
		switch w := want.(type) {
		case []any, map[string]any: // JSON text (order lines): the named keys of each object
			var doc any
			return json.Unmarshal([]byte(g), &doc) == nil && matchJSON(w, doc)
		case string:
			return w == g
		case int, int64, float64, bool:
			return fmt.Sprint(w) == g
		}
		return false
	case bool:
		w, ok := want.(bool)
		return ok && w == g
	}
	return show(want) == show(got)
}

// matchJSON compares an expected YAML structure with decoded JSON: objects by the keys the expected one
// names, arrays element by element (same length), scalars with equal.
func matchJSON(want, got any) bool {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return false
		}
		for k, wv := range w {
			if !matchJSON(wv, g[k]) {
				return false
			}
		}
		return true
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for i := range w {
			if !matchJSON(w[i], g[i]) {
				return false
			}
		}
		return true
	}
	return equal(want, got)
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

// show formats a value for a failure: strings quoted, null, times in RFC 3339, structures as JSON.
func show(v any) string {
	switch x := v.(type) {
	case []any, map[string]any:
		if b, err := json.Marshal(x); err == nil {
			return string(b)
		}
	case nil:
		return "null"
	case string:
		return strconv.Quote(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	}
	return fmt.Sprint(v)
}

// keyOf returns the key fields of an expected row or action. k is a mapping holding them (an expected row,
// with other fields unless exact) or, for a one-field key, the value itself.
func keyOf(key []string, k any, exact bool) (record.Record, error) {
	m, ok := k.(map[string]any)
	if !ok {
		if len(key) != 1 {
			return nil, fmt.Errorf("key %s: the pipeline's key has %d fields (%s): give a mapping", show(k), len(key), strings.Join(key, ", "))
		}
		return record.Record{key[0]: k}, nil
	}
	r := record.Record{}
	for _, f := range key {
		v, ok := m[f]
		if !ok {
			return nil, fmt.Errorf("key %s has no field %q", showMap(m), f)
		}
		r[f] = v
	}
	if exact && len(m) != len(key) {
		return nil, fmt.Errorf("key %s: the pipeline's key is %s", showMap(m), strings.Join(key, ", "))
	}
	return r, nil
}

// sameKey reports whether a produced record has the expected key.
func sameKey(key []string, want record.Record, got map[string]any) bool {
	for _, f := range key {
		if !equal(want[f], got[f]) {
			return false
		}
	}
	return true
}

func showMap(m map[string]any) string {
	keys := sortedKeys(m)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + ": " + show(m[k])
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// compareRows compares the desired records with the expected rows, by key in any order.
func compareRows(key []string, want []map[string]any, all bool, d *runner.Desired) []Failure {
	var failures []Failure
	var got []record.Record
	if d != nil {
		got = d.Rows
	}
	used := make([]bool, len(got))
	for i, w := range want {
		k, err := keyOf(key, w, false)
		if err != nil {
			failures = append(failures, Failure{Section: "rows", Message: fmt.Sprintf("expected row %d: %v", i+1, err)})
			continue
		}
		ks := connectors.FormatKey(key, k)
		j := slices.IndexFunc(got, func(r record.Record) bool { return sameKey(key, k, r) })
		for j >= 0 && used[j] { // a duplicate key: the next record with it
			next := slices.IndexFunc(got[j+1:], func(r record.Record) bool { return sameKey(key, k, r) })
			if next < 0 {
				j = -1
				break
			}
			j += 1 + next
		}
		if j < 0 {
			failures = append(failures, Failure{Section: "rows", Key: ks, Expected: showMap(w), Got: "no row",
				Message: "expected a row with this key; the transforms produced none"})
			continue
		}
		used[j] = true
		failures = append(failures, compareFields("rows", ks, w, got[j], all, key)...)
	}
	for j, r := range got {
		if !used[j] {
			failures = append(failures, Failure{Section: "rows", Key: connectors.FormatKey(key, r), Expected: "no row", Got: showRecord(r),
				Message: "the transforms produced a row the case does not expect"})
		}
	}
	return failures
}

// compareFields compares the expected fields of one row (every field of got with all).
func compareFields(section, ks string, want map[string]any, got record.Record, all bool, key []string) []Failure {
	var failures []Failure
	names := make([]string, 0, len(want))
	for n := range want {
		names = append(names, n)
	}
	if all {
		for n := range got {
			if _, ok := want[n]; !ok {
				names = append(names, n)
			}
		}
	}
	sort.Strings(names)
	for _, n := range names {
		if slices.Contains(key, n) {
			continue
		}
		gv, have := got[n]
		if !have {
			failures = append(failures, Failure{Section: section, Key: ks, Field: n, Expected: show(want[n]), Got: "no such field",
				Message: fmt.Sprintf("field %s: the records have no such field", n)})
			continue
		}
		if !equal(want[n], gv) {
			failures = append(failures, Failure{Section: section, Key: ks, Field: n, Expected: show(want[n]), Got: show(gv),
				Message: fmt.Sprintf("field %s: expected %s, got %s", n, show(want[n]), show(gv))})
		}
	}
	return failures
}

func showRecord(r record.Record) string {
	m := make(map[string]any, len(r))
	for k, v := range r {
		if v != nil {
			m[k] = v
		}
	}
	return showMap(m)
}

// compareActions compares the plan's changes with the expected actions, by key in any order.
func compareActions(key []string, want []Action, got []plan.Change) []Failure {
	var failures []Failure
	used := make([]bool, len(got))
	for i, w := range want {
		k, err := keyOf(key, w.Key, true)
		if err != nil {
			failures = append(failures, Failure{Section: "actions", Message: fmt.Sprintf("expected action %d: %v", i+1, err)})
			continue
		}
		ks := connectors.FormatKey(key, k)
		j := -1
		for x := range got {
			if !used[x] && sameKey(key, k, got[x].Key) {
				j = x
				break
			}
		}
		if j < 0 {
			failures = append(failures, Failure{Section: "actions", Key: ks, Expected: w.Action, Got: "no change",
				Message: fmt.Sprintf("expected %s; the plan has no change for this key", article(w.Action))})
			continue
		}
		used[j] = true
		c := got[j]
		if string(c.Action) != w.Action {
			failures = append(failures, Failure{Section: "actions", Key: ks, Expected: w.Action, Got: string(c.Action),
				Message: fmt.Sprintf("expected %s, the plan has %s%s", article(w.Action), article(string(c.Action)), changedFields(c))})
			continue
		}
		after := record.Record{}
		for _, f := range c.Fields {
			after[f.Name] = f.After
		}
		for _, n := range sortedKeys(w.Fields) {
			gv, changed := after[n]
			if !changed {
				failures = append(failures, Failure{Section: "actions", Key: ks, Field: n, Expected: show(w.Fields[n]), Got: "unchanged",
					Message: fmt.Sprintf("%s, field %s: expected %s, the change leaves it alone", c.Action, n, show(w.Fields[n]))})
				continue
			}
			if !equal(w.Fields[n], gv) {
				failures = append(failures, Failure{Section: "actions", Key: ks, Field: n, Expected: show(w.Fields[n]), Got: show(gv),
					Message: fmt.Sprintf("%s, field %s: expected %s, got %s", c.Action, n, show(w.Fields[n]), show(gv))})
			}
		}
	}
	for j, c := range got {
		if !used[j] {
			failures = append(failures, Failure{Section: "actions", Key: connectors.FormatKey(key, c.Key), Expected: "no change", Got: string(c.Action),
				Message: fmt.Sprintf("the plan has %s the case does not expect%s", article(string(c.Action)), changedFields(c))})
		}
	}
	return failures
}

// changedFields lists a change's fields (before → after) for a failure message.
func changedFields(c plan.Change) string {
	if len(c.Fields) == 0 {
		return ""
	}
	parts := make([]string, len(c.Fields))
	for i, f := range c.Fields {
		if c.Action == connectors.Create {
			parts[i] = f.Name + ": " + show(f.After)
		} else {
			parts[i] = f.Name + ": " + show(f.Before) + " → " + show(f.After)
		}
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// article puts "a" or "an" before an action's name.
func article(action string) string {
	if action != "" && strings.ContainsRune("aeiou", rune(action[0])) {
		return "an " + action
	}
	return "a " + action
}

func sortedKeys(m map[string]any) []string { return slices.Sorted(maps.Keys(m)) }

// compareNotes checks that each expected text appears in one of the plan's notes.
func compareNotes(want []string, pl *plan.Plan) []Failure {
	var failures []Failure
	notes := pl.NoteTexts()
	for _, w := range want {
		found := false
		for _, n := range notes {
			if strings.Contains(n, w) {
				found = true
				break
			}
		}
		if !found {
			got := "no notes"
			if len(notes) > 0 {
				got = strings.Join(notes, " | ")
			}
			failures = append(failures, Failure{Section: "notes", Expected: strconv.Quote(w), Got: got,
				Message: fmt.Sprintf("no note of the plan contains %q", w)})
		}
	}
	return failures
}
