// Package file is the file connector: a source reading CSV, TSV, JSON lines or Parquet files, and a sink
// keeping the whole applied record set in one such file plus a JSON-lines log of every applied change.
//
// The runner reads the source's files with DuckDB through Scan; Read exists for callers without DuckDB and
// reads the same files the same way. The runner also writes the sink's records file (Export); the sink itself
// only appends the change log.
package file

import (
	"context"
	"fmt"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/connectors/internal/textenc"
	"github.com/possync/possync/record"
	"github.com/possync/possync/spec"
)

var sourceSpec = spec.Component{
	Kind:    spec.KindSource,
	Name:    "file",
	Summary: "Read records from CSV, TSV, JSON lines or Parquet files.",
	Description: `Reads every record of one file, or of every file a glob pattern matches (read in sorted order, all of
the same layout). Each run reads the files whole: the read is a snapshot, so a record missing from the files
no longer exists.

The declared columns are the source's schema. CSV and TSV files with a header are matched to them by name
(other columns are ignored); without a header the declared columns are the file's columns, in order. JSON
lines are objects matched by key: a key missing from some lines is null there, but a declared key that no
line of a file holds (renamed or dropped in the export) is an error naming the file and the key. Parquet
columns are matched by name and converted to the declared type. Dates read as YYYY-MM-DD; timestamps as RFC
3339 or "YYYY-MM-DD hh:mm:ss[.fff]" (UTC when no offset is given); booleans as true/false, t/f, yes/no, y/n or
1/0.

Bad input plans nothing: a file that cannot be read as declared (a missing column, a malformed row, a value
of the wrong type) fails the run with an error naming the file and the line. So does a CSV or TSV file that
ends without a line end where the file of the last applied read ended with one (in a glob, a new file where
every file of that read did): it was probably cut short inside its last row's last field (a price of 129.95
read as 12), and the error names the file, the line and the row's key. If the file is complete, end it with
a line end, or run once with --allow-mass-change, which reads it as it is and takes it as the baseline.`,
	Fields: []spec.Field{
		{
			Name:     "path",
			Type:     spec.TypeString,
			Required: true,
			Description: "File to read, relative to the pipeline file's folder. May be a glob pattern (*, ?, [...]): " +
				"every matching file is read, in sorted order; a pattern matching no file is an error.",
			Example: "data/products.csv",
		},
		{
			Name: "format",
			Type: spec.TypeString,
			Enum: formats,
			Description: "File format. Default: from the extension (.csv: csv; .tsv, .txt: tsv; .jsonl, .ndjson: " +
				"jsonl; .parquet: parquet).",
			Example: "csv",
		},
		{
			Name:    "header",
			Type:    spec.TypeBool,
			Default: true,
			Description: "CSV and TSV: the first row names the columns. When false, the declared columns are the " +
				"file's columns, in order.",
		},
		{
			Name:        "delimiter",
			Type:        spec.TypeString,
			Description: `CSV only: the field separator, one character (default ","). TSV always uses a tab.`,
			Example:     ";",
			Advanced:    true,
		},
		{
			Name:        "null_string",
			Type:        spec.TypeString,
			Default:     "",
			Description: "CSV and TSV: the field text read as null, whatever the column type (default: an empty field).",
			Example:     "NULL",
			Advanced:    true,
		},
		{
			Name:    "encoding",
			Type:    spec.TypeString,
			Default: textenc.UTF8,
			Enum:    textenc.Names,
			Description: "CSV, TSV and JSON lines: the text encoding of the files. POS and spreadsheet exports are " +
				"often windows-1252 (or latin-1, also called ISO-8859-1); a UTF-8 byte order mark is skipped. " +
				"Files in another encoding than utf-8 are read by possync itself rather than by DuckDB (slower " +
				"for very large files).",
			Example: "windows-1252",
		},
		{
			Name:    "min_rows_percent",
			Type:    spec.TypeFloat,
			Default: 50,
			Description: "Files with fewer records than this percentage of the last applied read, or whose header " +
				"differs from it, are suspect (an export or copy cut short, the wrong file): the run then deletes " +
				"and deactivates nothing because it is missing, and says why in the plan. 0 turns the record " +
				"count check off.",
			Advanced: true,
		},
		{
			Name:     "columns",
			Type:     spec.TypeList,
			Required: true,
			Description: "The columns to read, in order, with their types. They are the source's schema; every " +
				"column is nullable.",
			Items: &spec.Field{
				Type: spec.TypeObject,
				Fields: []spec.Field{
					{Name: "name", Type: spec.TypeString, Required: true, Description: "Column name.", Example: "sku"},
					{
						Name:        "type",
						Type:        spec.TypeString,
						Required:    true,
						Enum:        record.TypeNames(),
						Description: "Column type.",
						Example:     "string",
					},
				},
			},
			Example: []any{
				map[string]any{"name": "sku", "type": "string"},
				map[string]any{"name": "price", "type": "float"},
			},
		},
	},
	Example: `source:
  type: file
  path: data/products.csv
  columns:
    - {name: sku, type: string}
    - {name: title, type: string}
    - {name: price, type: float}
    - {name: stock, type: int}
    - {name: updated_at, type: timestamp}`,
	Config: sourceConfig{},
}

