package mapt

import (
	"sort"
	"strings"

	"github.com/possync/possync/transforms"
	"github.com/possync/possync/transforms/internal/rowexpr"
)

var _ transforms.RowPushdown = (*Map)(nil)

// PushdownSQL implements transforms.Pushdown: one SELECT over input computing each mapped field in DuckDB
// SQL, cast to its field's type, then the passed-through columns as they are. ok is false when a field's
// expression is outside the subset rowexpr translates exactly, or when two output fields differ only in
// case (one column to DuckDB).
func (m *Map) PushdownSQL(input string) (query string, ok bool) {
	seen := map[string]bool{}
	for _, f := range m.schema.Fields() {
		if seen[strings.ToLower(f.Name)] {
			return "", false
		}
		seen[strings.ToLower(f.Name)] = true
	}
	cols := make([]string, 0, len(m.outs)+len(m.pass))
	for _, o := range m.outs {
		e, ok := o.prog.SQLValue(o.typ, "map field "+o.name)
		name, nok := rowexpr.SQLIdent(o.name)
		if !ok || !nok {
			return "", false
		}
		cols = append(cols, e+" AS "+name)
	}
	for _, p := range m.pass {
		name, ok := rowexpr.SQLIdent(p)
		if !ok {
			return "", false
		}
		cols = append(cols, name)
	}
	if len(cols) == 0 {
		return "", false
	}
	return "SELECT " + strings.Join(cols, ", ") + " FROM " + input, true
}

// OneRowPerInput implements transforms.RowPushdown: a map's query gives one output row per input row.
func (m *Map) OneRowPerInput() {}

// Reads implements transforms.RowPushdown: the input fields the map reads, those its expressions read and
// those it passes through, sorted and without repeats. A runner reading the input through a view of its
// files (runner/steps) needs every declared field read, so that a malformed value in any of them is found.
func (m *Map) Reads() []string {
	seen := map[string]bool{}
	var out []string
	add := func(f string) {
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	for _, o := range m.outs {
		for _, f := range o.prog.Uses() {
			add(f)
		}
	}
	for _, f := range m.pass {
		add(f)
	}
	sort.Strings(out)
	return out
}
