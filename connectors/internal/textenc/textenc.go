// Package textenc decodes the single-byte text encodings of POS and spreadsheet exports (Windows-1252 and
// Latin-1, also called ISO-8859-1) to UTF-8, whole or as a stream. It is shared by the connectors that read
// such files (ascend, file).
package textenc

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Encoding names, as configured.
const (
	UTF8        = "utf-8"
	Windows1252 = "windows-1252"
	Latin1      = "latin-1"
)

// Names are the configurable encodings, canonical names first.
var Names = []string{UTF8, Windows1252, Latin1}

// Canonical returns the canonical name of an encoding name, accepting common aliases in any case
// (utf8; cp1252, windows1252; latin1, iso-8859-1, iso8859-1); it fails on any other name.
func Canonical(name string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "", "utf-8", "utf8":
		return UTF8, nil
	case "windows-1252", "windows1252", "cp1252":
		return Windows1252, nil
	case "latin-1", "latin1", "iso-8859-1", "iso8859-1":
		return Latin1, nil
	}
	return "", fmt.Errorf("encoding %q: want one of %s", name, strings.Join(Names, ", "))
}

// cp1252 maps the bytes 0x80-0x9F of Windows-1252 to Unicode. The five bytes Windows-1252 leaves undefined
// (0x81, 0x8D, 0x8F, 0x90, 0x9D) map to the C1 control of the same value, as the WHATWG Encoding Standard
// does; every other byte is the code point of the same value (ASCII and Latin-1).
var cp1252 = [32]rune{
	'€', 0x81, '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', 0x8D, 'Ž', 0x8F,
	0x90, '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', 0x9D, 'ž', 'Ÿ',
}

// runeOf returns the character byte c stands for in enc (Windows1252 or Latin1).
func runeOf(enc string, c byte) rune {
	if enc == Windows1252 && c >= 0x80 && c < 0xA0 {
		return cp1252[c-0x80]
	}
	return rune(c)
}

// Decode1252 returns the UTF-8 text of Windows-1252 bytes.
func Decode1252(data []byte) string { return Decode(Windows1252, data) }

// Decode returns the UTF-8 text of bytes in enc (Windows1252 or Latin1; UTF8 returns the bytes as they are).
func Decode(enc string, data []byte) string {
	if enc == UTF8 {
		return string(data)
	}
	var b strings.Builder
	b.Grow(len(data) + len(data)/8)
	for _, c := range data {
		if c < 0x80 {
			b.WriteByte(c)
		} else {
			b.WriteRune(runeOf(enc, c))
		}
	}
	return b.String()
}

// NewReader returns a reader of the UTF-8 text of r's bytes in enc (Windows1252 or Latin1; UTF8 returns r).
func NewReader(r io.Reader, enc string) io.Reader {
	if enc == UTF8 {
		return r
	}
	return &reader{src: bufio.NewReaderSize(r, 64<<10), enc: enc}
}

type reader struct {
	src     *bufio.Reader
	enc     string
	pending []byte // encoded bytes of a character that did not fit the last Read
}

// Read fills p with decoded text; a character is never split across calls' results except through pending.
func (r *reader) Read(p []byte) (int, error) {
	n := copy(p, r.pending)
	r.pending = r.pending[n:]
	var buf [utf8.UTFMax]byte
	for n < len(p) {
		c, err := r.src.ReadByte()
		if err != nil {
			if n > 0 {
				return n, nil
			}
			return 0, err
		}
		if c < 0x80 {
			p[n] = c
			n++
			continue
		}
		w := utf8.EncodeRune(buf[:], runeOf(r.enc, c))
		k := copy(p[n:], buf[:w])
		n += k
		if k < w {
			r.pending = append(r.pending[:0], buf[k:w]...)
		}
	}
	return n, nil
}
