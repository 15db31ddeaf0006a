// Package runner executes pipelines: it stages each source's records in DuckDB (Arrow batches through
// DuckDB's Arrow scan, or files read by DuckDB's own readers), runs the transforms, diffs the desired records
// against the state's last-applied snapshot by key, builds the plan document, and applies it through the sink,
// moving state only for the changes the sink acknowledged.
//
// The runner owns DuckDB: connectors and transforms never see it. Validation runs the same code path over
// empty inputs, so every expression and SQL step is type-checked against the fields its upstream provides.
package runner

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/pipelines"
	"github.com/possync/possync/pipelines/spec"
	"github.com/possync/possync/runner/plan"
	"github.com/possync/possync/runner/state"
	"github.com/possync/possync/transforms"
)

// Options control a plan or a run.
type Options struct {
	// Now is the evaluation time; zero means the clock.
	Now time.Time
	// AllowMassChange lets a plan that a guard blocks go through (the verdict says "overridden").
	AllowMassChange bool
	// FullRefresh asks incremental sources to read everything.
	FullRefresh bool
	// Log receives progress lines; nil discards them.
	Log io.Writer
	// Store overrides the pipeline's state store (tests; shared backends).
	Store state.Store
	// Refresh diffs against the sink's current records (connectors.Lister) instead of the last-applied
	// snapshot, and reports drift.
	Refresh bool
	// Stats, when set, receives the duration and peak memory of each stage.
	Stats *[]Stage
	// Observe, when set, receives progress events (events.go); RunID, when set, is the run's ID.
	Observe func(Event)
	RunID   string
}

// session is one plan or run of a pipeline.
type session struct {
	p     *pipelines.Pipeline
	opts  Options
	now   time.Time
	d     *duck
	store state.Store
	meta  state.Meta
	alloc memory.Allocator

	sources []*source
	staged  map[string]*staged
	schemas map[string]*arrow.Schema // relation name → schema
	desired string
	// protected names a table of keys the plan must leave alone (rejected input rows); prot is what
	// protect.go learnt about bad input.
	protected string
	prot      protection
	sink      connectors.Sink
	refreshed *refreshed // with Options.Refresh
	// remoteValue reads a listed column of the target (--refresh).
	remoteValue func(c state.Column, applied string) string
	// annotations are desired fields that explain changes and are not record data (transforms.Annotator).
	annotations []string
	// upcoming and notes are what transforms reported (transforms.Reporter).
	upcoming []plan.Upcoming
	notes    []string
	// desiredCount and presentCount are the desired records, and those of them with a change (after the diff).
	desiredCount, presentCount int64
	// pushed names the row transforms that ran as DuckDB queries (transforms.Pushdown).
	pushed []string
	// ds is the layout of the diff table (for a streamed plan); planned the state the plan was made against.
	ds      *diffSpec
	planned plan.State
	// exportBase is true when the sink's export (if any) was of the state as the session opened it; touched
	// when touchedTable holds the keys of the records this session's commits changed.
	exportBase, touched bool
	timings             *timings
	// onceSt: confirming sources' read keys and the _applied relation (confirm.go).
	onceSt *onceState
}

func newSession(p *pipelines.Pipeline, opts Options) *session {
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	st := opts.Store
	if st == nil {
		st = state.NewDuckStore(p.State.Dir, p.Name)
	}
	return &session{p: p, opts: opts, now: now, store: st, alloc: memory.DefaultAllocator,
		staged: map[string]*staged{}, schemas: map[string]*arrow.Schema{}, timings: &timings{observe: opts.Observe}}
}

func (s *session) logf(format string, args ...any) {
	if s.opts.Log != nil {
		fmt.Fprintf(s.opts.Log, format+"\n", args...)
	}
}

func (s *session) close() {
	if s.opts.Stats != nil {
		*s.opts.Stats = s.timings.list()
	}
	if s.sink != nil {
		_ = s.sink.Close()
	}
	if s.d != nil {
		s.d.close()
	}
}

