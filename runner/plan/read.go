package plan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// decodeProblem says why b, which failed to decode as a plan with err, is not a plan document, in terms of
// the file rather than of Go's JSON decoder: empty, truncated, UTF-16, not JSON at a line and column, or
// JSON of another shape.
func decodeProblem(b []byte, err error) string {
	var (
		syntax *json.SyntaxError
		typ    *json.UnmarshalTypeError
	)
	switch {
	case len(bytes.TrimSpace(b)) == 0:
		return "the file is empty"
	case bytes.HasPrefix(b, []byte{0xFF, 0xFE}) || bytes.HasPrefix(b, []byte{0xFE, 0xFF}):
		return "the file is UTF-16 text; a plan is the UTF-8 JSON that `possync plan --out` writes"
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return fmt.Sprintf("the file ends in the middle of the document (truncated after %d bytes?)", len(b))
	case errors.As(err, &syntax):
		line, col := lineColumn(b, syntax.Offset)
		return fmt.Sprintf("not JSON at line %d, column %d: %s", line, col, syntax.Error())
	case errors.As(err, &typ) && typ.Field == "":
		return fmt.Sprintf("want a JSON object, have %s", article(typ.Value))
	case errors.As(err, &typ):
		line, _ := lineColumn(b, typ.Offset) // the offset is where the value ends
		return fmt.Sprintf("%s (line %d) is %s, not what a plan holds there", typ.Field, line, article(typ.Value))
	}
	return err.Error()
}

// lineColumn returns the 1-based line and byte column of the byte before offset (the decoder's offset is
// just after the byte it stopped at).
func lineColumn(b []byte, offset int64) (int, int) {
	at := max(0, min(int(offset)-1, len(b)))
	line := 1 + bytes.Count(b[:at], []byte("\n"))
	return line, at - bytes.LastIndexByte(b[:at], '\n')
}

// article names a JSON value kind with its article ("an array", "a string").
func article(kind string) string {
	switch kind {
	case "":
		return "a value"
	case "array", "object":
		return "an " + kind
	}
	return "a " + kind
}

// endOfDocument checks that nothing but white space follows the document dec decoded: a plan with more
// after its closing brace was edited or concatenated, and its tail would otherwise be ignored.
func endOfDocument(dec *json.Decoder) error {
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("more data follows the document, from byte %d", dec.InputOffset())
	}
	return nil
}
