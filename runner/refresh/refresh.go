// Package refresh is the --refresh stage: it reads the sink's current records (connectors.Lister) into a
// table, builds the base the diff compares the desired records with instead of the state's snapshot (the
// target's values for the fields it reports, the last-applied ones for the others), lists the drift (records
// edited or removed directly on the target), and after an apply derives the drift to adopt into the state.
//
// It owns: the tables RemoteTable, BaseTable and AdoptTable, and the drift. It may not touch: the state
// store (it reads the snapshot relation it is given; the caller commits the adoption), the desired table
// (read only), the diff table (read only, to leave planned records alone), and the sink beyond List.
package refresh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/record"
	"github.com/possync/possync/runner/diff"
	"github.com/possync/possync/runner/engine"
	"github.com/possync/possync/runner/plan"
	"github.com/possync/possync/runner/stage"
	"github.com/possync/possync/runner/state"
	"github.com/possync/possync/spec"
)

// Tables of a refresh: what the target reports, the base the plan diffs against, and the drift to adopt.
const (
	RemoteTable = "__remote"
	BaseTable   = "__base"
	AdoptTable  = "__adopt"
)

// Input is what a refresh reads.
type Input struct {
	// Sink is the pipeline's sink; it must be a connectors.Lister. SinkType names it in errors.
	Sink     connectors.Sink
	SinkType string
	// Key names the record key fields.
	Key []string
	// Desired is the desired records' table, and DesiredSchema its schema (an empty listing is a table of
	// its key fields).
	Desired       string
	DesiredSchema *arrow.Schema
	// RecordSchema is the schema of the records the state keeps: the base's columns before the first apply.
	RecordSchema *arrow.Schema
	// Snapshot is the state's snapshot relation ("" before the first apply), and Columns its columns.
	Snapshot string
	Columns  []state.Column
	// Ignore are the fields diff.ignore leaves out of the comparison: never drift.
	Ignore []string
	// Now and Alloc are passed to the listing's request.
	Now   time.Time
	Alloc memory.Allocator
}

// Result is the outcome of reading the target for --refresh.
type Result struct {
	// Input describes the listing as a plan input (name "sink", mode "refresh").
	Input plan.Input
	// Drift lists the differences between the snapshot and the target, by key.
	Drift []plan.Drift
	// Columns are BaseTable's columns (the snapshot's, or the desired ones before the first apply).
	Columns []state.Column

	key      []string
	snapshot string
	// remoteValue reads a listed column of the target (alias r) as the base's type.
	remoteValue func(c state.Column, applied string) string
}