// open starts DuckDB and opens the state (read-only for plans).
func (s *session) open(ctx context.Context, readOnly bool) error {
	d, err := openDuck(ctx, s.p.State)
	if err != nil {
		return err
	}
	s.d = d
	if s.meta, err = s.store.Open(ctx, d.conn, readOnly); err != nil {
		return err
	}
	return nil
}

func (s *session) env() connectors.Env {
	return connectors.Env{Pipeline: s.p.Name, Dir: s.p.Dir, Key: s.p.Key}
}

// buildSources constructs every source.
func (s *session) buildSources() spec.Diagnostics {
	var diags spec.Diagnostics
	for _, c := range s.p.Sources {
		_, ctor, ok := connectors.Sources.Lookup(c.Type)
		if !ok {
			diags.Append(spec.Errorf(c.Pos, spec.CodeUnknownComponent, "", "unknown source type %q", c.Type))
			continue
		}
		src, err := ctor(c.Config, s.env())
		if err != nil {
			diags.Add(c.Pos, componentError(c, err))
			continue
		}
		s.sources = append(s.sources, &source{comp: c, src: src})
		s.schemas[c.Name] = src.Schema()
	}
	return diags
}

func componentError(c *pipelines.Component, err error) error {
	var d *spec.Diagnostic
	var ds spec.Diagnostics
	if errors.As(err, &d) || errors.As(err, &ds) {
		return err
	}
	return spec.Errorf(c.Pos, spec.CodeComponentError, "", "%s %s: %v", c.Spec.Kind, c.Type, err)
}

// stageAll reads every source; with empty, it creates empty tables of the sources' schemas instead (validate).
func (s *session) stageAll(ctx context.Context, empty bool) error {
	for _, src := range s.sources {
		name := src.comp.Name
		if empty {
			if err := s.emptyTable(ctx, name, src.src.Schema()); err != nil {
				return err
			}
			continue
		}
		done := s.timings.start("read " + name)
		st, err := s.stage(ctx, src)
		done()
		if err != nil {
			return err
		}
		s.staged[name] = st
		if err := s.keepReadKeys(ctx, src, st); err != nil {
			return err
		}
		s.logf("read %s: %d records (%s)", name, st.input.Records, st.input.Mode)
		s.readRows(name, st)
	}
	return nil
}

func (s *session) emptyTable(ctx context.Context, name string, sch *arrow.Schema) error {
	cols := make([]string, sch.NumFields())
	for i, f := range sch.Fields() {
		cols[i] = ident(f.Name) + " " + duckType(f.Type)
	}
	return s.d.exec(ctx, fmt.Sprintf("CREATE OR REPLACE TABLE %s (%s)", ident(name), joinComma(cols)))
}

// transformAll builds and runs each step in order, each against its input's actual schema. It returns the
// diagnostics of steps that could not be built (unknown fields, type errors), or the error of a run.
func (s *session) transformAll(ctx context.Context) (spec.Diagnostics, error) {
	var diags spec.Diagnostics
	prev := ""
	if len(s.p.Sources) == 1 {
		prev = s.p.Sources[0].Name
	}
	if err := s.defineApplied(ctx, nil); err != nil {
		return diags, err
	}
	for i, st := range s.p.Transforms {
		sp := &step{st: st, table: st.Name, input: st.Input}
		if sp.table == "" {
			sp.table = fmt.Sprintf("__step_%d", i)
		}
		if sp.input == "" {
			sp.input = prev
		}
		_, ctor, ok := transforms.Registry.Lookup(st.Type)
		if !ok {
			diags.Append(spec.Errorf(st.Pos, spec.CodeUnknownComponent, "", "unknown transform type %q", st.Type))
			return diags, nil
		}
		env := transforms.Env{Now: s.now, Location: s.p.TimeZone, Alloc: s.alloc, InputName: sp.input, Dir: s.p.Dir}
		if in, ok := s.schemas[sp.input]; ok {
			env.Input = in
		}
		tr, err := ctor(st.Config, env)
		if err != nil {
			diags.Add(st.Pos, componentError(&st.Component, err))
			return diags, nil // later steps depend on this one's output
		}
		sp.tr = tr
		if err := s.defineApplied(ctx, tr); err != nil {
			return diags, err
		}
		if q, ok := tr.(transforms.SQL); ok {
			if err := s.prepareSQL(ctx, q.Query()); err != nil {
				diags.Add(st.Pos, err)
				return diags, nil
			}
		}
		done := s.timings.start("transform " + stepName(sp))
		err = s.runStep(ctx, sp)
		done()
		if err != nil {
			var d *spec.Diagnostic
			if errors.As(err, &d) {
				diags.Append(d)
				return diags, nil
			}
			return diags, err
		}
		sch, err := s.d.schemaOf(ctx, ident(sp.table))
		if err != nil {
			return diags, err
		}
		s.schemas[sp.table] = sch
		s.stepRows(ctx, sp)
		prev = sp.table
		if a, ok := tr.(transforms.Annotator); ok {
			s.annotations = append(s.annotations, a.Annotations()...)
		}
		if r, ok := tr.(transforms.Reporter); ok {
			if err := s.report(ctx, sp, r); err != nil {
				var d *spec.Diagnostic
				if errors.As(err, &d) {
					diags.Append(d)
					return diags, nil
				}
				return diags, err
			}
		}
	}
	s.desired = prev
	return diags, nil
}

