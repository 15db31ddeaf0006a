package ascend

import (
	"bytes"
	"errors"
	"strings"
	"unicode/utf8"
)

// Encodings a file may be in.
const (
	encUTF8    = "UTF-8"
	encUTF8BOM = "UTF-8 with BOM"
	enc1252    = "Windows-1252"
)

// decodeText returns the text of an upload and its encoding: UTF-8 (a BOM is removed) when the bytes are valid
// UTF-8, Windows-1252 otherwise. UTF-16 (recognised by its BOM) is refused.
func decodeText(data []byte) (string, string, error) {
	if bytes.HasPrefix(data, []byte{0xFF, 0xFE}) || bytes.HasPrefix(data, []byte{0xFE, 0xFF}) {
		return "", "", errors.New("the file is UTF-16; save it as UTF-8 or Windows-1252")
	}
	enc := encUTF8
	if rest, ok := bytes.CutPrefix(data, []byte{0xEF, 0xBB, 0xBF}); ok {
		data, enc = rest, encUTF8BOM
	}
	if utf8.Valid(data) {
		return string(data), enc, nil
	}
	return decode1252(data), enc1252, nil
}

// cp1252 maps the bytes 0x80-0x9F of Windows-1252 to Unicode. The five bytes Windows-1252 leaves undefined
// (0x81, 0x8D, 0x8F, 0x90, 0x9D) map to the C1 control of the same value, as the WHATWG Encoding Standard
// does; every other byte is the code point of the same value (ASCII and Latin-1).
var cp1252 = [32]rune{
	'€', 0x81, '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', 0x8D, 'Ž', 0x8F,
	0x90, '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', 0x9D, 'ž', 'Ÿ',
}

func decode1252(data []byte) string {
	var b strings.Builder
	b.Grow(len(data) + len(data)/8)
	for _, c := range data {
		switch {
		case c < 0x80:
			b.WriteByte(c)
		case c < 0xA0:
			b.WriteRune(cp1252[c-0x80])
		default:
			b.WriteRune(rune(c))
		}
	}
	return b.String()
}