// Run reads the sink's current records into RemoteTable and builds BaseTable: for every record the pipeline
// owns (in the snapshot or desired now) that the target still has, the target's values for the fields it
// reports and the snapshot's for the others. A record in the snapshot but gone from the target is absent
// from the base, so the plan creates it again. Target-only records are left out: possync never touches what
// it did not create. Drift is the difference between the snapshot and the target.
func Run(ctx context.Context, db *engine.DB, in Input) (*Result, error) {
	l, ok := in.Sink.(connectors.Lister)
	if !ok {
		return nil, fmt.Errorf("--refresh: the %s sink cannot list its records", in.SinkType)
	}
	r, err := l.List(ctx, connectors.ReadRequest{Now: in.Now, Alloc: in.Alloc})
	if err != nil {
		return nil, fmt.Errorf("--refresh: list the %s sink's records: %w", in.SinkType, err)
	}
	defer r.Close()
	remote, err := stageReader(ctx, db, RemoteTable, r, in)
	if err != nil {
		return nil, fmt.Errorf("--refresh: %w", err)
	}
	for _, k := range in.Key {
		if len(remote.FieldIndices(k)) == 0 {
			return nil, fmt.Errorf("--refresh: the %s sink's records have no key field %q", in.SinkType, k)
		}
	}
	rf := &Result{Input: plan.Input{Name: "sink", Type: in.SinkType, Mode: "refresh"}, key: in.Key, snapshot: in.Snapshot}
	if rf.Input.Fingerprint, rf.Input.Records, err = stage.Fingerprint(ctx, db, engine.Ident(RemoteTable)); err != nil {
		return nil, err
	}
	snap := in.Snapshot
	rf.Columns = in.Columns
	if snap == "" {
		snap = "(SELECT * FROM " + engine.Ident(in.Desired) + " WHERE false)"
		rf.Columns = nil
		for _, f := range engine.Canonical(in.RecordSchema).Fields() {
			rf.Columns = append(rf.Columns, state.Column{Name: f.Name, Type: engine.Type(f.Type)})
		}
	}
	reported := map[string]bool{}
	for _, f := range remote.Fields() {
		reported[f.Name] = f.Name != connectors.Unreported
	}
	rf.remoteValue = remoteValueFunc(len(remote.FieldIndices(connectors.Unreported)) > 0)
	var sel []string
	for _, c := range rf.Columns {
		src := "s." + engine.Ident(c.Name)
		if reported[c.Name] && !slices.Contains(in.Key, c.Name) {
			src = rf.remoteValue(c, "s."+engine.Ident(c.Name))
		} else if reported[c.Name] {
			src = "r." + engine.Ident(c.Name)
		}
		sel = append(sel, src+" AS "+engine.Ident(c.Name))
	}
	q := fmt.Sprintf(`CREATE OR REPLACE TABLE %s AS SELECT %s FROM %s r LEFT JOIN %s s ON %s
		WHERE s.%s IS NOT NULL OR EXISTS (SELECT 1 FROM %s d WHERE %s)`,
		BaseTable, strings.Join(sel, ", "), RemoteTable, snap, spec.KeysEqual(in.Key, "s", "r"),
		engine.Ident(in.Key[0]), engine.Ident(in.Desired), spec.KeysEqual(in.Key, "d", "r"))
	if err := db.Exec(ctx, q); err != nil {
		return nil, fmt.Errorf("--refresh: %w", err)
	}
	if in.Snapshot != "" {
		if rf.Drift, err = rf.drift(ctx, db, in, reported); err != nil {
			return nil, err
		}
	}
	return rf, nil
}