// prepareSQL checks a SQL step's query against the relations defined so far, so that an unknown table or
// column is reported at its own line and column before any data moves.
func (s *session) prepareSQL(ctx context.Context, q spec.Expr) error {
	stmt, err := s.d.conn.PrepareContext(ctx, q.Text)
	if err != nil {
		return sqlError(q, err)
	}
	return stmt.Close()
}

// checkKey verifies the desired records carry every key field.
func (s *session) checkKey() spec.Diagnostics {
	var diags spec.Diagnostics
	sch := s.schemas[s.desired]
	for i, k := range s.p.Key {
		if len(sch.FieldIndices(k)) == 0 {
			pos := spec.Pos{File: s.p.File, Path: "/key"}
			if len(s.p.Key) > 1 {
				pos.Path = fmt.Sprintf("/key/%d", i)
			}
			diags.Append(spec.Errorf(pos, spec.CodeKeyNotFound, "the last step's fields are: "+joinComma(fieldNames(sch)),
				"key field %q is not a field of the records delivered to the sink", k))
		}
	}
	return diags
}

// buildSink constructs the sink for the desired schema.
func (s *session) buildSink() spec.Diagnostics {
	var diags spec.Diagnostics
	c := s.p.Sink
	_, ctor, ok := connectors.Sinks.Lookup(c.Type)
	if !ok {
		diags.Append(spec.Errorf(c.Pos, spec.CodeUnknownComponent, "", "unknown sink type %q", c.Type))
		return diags
	}
	env := s.env()
	env.Schema = s.recordSchema()
	sink, err := ctor(c.Config, env)
	if err != nil {
		diags.Add(c.Pos, componentError(c, err))
		return diags
	}
	s.sink = sink
	return diags
}

// Check type-checks a pipeline without reading data: it builds every component, runs the steps over empty
// inputs (compiling each expression against its upstream fields and preparing each SQL step), and checks the
// key against the records the sink would receive. No diagnostic shows a secret value of the pipeline.
func Check(ctx context.Context, p *pipelines.Pipeline) spec.Diagnostics {
	diags := check(ctx, p)
	for _, d := range diags {
		d.Message, d.Hint = p.Secrets.Redact(d.Message), p.Secrets.Redact(d.Hint)
	}
	return diags
}

func check(ctx context.Context, p *pipelines.Pipeline) spec.Diagnostics {
	s := newSession(p, Options{})
	scratch, cleanup, err := checkScratch()
	if err != nil {
		return spec.Diagnostics{spec.Errorf(spec.Pos{File: p.File}, spec.CodeInternal, "", "%v", err)}
	}
	defer cleanup()
	d, err := openDuck(ctx, pipelines.State{Dir: scratch})
	if err != nil {
		return spec.Diagnostics{spec.Errorf(spec.Pos{File: p.File}, spec.CodeInternal, "", "%v", err)}
	}
	s.d = d
	defer s.close()
	diags := s.buildSources()
	if diags.HasErrors() {
		return diags
	}
	if err := s.stageAll(ctx, true); err != nil {
		diags.Add(spec.Pos{File: p.File}, err)
		return diags
	}
	more, err := s.transformAll(ctx)
	diags = append(diags, more...)
	if err != nil {
		diags.Add(spec.Pos{File: p.File}, err)
	}
	if diags.HasErrors() {
		return diags
	}
	diags = append(diags, s.checkSinkFields()...)
	if !diags.HasErrors() {
		diags = append(diags, s.buildSink()...)
	}
	return diags
}

