package runner

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/zeebo/xxh3"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/pipelines"
	"github.com/possync/possync/pipelines/spec"
	"github.com/possync/possync/runner/plan"
)

// source is a built source of the pipeline.
type source struct {
	comp *pipelines.Component
	src  connectors.Source
}

// staged is what staging a source produced.
type staged struct {
	input  plan.Input
	result connectors.ReadResult
	// delta is the table of this read's records when the source read Changes (merged into the table named
	// after the source); empty otherwise.
	delta string
}

// missingColumn recognises DuckDB's error for a declared column the file does not have.
var missingColumn = regexp.MustCompile(`(?:Referenced column "([^"]+)" not found|Columns with names: "([^"]+)" do not exist)`)

// maxListed caps how many bad rows or duplicate keys an error message lists.
const maxListed = 20

// stage reads a source into the table named after it.
func (s *session) stage(ctx context.Context, src *source) (*staged, error) {
	name := src.comp.Name
	req := connectors.ReadRequest{Now: s.now, FullRefresh: s.opts.FullRefresh, AllowMassChange: s.opts.AllowMassChange}
	if !s.opts.FullRefresh {
		cp, err := s.store.Checkpoint(ctx, s.d.conn, name)
		if err != nil {
			return nil, err
		}
		req.Checkpoint = cp
	}
	st := &staged{input: plan.Input{Name: name, Type: src.comp.Type}}
	target := ident(name)
	var filesFP <-chan fileHash
	if sc, ok := src.src.(connectors.Scanner); ok {
		scan, err := sc.Scan(ctx, req)
		if err != nil {
			return nil, fmt.Errorf("%s source %q: %w", src.comp.Type, name, err)
		}
		filesFP = hashFiles(scan.Paths) // beside DuckDB's parse of the same (cached) bytes
		if err := s.scanFiles(ctx, name, target, src.src.Schema(), scan); err != nil {
			return nil, fmt.Errorf("%s source %q: %w", src.comp.Type, name, err)
		}
		if err := s.reviewScan(ctx, src, req, scan, st); err != nil {
			return nil, fmt.Errorf("%s source %q: %w", src.comp.Type, name, err)
		}
	} else {
		res, err := s.readBatches(ctx, name, target, src.src, req)
		if err != nil {
			return nil, fmt.Errorf("%s source %q: %w", src.comp.Type, name, err)
		}
		st.result = res
	}
	if st.result.Mode == connectors.Changes {
		if err := s.mergeChanges(ctx, name, st); err != nil {
			return nil, fmt.Errorf("%s source %q: %w", src.comp.Type, name, err)
		}
	}
	st.input.Mode = st.result.Mode.String()
	if filesFP != nil {
		h := <-filesFP
		if h.err != nil {
			return nil, fmt.Errorf("%s source %q: fingerprint: %w", src.comp.Type, name, h.err)
		}
		n, err := s.d.count(ctx, "SELECT count(*) FROM "+target)
		if err != nil {
			return nil, err
		}
		st.input.Fingerprint, st.input.Records = h.sum, n
		return st, nil
	}
	fp, n, err := s.fingerprint(ctx, target)
	if err != nil {
		return nil, fmt.Errorf("%s source %q: fingerprint: %w", src.comp.Type, name, err)
	}
	st.input.Fingerprint, st.input.Records = fp, n
	return st, nil
}

type fileHash struct {
	sum string
	err error
}

// hashFiles fingerprints files by their names and bytes (xxh3-128), in the background: a file input moved
// exactly when one of its files did.
func hashFiles(paths []string) <-chan fileHash {
	ch := make(chan fileHash, 1)
	go func() {
		h := xxh3.New()
		buf := make([]byte, 1<<20)
		for _, p := range paths {
			f, err := os.Open(p)
			if err != nil {
				ch <- fileHash{err: err}
				return
			}
			fmt.Fprintf(h, "%s\x00", p)
			_, err = io.CopyBuffer(h, f, buf)
			f.Close()
			if err != nil {
				ch <- fileHash{err: err}
				return
			}
		}
		sum := h.Sum128().Bytes()
		ch <- fileHash{sum: "xxh3:" + hex.EncodeToString(sum[:])}
	}()
	return ch
}

