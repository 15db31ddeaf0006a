package runner

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/pipelines/spec"
	"github.com/possync/possync/runner/engine"
)

// touchedTable collects the keys of the snapshot records this session's commits changed.
const touchedTable = "__touched"

// touch adds the keys of a commit's changes relation to touchedTable.
func (s *session) touch(ctx context.Context, changes string) error {
	keys := engine.IdentList(s.p.Key, "")
	if !s.touched {
		if err := s.d.Exec(ctx, fmt.Sprintf("CREATE OR REPLACE TABLE %s AS SELECT %s FROM %s WHERE false", touchedTable, keys, changes)); err != nil {
			return fmt.Errorf("track changed records: %w", err)
		}
		s.touched = true
	}
	if err := s.d.Exec(ctx, fmt.Sprintf("INSERT INTO %s SELECT %s FROM %s", touchedTable, keys, changes)); err != nil {
		return fmt.Errorf("track changed records: %w", err)
	}
	return nil
}

// exportOptions are DuckDB's COPY options per export format.
var exportOptions = map[string]string{
	"csv":     "FORMAT csv, HEADER true",
	"tsv":     "FORMAT csv, HEADER true, DELIMITER '\t'",
	"jsonl":   "FORMAT json",
	"parquet": "FORMAT parquet",
}

// export brings the sink's whole-set file up to date with the snapshot when it lags behind the state: the
// snapshot's records sorted by key, written to a temporary name and renamed over the file.
//
// A CSV or TSV file that is exactly what the last export wrote, when that export was of the state this
// session started from, is merged instead of rewritten from a sort of the whole snapshot: its lines are
// copied as they are except those of the records this session changed, which come from the snapshot
// (written by the same COPY, in key order). Anything that does not hold (the file was touched, the columns
// changed, an earlier run was interrupted before its export, the lines are not in key order) falls back on
// the full export; the two give the same bytes.
func (s *session) export(ctx context.Context) error {
	ex, ok := s.sink.(connectors.Exporter)
	if !ok || s.store.Snapshot() == "" {
		return nil
	}
	e := ex.Export()
	fi, statErr := os.Stat(e.Path)
	if statErr == nil && s.meta.Exported == s.meta.Serial {
		return nil
	}
	opts := exportOptions[e.Format]
	if opts == "" {
		return fmt.Errorf("sink %s: unsupported export format %q", s.p.Sink.Type, e.Format)
	}
	if err := os.MkdirAll(filepath.Dir(e.Path), 0o755); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	tmp := e.Path + ".possync-tmp"
	names := fieldNames(s.recordSchema())
	cols := engine.IdentList(names, "")
	signature := s.exportSignature(e)
	var why string
	switch {
	case statErr != nil:
		why = "no earlier export"
	case !mergeExports:
		why = "merging is off"
	case !s.exportBase:
		why = "the state moved since the last export (an interrupted run)"
	case s.meta.ExportStamp != exportStamp(fi, signature):
		why = "the file or the columns changed since the last export"
	default:
		n, err := s.mergeExport(ctx, e, opts, tmp)
		if err == nil {
			s.logf("export %s: merged %d changed record(s) into the last export", e.Path, n)
			break
		}
		if !errors.Is(err, errNoMerge) {
			return fmt.Errorf("export %s: %w", e.Path, err)
		}
		why = err.Error()
	}
	if why != "" {
		s.logf("export %s: written in full (%s)", e.Path, why)
		q := fmt.Sprintf("COPY (SELECT %s FROM %s ORDER BY %s) TO %s (%s)", cols, s.store.Snapshot(), engine.IdentList(s.p.Key, ""), engine.Lit(tmp), opts)
		if err := s.d.Exec(ctx, q); err != nil {
			return fmt.Errorf("export %s: %w", e.Path, err)
		}
	}
	failpoint("during-export")
	if err := os.Rename(tmp, e.Path); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	fi, err := os.Stat(e.Path)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return s.store.MarkExported(ctx, s.d.Conn(), s.meta.Serial, exportStamp(fi, signature))
}

// exportSignature describes what shapes an export's bytes besides the records: the file, its format and
// the columns with their types.
func (s *session) exportSignature(e connectors.Export) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s|%s", e.Format, e.Path)
	for _, f := range canonical(s.recordSchema()).Fields() {
		fmt.Fprintf(&b, "|%s %s", f.Name, engine.Type(f.Type))
	}
	return b.String()
}

// exportStamp identifies an export's file: its signature, size and modification time.
func exportStamp(fi os.FileInfo, signature string) string {
	return fmt.Sprintf("v1|%d|%d|%s", fi.Size(), fi.ModTime().UnixNano(), signature)
}

// mergeExports turns merging off (tests compare the two ways).
var mergeExports = true

// errNoMerge says the records file cannot be merged and must be written in full.
var errNoMerge = errors.New("cannot merge")

