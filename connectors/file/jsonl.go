package file

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/possync/possync/connectors/internal/textenc"
	"github.com/possync/possync/record"
)

// jsonlReader reads a JSON-lines file: one object per line, matched to the schema by key. Blank lines are
// skipped; a key missing from a line or a JSON null is null; other keys are ignored. A declared key that no
// line of a file holds fails the read at the end of the file (missingKeys).
type jsonlReader struct {
	path     string
	encoding string
	f        *os.File
	br       *bufio.Reader
	rb       *array.RecordBuilder
	parse    []parser
	line     int
	eof      bool
	// objects counts the objects read; held says, per schema column, whether one of them had its key.
	objects int
	held    []bool
}

func openJSONL(s *Source, path string, alloc memory.Allocator) (batchReader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("input file: %w", err)
	}
	return &jsonlReader{
		path:     path,
		encoding: s.encoding,
		f:        f,
		br:       bufio.NewReaderSize(textenc.NewReader(f, s.encoding), 64<<10),
		rb:       array.NewRecordBuilder(alloc, s.schema),
		parse:    parsers(s.schema),
		held:     make([]bool, s.schema.NumFields()),
	}, nil
}

// next reads up to batchRows objects.
func (j *jsonlReader) next() (arrow.RecordBatch, error) {
	rows := 0
	for rows < batchRows && !j.eof {
		line, err := j.br.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			j.eof = true
		} else if err != nil {
			return nil, fmt.Errorf("read %s: %w", j.path, err)
		}
		j.line++
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		if err := j.appendLine(line); err != nil {
			if j.eof && errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, fmt.Errorf("%s:%d: %w (the last line ends inside the object: the file may be cut short)", j.path, j.line, err)
			}
			return nil, fmt.Errorf("%s:%d: %w", j.path, j.line, err)
		}
		rows++
	}
	if j.eof && j.objects > 0 {
		if err := j.checkHeld(); err != nil {
			return nil, err
		}
	}
	if rows == 0 {
		return nil, io.EOF
	}
	return j.rb.NewRecordBatch(), nil
}

// checkHeld returns the error for the declared keys no object of the file had, or nil.
func (j *jsonlReader) checkHeld() error {
	var missing []string
	sch := j.rb.Schema()
	for c, held := range j.held {
		if !held {
			missing = append(missing, sch.Field(c).Name)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return missingKeys(j.path, j.encoding, missing)
}

// appendLine appends the object on one line to the builders.
func (j *jsonlReader) appendLine(line []byte) error {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return fmt.Errorf("not a JSON object: %w", err)
	}
	if obj == nil || dec.More() {
		return fmt.Errorf("not a single JSON object")
	}
	j.objects++
	sch := j.rb.Schema()
	for c := range sch.NumFields() { // not Fields(), which copies the field list for every line
		name := sch.Field(c).Name
		v, ok := obj[name]
		j.held[c] = j.held[c] || ok
		if err := appendJSON(j.rb.Field(c), j.parse[c], v); err != nil {
			return fmt.Errorf("column %s: %w", name, err)
		}
	}
	return nil
}

// appendJSON appends a decoded JSON value: strings, numbers and booleans are read like CSV text of the
// column's type (a number in a string column keeps its JSON text); objects and arrays are refused.
func appendJSON(b array.Builder, parse parser, v any) error {
	switch x := v.(type) {
	case nil:
		b.AppendNull()
		return nil
	case string:
		return parse(b, x)
	case json.Number:
		return parse(b, x.String())
	case bool:
		return parse(b, strconv.FormatBool(x))
	case map[string]any:
		return fmt.Errorf("a JSON object is not a %s", record.TypeName(b.Type()))
	}
	return fmt.Errorf("a JSON array is not a %s", record.TypeName(b.Type()))
}

func (j *jsonlReader) close() error {
	if j.rb != nil {
		j.rb.Release()
		j.rb = nil
	}
	if err := j.f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", j.path, err)
	}
	return nil
}

// missingKeys is the error for a JSON-lines file none of whose objects has the declared keys missing: it
// names the file, those keys and the keys of the file's first object (where a renamed key shows).
func missingKeys(path, encoding string, missing []string) error {
	quoted := make([]string, len(missing))
	for i, k := range missing {
		quoted[i] = strconv.Quote(k)
	}
	what := "the key " + quoted[0]
	if len(missing) > 1 {
		what = "the keys " + strings.Join(quoted, ", ")
	}
	first := ""
	switch keys := firstKeys(path, encoding); {
	case keys == nil:
	case len(keys) == 0:
		first = " (the first line is an empty object)"
	default:
		first = " (the first line has " + strings.Join(keys, ", ") + ")"
	}
	return fmt.Errorf("%s: no line has %s, declared in columns%s: a renamed or dropped key would read as null in every record; "+
		"fix the export, or the column's name in the source's columns", path, what, first)
}