// scanFiles loads files DuckDB reads natively. Malformed rows fail the read, each named by file, line and
// column: a row that cannot be read has no trustworthy key, and dropping it would plan its deletion.
func (s *session) scanFiles(ctx context.Context, name, target string, schema *arrow.Schema, scan *connectors.Scan) error {
	if len(scan.Paths) == 0 {
		return errors.New("no files to read")
	}
	paths := make([]string, len(scan.Paths))
	for i, p := range scan.Paths {
		paths[i] = lit(p)
	}
	files := "[" + strings.Join(paths, ", ") + "]"
	cols := make([]string, schema.NumFields())
	for i, f := range schema.Fields() {
		cols[i] = lit(f.Name) + ": " + lit(duckType(f.Type))
	}
	colStruct := "{" + strings.Join(cols, ", ") + "}"
	rejects := "__rejects_" + name
	var from string
	switch scan.Format {
	case "csv", "tsv":
		delim := scan.Delimiter
		if delim == "" {
			delim = ","
			if scan.Format == "tsv" {
				delim = "\t"
			}
		}
		// With a header, declared columns are matched by name (types=, every other column read as text so it
		// can never fail); without one, they are the file's columns in order (columns=).
		layout := "all_varchar = true, types = " + colStruct
		if !scan.Header {
			layout = "columns = " + colStruct
		}
		from = fmt.Sprintf("read_csv(%s, header = %t, delim = %s, quote = '\"', escape = '\"', nullstr = %s, %s, "+
			"store_rejects = true, rejects_table = %s, rejects_scan = %s)",
			files, scan.Header, lit(delim), lit(scan.NullString), layout, lit(rejects), lit(rejects+"_scan"))
	case "jsonl":
		from = fmt.Sprintf("read_json(%s, format = 'newline_delimited', columns = %s)", files, colStruct)
	case "parquet":
		sel := make([]string, schema.NumFields())
		for i, f := range schema.Fields() {
			sel[i] = fmt.Sprintf("CAST(%s AS %s) AS %s", ident(f.Name), duckType(f.Type), ident(f.Name))
		}
		from = fmt.Sprintf("(SELECT %s FROM read_parquet(%s))", strings.Join(sel, ", "), files)
	default:
		return fmt.Errorf("unsupported file format %q", scan.Format)
	}
	if err := s.d.exec(ctx, fmt.Sprintf("CREATE OR REPLACE TABLE %s AS SELECT %s FROM %s", target, identList(fieldNames(schema), ""), from)); err != nil {
		if derr := s.explainScan(ctx, name, scan); derr != nil {
			return derr
		}
		if m := missingColumn.FindStringSubmatch(err.Error()); m != nil {
			return fmt.Errorf("read %s: no column %q in the file (it is declared in columns)", strings.Join(scan.Paths, ", "), m[1]+m[2])
		}
		return fmt.Errorf("read %s: %w", strings.Join(scan.Paths, ", "), err)
	}
	if scan.Format != "csv" && scan.Format != "tsv" {
		return nil
	}
	return s.csvRejects(ctx, rejects)
}

