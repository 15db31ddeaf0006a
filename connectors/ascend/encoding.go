package ascend

import (
	"bytes"
	"errors"
	"unicode/utf8"

	"github.com/possync/possync/connectors/internal/textenc"
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

func decode1252(data []byte) string { return textenc.Decode1252(data) }
