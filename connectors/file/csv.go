package file

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/possync/possync/connectors/internal/textenc"
)

// delimitedReader reads a CSV or TSV file.
type delimitedReader struct {
	path   string
	f      *os.File
	r      *csv.Reader
	rb     *array.RecordBuilder
	parse  []parser
	null   string
	fields []int // the file's field index of each schema column
	// first is set while the first data row is still to be read (without a header, it fixes the row width).
	first bool
	src   *Source
}

// utf8BOM is the byte order mark some spreadsheet programs write at the start of a file.
var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// openDelimited opens a CSV or TSV file and, when the source says it has a header, reads it and matches the
// declared columns to it by name.
func openDelimited(s *Source, path string, alloc memory.Allocator) (batchReader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("input file: %w", err)
	}
	br := bufio.NewReaderSize(f, 64<<10)
	if head, err := br.Peek(len(utf8BOM)); err == nil && bytes.Equal(head, utf8BOM) {
		_, _ = br.Discard(len(utf8BOM))
	}
	cr := csv.NewReader(textenc.NewReader(br, s.encoding))
	cr.Comma = s.comma
	cr.ReuseRecord = true
	cr.LazyQuotes = s.format == "tsv"
	d := &delimitedReader{path: path, f: f, r: cr, parse: parsers(s.schema), null: s.nullString, first: !s.header, src: s}
	if s.header {
		d.fields, err = d.matchHeader(s.schema)
	} else {
		d.fields = make([]int, s.schema.NumFields())
		for i := range d.fields {
			d.fields[i] = i
		}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	d.rb = array.NewRecordBuilder(alloc, s.schema)
	return d, nil
}

// matchHeader reads the header row and returns the field index of each schema column.
func (d *delimitedReader) matchHeader(schema *arrow.Schema) ([]int, error) {
	header, err := d.r.Read()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: empty file, want a header row", d.path)
	}
	if err != nil {
		return nil, d.csvError(err)
	}
	index := make(map[string]int, len(header))
	for i, name := range header {
		name = strings.TrimSpace(name)
		if _, dup := index[name]; !dup {
			index[name] = i
		}
	}
	fields := make([]int, schema.NumFields())
	for i, f := range schema.Fields() {
		at, ok := index[f.Name]
		if !ok {
			return nil, fmt.Errorf("%s:1: no column %q in the header (it has %s)%s", d.path, f.Name, strings.Join(header, ", "),
				d.src.delimiterHint(header))
		}
		fields[i] = at
	}
	return fields, nil
}

// next reads up to batchRows rows.
func (d *delimitedReader) next() (arrow.RecordBatch, error) {
	rows := 0
	for rows < batchRows {
		rec, err := d.r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if errors.Is(err, csv.ErrFieldCount) {
			line, _ := d.r.FieldPos(0)
			return nil, fmt.Errorf("%s:%d: row has %d field(s), the header has %d%s", d.path, line, len(rec), d.r.FieldsPerRecord, cutShort(len(rec) < d.r.FieldsPerRecord))
		}
		if err != nil {
			return nil, d.csvError(err)
		}
		if d.first {
			d.first = false
			if len(rec) != len(d.fields) {
				line, _ := d.r.FieldPos(0)
				return nil, fmt.Errorf("%s:%d: row has %d fields, want %d (the declared columns, as the file has no header)",
					d.path, line, len(rec), len(d.fields))
			}
		}
		for c, at := range d.fields {
			text := rec[at]
			if text == d.null {
				d.rb.Field(c).AppendNull()
				continue
			}
			if err := d.parse[c](d.rb.Field(c), text); err != nil {
				line, _ := d.r.FieldPos(at)
				return nil, fmt.Errorf("%s:%d: column %s: %w", d.path, line, d.rb.Schema().Field(c).Name, err)
			}
		}
		rows++
	}
	if rows == 0 {
		return nil, io.EOF
	}
	return d.rb.NewRecordBatch(), nil
}

// csvError names the file and line of a CSV syntax error and says what to do.
func (d *delimitedReader) csvError(err error) error {
	var pe *csv.ParseError
	if !errors.As(err, &pe) {
		return fmt.Errorf("read %s: %w", d.path, err)
	}
	switch {
	case errors.Is(pe.Err, csv.ErrQuote) && pe.Line > pe.StartLine:
		return fmt.Errorf("%s:%d: a quoted field that starts on this line is never closed (it runs to line %d): a closing \" is "+
			"missing, or a \" inside the field is not doubled (\"\"); the file may also be cut short", d.path, pe.StartLine, pe.Line)
	case errors.Is(pe.Err, csv.ErrQuote):
		return fmt.Errorf("%s:%d:%d: a quoted field is not closed properly: a \" inside it is not doubled (\"\"), text follows "+
			"its closing \", or the file is cut short here", d.path, pe.Line, pe.Column)
	case errors.Is(pe.Err, csv.ErrBareQuote):
		return fmt.Errorf("%s:%d:%d: a \" in a field that is not enclosed in quotes: enclose the field in \" and double the \" "+
			"inside it (\"29\"\" wheel\")", d.path, pe.Line, pe.Column)
	}
	return fmt.Errorf("%s:%d: %w", d.path, pe.Line, pe.Err)
}

// cutShort adds a hint to a row with too few fields.
func cutShort(short bool) string {
	if short {
		return " (if this is the last line, the file may be cut short)"
	}
	return ""
}

func (d *delimitedReader) close() error {
	if d.rb != nil {
		d.rb.Release()
		d.rb = nil
	}
	if err := d.f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", d.path, err)
	}
	return nil
}
