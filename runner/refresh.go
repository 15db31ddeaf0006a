package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/record"
	"github.com/possync/possync/runner/diff"
	"github.com/possync/possync/runner/engine"
	"github.com/possync/possync/runner/plan"
	"github.com/possync/possync/runner/stage"
	"github.com/possync/possync/runner/state"
	"github.com/possync/possync/spec"
)

// Tables of a refresh: what the target reports, and the base the plan diffs against.
const (
	remoteTable = "__remote"
	baseTable   = "__base"
)

// refreshed is the outcome of reading the target for --refresh.
type refreshed struct {
	input plan.Input
	drift []plan.Drift
	// cols are the base's columns (the snapshot's, or the desired ones before the first apply).
	cols []state.Column
}

// refresh reads the sink's current records and builds the base the plan diffs against instead of the
// snapshot: for every record the pipeline owns (in the snapshot or desired now) that the target still has,
// the target's values for the fields it reports and the snapshot's for the others. A record in the snapshot
// but gone from the target is absent from the base, so the plan creates it again. Target-only records are
// left out: possync never touches what it did not create. Drift is the difference between the snapshot
// and the target.
func (s *session) refresh(ctx context.Context) (*refreshed, error) {
	l, ok := s.sink.(connectors.Lister)
	if !ok {
		return nil, fmt.Errorf("--refresh: the %s sink cannot list its records", s.p.Sink.Type)
	}
	r, err := l.List(s.sinkCtx(ctx), connectors.ReadRequest{Now: s.now, Alloc: s.alloc})
	if err != nil {
		return nil, fmt.Errorf("--refresh: list the %s sink's records: %w", s.p.Sink.Type, err)
	}
	defer r.Close()
	remote, err := s.stageReader(ctx, remoteTable, r)
	if err != nil {
		return nil, fmt.Errorf("--refresh: %w", err)
	}
	for _, k := range s.p.Key {
		if len(remote.FieldIndices(k)) == 0 {
			return nil, fmt.Errorf("--refresh: the %s sink's records have no key field %q", s.p.Sink.Type, k)
		}
	}
	rf := &refreshed{input: plan.Input{Name: "sink", Type: s.p.Sink.Type, Mode: "refresh"}}
	if rf.input.Fingerprint, rf.input.Records, err = stage.Fingerprint(ctx, s.d, engine.Ident(remoteTable)); err != nil {
		return nil, err
	}
	snap := s.store.Snapshot()
	rf.cols = s.meta.Columns
	if snap == "" {
		snap = "(SELECT * FROM " + engine.Ident(s.desired) + " WHERE false)"
		rf.cols = nil
		for _, f := range engine.Canonical(s.recordSchema()).Fields() {
			rf.cols = append(rf.cols, state.Column{Name: f.Name, Type: engine.Type(f.Type)})
		}
	}
	reported := map[string]bool{}
	for _, f := range remote.Fields() {
		reported[f.Name] = f.Name != connectors.Unreported
	}
	s.remoteValue = remoteValueFunc(len(remote.FieldIndices(connectors.Unreported)) > 0)
	var sel []string
	for _, c := range rf.cols {
		src := "s." + engine.Ident(c.Name)
		if reported[c.Name] && !isIn(s.p.Key, c.Name) {
			src = s.remoteValue(c, "s."+engine.Ident(c.Name))
		} else if reported[c.Name] {
			src = "r." + engine.Ident(c.Name)
		}
		sel = append(sel, src+" AS "+engine.Ident(c.Name))
	}
	q := fmt.Sprintf(`CREATE OR REPLACE TABLE %s AS SELECT %s FROM %s r LEFT JOIN %s s ON %s
		WHERE s.%s IS NOT NULL OR EXISTS (SELECT 1 FROM %s d WHERE %s)`,
		baseTable, strings.Join(sel, ", "), remoteTable, snap, spec.KeysEqual(s.p.Key, "s", "r"),
		engine.Ident(s.p.Key[0]), engine.Ident(s.desired), spec.KeysEqual(s.p.Key, "d", "r"))
	if err := s.d.Exec(ctx, q); err != nil {
		return nil, fmt.Errorf("--refresh: %w", err)
	}
	if s.store.Snapshot() != "" {
		if rf.drift, err = s.drift(ctx, reported); err != nil {
			return nil, err
		}
	}
	return rf, nil
}

