package ascend

import (
	"fmt"
	"strings"
)

// table reads the rows of a decoded upload: a header line, then one record per physical line. Fields are
// separated by a tab, or by a comma when the header has commas and no tab (CSV). A field may be enclosed in
// double quotes, and then holds tabs, commas and doubled "" quotes; a quote inside an unquoted field is
// literal (29" wheels). A quoted field cannot span lines. Values are kept byte for byte (no trimming).
type table struct {
	text  string
	delim byte
	pos   int
	line  int // physical line number of the last line read, 1-based
	buf   []string
	// unterminated says the last line read ends the text without a line end.
	unterminated bool
}

// newTable reads the header of text; it fails when the first line is empty.
func newTable(text string) (*table, []string, error) {
	t := &table{text: text}
	line, ok := t.nextLine()
	if !ok || line == "" {
		return nil, nil, fmt.Errorf("line 1: no header row")
	}
	t.delim = '\t'
	if !strings.Contains(line, "\t") && strings.Contains(line, ",") {
		t.delim = ','
	}
	header, err := t.split(line)
	if err != nil {
		return nil, nil, fmt.Errorf("line 1 (header): %w", err)
	}
	return t, append([]string(nil), header...), nil
}

// nextLine returns the next physical line without its CR LF or LF.
func (t *table) nextLine() (string, bool) {
	if t.pos >= len(t.text) {
		return "", false
	}
	rest := t.text[t.pos:]
	end := strings.IndexByte(rest, '\n')
	var line string
	if end < 0 {
		line, t.pos = rest, len(t.text)
		t.unterminated = true
	} else {
		line, t.pos = rest[:end], t.pos+end+1
	}
	t.line++
	return strings.TrimSuffix(line, "\r"), true
}

// next returns the fields of the next non-blank line and its line number; ok is false at the end. The
// returned slice is reused by the following call. A malformed line returns its line number, an error and
// the fields read before the malformed one.
func (t *table) next() (fields []string, line int, ok bool, err error) {
	for {
		l, more := t.nextLine()
		if !more {
			return nil, 0, false, nil
		}
		if l == "" {
			continue
		}
		fields, err := t.split(l)
		return fields, t.line, true, err
	}
}

// split splits one line into fields. On an error it returns the fields before the malformed one.
func (t *table) split(line string) ([]string, error) {
	out := t.buf[:0]
	for i := 0; ; {
		if i < len(line) && line[i] == '"' {
			v, n, err := unquote(line[i:], t.delim)
			if err != nil {
				t.buf = out
				return out, err
			}
			out = append(out, v)
			i += n
		} else {
			end := strings.IndexByte(line[i:], t.delim)
			if end < 0 {
				out = append(out, line[i:])
				t.buf = out
				return out, nil
			}
			out = append(out, line[i:i+end])
			i += end
		}
		if i == len(line) {
			t.buf = out
			return out, nil
		}
		i++ // the delimiter
		if i == len(line) {
			out = append(out, "") // a trailing delimiter ends with an empty field
			t.buf = out
			return out, nil
		}
	}
}

// unquote reads a quoted field at the start of s (s[0] is the quote) and returns its value and the bytes
// consumed up to, not including, the following delimiter.
func unquote(s string, delim byte) (string, int, error) {
	var b []byte // set only when the value has a doubled quote; otherwise the value shares the line's memory
	start, i := 1, 1
	for {
		j := strings.IndexByte(s[i:], '"')
		if j < 0 {
			return "", 0, fmt.Errorf("%s: a quoted field is not closed on its line", reasonBadQuote)
		}
		q := i + j
		if q+1 < len(s) && s[q+1] == '"' {
			b = append(b, s[start:q+1]...)
			i = q + 2
			start = i
			continue
		}
		end := q + 1
		if end < len(s) && s[end] != delim {
			return "", 0, fmt.Errorf("%s: text after the closing quote of a quoted field", reasonBadQuote)
		}
		if b == nil {
			return s[1:q], end, nil
		}
		return string(append(b, s[start:q]...)), end, nil
	}
}