// mergeExport writes tmp as the records file at e.Path with the lines of the records in touchedTable
// replaced by their snapshot records (or dropped, for records no longer in the snapshot).
// It returns how many changed records it merged.
func (s *session) mergeExport(ctx context.Context, e connectors.Export, opts, tmp string) (int, error) {
	if e.Format != "csv" && e.Format != "tsv" {
		return 0, fmt.Errorf("%w: %s files are written in full", errNoMerge, e.Format)
	}
	if !s.touched {
		return 0, fmt.Errorf("%w: no changed records known", errNoMerge)
	}
	names := fieldNames(s.recordSchema())
	keyIdx := make([]int, len(s.p.Key))
	numeric := make([]bool, len(s.p.Key))
	sch := canonical(s.recordSchema())
	for i, k := range s.p.Key {
		keyIdx[i] = slices.Index(names, k)
		switch connectors.TypeName(sch.Field(keyIdx[i]).Type) {
		case "string":
		case "int":
			numeric[i] = true
		default:
			return 0, fmt.Errorf("%w: key field %s is neither text nor an integer", errNoMerge, k)
		}
	}
	touched, err := s.touchedKeys(ctx, numeric)
	if err != nil {
		return 0, err
	}
	if int64(len(touched)) > s.meta.Records/4 {
		return 0, fmt.Errorf("%w: %d of %d records changed", errNoMerge, len(touched), s.meta.Records)
	}
	changed := tmp + ".changed"
	defer os.Remove(changed)
	q := fmt.Sprintf("COPY (SELECT %s FROM %s s SEMI JOIN %s t ON %s ORDER BY %s) TO %s (%s)",
		engine.IdentList(names, "s."), s.store.Snapshot(), touchedTable, spec.KeysEqual(s.p.Key, "s", "t"), engine.IdentList(s.p.Key, "s."), engine.Lit(changed), opts)
	if err := s.d.Exec(ctx, q); err != nil {
		return 0, err
	}
	delim := byte(',')
	if e.Format == "tsv" {
		delim = '\t'
	}
	return len(touched), mergeRecordFiles(e.Path, changed, tmp, delim, keyIdx, numeric, touched)
}

// touchedKeys returns the distinct keys of touchedTable in key order.
func (s *session) touchedKeys(ctx context.Context, numeric []bool) ([]csvKey, error) {
	keys := engine.IdentList(s.p.Key, "")
	var out []csvKey
	err := s.d.Query(ctx, fmt.Sprintf("SELECT DISTINCT %s FROM %s ORDER BY %s", keys, touchedTable, keys), func(b arrow.RecordBatch) error {
		for i := 0; i < int(b.NumRows()); i++ {
			k := make(csvKey, len(numeric))
			for j := range numeric {
				switch col := b.Column(j).(type) {
				case *array.String:
					k[j].text = []byte(col.Value(i))
				case *array.Int64:
					k[j].num = col.Value(i)
				default:
					return fmt.Errorf("%w: key column of type %s", errNoMerge, col.DataType())
				}
			}
			out = append(out, k)
		}
		return nil
	})
	return out, err
}

// csvKey is a record's key as the export orders it: text fields by their bytes, integer fields by value.
type csvKey []keyPart

type keyPart struct {
	text []byte
	num  int64
}

func compareKeys(a, b csvKey, numeric []bool) int {
	for i := range a {
		var c int
		if numeric[i] {
			c = cmpInt(a[i].num, b[i].num)
		} else {
			c = bytes.Compare(a[i].text, b[i].text)
		}
		if c != 0 {
			return c
		}
	}
	return 0
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// mergeRecordFiles writes out: the header and records of base, in order, except those whose key is in
// touched, merged by key with the records of changed (which has the same header). Both inputs must be in
// strictly increasing key order (DuckDB's ORDER BY of text by bytes and of integers by value); when they are
// not, or the headers differ, it returns an error wrapping errNoMerge and the caller writes the file in full.
func mergeRecordFiles(base, changed, out string, delim byte, keyIdx []int, numeric []bool, touched []csvKey) (err error) {
	bf, err := os.Open(base)
	if err != nil {
		return err
	}
	defer bf.Close()
	cf, err := os.Open(changed)
	if err != nil {
		return err
	}
	defer cf.Close()
	of, err := os.Create(out)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := of.Close(); cerr != nil && err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(out)
		}
	}()
	w := bufio.NewWriterSize(of, 1<<20)
	old := newCSVRecords(bf, delim, keyIdx, numeric, base)
	chg := newCSVRecords(cf, delim, keyIdx, numeric, changed)
	oh, err := old.header()
	if err != nil {
		return err
	}
	ch, err := chg.header()
	if err != nil {
		return err
	}
	if !bytes.Equal(oh, ch) {
		return fmt.Errorf("%w: the file's header is not the columns' header", errNoMerge)
	}
	if _, err := w.Write(oh); err != nil {
		return err
	}
	o, err := old.next()
	if err != nil {
		return err
	}
	n, err := chg.next()
	if err != nil {
		return err
	}
	t := 0
	for o != nil || n != nil {
		if o != nil {
			for t < len(touched) && compareKeys(touched[t], old.key, numeric) < 0 {
				t++
			}
			if t < len(touched) && compareKeys(touched[t], old.key, numeric) == 0 {
				if o, err = old.next(); err != nil {
					return err
				}
				continue
			}
		}
		takeOld := n == nil
		if o != nil && n != nil {
			c := compareKeys(old.key, chg.key, numeric)
			if c == 0 {
				return fmt.Errorf("%w: a changed record's key is also an unchanged line of the file", errNoMerge)
			}
			takeOld = c < 0
		}
		if takeOld {
			if _, err := w.Write(o); err != nil {
				return err
			}
			if o, err = old.next(); err != nil {
				return err
			}
		} else {
			if _, err := w.Write(n); err != nil {
				return err
			}
			if n, err = chg.next(); err != nil {
				return err
			}
		}
	}
	return w.Flush()
}

