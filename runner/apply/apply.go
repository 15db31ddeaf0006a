// Package apply sends a plan's changes to the sink and moves the state by what the sink acknowledged: before
// a batch leaves, its changes are recorded as intents; after the sink answers, the acknowledged ones are
// committed to the snapshot together with the journal entry and the settled intents, in one transaction
// (state.Commit). The acknowledged records are taken straight from the diff table by their sequence
// numbers (diff.Table's __seq), not rebuilt in Go. It also settles the intents an interrupted run left
// (Recover).
//
// It owns: batching, intents, the sink's outcomes, the commit of acknowledged changes, recovery. It may not
// touch: the diff's layout (it reads the diff table's record columns by name only), the plan document,
// sources, or the export (the caller's Commit hook records what an export needs).
package apply

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/record"
	"github.com/possync/possync/runner/diff"
	"github.com/possync/possync/runner/engine"
	"github.com/possync/possync/runner/failpoint"
	"github.com/possync/possync/runner/plan"
	"github.com/possync/possync/runner/state"
)

// DefaultBatch is how many changes a batch holds for a sink that does not say (connectors.Batcher).
const DefaultBatch = 500

// Rejected is a change the sink refused.
type Rejected struct {
	ID     string            `json:"id"`
	Action connectors.Action `json:"action"`
	Key    map[string]any    `json:"key"`
	Reason string            `json:"reason"`
}

// Tally is where an apply counts what happened; it is the caller's report, filled as the apply goes (so a
// failed apply still tells how far it got).
type Tally struct {
	Applied  *plan.Summary
	Rejected *[]Rejected
}

// Applier applies changes through a sink and commits what it acknowledged.
type Applier struct {
	DB    *engine.DB
	Store state.Store
	Sink  connectors.Sink
	// SinkType names the sink in errors; Key is the pipeline's key; Schema the records' schema (the desired
	// fields without annotations), which the snapshot takes.
	SinkType string
	Key      []string
	Schema   *arrow.Schema
	// RunID is the run the intents and commits belong to.
	RunID string
	// Commit commits c to the state (the caller tracks what the export needs and the new state.Meta).
	Commit func(ctx context.Context, c *state.Commit) error
	// Redact removes secrets from a sink's reasons; Timer starts a named stage and returns its end; Log
	// receives progress lines. Each may be nil.
	Redact func(string) string
	Timer  func(name string) func()
	Log    func(format string, args ...any)
	Alloc  memory.Allocator
	// Progress, when set, receives the changes the sink acknowledged so far of total, after each batch.
	Progress func(applied, total int)
	// Sent, when set, is called once for each batch whose sink call returned, after its outcomes are read
	// and before its commit: from then on the batch's changes and entries are no longer read (the commit
	// takes the acknowledged ones from the diff, by number), so a caller reading the next batch meanwhile
	// (runner's streamed apply) holds one batch's changes, not two.
	Sent func()
	// NewKeys says the diff's creates were planned against the state's snapshot (not a refreshed base): their
	// keys are not in it (state.Commit.NewKeys).
	NewKeys bool

	// unsettled counts the intents this Applier recorded that no commit settled yet: while it is 0, a batch
	// settled in full settles every intent the store holds (state.Commit.ResolvesAll), since recovery
	// settles an interrupted run's intents before any batch is sent.
	unsettled int
}

func (a *Applier) timer(name string) func() {
	if a.Timer == nil {
		return func() {}
	}
	return a.Timer(name)
}

func (a *Applier) logf(format string, args ...any) {
	if a.Log != nil {
		a.Log(format, args...)
	}
}

func (a *Applier) redact(s string) string {
	if a.Redact == nil {
		return s
	}
	return a.Redact(s)
}

func (a *Applier) alloc() memory.Allocator {
	if a.Alloc == nil {
		return memory.DefaultAllocator
	}
	return a.Alloc
}

// BatchSize is the sink's batch size (connectors.Batcher) or DefaultBatch.
func (a *Applier) BatchSize() int {
	if b, ok := a.Sink.(connectors.Batcher); ok && b.BatchSize() > 0 {
		return b.BatchSize()
	}
	return DefaultBatch
}

