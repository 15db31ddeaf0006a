package file

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/possync/possync/connectors"
)

var _ connectors.Diagnoser = (*Source)(nil)

// Diagnose reads the scanned files itself, after DuckDB failed to, and returns the first problem as one
// error naming file:line and what to do: bytes that are not text or not UTF-8, a header without a declared
// column (suggesting the delimiter that would find it), a quote never closed, a row with the wrong number of
// fields, a value of the wrong type. It returns nil when it finds nothing wrong.
func (s *Source) Diagnose(ctx context.Context, scan *connectors.Scan) error {
	if !s.delimited() && s.format != "jsonl" {
		return nil
	}
	for _, path := range scan.Paths {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := checkText(path); err != nil {
			return err
		}
		if err := s.readThrough(ctx, path); err != nil {
			return err
		}
	}
	return nil
}

// readThrough reads a file with the Go reader and returns its first error.
func (s *Source) readThrough(ctx context.Context, path string) error {
	br, err := s.open(ctx, path, memory.DefaultAllocator)
	if err != nil {
		return err
	}
	defer br.close()
	for {
		b, err := br.next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		b.Release()
	}
}

// maxLineBytes is the longest line DuckDB's readers take (their max_line_size default); checkText names a
// longer one instead of DuckDB's advice about an option possync does not have.
const maxLineBytes = 2_000_000

// checkText finds the first line of a UTF-8 file holding a NUL byte (binary data) or bytes that are not UTF-8.
func checkText(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("input file: %w", err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	carry, line, lineLen := 0, 1, 0
	for {
		n, err := io.ReadFull(f, buf[carry:])
		data := buf[:carry+n]
		end := len(data)
		if err == nil {
			end = completeRunes(data) // a character split by the chunk is checked with the next one
		}
		for i := 0; i < end; {
			c := data[i]
			switch {
			case c == '\n':
				line, lineLen = line+1, -1 // the newline itself is counted below
			case c == 0:
				return fmt.Errorf("%s:%d: a NUL byte: the file holds binary data, not text (a spreadsheet, a compressed "+
					"file, or a damaged transfer?); export or copy it again as plain text", path, line)
			case c >= utf8.RuneSelf:
				r, size := utf8.DecodeRune(data[i:end])
				if r == utf8.RuneError && size == 1 {
					return fmt.Errorf("%s:%d: byte 0x%02X is not UTF-8 text: the file is in another encoding (or holds "+
						"binary data); for a POS or spreadsheet export set encoding: windows-1252 (or latin-1) on the source",
						path, line, c)
				}
				i += size
				lineLen += size
				continue
			}
			i++
			if lineLen++; lineLen > maxLineBytes {
				return fmt.Errorf("%s:%d: the line is longer than %d bytes, more than a record may hold: a field "+
					"that swallowed the rest of the file (an unclosed quote?), a damaged transfer, or not a file of "+
					"one record per line", path, line, maxLineBytes)
			}
		}
		if err != nil { // io.EOF or io.ErrUnexpectedEOF: the end of the file
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil
			}
			return fmt.Errorf("read %s: %w", path, err)
		}
		carry = copy(buf, data[end:])
	}
}

// completeRunes returns the length of data without an incomplete UTF-8 character at its end.
func completeRunes(data []byte) int {
	for k := 1; k < utf8.UTFMax && k <= len(data); k++ {
		if utf8.RuneStart(data[len(data)-k]) {
			if !utf8.FullRune(data[len(data)-k:]) {
				return len(data) - k
			}
			break
		}
	}
	return len(data)
}

// delimiterHint suggests the setting under which a header that lacks declared columns would have them all:
// another delimiter, or the tsv format. "" when none does.
func (s *Source) delimiterHint(header []string) string {
	raw := strings.Join(header, string(s.comma))
	for _, d := range []rune{',', ';', '\t', '|'} {
		if d == s.comma || !strings.ContainsRune(raw, d) {
			continue
		}
		have := map[string]bool{}
		for _, name := range strings.Split(raw, string(d)) {
			have[strings.Trim(strings.TrimSpace(name), `"`)] = true
		}
		all := true
		for _, f := range s.schema.Fields() {
			all = all && have[f.Name]
		}
		if !all {
			continue
		}
		switch {
		case d == '\t':
			return "; the file is tab-delimited: set format: tsv on the source"
		case s.format == "tsv":
			return fmt.Sprintf("; the file is delimited by %q, not tabs: set format: csv and delimiter: %q on the source", d, d)
		}
		return fmt.Sprintf("; with delimiter %q the header has every declared column: set delimiter: %q on the source", d, d)
	}
	return ""
}
