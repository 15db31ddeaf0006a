package runner

import (
	"context"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/record"
	"github.com/possync/possync/runner/engine"
	"github.com/possync/possync/runner/failpoint"
	"github.com/possync/possync/runner/stage"
	"github.com/possync/possync/runner/steps"
	"github.com/possync/possync/spec"
	"github.com/possync/possync/transforms"
)

// This file holds the runner's part of flows that import each record once (orders): the keys a
// connectors.Confirmer source read, and its confirmation after the commit; and the _applied relation.
// (diff.on_change: keep is runner/diff's.) Its SQL goes through runner/engine.

// onceState is what a session keeps for confirming sources and the _applied relation.
type onceState struct {
	// readKeys names, per confirming source, the table of the keys its read delivered this run.
	readKeys map[string]string
	// notes are remarks found while staging, reported with the confirmation.
	notes []string
	// applied is true once the _applied relation is defined; appliedCols its columns (name → DuckDB type).
	applied     bool
	appliedCols []stateCol
}

type stateCol struct{ name, typ string }

func (s *session) once() *onceState {
	if s.onceSt == nil {
		s.onceSt = &onceState{readKeys: map[string]string{}}
	}
	return s.onceSt
}

// keepReadKeys records the keys a confirming source's read delivered (this read's records: for a Changes
// read, its delta, not the merged stored records), before the source tables are dropped. A source without
// the pipeline's key fields cannot be confirmed; that is noted.
func (s *session) keepReadKeys(ctx context.Context, src *source, st *stage.Output) error {
	if _, ok := src.src.(connectors.Confirmer); !ok {
		return nil
	}
	name := src.comp.Name
	sch := src.src.Schema()
	for _, k := range s.p.Key {
		if len(sch.FieldIndices(k)) == 0 {
			s.once().notes = append(s.once().notes, fmt.Sprintf("source %s: its records have no key field %q, so they cannot be "+
				"confirmed; key the pipeline by the source's key", name, k))
			return nil
		}
	}
	from := engine.Ident(name)
	if st.Delta != "" {
		from = engine.Ident(st.Delta)
	}
	table := "__read_keys_" + name
	q := fmt.Sprintf("CREATE OR REPLACE TABLE %s AS SELECT DISTINCT %s FROM %s", engine.Ident(table), engine.IdentList(s.p.Key, ""), from)
	if err := s.d.Exec(ctx, q); err != nil {
		return fmt.Errorf("source %s: keep the keys read: %w", name, err)
	}
	s.once().readKeys[name] = table
	return nil
}

// maxConfirmListed caps the failed confirmations a report lists one by one.
const maxConfirmListed = 20

// confirm calls Confirm on every connectors.Confirmer source with the keys its read delivered this run that
// are in the applied state (applied by this run or an earlier one), once the run's changes are committed and
// checkpointed. Outcomes are notes of the report; nothing here fails the run: the state is already right,
// and the next run, which reads the unconfirmed records again, confirms them again.
func (s *session) confirm(ctx context.Context, rep *Report) {
	if s.onceSt == nil {
		return
	}
	rep.Notes = append(rep.Notes, s.onceSt.notes...)
	snap := s.store.Snapshot()
	for _, src := range s.sources {
		c, ok := src.src.(connectors.Confirmer)
		table := s.onceSt.readKeys[src.comp.Name]
		if !ok || table == "" || snap == "" {
			continue
		}
		name := src.comp.Name
		keys, err := s.appliedKeys(ctx, table, snap)
		if err != nil {
			rep.Notes = append(rep.Notes, fmt.Sprintf("source %s: cannot list the records to confirm: %s (the next run tries again)",
				name, s.p.Secrets.Redact(err.Error())))
			continue
		}
		if len(keys) == 0 {
			continue
		}
		failpoint.Hit("before-confirm")
		done := s.timings.start("confirm " + name)
		outcomes, err := c.Confirm(s.apiCtx(ctx, "source "+name, src.comp.Type), keys)
		done()
		failpoint.Hit("after-confirm")
		rep.Notes = append(rep.Notes, s.confirmNotes(name, keys, outcomes, err)...)
	}
}

// appliedKeys lists the keys of table that are in the snapshot, in key order.
func (s *session) appliedKeys(ctx context.Context, table, snap string) ([]record.Record, error) {
	q := fmt.Sprintf("SELECT k.* FROM %s k SEMI JOIN %s a ON %s ORDER BY %s", engine.Ident(table), snap,
		spec.KeysEqual(s.p.Key, "k", "a"), engine.IdentList(s.p.Key, "k."))
	var keys []record.Record
	err := s.d.Query(ctx, q, func(b arrow.RecordBatch) error {
		for i := 0; i < int(b.NumRows()); i++ {
			keys = append(keys, record.RowRecord(b, i))
		}
		return nil
	})
	return keys, err
}

