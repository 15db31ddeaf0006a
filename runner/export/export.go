// Package export brings a sink's whole-set records file (connectors.Exporter) up to date with the state's
// snapshot, after an apply's commits: either in full (DuckDB's COPY of the snapshot sorted by key: without
// a sort when a scan proves the snapshot is stored in key order, as a first sync's is; otherwise a large
// snapshot one key range at a time, so that the sort's memory stays bounded: writeFull) or, for a CSV or
// TSV file that is exactly what the last export wrote, by a k-way merge of the file's lines with the
// changed records only (the two give the same bytes). It also keeps the keys of the records the run's
// commits changed (Touched), which the merge needs. A first sync's file is written while its apply commits
// (Early: each commit's records appended as a part), so that the export after the last commit only checks
// the parts and renames the file.
//
// It owns: the export decision, the temporary file (and a ranged or early export's part file) and its
// rename, the file's stamp, the merge, the early export's connection and goroutine. It may not touch: the
// state store (the runner records the export with the Output's stamp), the sink itself, or any table but
// the snapshot (read only) and its own touched-keys tables.
package export

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/record"
	"github.com/possync/possync/runner/engine"
	"github.com/possync/possync/runner/failpoint"
	"github.com/possync/possync/runner/state"
	"github.com/possync/possync/spec"
)

// TouchedTable collects the keys of the snapshot records a run's commits changed; RecordsTable the commits'
// changes relations themselves (their rows, numbered by commit in __commit), while every commit's has the
// same columns and types.
const (
	TouchedTable = "__touched"
	RecordsTable = "__touched_records"
)

// Touched tracks the keys of the snapshot records a run's commits changed, in TouchedTable, and the changed
// records themselves, in RecordsTable: a commit writes each changed key's snapshot record from its changes
// relation (state.Commit.Changes: the key, __op and the after-values of every snapshot column), so the
// latest commit's row of each key, unless a delete, is that key's snapshot record, and the merge reads it
// there instead of joining the whole snapshot (issue #15: the join scanned every column of the 1M-record
// snapshot to find 30,000). A commit whose changes relation differs in columns from the first one's stops
// the records' tracking (the merge then joins the snapshot); the keys are tracked regardless.
type Touched struct {
	db   *engine.DB
	key  []string
	made bool
	// cols are the first changes relation's columns, while RecordsTable holds every
	// commit's rows (nil: it does not); commits counts the commits added.
	cols    []column
	commits int64
}

// NewTouched tracks changed keys (key fields key) in db.
func NewTouched(db *engine.DB, key []string) *Touched { return &Touched{db: db, key: key} }

// Add adds the keys and rows of a commit's changes relation (see state.Commit.Changes). It is called before
// the commit: a commit that fails fails the run before its export.
func (t *Touched) Add(ctx context.Context, changes string) error {
	keys := engine.IdentList(t.key, "")
	cols, err := describe(ctx, t.db, "SELECT * FROM "+changes)
	if err != nil {
		return fmt.Errorf("track changed records: %w", err)
	}
	if !t.made {
		if err := t.db.Exec(ctx, fmt.Sprintf("CREATE OR REPLACE TABLE %s AS SELECT %s FROM %s WHERE false", TouchedTable, keys, changes)); err != nil {
			return fmt.Errorf("track changed records: %w", err)
		}
		if err := t.db.Exec(ctx, fmt.Sprintf("CREATE OR REPLACE TABLE %s AS SELECT *, 0::BIGINT AS __commit FROM %s WHERE false", RecordsTable, changes)); err != nil {
			return fmt.Errorf("track changed records: %w", err)
		}
		t.made, t.cols = true, cols
	}
	if err := t.db.Exec(ctx, fmt.Sprintf("INSERT INTO %s SELECT %s FROM %s", TouchedTable, keys, changes)); err != nil {
		return fmt.Errorf("track changed records: %w", err)
	}
	if t.cols != nil && !slices.Equal(t.cols, cols) {
		t.cols = nil // the merge joins the snapshot instead
		if err := t.db.Exec(ctx, "DROP TABLE IF EXISTS "+RecordsTable); err != nil {
			return fmt.Errorf("track changed records: %w", err)
		}
	}
	if t.cols != nil {
		t.commits++
		if err := t.db.Exec(ctx, fmt.Sprintf("INSERT INTO %s SELECT *, %d FROM %s", RecordsTable, t.commits, changes)); err != nil {
			return fmt.Errorf("track changed records: %w", err)
		}
	}
	return nil
}

