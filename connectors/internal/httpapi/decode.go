package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/possync/possync/spec"
)

// decodeAnswer decodes the body of a 2xx answer into out (nothing to do when out is nil). An answer that
// cannot be decoded gets an error that says what came instead of the JSON the API documents: nothing (for
// a GET, whose empty answer must never read as "no records"), text that is not JSON (an HTML page from a
// proxy or a wrong base_url; its first characters are quoted, the token masked), JSON cut short, or JSON
// of another shape (which field).
func (c *Client) decodeAnswer(method string, data []byte, contentType string, out any) error {
	if out == nil {
		return nil
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		if method == http.MethodGet {
			return fmt.Errorf("the answer (HTTP 2xx) is empty where the API sends JSON: refusing to read it as no records")
		}
		return nil
	}
	err := json.Unmarshal(data, out)
	if err == nil {
		return nil
	}
	var (
		syntax *json.SyntaxError
		typ    *json.UnmarshalTypeError
	)
	switch {
	case trimmed[0] != '{' && trimmed[0] != '[' && (errors.As(err, &syntax) || errors.As(err, &typ)):
		return fmt.Errorf("the answer is not JSON (Content-Type %q, %d bytes, starting %s): check base_url, which must be the API's address",
			contentType, len(data), c.quoteStart(trimmed))
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &syntax) && syntax.Offset >= int64(len(data)):
		return fmt.Errorf("the answer's JSON is cut short after %d bytes (the connection may have dropped): %w", len(data), err)
	case errors.As(err, &typ) && typ.Field != "":
		return fmt.Errorf("decode response: field %s is a JSON %s where the API documents another type: %w", typ.Field, typ.Value, err)
	}
	return fmt.Errorf("decode response: %w", err)
}

// quoteStart quotes the first characters of a body, with the token masked should the server echo it.
func (c *Client) quoteStart(b []byte) string {
	const n = 60
	s := string(b[:min(len(b), 4096)])
	if tok := c.Token.Reveal(); tok != "" { // masked before the cut, which could leave a prefix of it
		var r spec.Redactor
		r.Add(tok)
		s = r.Redact(s)
	}
	if len(s) > n {
		return fmt.Sprintf("%q…", s[:n])
	}
	return fmt.Sprintf("%q", s)
}
