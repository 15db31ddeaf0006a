package pipelines

import (
	"bytes"
	"fmt"
	"unicode/utf8"

	"github.com/possync/possync/pipelines/spec"
)

// checkEncoding reports a pipeline file that is not UTF-8 at its first offending byte (line and column, the
// column counted in characters), and returns data with every invalid sequence replaced by U+FFFD so that the
// rest of the file is still checked in the same pass. A UTF-16 or UTF-32 file (which starts with a byte order
// mark) is left to the YAML parser, which reads it.
func (l *loader) checkEncoding(data []byte) []byte {
	if len(data) >= 2 && (data[0] == 0xFF && data[1] == 0xFE || data[0] == 0xFE && data[1] == 0xFF || data[0] == 0 && data[1] == 0) {
		return data
	}
	if utf8.Valid(data) {
		return data
	}
	line, col := 1, 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size <= 1 {
			hint := "save the file as UTF-8"
			if data[i] >= 0x80 {
				hint += fmt.Sprintf(" (byte 0x%02X is %q in Windows-1252, the usual culprit)", data[i], cp1252(data[i]))
			}
			l.diags.Append(spec.Errorf(spec.Pos{File: l.file, Line: line, Col: col}, spec.CodeBadEncoding, hint,
				"the file is not UTF-8: byte 0x%02X at line %d, column %d (offset %d) starts no UTF-8 character",
				data[i], line, col, i))
			break
		}
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
		i += size
	}
	return bytes.ToValidUTF8(data, []byte("\uFFFD"))
}

// cp1252 is the character a byte stands for in Windows-1252 (Latin-1 for the bytes they share).
func cp1252(b byte) string {
	const high = "€\uFFFD‚ƒ„…†‡ˆ‰Š‹Œ\uFFFDŽ\uFFFD\uFFFD‘’“”•–—˜™š›œ\uFFFDžŸ"
	if b >= 0x80 && b < 0xA0 {
		return string([]rune(high)[b-0x80])
	}
	return string(rune(b))
}