// records says whether RecordsTable holds every commit's changed records with the columns names (and __op).
func (t *Touched) records(names []string) bool {
	if !t.Any() || t.cols == nil {
		return false
	}
	has := map[string]bool{}
	for _, c := range t.cols {
		has[c.name] = true
	}
	if !has["__op"] {
		return false
	}
	for _, n := range names {
		if !has[n] {
			return false
		}
	}
	return true
}

// column is a relation's column: its name and DuckDB type.
type column struct{ name, typ string }

// describe returns the columns of query q, as DuckDB's DESCRIBE gives them.
func describe(ctx context.Context, db *engine.DB, q string) ([]column, error) {
	var out []column
	err := db.Query(ctx, "DESCRIBE "+q, func(b arrow.RecordBatch) error {
		var names, types *array.String
		for i, f := range b.Schema().Fields() {
			switch f.Name {
			case "column_name":
				names, _ = b.Column(i).(*array.String)
			case "column_type":
				types, _ = b.Column(i).(*array.String)
			}
		}
		if names == nil || types == nil {
			return fmt.Errorf("DESCRIBE gave %s", b.Schema())
		}
		for i := 0; i < int(b.NumRows()); i++ {
			out = append(out, column{name: strings.Clone(names.Value(i)), typ: strings.Clone(types.Value(i))}) // the batch's memory is freed after fn
		}
		return nil
	})
	return out, err
}

// Any says some keys were added.
func (t *Touched) Any() bool { return t != nil && t.made }

// options are DuckDB's COPY options per export format.
var options = map[string]string{
	"csv":     "FORMAT csv, HEADER true",
	"tsv":     "FORMAT csv, HEADER true, DELIMITER '\t'",
	"jsonl":   "FORMAT json",
	"parquet": "FORMAT parquet",
}

// Input is what an export needs.
type Input struct {
	// Export is the sink's records file; SinkType names the sink in errors.
	Export   connectors.Export
	SinkType string
	// Snapshot is the state's snapshot relation; Meta the state after the run's commits.
	Snapshot string
	Meta     state.Meta
	// Key is the pipeline's key; Schema the records' schema (the desired fields without annotations).
	Key    []string
	Schema *arrow.Schema
	// Base is true when the file's last export was of the state the run started from; Touched holds the keys
	// the run's commits changed. Merge false always writes in full (tests compare the two ways).
	Base    bool
	Touched *Touched
	Merge   bool
	// Early, if not nil, wrote the records during the apply (StartEarly): a full export uses its parts
	// when they are the snapshot's export (Early.finish), and Run stops it before writing anything else.
	Early *Early
	// Beside, when set, is run on the calling goroutine while a merge's pass over the file (which uses no
	// engine) writes it: engine work of the caller's that may run before the file is written (the run's
	// checkpoint). It runs at most once, and only when a merge's pass over the file begins (the caller runs
	// it otherwise): also when that pass then gives up (errNoMerge) and the file is written in full after
	// it. Its outcome is the caller's.
	Beside func()
	// Log receives progress lines (nil: none).
	Log func(format string, args ...any)
}

// Output says what an export did.
type Output struct {
	// Written is true when the file was (re)written; Stamp then identifies it, for state.Store.MarkExported
	// of Meta.Serial.
	Written bool
	Stamp   string
}