// All applies changes held in memory (seqs[i] is ccs[i]'s diff sequence number), in batches of BatchSize,
// after the sink ordered them (connectors.Sequencer). total is the plan's change count, for progress.
func (a *Applier) All(ctx context.Context, ccs []connectors.Change, seqs []int64, total int, t Tally) error {
	if sq, ok := a.Sink.(connectors.Sequencer); ok {
		seqOf := make(map[string]int64, len(ccs))
		for i := range ccs {
			seqOf[ccs[i].ID] = seqs[i]
		}
		sq.Sequence(ccs)
		seqs = make([]int64, len(ccs))
		for i := range ccs {
			s, ok := seqOf[ccs[i].ID]
			if !ok {
				return fmt.Errorf("sink %s: ordering the changes added change %s", a.SinkType, ccs[i].ID)
			}
			seqs[i] = s
		}
	}
	size := a.BatchSize()
	for lo := 0; lo < len(ccs); lo += size {
		hi := min(lo+size, len(ccs))
		if err := a.Batch(ctx, ccs[lo:hi], seqs[lo:hi], total, t); err != nil {
			return err
		}
	}
	return nil
}

// Batch records a batch's intents, sends it, and commits what the sink acknowledged. An answer the sink
// could not give (an outcome that is neither an acknowledgement, a refusal nor "not attempted") leaves the
// intent for the next run to reconcile. seqs are the changes' diff sequence numbers.
func (a *Applier) Batch(ctx context.Context, batch []connectors.Change, seqs []int64, total int, t Tally) error {
	return a.batch(ctx, batch, nil, seqs, total, t)
}

// Encoded says that batches may be read as their entries (diff.Entries) and sent with BatchEntries: the
// sink takes entries (connectors.EncodedApplier), and acknowledged changes are committed from the diff
// table (FromDiff), so nothing needs the changes' records in Go.
func (a *Applier) Encoded() bool {
	_, ok := a.Sink.(connectors.EncodedApplier)
	return ok && FromDiff(a.Schema)
}

// BatchEntries is Batch for a batch read as its entries (Encoded): entries[i] is batch[i]'s entry
// (connectors.Change.AppendEntry of its full form), and batch[i] may hold only its ID and action (a nil
// Key: a rejection's key is then decoded from the entry, with the values recovery would give it).
func (a *Applier) BatchEntries(ctx context.Context, batch []connectors.Change, entries [][]byte, seqs []int64, total int, t Tally) error {
	if !a.Encoded() || len(entries) != len(batch) {
		return fmt.Errorf("sink %s: a batch of %d entries for %d changes, or a sink that does not take entries", a.SinkType, len(entries), len(batch))
	}
	return a.batch(ctx, batch, entries, seqs, total, t)
}

// batch is Batch, with the changes' entries when the caller has them (nil: encoded here).
func (a *Applier) batch(ctx context.Context, batch []connectors.Change, entries [][]byte, seqs []int64, total int, t Tally) error {
	done := a.timer("apply: record intents")
	entries, err := a.recordIntents(ctx, batch, entries)
	done()
	if err != nil {
		return err
	}
	a.unsettled += len(batch)
	failpoint.Hit("after-intents")
	done = a.timer("apply: sink")
	var outcomes []error
	var sinkErr error
	if ea, ok := a.Sink.(connectors.EncodedApplier); ok {
		outcomes, sinkErr = ea.ApplyEncoded(ctx, batch, entries) // the intents' bytes: each change encoded once
	} else {
		outcomes, sinkErr = a.Sink.Apply(ctx, batch)
	}
	done()
	failpoint.Hit("after-sink")
	if len(outcomes) != len(batch) {
		return fmt.Errorf("sink %s returned %d outcomes for %d changes", a.SinkType, len(outcomes), len(batch))
	}
	var ackedChanges []connectors.Change
	rejected := 0
	creates := true // every acknowledged change a create
	fromDiff := FromDiff(a.Schema)
	// Sized for the whole batch, the usual outcome: grown by append, the two lists of a batch of 122,880
	// were copied into fresh memory a dozen times each (issue #15).
	resolved := make([]string, 0, len(batch))
	var acked []int64
	if fromDiff {
		acked = make([]int64, 0, len(batch))
	}
	for i, c := range batch {
		var ce *connectors.ChangeError
		switch o := outcomes[i]; {
		case o == nil:
			creates = creates && c.Action == connectors.Create
			if fromDiff {
				acked = append(acked, seqs[i])
			} else {
				ackedChanges = append(ackedChanges, c)
			}
			resolved = append(resolved, c.ID)
			t.Applied.Add(c.Action)
		case errors.As(o, &ce):
			rejected++
			resolved = append(resolved, c.ID)
			key := c.Key
			if key == nil && entries != nil {
				key = a.entryKey(entries[i]) // a light form (BatchEntries): the key is in its entry
			}
			*t.Rejected = append(*t.Rejected, Rejected{ID: c.ID, Action: c.Action, Key: diff.KeyJSON(a.Key, key), Reason: a.redact(ce.Reason)})
		case errors.Is(o, connectors.ErrNotAttempted):
			resolved = append(resolved, c.ID)
		}
	}
	if a.Sent != nil {
		a.Sent()
	}
	done = a.timer("apply: commit")
	all := a.unsettled == len(resolved)
	// What the sink acknowledged is recorded even when the run is being stopped (SIGINT, SIGTERM): the
	// interrupt ends the run after this commit, not inside it, so the next run does not have to settle
	// a batch the sink has already taken. A second signal still kills the process (cmd/possync), and the
	// intents settle the batch then.
	cctx := context.WithoutCancel(ctx)
	if fromDiff {
		err = a.commitSeqs(cctx, acked, creates, resolved, rejected, all)
	} else {
		err = a.commit(cctx, a.RunID, ackedChanges, resolved, rejected, all)
	}
	done()
	if err != nil {
		return err
	}
	a.unsettled -= len(resolved)
	failpoint.Hit("after-commit")
	if sinkErr != nil {
		return fmt.Errorf("sink %s: %w (%d of %d changes applied)", a.SinkType, sinkErr, t.Applied.Total(), total)
	}
	a.logf("applied %d/%d changes", t.Applied.Total(), total)
	if a.Progress != nil {
		a.Progress(t.Applied.Total(), total)
	}
	return nil
}