func init() {
	connectors.Sources.MustRegister(sourceSpec, registeredSource)
}

type column struct {
	Name string `spec:"name"`
	Type string `spec:"type"`
}

type sourceConfig struct {
	Path       string   `spec:"path"`
	Format     string   `spec:"format"`
	Header     bool     `spec:"header"`
	Delimiter  string   `spec:"delimiter"`
	NullString string   `spec:"null_string"`
	Encoding   string   `spec:"encoding"`
	MinRows    float64  `spec:"min_rows_percent"`
	Columns    []column `spec:"columns"`
}

// Source reads the files of a file source. It is safe for concurrent use.
type Source struct {
	// pattern is the absolute path or glob pattern of the files.
	pattern    string
	format     string
	header     bool
	comma      rune // CSV/TSV field separator
	delimiter  string
	nullString string
	encoding   string // textenc's canonical name
	// minRowsPercent is min_rows_percent (ReviewScan).
	minRowsPercent float64
	schema         *arrow.Schema
	// key names the pipeline's record key fields (connectors.Env.Key): those that are also declared columns
	// name a row in errors.
	key []string
}

var (
	_ connectors.Scanner          = (*Source)(nil)
	_ connectors.ConnectionTester = (*Source)(nil)
)

// NewSource builds a file source from its configuration; relative paths resolve against env.Dir. It fails on
// a format it cannot tell, a bad delimiter, or bad columns (none, an unnamed or repeated one, an unknown
// type). It does not touch the files.
func NewSource(cfg spec.Config, env connectors.Env) (*Source, error) {
	c := sourceConfig{Header: true, MinRows: 50}
	if err := cfg.Decode(&c); err != nil {
		return nil, err
	}
	if c.Path == "" {
		return nil, fmt.Errorf("path is required")
	}
	pattern, err := resolve(env.Dir, c.Path)
	if err != nil {
		return nil, err
	}
	format, err := formatOf(c.Format, c.Path)
	if err != nil {
		return nil, err
	}
	if c.MinRows < 0 || c.MinRows > 100 {
		return nil, fmt.Errorf("min_rows_percent %g is not a percentage (0-100; 0 turns the check off)", c.MinRows)
	}
	s := &Source{pattern: pattern, format: format, header: c.Header, comma: ',', nullString: c.NullString, minRowsPercent: c.MinRows,
		key: env.Key}
	if s.encoding, err = textenc.Canonical(c.Encoding); err != nil {
		return nil, err
	}
	if s.encoding != textenc.UTF8 && format == "parquet" {
		return nil, fmt.Errorf("encoding applies to csv, tsv and jsonl files, not parquet")
	}
	if format == "tsv" {
		s.comma = '\t'
	}
	if c.Delimiter != "" {
		r, size := utf8.DecodeRuneInString(c.Delimiter)
		switch {
		case format != "csv":
			return nil, fmt.Errorf("delimiter applies only to the csv format, not %s", format)
		case size != len(c.Delimiter) || r == utf8.RuneError:
			return nil, fmt.Errorf("delimiter %q must be a single character", c.Delimiter)
		case r == '"' || r == '\r' || r == '\n':
			return nil, fmt.Errorf("delimiter %q cannot be a quote or a line break", c.Delimiter)
		}
		s.comma, s.delimiter = r, c.Delimiter
	}
	if s.schema, err = columnsSchema(c.Columns); err != nil {
		return nil, err
	}
	return s, nil
}