// Run brings the records file up to date with the snapshot when it lags behind the state: the snapshot's
// records sorted by key, written to a temporary name and renamed over the file.
//
// A CSV or TSV file that is exactly what the last export wrote, when that export was of the state this
// run started from, is merged instead of rewritten from a sort of the whole snapshot: its lines are copied
// as they are except those of the records this run changed, which come from the snapshot (written by the
// same COPY, in key order). Anything that does not hold (the file was touched, the columns changed, an
// earlier run was interrupted before its export, the lines are not in key order) falls back on the full
// export; the two give the same bytes.
func Run(ctx context.Context, db *engine.DB, in Input) (Output, error) {
	logf := in.Log
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if in.Snapshot == "" {
		return Output{}, nil
	}
	e := in.Export
	fi, statErr := os.Stat(e.Path)
	if statErr == nil && in.Early != nil {
		// A file appeared since the apply started: the early parts are not used, and their writer must stop
		// before anything else writes the temporary file.
		if err := in.Early.Close(); err != nil {
			return Output{}, err
		}
		in.Early = nil
	}
	if statErr == nil && in.Meta.Exported == in.Meta.Serial {
		return Output{}, nil
	}
	opts := options[e.Format]
	if opts == "" {
		return Output{}, fmt.Errorf("sink %s: unsupported export format %q", in.SinkType, e.Format)
	}
	if err := os.MkdirAll(filepath.Dir(e.Path), 0o755); err != nil {
		return Output{}, fmt.Errorf("export: %w", err)
	}
	tmp := e.Path + ".possync-tmp"
	signature := Signature(e, in.Schema)
	var why string
	switch {
	case statErr != nil:
		why = "no earlier export"
	case !in.Merge:
		why = "merging is off"
	case !in.Base:
		why = "the state moved since the last export (an interrupted run)"
	case in.Meta.ExportStamp != Stamp(fi, signature):
		why = "the file or the columns changed since the last export"
	default:
		n, from, err := merge(ctx, db, in, opts, tmp)
		if err == nil {
			logf("export %s: merged %d changed record(s) into the last export (%s)", e.Path, n, from)
			break
		}
		if !errors.Is(err, errNoMerge) {
			return Output{}, fmt.Errorf("export %s: %w", e.Path, err)
		}
		why = err.Error()
	}
	if why != "" {
		way, err := full(ctx, db, in, tmp)
		if err != nil {
			return Output{}, fmt.Errorf("export %s: %w", e.Path, err)
		}
		logf("export %s: written in full (%s)%s", e.Path, why, way.note())
	}
	// A part file of an export killed in the middle (a ranged one, or an early one during its apply) is
	// garbage: every writer of it has stopped by now.
	_ = os.Remove(tmp + ".part")
	failpoint.Hit("during-export")
	if err := os.Rename(tmp, e.Path); err != nil {
		return Output{}, fmt.Errorf("export: %w", err)
	}
	fi, err := os.Stat(e.Path)
	if err != nil {
		return Output{}, fmt.Errorf("export: %w", err)
	}
	return Output{Written: true, Stamp: Stamp(fi, signature)}, nil
}

// Signature describes what shapes an export's bytes besides the records: the file, its format and the
// columns with their types.
func Signature(e connectors.Export, sch *arrow.Schema) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s|%s", e.Format, e.Path)
	for _, f := range engine.Canonical(sch).Fields() {
		fmt.Fprintf(&b, "|%s %s", f.Name, engine.Type(f.Type))
	}
	return b.String()
}

// Stamp identifies an export's file: its signature, size and modification time.
func Stamp(fi os.FileInfo, signature string) string {
	return fmt.Sprintf("v1|%d|%d|%s", fi.Size(), fi.ModTime().UnixNano(), signature)
}

// errNoMerge says the records file cannot be merged and must be written in full.
var errNoMerge = errors.New("cannot merge")