// firstKeys returns the keys of the first object of a JSON-lines file, in their order; nil when it cannot
// tell.
func firstKeys(path, encoding string) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	br := bufio.NewReaderSize(textenc.NewReader(f, encoding), 64<<10)
	for {
		line, err := br.ReadBytes('\n')
		if line = bytes.TrimSpace(bytes.TrimPrefix(line, utf8BOM)); len(line) > 0 {
			return objectKeys(line)
		}
		if err != nil {
			return nil
		}
	}
}

// objectKeys returns the top-level keys of a JSON object, in their order; nil when line is not one.
func objectKeys(line []byte) []string {
	dec := json.NewDecoder(bytes.NewReader(line))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	keys := []string{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil
		}
		k, _ := t.(string)
		keys = append(keys, k)
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil
		}
	}
	return keys
}

// checkKeys fails when a JSON-lines file (UTF-8, as DuckDB reads them) holds at least one object and no
// object has the key of a declared column: a renamed or dropped key, which DuckDB reads as null. A key
// missing from some lines only is an optional field and stays null.
//
// It reads each file only until every declared key was seen, which is usually on its first line; a key that
// is missing from the first lines costs a pass over the file until it shows (over the whole file when it
// never does), with a byte search before any JSON decoding.
func (s *Source) checkKeys(ctx context.Context, paths []string) error {
	for _, path := range paths {
		missing, err := s.keysNotHeld(ctx, path)
		if err != nil {
			return err
		}
		if len(missing) > 0 {
			return missingKeys(path, textenc.UTF8, missing)
		}
	}
	return nil
}

// keysNotHeld returns the declared keys that no object of the JSON-lines file at path has (none for a file
// without objects). A line's keys are read only when it may hold a key not yet seen: it contains the key's
// JSON text, or a backslash (an escaped key).
func (s *Source) keysNotHeld(ctx context.Context, path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("input file: %w", err)
	}
	defer f.Close()
	type want struct {
		name string
		text []byte // the key as JSON text, unescaped where JSON allows it
	}
	var missing []want
	for _, fld := range s.schema.Fields() {
		missing = append(missing, want{fld.Name, jsonText(fld.Name)})
	}
	br := bufio.NewReaderSize(f, 64<<10)
	objects := 0
	var long []byte
	for n := 1; len(missing) > 0; n++ {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) { // a line longer than the buffer: gather it whole
			long = append(long[:0], line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = br.ReadSlice('\n')
				long = append(long, line...)
			}
			line = long
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		if n == 1 {
			line = bytes.TrimPrefix(line, utf8BOM)
		}
		if obj := bytes.TrimSpace(line); len(obj) > 0 {
			objects++
			escaped := bytes.IndexByte(obj, '\\') >= 0
			if escaped || slices.ContainsFunc(missing, func(w want) bool { return bytes.Contains(obj, w.text) }) {
				eachKey(obj, func(key []byte) {
					missing = slices.DeleteFunc(missing, func(w want) bool { return w.name == string(key) })
				})
			}
		}
		if err != nil { // io.EOF
			break
		}
		if n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
	}
	if objects == 0 {
		return nil, nil
	}
	names := make([]string, len(missing))
	for i, w := range missing {
		names[i] = w.name
	}
	return names, nil
}

// eachKey calls fn with each top-level key of a JSON object, unescaped (valid during the call only). It
// expects valid JSON (DuckDB read the line); on anything else it may miss keys, never panic.
func eachKey(obj []byte, fn func(key []byte)) {
	depth := 0
	for i := 0; i < len(obj); i++ {
		switch obj[i] {
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		case '"':
			start, escaped := i, false
			for i++; i < len(obj) && obj[i] != '"'; i++ {
				if obj[i] == '\\' {
					escaped = true
					i++
				}
			}
			if depth != 1 || i >= len(obj) {
				continue
			}
			j := i + 1
			for j < len(obj) && (obj[j] == ' ' || obj[j] == '\t' || obj[j] == '\r' || obj[j] == '\n') {
				j++
			}
			if j == len(obj) || obj[j] != ':' {
				continue // a value
			}
			key := obj[start+1 : i]
			if escaped {
				var k string
				if json.Unmarshal(obj[start:i+1], &k) != nil {
					continue
				}
				key = []byte(k)
			}
			fn(key)
		}
	}
}

// jsonText returns a string as JSON text without the HTML escapes of json.Marshal: the bytes a key is
// written as when it is not escaped.
func jsonText(s string) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}