// confirmNotes words the outcome of one source's confirmation for the report.
func (s *session) confirmNotes(name string, keys []record.Record, outcomes []error, err error) []string {
	confirmed, untried := 0, 0
	var failed []string
	for i, k := range keys {
		var o error = connectors.ErrNotAttempted
		if i < len(outcomes) {
			o = outcomes[i]
		}
		switch {
		case o == nil:
			confirmed++
		case o == connectors.ErrNotAttempted:
			untried++
		default:
			failed = append(failed, connectors.FormatKey(s.p.Key, k)+": "+s.p.Secrets.Redact(o.Error()))
		}
	}
	var notes []string
	msg := fmt.Sprintf("source %s: confirmed %d of %d applied record(s) read this run", name, confirmed, len(keys))
	if len(failed) > 0 || untried > 0 || err != nil {
		msg += fmt.Sprintf(" (%d failed, %d not attempted; the next run confirms them again)", len(failed), untried)
	}
	notes = append(notes, msg)
	if err != nil {
		notes = append(notes, fmt.Sprintf("source %s: confirmation stopped: %s", name, s.p.Secrets.Redact(err.Error())))
	}
	for i, f := range failed {
		if i == maxConfirmListed {
			notes = append(notes, fmt.Sprintf("source %s: ... and %d more confirmation failures", name, len(failed)-i))
			break
		}
		notes = append(notes, fmt.Sprintf("source %s: not confirmed: %s", name, f))
	}
	return notes
}

// appliedRelation is the read-only relation of the last-applied snapshot that SQL steps and SQL transforms
// may read (e.g. order_match's `previous: _applied`, to remember matches made by earlier runs).
const appliedRelation = "_applied"

// AppliedReader may be implemented by transforms that read the _applied relation: the fields they read, so
// that _applied has them (as nulls) before the first apply, or when the snapshot predates them. The steps
// stage (steps.Input.Built) hands each built transform to defineApplied.
type AppliedReader = steps.AppliedReader

// usesApplied reports whether any step's configuration names the _applied relation (in a query, an input,
// or a relation option): only then is it defined, so other pipelines pay nothing for it.
func (s *session) usesApplied() bool {
	for _, st := range s.p.Transforms {
		if st.Input == appliedRelation || mentions(st.Config.Values, appliedRelation) {
			return true
		}
	}
	return false
}

func mentions(v any, word string) bool {
	switch x := v.(type) {
	case string:
		return strings.Contains(x, word)
	case spec.Expr:
		return strings.Contains(x.Text, word)
	case []any:
		for _, e := range x {
			if mentions(e, word) {
				return true
			}
		}
	case map[string]any:
		for _, e := range x {
			if mentions(e, word) {
				return true
			}
		}
	}
	return false
}

// defineApplied (re)defines the _applied view when a step uses it: the snapshot's columns (or, before the
// first apply, no rows and the columns of the sources), plus the fields transform tr reads from it (when it
// implements AppliedReader) as nulls when missing. Called before the steps and with each built step.
func (s *session) defineApplied(ctx context.Context, tr transforms.Transform) error {
	if _, reads := tr.(AppliedReader); !reads && !s.usesApplied() {
		return nil
	}
	o := s.once()
	have := map[string]bool{}
	for _, c := range o.appliedCols {
		have[c.name] = true
	}
	add := func(name, typ string) {
		if !have[name] {
			have[name] = true
			o.appliedCols = append(o.appliedCols, stateCol{name, typ})
		}
	}
	snap := s.store.Snapshot()
	if !o.applied {
		if snap != "" {
			for _, c := range s.meta.Columns {
				add(c.Name, c.Type)
			}
		} else {
			for _, src := range s.sources {
				for _, f := range src.src.Schema().Fields() {
					add(f.Name, engine.Type(f.Type))
				}
			}
		}
	}
	n := len(o.appliedCols)
	if r, ok := tr.(AppliedReader); ok {
		for _, f := range r.AppliedFields() {
			add(f.Name, engine.Type(f.Type))
		}
	}
	if o.applied && n == len(o.appliedCols) {
		return nil
	}
	inSnap := map[string]bool{}
	if snap != "" {
		for _, c := range s.meta.Columns {
			inSnap[c.Name] = true
		}
	}
	cols := make([]string, 0, len(o.appliedCols))
	for _, c := range o.appliedCols {
		if inSnap[c.name] {
			cols = append(cols, "a."+engine.Ident(c.name))
		} else {
			cols = append(cols, fmt.Sprintf("CAST(NULL AS %s) AS %s", c.typ, engine.Ident(c.name)))
		}
	}
	q := fmt.Sprintf("SELECT %s WHERE false", strings.Join(cols, ", "))
	if snap != "" {
		q = fmt.Sprintf("SELECT %s FROM %s a", strings.Join(cols, ", "), snap)
	}
	if err := s.d.Exec(ctx, fmt.Sprintf("CREATE OR REPLACE TEMP VIEW %s AS %s", engine.Ident(appliedRelation), q)); err != nil {
		return fmt.Errorf("define %s: %w", appliedRelation, err)
	}
	o.applied = true
	return nil
}

// dropApplied drops the _applied view once the steps ran.
func (s *session) dropApplied(ctx context.Context) error {
	if s.onceSt == nil || !s.onceSt.applied {
		return nil
	}
	s.onceSt.applied, s.onceSt.appliedCols = false, nil
	return s.d.Exec(ctx, "DROP VIEW IF EXISTS "+engine.Ident(appliedRelation))
}
