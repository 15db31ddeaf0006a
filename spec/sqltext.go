package spec

import "strings"

// QuoteIdent quotes a name as a DuckDB SQL identifier. The runner and the transforms that generate SQL
// (promotions, match, pushed-down map and filter steps) write identifiers only through it.
func QuoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// QuoteString quotes s as a DuckDB SQL string literal.
func QuoteString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// KeysEqual is the SQL condition that the key columns of the relations aliased a and b are equal:
// a."k1" = b."k1" AND a."k2" = b."k2".
func KeysEqual(key []string, a, b string) string {
	on := make([]string, len(key))
	for i, k := range key {
		q := QuoteIdent(k)
		on[i] = a + "." + q + " = " + b + "." + q
	}
	return strings.Join(on, " AND ")
}