// prepare builds everything and stages the data: the common start of plan and apply.
func (s *session) prepare(ctx context.Context, readOnly bool) error {
	if err := s.open(ctx, readOnly); err != nil {
		return err
	}
	if diags := s.buildSources(); diags.HasErrors() {
		return diags
	}
	if err := s.stageAll(ctx, false); err != nil {
		return err
	}
	if err := s.followRejects(ctx); err != nil {
		return err
	}
	diags, err := s.transformAll(ctx)
	if err != nil {
		return err
	}
	if diags.HasErrors() {
		return diags
	}
	if err := s.dropIntermediates(ctx); err != nil {
		return err
	}
	if diags := s.checkSinkFields(); diags.HasErrors() {
		return diags
	}
	if diags := s.buildSink(); diags.HasErrors() {
		return diags
	}
	return s.protect(ctx)
}

// afterDiff counts what the summary needs, then frees the desired table: from here on only the diff is
// read, and for a catalog of millions the desired set is the largest thing DuckDB holds.
func (s *session) afterDiff(ctx context.Context) error {
	var err error
	if s.desiredCount, err = s.d.count(ctx, "SELECT count(*) FROM "+ident(s.desired)); err != nil {
		return err
	}
	if s.presentCount, err = s.d.count(ctx, "SELECT count(*) FROM "+diffTable+" WHERE __present"); err != nil {
		return err
	}
	return s.d.exec(ctx, "DROP TABLE "+ident(s.desired))
}

// recordSchema is the schema of the records the sink receives and the state keeps: the desired fields
// without annotations.
func (s *session) recordSchema() *arrow.Schema {
	sch := s.schemas[s.desired]
	if len(s.annotations) == 0 {
		return sch
	}
	var fields []arrow.Field
	for _, f := range sch.Fields() {
		if !isIn(s.annotations, f.Name) {
			fields = append(fields, f)
		}
	}
	return arrow.NewSchema(fields, nil)
}

// report runs a transform's report query over its output and keeps the rows for the plan.
func (s *session) report(ctx context.Context, sp *step, r transforms.Reporter) error {
	q := r.ReportSQL(ident(sp.table))
	rows, err := s.d.conn.QueryContext(ctx, `SELECT "kind", "at", "subject", "message" FROM (`+q+`) ORDER BY "at" NULLS LAST, "subject", "message"`)
	if err != nil {
		return fmt.Errorf("transform %s: report: %w", stepName(sp), err)
	}
	defer rows.Close()
	for rows.Next() {
		var kind, subject, message string
		var at sql.NullTime
		if err := rows.Scan(&kind, &at, &subject, &message); err != nil {
			return fmt.Errorf("transform %s: report: %w", stepName(sp), err)
		}
		switch {
		case kind == "upcoming" && at.Valid:
			s.upcoming = append(s.upcoming, plan.Upcoming{At: at.Time.UTC(), Subject: subject, Message: message})
		default:
			s.notes = append(s.notes, subject+": "+message)
		}
	}
	return rows.Err()
}

// dropIntermediates frees the sources' and earlier steps' tables once the desired records exist: only the
// desired table (and the deltas of incremental sources, kept for the commit) are needed from here on.
func (s *session) dropIntermediates(ctx context.Context) error {
	if err := s.dropApplied(ctx); err != nil {
		return err
	}
	for name := range s.schemas {
		if name == s.desired {
			continue
		}
		if err := s.d.exec(ctx, "DROP TABLE IF EXISTS "+ident(name)); err != nil {
			return err
		}
	}
	return nil
}

// planMode says what the plan holds in memory.
type planMode int

