package pipelines

import (
	"bytes"
	"unicode/utf8"

	"github.com/possync/possync/spec"
)

// checkText reports a file that is not UTF-8 text, at its first offending byte (line and column counted in
// characters, as an editor shows them). UTF-16 and UTF-32 with a byte order mark are left to the YAML parser,
// which decodes them. A file that is text with a stray non-UTF-8 byte (a Latin-1 or Windows-1252 character)
// comes back with every invalid sequence replaced by U+FFFD, so that the rest of the file is still checked in
// the same pass; stop is true for what is not text at all (NUL bytes, UTF-16 without a byte order mark,
// binary), which is not parsed further.
func (l *loader) checkText(data []byte) (clean []byte, stop bool) {
	for _, bom := range [][]byte{{0xFF, 0xFE}, {0xFE, 0xFF}} {
		if bytes.HasPrefix(data, bom) {
			return data, false
		}
	}
	orig := data
	data = bytes.TrimPrefix(data, []byte{0xEF, 0xBB, 0xBF})
	nul := bytes.IndexByte(data, 0)
	bad := firstInvalidUTF8(data)
	if nul < 0 && bad < 0 {
		return orig, false
	}
	at := bad
	if nul >= 0 && (bad < 0 || nul < bad) {
		at = nul
	}
	pos := spec.Pos{File: l.file}
	pos.Line, pos.Col = lineCol(data[:at])
	const save = "save the file as UTF-8 text (in an editor: Save with Encoding → UTF-8)"
	switch {
	case at == nul && looksUTF16(data):
		l.diags.Append(spec.Errorf(pos, spec.CodeBadEncoding, save,
			"the file is not UTF-8 text: it looks like UTF-16 without a byte order mark (a NUL byte at line %d, column %d)", pos.Line, pos.Col))
	case at == nul:
		l.diags.Append(spec.Errorf(pos, spec.CodeBadEncoding, save+"; a binary file is not a pipeline",
			"the file is not UTF-8 text: a NUL byte at line %d, column %d", pos.Line, pos.Col))
	case invalidShare(data) > 0.1:
		l.diags.Append(spec.Errorf(pos, spec.CodeBadEncoding, "a pipeline file is YAML text; is this the right file?",
			"the file is not text: byte 0x%02X at line %d, column %d is not UTF-8, nor are many others", data[at], pos.Line, pos.Col))
	default:
		l.diags.Append(spec.Errorf(pos, spec.CodeBadEncoding, save,
			"the file is not UTF-8: byte 0x%02X at line %d, column %d (%s in Latin-1 or Windows-1252, which UTF-8 writes otherwise)",
			data[at], pos.Line, pos.Col, latin1Name(data[at])))
		return bytes.ToValidUTF8(orig, []byte("\uFFFD")), false
	}
	return orig, true
}

// firstInvalidUTF8 returns the offset of the first byte that does not start a valid UTF-8 sequence, or -1.
func firstInvalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		if b[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return -1
}

// lineCol returns the 1-based line and column (in characters) just after before.
func lineCol(before []byte) (line, col int) {
	line = 1 + bytes.Count(before, []byte("\n"))
	if i := bytes.LastIndexByte(before, '\n'); i >= 0 {
		before = before[i+1:]
	}
	return line, utf8.RuneCount(before) + 1
}

// looksUTF16 reports whether b looks like ASCII text written as UTF-16 (every other byte NUL).
func looksUTF16(b []byte) bool {
	if len(b) < 4 {
		return false
	}
	n := min(len(b), 512) &^ 1
	even, odd := 0, 0
	for i := 0; i < n; i += 2 {
		if b[i] == 0 {
			even++
		}
		if b[i+1] == 0 {
			odd++
		}
	}
	return max(even, odd) > n/2*8/10
}

// invalidShare is the share of the first 4 KiB that is NUL, another C0 control than tab and line breaks, or
// not UTF-8.
func invalidShare(b []byte) float64 {
	b = b[:min(len(b), 4096)]
	if len(b) == 0 {
		return 0
	}
	bad := 0
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if (r == utf8.RuneError && n == 1) || (r < 0x20 && r != '\t' && r != '\n' && r != '\r') {
			bad++
		}
		i += n
	}
	return float64(bad) / float64(len(b))
}

// latin1Name shows the character a byte is in Windows-1252 (Latin-1 for 0xA0-0xFF), e.g. `"é"`.
func latin1Name(c byte) string {
	if c >= 0xA0 {
		return `"` + string(rune(c)) + `"`
	}
	return "a character"
}