func (s *session) csvRejects(ctx context.Context, rejects string) error {
	n, err := s.d.count(ctx, "SELECT count(DISTINCT (scan_id, file_id, line)) FROM "+ident(rejects)) // DuckDB lists a row once per error
	if err != nil || n == 0 {
		return err
	}
	rows, err := s.d.conn.QueryContext(ctx, fmt.Sprintf(`SELECT s.file_path, e.line, coalesce(e.column_idx, 0), coalesce(e.column_name, ''), e.error_message
		FROM %s e JOIN %s s USING (scan_id, file_id) QUALIFY row_number() OVER (PARTITION BY e.scan_id, e.file_id, e.line ORDER BY e.column_idx) = 1
		ORDER BY s.file_path, e.line LIMIT %d`, ident(rejects), ident(rejects+"_scan"), maxListed))
	if err != nil {
		return err
	}
	defer rows.Close()
	var b strings.Builder
	fmt.Fprintf(&b, "%d malformed row(s); nothing was planned:", n)
	for rows.Next() {
		var file, col, msg string
		var line, idx int64
		if err := rows.Scan(&file, &line, &idx, &col, &msg); err != nil {
			return err
		}
		where := fmt.Sprintf("%s:%d", file, line)
		if idx > 0 {
			where += fmt.Sprintf(":%d", idx)
		}
		if msg = rejectMessage(msg); col != "" && !strings.HasPrefix(msg, "the ") {
			msg = "column " + col + ": " + msg
		}
		fmt.Fprintf(&b, "\n  %s: %s", where, msg)
	}
	if n > maxListed {
		fmt.Fprintf(&b, "\n  ... and %d more", n-maxListed)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return errors.New(b.String())
}

// readBatches loads a source's Arrow batches through DuckDB's Arrow scan.
func (s *session) readBatches(ctx context.Context, name, target string, src connectors.Source, req connectors.ReadRequest) (connectors.ReadResult, error) {
	req.Alloc = s.alloc
	r, err := src.Read(ctx, req)
	if err != nil {
		return connectors.ReadResult{}, err
	}
	defer r.Close()
	rr := &readerAdapter{ctx: ctx, schema: src.Schema(), r: r, refs: 1}
	view := "__view_" + name
	release, err := s.d.arrow.RegisterView(rr, view)
	if err != nil {
		return connectors.ReadResult{}, err
	}
	err = s.d.exec(ctx, fmt.Sprintf("CREATE OR REPLACE TABLE %s AS SELECT * FROM %s", target, ident(view)))
	release()
	if rr.err != nil {
		return connectors.ReadResult{}, rr.err
	}
	if err != nil {
		return connectors.ReadResult{}, err
	}
	if !rr.done {
		return connectors.ReadResult{}, errors.New("read ended before the end of input")
	}
	res := r.Result()
	if res.Mode == connectors.Changes && len(res.Key) == 0 {
		return res, errors.New("an incremental read must name its key (ReadResult.Key)")
	}
	return res, nil
}

// mergeChanges turns a Changes read into the source's full record set: the stored records overlaid by this
// read's records, by the source's key.
func (s *session) mergeChanges(ctx context.Context, name string, st *staged) error {
	delta := "__delta_" + name
	if err := s.d.exec(ctx, fmt.Sprintf("ALTER TABLE %s RENAME TO %s", ident(name), ident(delta))); err != nil {
		return err
	}
	st.delta = delta
	stored := s.store.SourceSnapshot(name)
	if stored == "" {
		return s.d.exec(ctx, fmt.Sprintf("CREATE TABLE %s AS SELECT * FROM %s", ident(name), ident(delta)))
	}
	return s.d.exec(ctx, fmt.Sprintf(`CREATE TABLE %s AS
		SELECT s.* FROM %s s WHERE NOT EXISTS (SELECT 1 FROM %s d WHERE %s)
		UNION ALL BY NAME SELECT * FROM %s`, ident(name), stored, ident(delta), spec.KeysEqual(st.result.Key, "s", "d"), ident(delta)))
}

// fingerprint identifies a relation's content: its row count and an order-independent sum of row hashes.
func (s *session) fingerprint(ctx context.Context, rel string) (string, int64, error) {
	sch, err := s.d.schemaOf(ctx, rel)
	if err != nil {
		return "", 0, err
	}
	var n int64
	var sum string
	q := fmt.Sprintf("SELECT count(*), coalesce(sum(hash(%s))::VARCHAR, '0') FROM %s", identList(fieldNames(sch), ""), rel)
	if err := s.d.conn.QueryRowContext(ctx, q).Scan(&n, &sum); err != nil {
		return "", 0, err
	}
	return fmt.Sprintf("%d:%s", n, sum), n, nil
}

func fieldNames(s *arrow.Schema) []string {
	out := make([]string, s.NumFields())
	for i, f := range s.Fields() {
		out[i] = f.Name
	}
	return out
}

// readerAdapter presents a connectors.Reader as the array.RecordReader DuckDB's Arrow scan pulls from. It
// checks each batch against the declared schema and keeps the source's error, which DuckDB would otherwise
// flatten into a generic scan failure.
type readerAdapter struct {
	ctx    context.Context
	schema *arrow.Schema
	r      connectors.Reader
	cur    arrow.RecordBatch
	// pending is a batch read ahead (to learn the schema), returned first.
	pending arrow.RecordBatch
	err     error
	done    bool
	mu      sync.Mutex
	refs    int64
}

var _ array.RecordReader = (*readerAdapter)(nil)

func (a *readerAdapter) Retain() { a.mu.Lock(); a.refs++; a.mu.Unlock() }

func (a *readerAdapter) Release() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.refs--
	if a.refs == 0 && a.cur != nil {
		a.cur.Release()
		a.cur = nil
	}
}

func (a *readerAdapter) Schema() *arrow.Schema { return a.schema }

func (a *readerAdapter) Next() bool {
	if a.cur != nil {
		a.cur.Release()
		a.cur = nil
	}
	if a.pending != nil {
		a.cur, a.pending = a.pending, nil
		return true
	}
	if a.err != nil || a.done {
		return false
	}
	b, err := a.r.Next(a.ctx)
	if errors.Is(err, io.EOF) {
		a.done = true
		return false
	}
	if err != nil {
		a.err = err
		return false
	}
	if !b.Schema().Equal(a.schema) {
		b.Release()
		a.err = fmt.Errorf("batch schema %s differs from the declared schema %s", b.Schema(), a.schema)
		return false
	}
	a.cur = b
	return true
}

func (a *readerAdapter) Record() arrow.RecordBatch      { return a.cur }
func (a *readerAdapter) RecordBatch() arrow.RecordBatch { return a.cur }
func (a *readerAdapter) Err() error                     { return a.err }