const (
	// planHeld: the plan's changes (a plan shown or saved).
	planHeld planMode = iota
	// sinkHeld: the plan's and the sink's changes (an apply through a connectors.Sequencer, which orders
	// the whole list).
	sinkHeld
	// streamed: neither; the summary is counted and the hash computed over one pass of the diff, and apply
	// reads the changes a batch at a time (applyChanges), so memory does not grow with the changes. Only
	// applyMode chooses it.
	streamed
	// applyMode: an apply's choice: streamed when the changes are more than streamAbove (a first sync of a
	// large catalog) and the sink does not order the whole list (connectors.Sequencer); else sinkHeld,
	// which decodes each change once instead of twice.
	applyMode
)

// streamAbove is how many changes an apply holds in memory (about 2 KB each) before it streams them.
var streamAbove = 100_000

// plan computes the plan against the open state. With sinkHeld it also returns the sink's changes; with
// streamed the plan holds no changes (its summary and hash are those of the full plan).
func (s *session) plan(ctx context.Context, mode planMode) (*plan.Plan, []connectors.Change, error) {
	// Change IDs name the state planned against; a streamed apply computes them while its commits move it.
	s.planned = plan.State{Serial: s.meta.Serial}
	if s.meta.Serial > 0 { // an empty store has no identity yet: a plan made before it existed stays valid
		s.planned.Lineage = s.meta.Lineage
	}
	done := s.timings.start("check keys")
	err := s.checkDesired(ctx)
	done()
	if err != nil {
		return nil, nil, err
	}
	var rf *refreshed
	if s.opts.Refresh {
		done = s.timings.start("refresh")
		rf, err = s.refresh(ctx)
		done()
		if err != nil {
			return nil, nil, err
		}
		s.refreshed = rf
	}
	done = s.timings.start("diff")
	ds, err := s.diff(ctx, rf)
	if err == nil {
		err = s.holdRemovals(ctx)
	}
	if err == nil {
		err = s.afterDiff(ctx)
	}
	done()
	if err != nil {
		return nil, nil, err
	}
	done = s.timings.start("plan changes")
	pl := &plan.Plan{
		FormatVersion: plan.FormatVersion,
		Pipeline:      plan.Pipeline{Name: s.p.Name, Merchant: s.p.Merchant, File: s.p.File, ConfigHash: s.p.Hash},
		CreatedAt:     time.Now().UTC(),
		EvaluatedAt:   s.now,
		Key:           s.p.Key,
		State:         plan.State{Serial: s.meta.Serial, Records: s.meta.Records},
	}
	if s.meta.Serial > 0 {
		pl.State.Lineage = s.meta.Lineage
	}
	for _, src := range s.sources {
		st := s.staged[src.comp.Name]
		pl.Inputs = append(pl.Inputs, st.input)
		pl.Rejects = append(pl.Rejects, st.result.Rejects...)
		pl.Notes = append(pl.Notes, st.result.Notes...)
	}
	if rf != nil {
		pl.Inputs = append(pl.Inputs, rf.input)
		pl.Drift = rf.drift
	}
	pl.Notes = append(pl.Notes, s.notes...)
	pl.Upcoming = s.upcoming
	var pcs []plan.Change
	var ccs []connectors.Change
	err = s.countChanges(ctx, &pl.Summary)
	if mode == applyMode {
		mode = sinkHeld
		if _, ordered := s.sink.(connectors.Sequencer); !ordered && pl.Summary.Total() > streamAbove {
			mode = streamed
		}
	}
	if mode == streamed {
		s.ds = ds
	} else if err == nil {
		pcs, ccs, err = s.changes(ctx, ds, mode == sinkHeld)
	}
	done()
	if err != nil {
		return nil, nil, err
	}
	done = s.timings.start("plan summary")
	defer done()
	pl.Changes = pcs
	if pl.Changes == nil {
		pl.Changes = []plan.Change{}
	}
	pl.Summary.Unchanged = s.desiredCount - s.presentCount
	pl.Guards = s.guards(pl)
	if e, ok := s.sink.(connectors.Estimator); ok && pl.Summary.Total() > 0 {
		est := e.Estimate(map[connectors.Action]int{connectors.Create: pl.Summary.Create, connectors.Update: pl.Summary.Update,
			connectors.Deactivate: pl.Summary.Deactivate, connectors.Delete: pl.Summary.Delete})
		pl.Estimate = &est
	}
	if mode != streamed {
		if pl.Hash = pl.ComputeHash(); pl.Hash == "" {
			return nil, nil, fmt.Errorf("plan: %d changes read for a summary of %d", len(pl.Changes), pl.Summary.Total())
		}
		return pl, ccs, nil
	}
	pl.Hash, err = pl.HashOf(func(yield func(*plan.Change) error) error {
		return s.eachChangeBatch(ctx, int64(pl.Summary.Total()), chunkRows, false, func(pcs []plan.Change, _ []connectors.Change) error {
			for i := range pcs {
				if err := yield(&pcs[i]); err != nil {
					return err
				}
			}
			return nil
		})
	})
	if err != nil {
		return nil, nil, fmt.Errorf("hash the plan: %w", err)
	}
	return pl, nil, nil
}