// entryKey is the key of the change whose entry is entry, typed by the schema as recovery types it
// (DecodeChange); nil when the entry does not decode.
func (a *Applier) entryKey(entry []byte) record.Record {
	c, err := DecodeChange(entry, a.Schema)
	if err != nil {
		return nil
	}
	return c.Key
}

// intentsView is the view a batch's intents are inserted into the state from.
const intentsView = "__intents"

var intentSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.BinaryTypes.String},
	{Name: "run_id", Type: arrow.BinaryTypes.String},
	{Name: "change", Type: arrow.BinaryTypes.String},
}, nil)

// recordIntents durably records a batch's changes before they are sent, each as its entry
// (connectors.Change.AppendEntry), and returns the entries (entries[i] is batch[i]'s) for a sink that
// takes them (connectors.EncodedApplier). For a sink that keeps the entries itself and gives them back
// after a crash (connectors.EntryReconciler) an intent is the change's ID alone (its change empty):
// storing the entries in the state too would write every batch twice, and delete one copy at the commit.
// Those IDs are recorded packed, a part's in one row (state.Store.AddIntentIDs), not a row each.
// The intents are recorded IntentRows at a time, each part in a transaction of its own.
func (a *Applier) recordIntents(ctx context.Context, batch []connectors.Change, entries [][]byte) ([][]byte, error) {
	_, idOnly := a.Sink.(connectors.EntryReconciler)
	if _, ok := a.Sink.(connectors.EncodedApplier); !ok {
		idOnly = false // the entries the sink keeps are not known to be the runner's
	}
	if entries == nil {
		var err error
		if entries, err = a.encode(batch); err != nil {
			return nil, err
		}
	}
	for lo := 0; lo < len(batch); lo += IntentRows {
		hi := min(lo+IntentRows, len(batch))
		if lo > 0 {
			failpoint.Hit("between-intents")
		}
		if err := a.addIntents(ctx, batch[lo:hi], entries[lo:hi], idOnly); err != nil {
			return nil, err
		}
	}
	return entries, nil
}

// IntentRows is how many intents one statement records at most: half a DuckDB row group (122,880 rows). A
// transaction that fills a row group has DuckDB compress it and write it to the state file at its commit
// (an optimistic write), and the batch's commit deletes it right after; a smaller one goes to the WAL as
// it is. A 1M first sync's intents in batches of 122,880 (scratch test, one thread): 0.73-0.78 cpu s
// and 2.9-3.3 s in one statement per batch, 0.44-0.46 cpu s and 1.1-1.7 s in two (issue #15). IDs-only
// intents (a packed row per part) cost 0.09-0.11 cpu s for the same 17 parts, most of it reading the IDs;
// they keep the parts so that both forms fail alike between two. Each statement is its own transaction; a run killed between two
// leaves intents of changes never sent, which recovery drops (the sink has none of them). A variable for
// the tests.
var IntentRows = 61_440