// drift compares the snapshot with the target, field by field over the fields the target reports.
func (s *session) drift(ctx context.Context, reported map[string]bool) ([]plan.Drift, error) {
	ignore := map[string]bool{}
	for _, f := range s.p.Diff.Ignore {
		ignore[f] = true
	}
	var keys, flags, vals, any []string
	for _, k := range s.p.Key {
		keys = append(keys, "s."+engine.Ident(k))
	}
	var cols []state.Column
	for _, c := range s.meta.Columns {
		if !reported[c.Name] || isIn(s.p.Key, c.Name) || ignore[c.Name] {
			continue
		}
		i := len(cols)
		cols = append(cols, c)
		rv := s.remoteValue(c, "s."+engine.Ident(c.Name))
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
		strings.Join(sel, ", "), s.store.Snapshot(), remoteTable, spec.KeysEqual(s.p.Key, "s", "r"), where, strings.Join(keys, ", "))
	var out []plan.Drift
	err := s.d.Query(ctx, q, func(b arrow.RecordBatch) error {
		for i := 0; i < int(b.NumRows()); i++ {
			r := record.RowRecord(b, i)
			d := plan.Drift{Key: diff.KeyJSON(s.p.Key, r), Missing: r["__missing"] == true}
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
func (s *session) stageReader(ctx context.Context, table string, r connectors.Reader) (*arrow.Schema, error) {
	first, err := r.Next(ctx)
	if errors.Is(err, io.EOF) {
		sch := s.schemas[s.desired]
		var fields []arrow.Field
		for _, k := range s.p.Key {
			fields = append(fields, sch.Field(sch.FieldIndices(k)[0]))
		}
		empty := arrow.NewSchema(fields, nil)
		return empty, s.d.CreateEmpty(ctx, table, empty)
	}
	if err != nil {
		return nil, err
	}
	rr := engine.NewSourceReader(ctx, first.Schema(), r, first)
	err = s.d.Load(ctx, table, rr)
	if rr.SourceErr() != nil {
		return nil, rr.SourceErr()
	}
	return first.Schema(), err
}

// adoptDrift brings the snapshot in line with the target for drifted records the plan does not change (the
// target already holds the desired values, or the record is gone and no longer desired), so later plans
// without --refresh do not act on stale values.
func (s *session) adoptDrift(ctx context.Context, rf *refreshed, runID string) error {
	if len(rf.drift) == 0 || s.store.Snapshot() == "" {
		return nil
	}
	notPlanned := fmt.Sprintf("NOT EXISTS (SELECT 1 FROM %s x WHERE %s)", diff.Table, spec.KeysEqual(s.p.Key, "x", "b"))
	names := columnNames(rf.cols)
	cols := engine.IdentList(names, "b.")
	q := fmt.Sprintf(`CREATE OR REPLACE TABLE __adopt AS
		SELECT 'update' AS __op, %s FROM %s b WHERE %s
		  AND EXISTS (SELECT 1 FROM %s s WHERE %s AND row(%s) IS DISTINCT FROM row(%s))
		UNION ALL BY NAME
		SELECT 'delete' AS __op, %s FROM %s b WHERE %s
		  AND NOT EXISTS (SELECT 1 FROM %s r WHERE %s)`,
		cols, baseTable, notPlanned, s.store.Snapshot(), spec.KeysEqual(s.p.Key, "s", "b"), engine.IdentList(names, "s."), cols,
		engine.IdentList(s.p.Key, "b."), s.store.Snapshot(), notPlanned, remoteTable, spec.KeysEqual(s.p.Key, "r", "b"))
	if err := s.d.Exec(ctx, q); err != nil {
		return fmt.Errorf("adopt drift: %w", err)
	}
	n, err := s.d.Count(ctx, "SELECT count(*) FROM __adopt")
	if err != nil || n == 0 {
		return err
	}
	return s.commit(ctx, &state.Commit{RunID: runID, Changes: "__adopt", Key: s.p.Key, Columns: rf.cols})
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

func columnNames(cols []state.Column) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.Name
	}
	return out
}
