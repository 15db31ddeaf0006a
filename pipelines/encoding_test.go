package pipelines

import (
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/possync/possync/spec"
)

// TestNotUTF8 checks that a pipeline file that is not UTF-8 text is reported at its first offending byte,
// with what it looks like and what to do, instead of the YAML parser's "invalid UTF-8 octet" at line 1.
func TestNotUTF8(t *testing.T) {
	utf16le := func(s string) string {
		var b strings.Builder
		for _, u := range utf16.Encode([]rune(s)) {
			b.WriteByte(byte(u))
			b.WriteByte(byte(u >> 8))
		}
		return b.String()
	}
	tests := []struct {
		name, data string
		line, col  int
		want       string
	}{
		{"Latin-1", "version: 1\nname: shop\nmerchant: Caf\xe9 Z\n", 3, 14, `byte 0xE9 at line 3, column 14 ("é" in Latin-1`},
		{"after multi-byte characters", "version: 1\nname: ñandú \xff\n", 2, 13, "byte 0xFF at line 2, column 13"},
		{"NUL", "version: 1\nname: a\x00b\n", 2, 8, "a NUL byte at line 2, column 8"},
		{"UTF-16 without BOM", utf16le("version: 1\nname: shop\n"), 1, 2, "looks like UTF-16 without a byte order mark"},
		{"binary", "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00", 1, 1, "the file is not text: byte 0x89"},
		{"binary without NUL", "\xde\xad\xbe\xef\xfa\xce\xb0\x0c\x8f\x9a", 1, 2, "the file is not text"}, // DE AD is U+07AD,
	}
	for _, tt := range tests {
		_, diags := Parse("p.yaml", []byte(tt.data), Options{Catalog: newTestCatalog(t)})
		// One encoding finding; a text file with a stray byte is checked further (its other findings follow),
		// a file that is not text at all is not.
		var enc []*spec.Diagnostic
		for _, d := range diags {
			if d.Code == spec.CodeBadEncoding {
				enc = append(enc, d)
			}
		}
		if len(enc) != 1 {
			t.Errorf("%s: %d encoding findings, want 1: %v", tt.name, len(enc), diags)
			continue
		}
		d := enc[0]
		if d.Code != spec.CodeBadEncoding || d.Line != tt.line || d.Col != tt.col || !strings.Contains(d.Message, tt.want) || d.Hint == "" {
			t.Errorf("%s: %v (line %d col %d), want %s at %d:%d containing %q", tt.name, d, d.Line, d.Col, spec.CodeBadEncoding, tt.line, tt.col, tt.want)
		}
	}
	// UTF-16 with a byte order mark is YAML the parser decodes: no encoding finding.
	_, diags := Parse("p.yaml", []byte("\xff\xfe"+utf16le("version: 1\n")), Options{Catalog: newTestCatalog(t)})
	for _, d := range diags {
		if d.Code == spec.CodeBadEncoding {
			t.Errorf("UTF-16 with a BOM: %v", d)
		}
	}
}