// addIntents records the intents of batch (entries[i] is batch[i]'s entry; idOnly: the intents hold their
// change's ID alone, packed in one row) in one statement.
func (a *Applier) addIntents(ctx context.Context, batch []connectors.Change, entries [][]byte, idOnly bool) error {
	if idOnly {
		ids := make([]string, len(batch))
		for i := range batch {
			ids[i] = batch[i].ID
		}
		return a.Store.AddIntentIDs(ctx, a.DB.Conn(), a.RunID, ids)
	}
	bld := array.NewRecordBuilder(a.alloc(), intentSchema)
	defer bld.Release()
	ids, runs, changes := bld.Field(0).(*array.StringBuilder), bld.Field(1).(*array.StringBuilder), bld.Field(2).(*array.StringBuilder)
	for i := range batch {
		ids.Append(batch[i].ID)
		runs.Append(a.RunID)
		changes.BinaryBuilder.Append(entries[i])
	}
	// The store inserts the batch straight from the Arrow scan: no table of it is made first.
	rr := engine.NewSliceReader(intentSchema, bld.NewRecordBatch())
	defer rr.Release()
	var addErr error
	err := a.DB.WithView(intentsView, rr, func() error {
		addErr = a.Store.AddIntents(ctx, a.DB.Conn(), engine.Ident(intentsView))
		return addErr
	})
	if addErr != nil {
		return addErr
	}
	if err != nil {
		return fmt.Errorf("record intents: %w", err)
	}
	return nil
}

// encode returns the entries of batch (connectors.Change.AppendEntry), in one buffer.
func (a *Applier) encode(batch []connectors.Change) ([][]byte, error) {
	enc := &record.JSON{UTC: true}
	var buf []byte
	ends := make([]int, len(batch))
	for i := range batch {
		c := &batch[i]
		var err error
		if buf, err = c.AppendEntry(enc, buf); err != nil {
			return nil, fmt.Errorf("record intent of %s: %w", c.KeyString(a.Key), err)
		}
		ends[i] = len(buf)
	}
	entries := make([][]byte, len(batch))
	start := 0
	for i := range batch {
		entries[i] = buf[start:ends[i]:ends[i]]
		start = ends[i]
	}
	return entries, nil
}

// ackedTable is the relation a commit reads the acknowledged records from; ackedRange is the view of the
// diff table it reads them from when they are one range of it; ackedSeqs is the view of their diff
// sequence numbers when they are not.
const (
	ackedTable = "__acked"
	ackedRange = "__acked_range"
	ackedSeqs  = "__acked_seqs"
)

var seqSchema = arrow.NewSchema([]arrow.Field{{Name: "seq", Type: arrow.PrimitiveTypes.Int64}}, nil)

// newCommit is a commit of runID settling resolved intents (all: every intent the store holds), with the
// snapshot's columns.
func (a *Applier) newCommit(runID string, resolved []string, acked, rejected int, all bool) (*state.Commit, *arrow.Schema) {
	c := &state.Commit{RunID: runID, Key: a.Key, Resolved: resolved, ResolvesAll: all, Acked: acked, Rejected: rejected}
	sch := engine.Canonical(a.Schema)
	for _, f := range sch.Fields() {
		c.Columns = append(c.Columns, state.Column{Name: f.Name, Type: engine.Type(f.Type)})
	}
	return c, sch
}

// commitSeqs commits the acknowledged changes of a batch, by their diff sequence numbers: the records are
// selected from diff.Table (__op, then the record's fields as the snapshot stores them) rather than
// rebuilt from the sink's changes. Record fields of a type the snapshot stores as text (anything but text,
// numbers, booleans, dates and timestamps) are taken from the decoded changes instead, so their text is
// the one the runner writes. creates says that every acknowledged change is a create (state.Commit.Creates).
func (a *Applier) commitSeqs(ctx context.Context, acked []int64, creates bool, resolved []string, rejected int, all bool) error {
	c, sch := a.newCommit(a.RunID, resolved, len(acked), rejected, all)
	c.NewKeys, c.Creates = a.NewKeys, creates
	if len(acked) > 0 {
		cols := "__op"
		for _, f := range sch.Fields() {
			cols += fmt.Sprintf(", CAST(d.%s AS %s) AS %s", engine.Ident(f.Name), engine.Type(f.Type), engine.Ident(f.Name))
		}
		sel := fmt.Sprintf("SELECT %s FROM %s d", cols, diff.Table)
		if lo, hi, ok := contiguous(acked); ok {
			// The usual batch: every change acknowledged, in diff order. A range needs no list, and no copy
			// either: the commit reads the records straight from the diff, through a view of the range (the
			// diff table is in __seq order, so its zone maps find the range without a scan of the rest).
			err := a.DB.Exec(ctx, fmt.Sprintf("CREATE OR REPLACE VIEW %s AS %s WHERE d.__seq BETWEEN %d AND %d", ackedRange, sel, lo, hi))
			if err != nil {
				return fmt.Errorf("stage acknowledged changes: %w", err)
			}
			c.Changes = ackedRange
			err = a.Commit(ctx, c)
			if derr := a.DB.Exec(context.WithoutCancel(ctx), "DROP VIEW IF EXISTS "+ackedRange); derr != nil && err == nil {
				err = fmt.Errorf("drop acknowledged changes: %w", derr)
			}
			return err
		}
		// Some changes of the batch were not acknowledged: the others are copied by their list.
		bld := array.NewRecordBuilder(a.alloc(), seqSchema)
		bld.Field(0).(*array.Int64Builder).AppendValues(acked, nil)
		rr := engine.NewSliceReader(seqSchema, bld.NewRecordBatch())
		bld.Release()
		lo, hi := slices.Min(acked), slices.Max(acked)
		err := a.DB.ExecWithView(ctx, ackedSeqs, rr, fmt.Sprintf("CREATE OR REPLACE TABLE %s AS %s SEMI JOIN %s a ON d.__seq = a.seq WHERE d.__seq BETWEEN %d AND %d",
			ackedTable, sel, ackedSeqs, lo, hi))
		rr.Release()
		if err != nil {
			return fmt.Errorf("stage acknowledged changes: %w", err)
		}
		c.Changes = ackedTable
	}
	return a.Commit(ctx, c)
}

