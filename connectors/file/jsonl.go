package file

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/possync/possync/connectors/internal/textenc"
	"github.com/possync/possync/record"
)

// jsonlReader reads a JSON-lines file: one object per line, matched to the schema by key. Blank lines are
// skipped; a missing key or a JSON null is null; other keys are ignored.
type jsonlReader struct {
	path  string
	f     *os.File
	br    *bufio.Reader
	rb    *array.RecordBuilder
	parse []parser
	line  int
	eof   bool
}

func openJSONL(s *Source, path string, alloc memory.Allocator) (batchReader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("input file: %w", err)
	}
	return &jsonlReader{
		path:  path,
		f:     f,
		br:    bufio.NewReaderSize(textenc.NewReader(f, s.encoding), 64<<10),
		rb:    array.NewRecordBuilder(alloc, s.schema),
		parse: parsers(s.schema),
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
	if rows == 0 {
		return nil, io.EOF
	}
	return j.rb.NewRecordBatch(), nil
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
	sch := j.rb.Schema()
	for c := range sch.NumFields() { // not Fields(), which copies the field list for every line
		name := sch.Field(c).Name
		if err := appendJSON(j.rb.Field(c), j.parse[c], obj[name]); err != nil {
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