// registeredSource is the registered constructor: a source whose files are not UTF-8 is read by Read (which
// decodes them), so it does not offer the runner a DuckDB scan.
func registeredSource(cfg spec.Config, env connectors.Env) (connectors.Source, error) {
	s, err := NewSource(cfg, env)
	if err != nil {
		return nil, err
	}
	if s.encoding != textenc.UTF8 {
		return decodedSource{s}, nil
	}
	return s, nil
}

// decodedSource is a Source without Scan.
type decodedSource struct{ s *Source }

var _ connectors.ConnectionTester = decodedSource{}

func (d decodedSource) Schema() *arrow.Schema { return d.s.Schema() }
func (d decodedSource) Read(ctx context.Context, req connectors.ReadRequest) (connectors.Reader, error) {
	return d.s.Read(ctx, req)
}
func (d decodedSource) Check(ctx context.Context) error { return d.s.Check(ctx) }

// columnsSchema returns the schema of the declared columns, all nullable.
func columnsSchema(cols []column) (*arrow.Schema, error) {
	if len(cols) == 0 {
		return nil, fmt.Errorf("columns: declare at least one column")
	}
	fields := make([]arrow.Field, len(cols))
	seen := make(map[string]bool, len(cols))
	for i, c := range cols {
		if c.Name == "" {
			return nil, fmt.Errorf("columns: column %d has no name", i+1)
		}
		if seen[c.Name] {
			return nil, fmt.Errorf("columns: column %q is declared twice", c.Name)
		}
		seen[c.Name] = true
		t, err := record.ArrowType(c.Type)
		if err != nil {
			return nil, fmt.Errorf("columns: column %q: %w", c.Name, err)
		}
		fields[i] = arrow.Field{Name: c.Name, Type: t, Nullable: true}
	}
	return arrow.NewSchema(fields, nil), nil
}

// Schema returns the declared columns as an Arrow schema.
func (s *Source) Schema() *arrow.Schema { return s.schema }

// Scan resolves the files to read (every match of a glob, sorted, as absolute paths) and checks that each is
// a readable file; the error names the path or the pattern that matched nothing.
func (s *Source) Scan(_ context.Context, _ connectors.ReadRequest) (*connectors.Scan, error) {
	paths, err := expand(s.pattern)
	if err != nil {
		return nil, err
	}
	return s.scanOf(paths), nil
}

// scanOf describes the files at paths, resolved already, for DuckDB's readers (Scan) or a review of them.
func (s *Source) scanOf(paths []string) *connectors.Scan {
	return &connectors.Scan{
		Format:     s.format,
		Paths:      paths,
		Header:     s.header && s.delimited(),
		Delimiter:  s.delimiter,
		NullString: s.nullString,
	}
}

// Read reads the files in Go, without DuckDB, into batches of the declared schema. A file that cannot be
// read as declared (a missing column, a malformed row, a value of the wrong type) fails the read with an
// error naming the file and, for CSV, TSV and JSON lines, the line. The result is a Snapshot, checked
// against the last applied read as ReviewScan checks what DuckDB read (a file cut inside its last row fails
// the read at its end; too few records or another header hold deletions), with its checkpoint.
func (s *Source) Read(_ context.Context, req connectors.ReadRequest) (connectors.Reader, error) {
	paths, err := expand(s.pattern)
	if err != nil {
		return nil, err
	}
	alloc := req.Alloc
	if alloc == nil {
		alloc = memory.DefaultAllocator
	}
	return &reader{src: s, paths: paths, alloc: alloc, req: req}, nil
}

// Check verifies that the path or pattern names readable files.
func (s *Source) Check(_ context.Context) error {
	_, err := expand(s.pattern)
	return err
}

// delimited reports whether the format is CSV or TSV.
func (s *Source) delimited() bool { return s.format == "csv" || s.format == "tsv" }