// contiguous reports whether seqs are exactly the numbers lo..hi, each once, in increasing order.
func contiguous(seqs []int64) (lo, hi int64, ok bool) {
	for i := 1; i < len(seqs); i++ {
		if seqs[i] != seqs[i-1]+1 {
			return 0, 0, false
		}
	}
	return seqs[0], seqs[len(seqs)-1], true
}

// FromDiff says whether acknowledged changes can be committed from the diff table: every record field has
// a type whose SQL cast to the stored type gives the value the runner's decoding gives.
func FromDiff(sch *arrow.Schema) bool {
	for _, f := range sch.Fields() {
		switch f.Type.ID() {
		case arrow.STRING, arrow.LARGE_STRING, arrow.STRING_VIEW,
			arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.UINT8, arrow.UINT16, arrow.UINT32,
			arrow.FLOAT32, arrow.FLOAT64, arrow.BOOL, arrow.DATE32, arrow.DATE64, arrow.TIMESTAMP:
		default:
			return false
		}
	}
	return true
}

// CommitChanges commits acknowledged changes held in Go (recovery: an interrupted run's changes are
// not in this run's diff), settling resolved intents, under runID.
func (a *Applier) CommitChanges(ctx context.Context, runID string, acked []connectors.Change, resolved []string, rejected int) error {
	return a.commit(ctx, runID, acked, resolved, rejected, false)
}

// commit is CommitChanges; all says resolved are every intent the store holds.
func (a *Applier) commit(ctx context.Context, runID string, acked []connectors.Change, resolved []string, rejected int, all bool) error {
	c, sch := a.newCommit(runID, resolved, len(acked), rejected, all)
	if len(acked) > 0 {
		b, err := a.ackedBatch(sch, acked)
		if err != nil {
			return fmt.Errorf("stage acknowledged changes: %w", err)
		}
		if err := a.DB.LoadBatch(ctx, ackedTable, b); err != nil {
			return fmt.Errorf("stage acknowledged changes: %w", err)
		}
		c.Changes = ackedTable
	}
	return a.Commit(ctx, c)
}

// ackedBatch lays acknowledged changes out as the commit reads them: __op, then the record's fields (its
// after-values; a deletion carries its key only).
func (a *Applier) ackedBatch(sch *arrow.Schema, acked []connectors.Change) (arrow.RecordBatch, error) {
	recFields := sch.Fields() // a copy: taken once
	fields := append([]arrow.Field{{Name: "__op", Type: arrow.BinaryTypes.String}}, recFields...)
	bld := array.NewRecordBuilder(a.alloc(), arrow.NewSchema(fields, nil))
	defer bld.Release()
	op := bld.Field(0).(*array.StringBuilder)
	for i := range acked {
		ch := &acked[i]
		op.Append(string(ch.Action))
		for j, f := range recFields {
			v, ok := ch.After[f.Name]
			if !ok {
				v = ch.Key[f.Name]
			}
			if err := record.Append(bld.Field(j+1), v); err != nil {
				return nil, fmt.Errorf("%s, field %s: %w", ch.KeyString(a.Key), f.Name, err)
			}
		}
	}
	return bld.NewRecordBatch(), nil
}