// csvRecords reads the records of a CSV file written by DuckDB's COPY (fields quoted with " when needed,
// quotes doubled, records ending in a newline), parsing each one's key fields only.
type csvRecords struct {
	r       *bufio.Reader
	name    string
	delim   byte
	keyIdx  []int
	numeric []bool
	rec     []byte
	// key is the current record's key; prev the previous one (for the order check).
	key, prev csvKey
	scratch   [][]byte
	started   bool
}

func newCSVRecords(r io.Reader, delim byte, keyIdx []int, numeric []bool, name string) *csvRecords {
	c := &csvRecords{r: bufio.NewReaderSize(r, 1<<20), name: name, delim: delim, keyIdx: keyIdx, numeric: numeric,
		key: make(csvKey, len(keyIdx)), prev: make(csvKey, len(keyIdx)), scratch: make([][]byte, len(keyIdx))}
	for i := range c.prev {
		c.prev[i].text = []byte{}
	}
	return c
}

// record reads the next whole record (a newline inside quotes continues it); nil at the end.
func (c *csvRecords) record() ([]byte, error) {
	c.rec = c.rec[:0]
	quotes := 0
	for {
		line, err := c.r.ReadSlice('\n')
		c.rec = append(c.rec, line...)
		quotes += bytes.Count(line, []byte{'"'})
		switch {
		case err == nil && quotes%2 == 0:
			return c.rec, nil
		case err == nil || errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(c.rec) == 0:
			return nil, nil
		case errors.Is(err, io.EOF):
			return nil, fmt.Errorf("%w: %s ends inside a record", errNoMerge, c.name)
		}
		return nil, err
	}
}

// header returns the first record.
func (c *csvRecords) header() ([]byte, error) {
	h, err := c.record()
	if err != nil {
		return nil, err
	}
	if h == nil {
		return nil, fmt.Errorf("%w: %s is empty", errNoMerge, c.name)
	}
	return append([]byte(nil), h...), nil
}

// next returns the next record (valid until the next call) and parses its key into c.key; nil at the end.
// It fails (errNoMerge) when the record's key does not follow the previous one's.
func (c *csvRecords) next() ([]byte, error) {
	rec, err := c.record()
	if rec == nil || err != nil {
		return nil, err
	}
	if err := c.parseKey(rec); err != nil {
		return nil, err
	}
	if c.started && compareKeys(c.prev, c.key, c.numeric) >= 0 {
		return nil, fmt.Errorf("%w: %s is not in key order", errNoMerge, c.name)
	}
	c.started = true
	for i := range c.key {
		c.prev[i].text = append(c.prev[i].text[:0], c.key[i].text...)
		c.prev[i].num = c.key[i].num
	}
	return rec, nil
}

// parseKey reads the key fields of a record.
func (c *csvRecords) parseKey(rec []byte) error {
	rec = bytes.TrimSuffix(rec, []byte{'\n'})
	field, pos := 0, 0
	for k := 0; k < len(c.keyIdx); {
		var val []byte
		if pos < len(rec) && rec[pos] == '"' {
			val = c.scratch[k][:0]
			pos++
			for {
				q := bytes.IndexByte(rec[pos:], '"')
				if q < 0 {
					return fmt.Errorf("%w: %s: unterminated quote", errNoMerge, c.name)
				}
				val = append(val, rec[pos:pos+q]...)
				pos += q + 1
				if pos < len(rec) && rec[pos] == '"' {
					val = append(val, '"')
					pos++
					continue
				}
				break
			}
			c.scratch[k] = val
		} else {
			end := bytes.IndexByte(rec[pos:], c.delim)
			if end < 0 {
				end = len(rec) - pos
			}
			val = rec[pos : pos+end]
			pos += end
		}
		for j, idx := range c.keyIdx {
			if idx != field {
				continue
			}
			if c.numeric[j] {
				n, err := strconv.ParseInt(string(val), 10, 64)
				if err != nil {
					return fmt.Errorf("%w: %s: key %q is not an integer", errNoMerge, c.name, val)
				}
				c.key[j].num = n
			} else {
				c.key[j].text = val
			}
			k++
		}
		if k == len(c.keyIdx) {
			return nil
		}
		if pos >= len(rec) || rec[pos] != c.delim {
			return fmt.Errorf("%w: %s: a record has too few fields", errNoMerge, c.name)
		}
		pos++
		field++
	}
	return nil
}