// merge writes tmp as the records file at e.Path with the lines of the records in TouchedTable replaced by
// their snapshot records (or dropped, for records no longer in the snapshot). It returns how many changed
// records it merged and where it read them (changedRecords).
func merge(ctx context.Context, db *engine.DB, in Input, opts, tmp string) (int, string, error) {
	e := in.Export
	if e.Format != "csv" && e.Format != "tsv" {
		return 0, "", fmt.Errorf("%w: %s files are written in full", errNoMerge, e.Format)
	}
	if !in.Touched.Any() {
		return 0, "", fmt.Errorf("%w: no changed records known", errNoMerge)
	}
	names := engine.FieldNames(in.Schema)
	keyIdx := make([]int, len(in.Key))
	numeric := make([]bool, len(in.Key))
	sch := engine.Canonical(in.Schema)
	for i, k := range in.Key {
		keyIdx[i] = slices.Index(names, k)
		switch record.TypeName(sch.Field(keyIdx[i]).Type) {
		case "string":
		case "int":
			numeric[i] = true
		default:
			return 0, "", fmt.Errorf("%w: key field %s is neither text nor an integer", errNoMerge, k)
		}
	}
	touched, err := touchedKeys(ctx, db, in.Key, numeric)
	if err != nil {
		return 0, "", err
	}
	if int64(len(touched)) > in.Meta.Records/4 {
		return 0, "", fmt.Errorf("%w: %d of %d records changed", errNoMerge, len(touched), in.Meta.Records)
	}
	changed := tmp + ".changed"
	defer os.Remove(changed)
	sel, from, err := changedRecords(ctx, db, in, names)
	if err != nil {
		return 0, "", err
	}
	q := fmt.Sprintf("COPY (%s) TO %s (%s)", sel, engine.Lit(changed), opts)
	// One thread: the COPY of 30,000 changed records (of 1M) cost 0.12-0.14 cpu s on two threads, 0.07-0.08
	// on one, in no more wall time (BENCHMARKS.md, #15 full cycle).
	if err := db.WithSetting(ctx, "threads", "1", func() error { return db.Exec(ctx, q) }); err != nil {
		return 0, "", err
	}
	delim := byte(',')
	if e.Format == "tsv" {
		delim = '\t'
	}
	return len(touched), from, mergeBeside(in.Beside, func() error {
		return mergeRecordFiles(e.Path, changed, tmp, delim, keyIdx, numeric, touched)
	})
}

// changedRecords is a query of the snapshot records of the touched keys, columns names, in key order: the
// latest commit's row of each key in RecordsTable, unless a delete, with each column cast to the snapshot's
// type (what the commit's insert into the snapshot does); without those rows (Touched.records), the
// snapshot's records joined with the touched keys.
func changedRecords(ctx context.Context, db *engine.DB, in Input, names []string) (q, from string, err error) {
	if !in.Touched.records(names) {
		return fmt.Sprintf("SELECT %s FROM %s s SEMI JOIN %s t ON %s ORDER BY %s",
				engine.IdentList(names, "s."), in.Snapshot, TouchedTable, spec.KeysEqual(in.Key, "s", "t"), engine.IdentList(in.Key, "s.")),
			"records read from the snapshot", nil
	}
	snap, err := describe(ctx, db, fmt.Sprintf("SELECT %s FROM %s", engine.IdentList(names, ""), in.Snapshot))
	if err != nil {
		return "", "", fmt.Errorf("snapshot columns: %w", err)
	}
	if len(snap) != len(names) {
		return "", "", fmt.Errorf("snapshot columns: %d for %d names", len(snap), len(names))
	}
	cols := make([]string, len(snap))
	for i, c := range snap {
		cols[i] = fmt.Sprintf("CAST(r.%s AS %s) AS %s", engine.Ident(names[i]), c.typ, engine.Ident(names[i]))
	}
	keys := engine.IdentList(in.Key, "")
	return fmt.Sprintf("SELECT * FROM (SELECT %s FROM (SELECT * FROM %s QUALIFY row_number() OVER (PARTITION BY %s ORDER BY __commit DESC) = 1) r WHERE r.__op <> 'delete') ORDER BY %s",
		strings.Join(cols, ", "), RecordsTable, keys, keys), "records read from the commits", nil
}

// touchedKeys returns the distinct keys of TouchedTable in key order.
func touchedKeys(ctx context.Context, db *engine.DB, key []string, numeric []bool) ([]csvKey, error) {
	keys := engine.IdentList(key, "")
	var out []csvKey
	err := db.Query(ctx, fmt.Sprintf("SELECT DISTINCT %s FROM %s ORDER BY %s", keys, TouchedTable, keys), func(b arrow.RecordBatch) error {
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