// countChanges counts the diff's changes per action.
func (s *session) countChanges(ctx context.Context, sum *plan.Summary) error {
	rows, err := s.d.conn.QueryContext(ctx, "SELECT __op, count(*) FROM "+diffTable+" GROUP BY __op")
	if err != nil {
		return fmt.Errorf("count changes: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var op string
		var n int
		if err := rows.Scan(&op, &n); err != nil {
			return fmt.Errorf("count changes: %w", err)
		}
		switch connectors.Action(op) {
		case connectors.Create:
			sum.Create = n
		case connectors.Update:
			sum.Update = n
		case connectors.Deactivate:
			sum.Deactivate = n
		case connectors.Delete:
			sum.Delete = n
		}
	}
	return rows.Err()
}

// eachChangeBatch reads the diff's first total changes, in apply order, size at a time: the plan's changes,
// and with sink the sink's.
func (s *session) eachChangeBatch(ctx context.Context, total, size int64, sink bool, fn func([]plan.Change, []connectors.Change) error) error {
	for lo := int64(0); lo < total; lo += size {
		pcs, ccs, err := s.changeRange(ctx, s.ds, sink, lo, min(lo+size, total))
		if err != nil {
			return err
		}
		if err := fn(pcs, ccs); err != nil {
			return err
		}
	}
	return nil
}

// guards evaluates the plan's guards.
func (s *session) guards(pl *plan.Plan) []plan.Guard {
	limit := s.p.Guards.MaxDeletePercent
	g := plan.Guard{Name: "max_delete_percent", Limit: limit, Verdict: plan.Pass}
	removed := pl.Summary.Delete + pl.Summary.Deactivate + s.heldRemovals()
	if s.meta.Records > 0 {
		g.Value = float64(removed) * 100 / float64(s.meta.Records)
	}
	g.Message = fmt.Sprintf("%d of %d records in state deleted or deactivated (%.2f%%, limit %g%%)", removed, s.meta.Records, g.Value, limit)
	if held := s.heldRemovals(); held > 0 {
		g.Message += fmt.Sprintf(", %d of them held (see the notes)", held)
	}
	if limit < 0 {
		g.Message += "; guard disabled"
	} else if g.Value > limit {
		g.Verdict = plan.Blocked
		if s.opts.AllowMassChange {
			g.Verdict = plan.Overridden
		} else {
			g.Message += "; rerun with --allow-mass-change if this is intended"
		}
	}
	return []plan.Guard{g}
}

// Plan computes what applying the pipeline would change. It reads the sources and the state, and writes
// nothing (the state is opened read-only; the lock is held while planning so that a concurrent apply cannot
// move the state underneath).
func Plan(ctx context.Context, p *pipelines.Pipeline, opts Options) (*plan.Plan, error) {
	s := newSession(p, opts)
	defer s.close()
	unlock, err := s.store.Lock(state.Holder{PID: pid(), Host: host(), RunID: "plan", StartedAt: time.Now().UTC()})
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := s.prepare(ctx, true); err != nil {
		return nil, err
	}
	pl, _, err := s.plan(ctx, planHeld)
	return pl, err
}

func joinComma(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ", "
		}
		out += x
	}
	return out
}
