package pipelines

import (
	"fmt"
	"strings"
)

// unclosedQuote finds the first quoted value among lines[:upto] (the lines before a YAML syntax error) whose
// quote is not closed on its own line, and returns its 1-based line and column. A quoted value may span
// lines in YAML, so this is only a likely cause, for the hint of an error the parser reports later (often
// "mapping values are not allowed in this context", lines below the quote).
func unclosedQuote(lines []string, upto int) (line, col int, ok bool) {
	for i := 0; i < min(upto, len(lines)); i++ {
		if c, open := openQuote(lines[i]); open {
			return i + 1, c, true
		}
	}
	return 0, 0, false
}

// openQuote reports whether a line ends inside a quoted scalar, and the 1-based column of its opening quote.
// A quote opens a scalar only where a value starts: at the line's start, after ": ", "- ", "[", "{" or ",".
func openQuote(line string) (col int, open bool) {
	var quote byte
	start := 0
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote == '"' && c == '\\':
			i++ // an escape: \" does not close
		case quote == '\'' && c == '\'' && i+1 < len(line) && line[i+1] == '\'':
			i++ // '' is a quote inside single quotes
		case quote != 0 && c == quote:
			quote = 0
		case quote == 0 && c == '#' && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t'):
			return 0, false // a comment
		case quote == 0 && (c == '"' || c == '\'') && valueStart(line[:i]):
			quote, start = c, i
		}
	}
	return start + 1, quote != 0
}

// valueStart reports whether a value may start after before.
func valueStart(before string) bool {
	t := strings.TrimRight(before, " \t")
	if t == "" {
		return true
	}
	switch t[len(t)-1] {
	case '[', '{', ',':
		return true
	case ':', '-':
		return len(t) < len(before) // ": " and "- ", not "a:b" or "a-b"
	}
	return false
}

// quoteHint is the hint of a YAML syntax error at line when an earlier quote is not closed on its line.
func (l *loader) quoteHint(line int) (string, bool) {
	ql, qc, ok := unclosedQuote(l.lines, line)
	if !ok {
		return "", false
	}
	return fmt.Sprintf("the quote at line %d, column %d is not closed on its line: close it (for a value on several lines, use a block scalar: `key: |`)", ql, qc), true
}
