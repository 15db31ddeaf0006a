package steps

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/possync/possync/spec"
)

var sqlLine = regexp.MustCompile(`(?m)^LINE (\d+): (.*)\n( *)\^`)

// SQLError positions a DuckDB error about a SQL step's query at the query's line and column when DuckDB
// says where it is.
func SQLError(q spec.Expr, err error) error {
	msg := err.Error()
	pos := q.Pos
	if m := sqlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		col := len(m[3]) - len("LINE "+m[1]+": ") + 1
		if strings.HasPrefix(m[2], "...") || col < 1 {
			col = 1
		}
		pos = q.At(line, col)
		msg = strings.TrimSpace(msg[:strings.Index(msg, "LINE ")])
	}
	first, _, _ := strings.Cut(msg, "\n")
	return &spec.Diagnostic{Severity: spec.Error, Code: spec.CodeSQLError, Pos: pos, Message: first}
}