// drift compares the snapshot with the target, field by field over the fields the target reports.
func (rf *Result) drift(ctx context.Context, db *engine.DB, in Input, reported map[string]bool) ([]plan.Drift, error) {
	var keys, flags, vals, any []string
	for _, k := range in.Key {
		keys = append(keys, "s."+engine.Ident(k))
	}
	var cols []state.Column
	for _, c := range in.Columns {
		if !reported[c.Name] || slices.Contains(in.Key, c.Name) || slices.Contains(in.Ignore, c.Name) {
			continue
		}
		i := len(cols)
		cols = append(cols, c)
		rv := rf.remoteValue(c, "s."+engine.Ident(c.Name))
		d := fmt.Sprintf("(s.%s IS DISTINCT FROM %s)", engine.Ident(c.Name), rv)
		any = append(any, d)
		flags = append(flags, fmt.Sprintf("%s AS __d_%d", d, i))
		vals = append(vals, fmt.Sprintf("s.%s AS __s_%d, %s AS __r_%d", engine.Ident(c.Name), i, rv, i))
	}
	where := "r.__r IS NULL"
	if len(any) > 0 {
		where += " OR " + strings.Join(any, " OR ")
	}
	sel := append(append(append([]string{"r.__r IS NULL AS __missing"}, keys...), flags...), vals...)
	q := fmt.Sprintf("SELECT %s FROM %s s LEFT JOIN (SELECT *, true AS __r FROM %s) r ON %s WHERE %s ORDER BY %s",
		strings.Join(sel, ", "), in.Snapshot, RemoteTable, spec.KeysEqual(in.Key, "s", "r"), where, strings.Join(keys, ", "))
	var out []plan.Drift
	err := db.Query(ctx, q, func(b arrow.RecordBatch) error {
		for i := 0; i < int(b.NumRows()); i++ {
			r := record.RowRecord(b, i)
			d := plan.Drift{Key: diff.KeyJSON(in.Key, r), Missing: r["__missing"] == true}
			if !d.Missing {
				for j, c := range cols {
					if r["__d_"+strconv.Itoa(j)] == true {
						d.Fields = append(d.Fields, plan.FieldChange{Name: c.Name,
							Before: diff.JSONValue(r["__s_"+strconv.Itoa(j)]), After: diff.JSONValue(r["__r_"+strconv.Itoa(j)])})
					}
				}
			}
			out = append(out, d)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("--refresh: drift: %w", err)
	}
	return out, nil
}

// stageReader loads a reader whose schema is known only from its first batch into a table, and returns
// that schema. An empty read gives an empty table of the key fields.
func stageReader(ctx context.Context, db *engine.DB, table string, r connectors.Reader, in Input) (*arrow.Schema, error) {
	first, err := r.Next(ctx)
	if errors.Is(err, io.EOF) {
		var fields []arrow.Field
		for _, k := range in.Key {
			fields = append(fields, in.DesiredSchema.Field(in.DesiredSchema.FieldIndices(k)[0]))
		}
		empty := arrow.NewSchema(fields, nil)
		return empty, db.CreateEmpty(ctx, table, empty)
	}
	if err != nil {
		return nil, err
	}
	rr := engine.NewSourceReader(ctx, first.Schema(), r, first)
	err = db.Load(ctx, table, rr)
	if rr.SourceErr() != nil {
		return nil, rr.SourceErr()
	}
	return first.Schema(), err
}

// Adopt builds AdoptTable, the changes that bring the snapshot in line with the target for drifted records
// the plan does not change (planned is the diff table): the target already holds the desired values, or the
// record is gone and no longer desired. Later plans without --refresh then do not act on stale values. It
// returns how many rows AdoptTable holds (0 when there is no drift: no table is made); the caller commits
// them to the state (state.Commit{Changes: AdoptTable, Columns: rf.Columns}).
func (rf *Result) Adopt(ctx context.Context, db *engine.DB, planned string) (int64, error) {
	if len(rf.Drift) == 0 || rf.snapshot == "" {
		return 0, nil
	}
	notPlanned := fmt.Sprintf("NOT EXISTS (SELECT 1 FROM %s x WHERE %s)", planned, spec.KeysEqual(rf.key, "x", "b"))
	names := make([]string, len(rf.Columns))
	for i, c := range rf.Columns {
		names[i] = c.Name
	}
	cols := engine.IdentList(names, "b.")
	q := fmt.Sprintf(`CREATE OR REPLACE TABLE %s AS
		SELECT 'update' AS __op, %s FROM %s b WHERE %s
		  AND EXISTS (SELECT 1 FROM %s s WHERE %s AND row(%s) IS DISTINCT FROM row(%s))
		UNION ALL BY NAME
		SELECT 'delete' AS __op, %s FROM %s b WHERE %s
		  AND NOT EXISTS (SELECT 1 FROM %s r WHERE %s)`,
		AdoptTable, cols, BaseTable, notPlanned, rf.snapshot, spec.KeysEqual(rf.key, "s", "b"), engine.IdentList(names, "s."), cols,
		engine.IdentList(rf.key, "b."), rf.snapshot, notPlanned, RemoteTable, spec.KeysEqual(rf.key, "r", "b"))
	if err := db.Exec(ctx, q); err != nil {
		return 0, fmt.Errorf("adopt drift: %w", err)
	}
	n, err := db.Count(ctx, "SELECT count(*) FROM "+AdoptTable)
	if err != nil {
		return 0, fmt.Errorf("adopt drift: %w", err)
	}
	return n, nil
}

// remoteValueFunc returns how to read a column of the target's listing (alias r) as the base's type: with
// per-record unreported fields, those fall back on the last-applied value (alias s).
func remoteValueFunc(hasUnreported bool) func(c state.Column, applied string) string {
	return func(c state.Column, applied string) string {
		v := fmt.Sprintf("TRY_CAST(r.%s AS %s)", engine.Ident(c.Name), c.Type)
		if !hasUnreported {
			return v
		}
		return fmt.Sprintf("CASE WHEN list_contains(string_split(coalesce(r.%s, ''), ','), %s) THEN %s ELSE %s END",
			engine.Ident(connectors.Unreported), engine.Lit(c.Name), applied, v)
	}
}
