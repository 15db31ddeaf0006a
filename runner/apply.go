package runner

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/pipelines"
	"github.com/possync/possync/runner/plan"
	"github.com/possync/possync/runner/state"
)

// StaleError refuses a saved plan that no longer matches the inputs, the state or the configuration.
type StaleError struct{ Reasons []string }

func (e *StaleError) Error() string {
	return "the saved plan is stale, nothing was applied: " + strings.Join(e.Reasons, "; ") + "; make a new plan"
}

// BlockedError refuses a plan a guard blocked.
type BlockedError struct{ Guards []plan.Guard }

func (e *BlockedError) Error() string {
	var msgs []string
	for _, g := range e.Guards {
		if g.Verdict == plan.Blocked {
			msgs = append(msgs, g.Name+": "+g.Message)
		}
	}
	return "blocked by guard, nothing was applied: " + strings.Join(msgs, "; ")
}

// RejectedChange is a change the sink refused.
type RejectedChange struct {
	ID     string            `json:"id"`
	Action connectors.Action `json:"action"`
	Key    map[string]any    `json:"key"`
	Reason string            `json:"reason"`
}

// Report is the outcome of an apply or run, for schedulers and people.
type Report struct {
	RunID      string    `json:"run_id"`
	Pipeline   string    `json:"pipeline"`
	Merchant   string    `json:"merchant"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	PlanHash   string    `json:"plan_hash,omitempty"`
	// Planned counts the plan's changes per action; Applied those the sink acknowledged.
	Planned plan.Summary `json:"planned"`
	Applied plan.Summary `json:"applied"`
	// Rejected are changes the sink refused; they stay planned for the next run.
	Rejected []RejectedChange `json:"rejected"`
	// InputRejects are input rows the sources could not use; their records were left untouched.
	InputRejects []connectors.Reject `json:"input_rejects"`
	// Recovered counts changes of an interrupted earlier run that were settled before planning.
	Recovered int      `json:"recovered"`
	Notes     []string `json:"notes,omitempty"`
	// Durations are seconds per stage.
	Durations  map[string]float64 `json:"durations_seconds"`
	ExitReason string             `json:"exit_reason"`
	ExitCode   int                `json:"exit_code"`
	Error      string             `json:"error,omitempty"`
}

// Exit reasons and codes of a run.
const (
	ExitOK       = 0
	ExitFailure  = 1
	ExitInvalid  = 2
	ExitBlocked  = 3
	ExitLocked   = 75
	ReasonOK     = "applied"
	ReasonNoop   = "no_changes"
	ReasonReject = "changes_rejected"
)

const defaultBatch = 500

// Apply plans the pipeline and applies the plan through its sink. With saved, it applies exactly that plan,
// and refuses it (StaleError, nothing written) when the recomputed plan differs. It holds the pipeline's
// lock throughout; another holder makes it return a *state.LockedError. The report is returned also on
// failure, as far as the run got.
func Apply(ctx context.Context, p *pipelines.Pipeline, opts Options, saved *plan.Plan) (*Report, error) {
	s := newSession(p, opts)
	defer s.close()
	rep := &Report{RunID: cmp.Or(opts.RunID, state.NewRunID(time.Now())), Pipeline: p.Name, Merchant: p.Merchant, StartedAt: time.Now().UTC(),
		Rejected: []RejectedChange{}, InputRejects: []connectors.Reject{}}
	err := s.apply(ctx, saved, rep)
	rep.FinishedAt = time.Now().UTC()
	rep.Durations = s.timings.seconds()
	if err != nil {
		rep.Error = p.Secrets.Redact(err.Error()) // the report is stored in the state and printed
		rep.ExitReason, rep.ExitCode = Classify(err)
	}
	if s.d != nil && rep.PlanHash != "" {
		b, _ := json.Marshal(rep)
		b = []byte(p.Secrets.Redact(string(b))) // connectors' notes and rejects may quote an echoed secret
		status := "done"
		if err != nil {
			status = "failed"
		}
		if ferr := s.store.FinishRun(context.WithoutCancel(ctx), s.d.conn, state.Run{ID: rep.RunID, FinishedAt: rep.FinishedAt, Status: status, Report: b}); ferr != nil && err == nil {
			err = ferr
		}
	}
	return rep, err
}

// Classify maps an error to a run's exit reason and code (the CLI's exit code for it).
func Classify(err error) (string, int) {
	var stale *StaleError
	var blocked *BlockedError
	var invalid interface{ HasErrors() bool }
	switch {
	case errors.Is(err, state.ErrLocked):
		return "locked", ExitLocked
	case errors.As(err, &blocked):
		return "guard_blocked", ExitBlocked
	case errors.As(err, &stale):
		return "stale_plan", ExitFailure
	case errors.As(err, &invalid):
		return "invalid_config", ExitInvalid
	}
	return "error", ExitFailure
}

func (s *session) apply(ctx context.Context, saved *plan.Plan, rep *Report) error {
	unlock, err := s.store.Lock(state.Holder{PID: pid(), Host: host(), RunID: rep.RunID, StartedAt: rep.StartedAt})
	if err != nil {
		return err
	}
	defer unlock()
	failpoint("after-lock")
	if err := s.prepare(ctx, false); err != nil {
		return err
	}
	s.exportBase = s.meta.Exported == s.meta.Serial
	for _, st := range s.staged {
		rep.InputRejects = append(rep.InputRejects, st.result.Rejects...)
		rep.Notes = append(rep.Notes, st.result.Notes...)
	}
	done := s.timings.start("recover")
	n, err := s.recoverIntents(ctx, rep)
	done()
	if err != nil {
		return fmt.Errorf("settle interrupted run: %w", err)
	}
	rep.Recovered = n
	pl, ccs, err := s.plan(ctx, applyMode)
	if err != nil {
		return err
	}
	rep.Planned = pl.Summary
	if saved != nil {
		if reasons := staleReasons(saved, pl); len(reasons) > 0 {
			return &StaleError{Reasons: reasons}
		}
	}
	if pl.Blocked() {
		return &BlockedError{Guards: pl.Guards}
	}
	rep.Notes = append(rep.Notes, overrideNotes(saved, pl)...)
	rep.PlanHash = pl.Hash
	if err := s.store.BeginRun(ctx, s.d.conn, state.Run{ID: rep.RunID, StartedAt: rep.StartedAt, PlanHash: pl.Hash}); err != nil {
		return err
	}
	done = s.timings.start("apply")
	err = s.applyChanges(ctx, ccs, pl.Summary.Total(), rep)
	done()
	if err != nil {
		return err
	}
	if s.refreshed != nil {
		if err := s.adoptDrift(ctx, s.refreshed, rep.RunID); err != nil {
			return err
		}
	}
	done = s.timings.start("commit")
	err = s.commitSources(ctx, rep)
	done()
	if err != nil {
		return err
	}
	done = s.timings.start("export")
	err = s.export(ctx)
	done()
	if err != nil {
		return err
	}
	done = s.timings.start("checkpoint")
	err = s.d.exec(ctx, "CHECKPOINT st")
	done()
	if err != nil {
		return fmt.Errorf("checkpoint state: %w", err)
	}
	s.notifyCommitted(ctx, rep)
	s.confirm(ctx, rep)
	rep.ExitReason, rep.ExitCode = ReasonOK, ExitOK
	if pl.Summary.Total() == 0 {
		rep.ExitReason = ReasonNoop
	}
	if len(rep.Rejected) > 0 {
		rep.ExitReason, rep.ExitCode = ReasonReject, ExitFailure
	}
	return nil
}

// staleReasons explains why a saved plan differs from the plan recomputed now; none means it is the same.
func staleReasons(saved, now *plan.Plan) []string {
	if saved.Hash == now.Hash {
		return nil
	}
	var r []string
	if saved.Pipeline.ConfigHash != now.Pipeline.ConfigHash {
		r = append(r, "the pipeline configuration changed")
	}
	if saved.State.Lineage != now.State.Lineage || saved.State.Serial != now.State.Serial {
		r = append(r, fmt.Sprintf("the state moved (serial %d then, %d now)", saved.State.Serial, now.State.Serial))
	}
	fps := map[string]string{}
	for _, in := range saved.Inputs {
		fps[in.Name] = in.Fingerprint
	}
	for _, in := range now.Inputs {
		if fps[in.Name] != in.Fingerprint {
			r = append(r, fmt.Sprintf("input %s changed (%d records now)", in.Name, in.Records))
		}
	}
	if len(r) == 0 {
		r = append(r, fmt.Sprintf("the planned changes differ (%d then, %d now)", saved.Summary.Total(), now.Summary.Total()))
	}
	return r
}

// applyChanges sends the changes in batches. Before a batch leaves, its changes are recorded as intents; after
// the sink answers, the acknowledged ones are committed to the snapshot together with the journal entry and
// the settled intents, in one transaction. An answer the sink could not give (an outcome that is neither an
// acknowledgement, a refusal nor "not attempted") leaves the intent for the next run to reconcile.
//
// With ccs nil the plan was streamed (planMode streamed): the total changes are read from the diff a batch
// at a time, so an apply of millions of changes holds one batch in memory.
func (s *session) applyChanges(ctx context.Context, ccs []connectors.Change, total int, rep *Report) error {
	size := defaultBatch
	if b, ok := s.sink.(connectors.Batcher); ok && b.BatchSize() > 0 {
		size = b.BatchSize()
	}
	if ccs == nil {
		return s.eachChangeBatch(ctx, int64(total), int64(size), true, func(_ []plan.Change, batch []connectors.Change) error {
			return s.applyBatch(ctx, batch, total, rep)
		})
	}
	if sq, ok := s.sink.(connectors.Sequencer); ok {
		sq.Sequence(ccs)
	}
	for lo := 0; lo < len(ccs); lo += size {
		if err := s.applyBatch(ctx, ccs[lo:min(lo+size, len(ccs))], total, rep); err != nil {
			return err
		}
	}
	return nil
}

// applyBatch records a batch's intents, sends it, and commits what the sink acknowledged.
func (s *session) applyBatch(ctx context.Context, batch []connectors.Change, total int, rep *Report) error {
	done := s.timings.start("apply: record intents")
	err := s.recordIntents(ctx, rep.RunID, batch)
	done()
	if err != nil {
		return err
	}
	failpoint("after-intents")
	done = s.timings.start("apply: sink")
	outcomes, sinkErr := s.sink.Apply(ctx, batch)
	done()
	failpoint("after-sink")
	if len(outcomes) != len(batch) {
		return fmt.Errorf("sink %s returned %d outcomes for %d changes", s.p.Sink.Type, len(outcomes), len(batch))
	}
	var acked []connectors.Change
	var resolved []string
	rejected := 0
	for i, c := range batch {
		var ce *connectors.ChangeError
		switch o := outcomes[i]; {
		case o == nil:
			acked = append(acked, c)
			resolved = append(resolved, c.ID)
			rep.Applied.Add(c.Action)
		case errors.As(o, &ce):
			rejected++
			resolved = append(resolved, c.ID)
			rep.Rejected = append(rep.Rejected, RejectedChange{ID: c.ID, Action: c.Action, Key: keyJSON(s.p.Key, c.Key), Reason: s.p.Secrets.Redact(ce.Reason)})
		case errors.Is(o, connectors.ErrNotAttempted):
			resolved = append(resolved, c.ID)
		}
	}
	done = s.timings.start("apply: commit")
	err = s.commitChanges(ctx, rep.RunID, acked, resolved, rejected)
	done()
	if err != nil {
		return err
	}
	failpoint("after-commit")
	if sinkErr != nil {
		return fmt.Errorf("sink %s: %w (%d of %d changes applied)", s.p.Sink.Type, sinkErr, rep.Applied.Total(), total)
	}
	s.logf("applied %d/%d changes", rep.Applied.Total(), total)
	s.applyProgress(rep.Applied.Total(), total)
	return nil
}

var intentSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.BinaryTypes.String},
	{Name: "run_id", Type: arrow.BinaryTypes.String},
	{Name: "change", Type: arrow.BinaryTypes.String},
}, nil)

// recordIntents durably records a batch's changes before they are sent.
func (s *session) recordIntents(ctx context.Context, runID string, batch []connectors.Change) error {
	bld := array.NewRecordBuilder(s.alloc, intentSchema)
	defer bld.Release()
	ids, runs, changes := bld.Field(0).(*array.StringBuilder), bld.Field(1).(*array.StringBuilder), bld.Field(2).(*array.StringBuilder)
	enc := &connectors.JSON{EscapeHTML: true}
	var buf []byte
	for i := range batch {
		c := &batch[i]
		var err error
		if buf, err = enc.AppendChange(buf[:0], c); err != nil {
			return fmt.Errorf("record intent of %s: %w", c.KeyString(s.p.Key), err)
		}
		ids.Append(c.ID)
		runs.Append(runID)
		changes.BinaryBuilder.Append(buf)
	}
	b := bld.NewRecordBatch()
	if err := s.loadBatch(ctx, "__intents", b); err != nil {
		return fmt.Errorf("record intents: %w", err)
	}
	return s.store.AddIntents(ctx, s.d.conn, ident("__intents"))
}

// commitChanges commits acknowledged changes to the snapshot.
func (s *session) commitChanges(ctx context.Context, runID string, acked []connectors.Change, resolved []string, rejected int) error {
	c := &state.Commit{RunID: runID, Key: s.p.Key, Resolved: resolved, Acked: len(acked), Rejected: rejected}
	sch := canonical(s.recordSchema())
	for _, f := range sch.Fields() {
		c.Columns = append(c.Columns, state.Column{Name: f.Name, Type: duckType(f.Type)})
	}
	if len(acked) > 0 {
		b, err := s.ackedBatch(sch, acked)
		if err != nil {
			return fmt.Errorf("stage acknowledged changes: %w", err)
		}
		if err := s.loadBatch(ctx, "__acked", b); err != nil {
			return fmt.Errorf("stage acknowledged changes: %w", err)
		}
		c.Changes = "__acked"
	}
	return s.commit(ctx, c)
}

// commit commits c to the state. For a sink with a records file (connectors.Exporter), the keys of the
// snapshot records it changes are kept (touchedTable), so that the file can be brought up to date by those
// records alone.
func (s *session) commit(ctx context.Context, c *state.Commit) error {
	if _, exports := s.sink.(connectors.Exporter); exports && c.Changes != "" {
		if err := s.touch(ctx, c.Changes); err != nil {
			return err
		}
	}
	meta, err := s.store.Commit(ctx, s.d.conn, c)
	if err != nil {
		return err
	}
	s.meta = meta
	return nil
}

// ackedBatch lays acknowledged changes out as the commit reads them: __op, then the record's fields (its
// after-values; a deletion carries its key only).
func (s *session) ackedBatch(sch *arrow.Schema, acked []connectors.Change) (arrow.RecordBatch, error) {
	record := sch.Fields() // a copy: taken once
	fields := append([]arrow.Field{{Name: "__op", Type: arrow.BinaryTypes.String}}, record...)
	bld := array.NewRecordBuilder(s.alloc, arrow.NewSchema(fields, nil))
	defer bld.Release()
	op := bld.Field(0).(*array.StringBuilder)
	for i := range acked {
		ch := &acked[i]
		op.Append(string(ch.Action))
		for j, f := range record {
			v, ok := ch.After[f.Name]
			if !ok {
				v = ch.Key[f.Name]
			}
			if err := connectors.Append(bld.Field(j+1), v); err != nil {
				return nil, fmt.Errorf("%s, field %s: %w", ch.KeyString(s.p.Key), f.Name, err)
			}
		}
	}
	return bld.NewRecordBatch(), nil
}

// commitSources stores what the sources need next time (checkpoints, incremental records), once the run's
// changes are settled.
func (s *session) commitSources(ctx context.Context, rep *Report) error {
	c := &state.Commit{RunID: rep.RunID, Checkpoints: map[string][]byte{}, Sources: map[string]state.SourceDelta{}}
	for name, st := range s.staged {
		if st.result.Checkpoint != nil {
			c.Checkpoints[name] = st.result.Checkpoint
		}
		if st.delta != "" {
			c.Sources[name] = state.SourceDelta{Relation: ident(st.delta), Key: st.result.Key}
		}
	}
	if len(c.Checkpoints) == 0 && len(c.Sources) == 0 {
		return nil
	}
	return s.commit(ctx, c)
}

// notifyCommitted calls Committed on every source implementing connectors.Committer whose read returned a
// checkpoint, once the run's changes and the checkpoints are committed and checkpointed. A failure is a note
// of the report, never a failure of the run: the state is already right and the next run may retry.
func (s *session) notifyCommitted(ctx context.Context, rep *Report) {
	for _, src := range s.sources {
		c, ok := src.src.(connectors.Committer)
		st := s.staged[src.comp.Name]
		if !ok || st == nil || st.result.Checkpoint == nil {
			continue
		}
		done := s.timings.start("committed " + src.comp.Name)
		err := c.Committed(ctx, st.result.Checkpoint)
		done()
		if err != nil {
			rep.Notes = append(rep.Notes, fmt.Sprintf("source %s: after the commit: %s (the run is applied and its state "+
				"committed; the next run tries again)", src.comp.Name, s.p.Secrets.Redact(err.Error())))
		}
	}
}

// recoverIntents settles the changes an interrupted run sent without hearing back: those the sink confirms
// are committed; the rest are dropped from the intents and planned again.
func (s *session) recoverIntents(ctx context.Context, rep *Report) (int, error) {
	intents, err := s.store.Intents(ctx, s.d.conn)
	if err != nil || len(intents) == 0 {
		return 0, err
	}
	sch := canonical(s.recordSchema())
	changes := make([]connectors.Change, len(intents))
	ids := make([]string, len(intents))
	for i, in := range intents {
		c, err := decodeChange(in.Change, sch)
		if err != nil {
			return 0, fmt.Errorf("intent %s: %w", in.ID, err)
		}
		changes[i], ids[i] = c, in.ID
	}
	var landed []connectors.Change
	if r, ok := s.sink.(connectors.Reconciler); ok {
		ok, err := r.Reconcile(ctx, changes)
		if err != nil {
			return 0, fmt.Errorf("sink %s: reconcile: %w", s.p.Sink.Type, err)
		}
		for i, c := range changes {
			if i < len(ok) && ok[i] {
				landed = append(landed, c)
			}
		}
		rep.Notes = append(rep.Notes, fmt.Sprintf("settled %d change(s) of an interrupted run: %d had reached the sink", len(changes), len(landed)))
	} else {
		rep.Notes = append(rep.Notes, fmt.Sprintf("%d change(s) of an interrupted run may have reached the sink, which cannot confirm; they are planned again", len(changes)))
	}
	if err := s.commitChanges(ctx, intents[0].RunID, landed, ids, 0); err != nil {
		return 0, err
	}
	s.logf("recovered %d change(s) of interrupted run %s", len(landed), intents[0].RunID)
	return len(landed), nil
}

// decodeChange restores a change from its intent JSON, with values typed by the schema.
func decodeChange(b []byte, sch *arrow.Schema) (connectors.Change, error) {
	var c connectors.Change
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&c); err != nil {
		return c, err
	}
	for _, r := range []connectors.Record{c.Key, c.Before, c.After} {
		for k, v := range r {
			idx := sch.FieldIndices(k)
			if len(idx) == 0 {
				continue
			}
			tv, err := fromJSON(sch.Field(idx[0]).Type, v)
			if err != nil {
				return c, fmt.Errorf("field %s: %w", k, err)
			}
			r[k] = tv
		}
	}
	return c, nil
}

func fromJSON(t arrow.DataType, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch connectors.TypeName(t) {
	case "int":
		if n, ok := v.(json.Number); ok {
			return n.Int64()
		}
	case "float":
		if n, ok := v.(json.Number); ok {
			return n.Float64()
		}
	case "date", "timestamp":
		if s, ok := v.(string); ok {
			return time.Parse(time.RFC3339Nano, s)
		}
	default:
		return v, nil
	}
	return nil, fmt.Errorf("cannot read %v as %s", v, t)
}

// canonical maps a schema to the field types possync stores (int64, float64, string, ...).
func canonical(sch *arrow.Schema) *arrow.Schema {
	fields := make([]arrow.Field, sch.NumFields())
	for i, f := range sch.Fields() {
		t, err := connectors.ArrowType(connectors.TypeName(f.Type))
		if err != nil {
			t = arrow.BinaryTypes.String
		}
		fields[i] = arrow.Field{Name: f.Name, Type: t, Nullable: true}
	}
	return arrow.NewSchema(fields, nil)
}

// loadRecords writes Go records into a new table through DuckDB's Arrow scan.
func (s *session) loadRecords(ctx context.Context, table string, sch *arrow.Schema, recs []connectors.Record) error {
	b, err := connectors.BuildBatch(s.alloc, sch, recs)
	if err != nil {
		return err
	}
	return s.loadBatch(ctx, table, b)
}

// loadBatch writes a batch into a new table through DuckDB's Arrow scan; it takes over the batch.
func (s *session) loadBatch(ctx context.Context, table string, b arrow.RecordBatch) error {
	rr := &sliceReader{schema: b.Schema(), batches: []arrow.RecordBatch{b}}
	view := "__view_" + table
	release, err := s.d.arrow.RegisterView(rr, view)
	if err != nil {
		b.Release()
		return err
	}
	defer release()
	return s.d.exec(ctx, fmt.Sprintf("CREATE OR REPLACE TABLE %s AS SELECT * FROM %s", ident(table), ident(view)))
}
