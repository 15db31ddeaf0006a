package filter

import "github.com/possync/possync/transforms"

var _ transforms.Pushdown = (*Filter)(nil)

// PushdownSQL implements transforms.Pushdown: the input's rows where the expression, translated to DuckDB
// SQL, is true; the query fails where Apply would fail (including a NULL result). ok is false when the
// expression is outside the subset rowexpr translates exactly.
func (f *Filter) PushdownSQL(input string) (query string, ok bool) {
	cond, ok := f.prog.SQLCondition("filter")
	if !ok {
		return "", false
	}
	return "SELECT * FROM " + input + " WHERE " + cond, true
}
