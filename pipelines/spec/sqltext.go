package spec

import "strings"

// QuoteIdent quotes a name as a DuckDB SQL identifier. The runner and the transforms that generate SQL
// (promotions, match, pushed-down map and filter steps) write identifiers only through it.
func QuoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// QuoteString quotes s as a DuckDB SQL string literal.
func QuoteString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
