// Package runner executes pipelines. It is the orchestration only: Plan, Apply and Check run the stages in
// order, each a package that takes the engine (runner/engine, the one door to DuckDB) and an explicit input
// and returns an explicit output:
//
//	stage  (runner/stage)   each source's records into a table named after it
//	steps  (runner/steps)   the transforms, in order; the last table holds the desired records
//	diff   (runner/diff)    the desired records against the state's last-applied snapshot, by key
//	  refresh (runner/refresh) with --refresh: the sink's live records as the diff's base, and the drift
//	plan   (runner/plan)    the plan document built from the diff's changes, its guards and hash
//	apply  (runner/apply)   the changes through the sink; state moves only by what it acknowledged
//	export (runner/export)  the sink's records file brought up to date with the snapshot
//
// The runner owns the session (what one plan or run holds between stages), the run lock, the plan's
// assembly and guards, the run report, the protection of records whose input was bad (protect.go: rejected
// rows followed through the steps, removals held), and the confirmation of sources that import each record
// once, with the _applied relation their steps read (confirm.go). It may not reach into a stage's tables except through the names
// the stages return; no stage package imports it (connectors/layering_test.go enforces this and that only
// runner/engine imports DuckDB). Connectors and transforms never see DuckDB. Validation runs the same code
// path over empty inputs, so every expression and SQL step is type-checked against the fields its upstream
// provides.
package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/pipelines"
	"github.com/possync/possync/runner/diff"
	"github.com/possync/possync/runner/engine"
	"github.com/possync/possync/runner/export"
	"github.com/possync/possync/runner/plan"
	"github.com/possync/possync/runner/refresh"
	"github.com/possync/possync/runner/stage"
	"github.com/possync/possync/runner/state"
	"github.com/possync/possync/runner/steps"
	"github.com/possync/possync/runner/tcache"
	"github.com/possync/possync/spec"
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
	// FullPlan plans in full even when the inputs, the pipeline and the state are those of the last
	// successful run (see rerun.go), which would otherwise short-circuit to an empty plan.
	FullPlan bool
	// Observe, when set, receives progress events (events.go); RunID, when set, is the run's ID.
	Observe func(Event)
	RunID   string
	// Desired, when set, receives the desired records once the transforms ran (substitute.go; `possync test`).
	Desired func(*Desired)
	// Sources replace the pipeline's sources of the same names, and Sink (when set) its sink: the
	// components are not built from their configuration (substitute.go; `possync test`).
	Sources map[string]connectors.Source
	Sink    connectors.Sink
	// Planned, when set, receives the plan an apply or run made, before it is checked and applied (for the
	// page `--html` writes). Its Changes are empty when the planner streamed them (more than fit in memory).
	Planned func(*plan.Plan)
	// NoTransformCache runs every row through the map and filter steps that run in Go, reading and writing
	// no transform cache (runner/tcache; also $POSSYNC_TRANSFORM_CACHE=off, or the pipeline's
	// `state.transform_cache: false`).
	NoTransformCache bool
}

// session is one plan or run of a pipeline.
type session struct {
	p     *pipelines.Pipeline
	opts  Options
	now   time.Time
	d     *engine.DB
	store state.Store
	meta  state.Meta
	alloc memory.Allocator

	sources []*source
	staged  map[string]*stage.Output
	// deferred are the staged sources read as views of their files, until the steps read them (stage.go).
	deferred map[string]steps.DeferredInput
	// prebuilt are the steps rowSteps built, which steps.Run takes instead of building them again (stage.go).
	prebuilt map[*pipelines.Step]steps.Prebuilt
	schemas  map[string]*arrow.Schema // relation name → schema
	desired  string
	// sortDesired asks the last step to store the desired table in a first sync's diff order (prepare sets it:
	// firstSyncSorts); ordered says the steps did (steps.Output.Ordered), so the diff takes the table as it
	// is (diff.Input.Sorted).
	sortDesired, ordered bool
	// protected names a table of keys the plan must leave alone (rejected input rows); prot is what
	// protect.go learnt about bad input.
	protected string
	prot      protection
	sink      connectors.Sink
	refreshed *refresh.Result // with Options.Refresh
	// annotations are desired fields that explain changes and are not record data (transforms.Annotator).
	annotations []string
	// upcoming and notes are what transforms reported (transforms.Reporter), and the notes the run adds
	// (held removals).
	upcoming []plan.Upcoming
	notes    []plan.Note
	// desiredCount and presentCount are the desired records, and those of them with a change (after the diff).
	desiredCount, presentCount int64
	// endBurst puts back the memory limit that a plan against the state raises while its desired table
	// lives, from the transform to the diff that drops it (prepare, afterDiff); nil when not raised or put
	// back (stopBurst, its one caller).
	endBurst func(context.Context) error
	// pushed names the row transforms that ran as DuckDB queries (transforms.Pushdown).
	pushed []string
	// ds is the layout of the diff table (for a streamed plan); planned the state the plan was made against.
	ds      *diff.Layout
	planned plan.State
	// ids are the changes' IDs by diff sequence number, computed by a streamed plan's hash pass (stream.go)
	// so that its apply does not compute them again; nil otherwise.
	ids *changeIDs
	// hashPending: the plan is streamed and its hash not computed yet (the apply computes it, stream.go);
	// runBegun: the run's journal entry is begun (BeginRun), so the run must finish it.
	hashPending, runBegun bool
	// exportBase is true when the sink's export (if any) was of the state as the session opened it; touched
	// holds the keys of the records this session's commits changed (nil until the first).
	exportBase bool
	touched    *export.Touched
	early      *export.Early // a first sync's records file written as the apply commits (startEarly)
	timings    *timings
	// onceSt: confirming sources' read keys and the _applied relation (confirm.go).
	onceSt *onceState
	// api counts each connector's API calls (apicalls.go).
	api apiCounters
	// trace, when set, runs after the transforms and before their intermediate tables are freed (explain.go).
	trace func(ctx context.Context) error
	// candidate is the last successful run's basis while it may still hold, shortcut the basis this run is
	// short-circuited on (rerun.go).
	candidate, shortcut *basis
}

func newSession(p *pipelines.Pipeline, opts Options) *session {
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	st := opts.Store
	if st == nil {
		st = newStore(p)
	}
	return &session{p: p, opts: opts, now: now, store: st, alloc: memory.DefaultAllocator,
		staged: map[string]*stage.Output{}, schemas: map[string]*arrow.Schema{}, timings: &timings{observe: opts.Observe}}
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
		s.d.Close()
	}
	s.closeStore()
}

// open starts DuckDB and opens the state (read-only for plans).
func (s *session) open(ctx context.Context, readOnly bool) error {
	d, err := openEngine(ctx, s.p.State)
	if err != nil {
		return err
	}
	s.d = d
	if s.meta, err = s.store.Open(ctx, d.Conn(), readOnly); err != nil {
		return nameFile(err, s.p.File) // a state of another merchant: refused before any source is read
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
		if src, ok := s.substituteSource(c); ok {
			s.sources = append(s.sources, &source{comp: c, src: src})
			s.schemas[c.Name] = src.Schema()
			continue
		}
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
			if err := s.d.CreateEmpty(ctx, name, src.src.Schema()); err != nil {
				return err
			}
			continue
		}
		done := s.timings.start("read " + name)
		st, err := s.stage(s.apiCtx(ctx, "source "+name, src.comp.Type), src)
		done()
		if err != nil {
			return err
		}
		s.staged[name] = st
		if err := s.keepReadKeys(ctx, src, st); err != nil {
			return err
		}
		if st.Deferred != nil {
			s.logf("read %s: its files are parsed by the first step's query (%s)", name, st.Input.Mode)
			continue
		}
		s.logf("read %s: %d records (%s)", name, st.Input.Records, st.Input.Mode)
		s.readRows(name, st)
	}
	return nil
}

// transformAll builds and runs each step in order (steps.Run), each against its input's actual schema. It
// returns the diagnostics of steps that could not be built (unknown fields, type errors), or the error of a
// run.
func (s *session) transformAll(ctx context.Context) (spec.Diagnostics, error) {
	first := ""
	if len(s.p.Sources) == 1 {
		first = s.p.Sources[0].Name
	}
	var order []string
	if s.sortDesired {
		order = s.p.Key // diff.FirstSyncOrder
	}
	out, diags, err := steps.Run(ctx, s.d, steps.Input{Steps: s.p.Transforms, First: first, Schemas: s.schemas, Key: s.p.Key,
		Now: s.now, Location: s.p.TimeZone, Alloc: s.alloc, Dir: s.p.Dir, Timer: s.timings.start, Log: s.logf,
		Built: s.defineApplied, Ran: s.stepRows, Deferred: s.deferred, Cache: s.transformCache(), Prebuilt: s.prebuilt,
		OrderBy: order})
	s.desired, s.annotations, s.upcoming, s.notes, s.pushed = out.Desired, out.Annotations, out.Upcoming, out.Notes, out.Pushed
	s.ordered = out.Ordered
	return diags, err
}

// sortFirstSyncs lets firstSyncSorts ask for a sorted desired table; tests turn it off to compare a first
// sync through the diff's sorted copy with one through the sorted desired table.
var sortFirstSyncs = true

// firstSyncSorts says whether the desired table is worth storing in a first sync's diff order (the key:
// diff.FirstSyncOrder), so that the diff numbers the creates in the table's own order instead of sorting a
// copy (diff.Input.Sorted): a plan against no snapshot (no --refresh, which diffs against the sink's
// records), with no rejected rows followed (their keys would be protected, which the diff filters out of a
// copy) and no sink known to rank its changes (connectors.Ranker, which orders them by more than the key;
// a sink the pipeline builds is built after the steps, so a ranked one is known only by Options.Sink: for
// another, such as the ecom sink, the diff finds the rank and sorts a copy as before, and the step's sort is
// spent for nothing: about a cpu second per million records, against that first sync's API calls). A run
// that reads the desired table in its own order (Options.Desired, a trace) keeps it as the steps make it.
func (s *session) firstSyncSorts() bool {
	if !sortFirstSyncs || s.store == nil || s.store.Snapshot() != "" || s.opts.Refresh || s.prot.followed != "" ||
		s.opts.Desired != nil || s.trace != nil || len(s.p.Key) == 0 {
		return false
	}
	_, ranked := s.opts.Sink.(connectors.Ranker)
	return !ranked
}

// transformCache is where the steps keep their transform cache: a folder of the pipeline's state
// directory, local to this machine also with the PostgreSQL backend (a worker without it runs every row).
// Nil when it is turned off: by Options.NoTransformCache (--no-transform-cache), $POSSYNC_TRANSFORM_CACHE=off
// or the pipeline's `state.transform_cache: false`.
func (s *session) transformCache() *tcache.Cache {
	if s.opts.NoTransformCache || tcache.Disabled() || s.p.State.NoTransformCache || s.p.State.Dir == "" {
		return nil
	}
	return &tcache.Cache{Dir: tcache.PipelineDir(s.p.State.Dir, s.p.Name), Build: buildID()}
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
			diags.Append(spec.Errorf(pos, spec.CodeKeyNotFound, "the last step's fields are: "+joinComma(engine.FieldNames(sch)),
				"key field %q is not a field of the records delivered to the sink", k))
		}
	}
	return diags
}

// buildSink constructs the sink for the desired schema.
func (s *session) buildSink() spec.Diagnostics {
	var diags spec.Diagnostics
	c := s.p.Sink
	if s.opts.Sink != nil {
		s.sink = s.opts.Sink
		return nil
	}
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
	return append(diags, s.checkCancels()...)
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
	d, err := openEngine(ctx, pipelines.State{Dir: scratch})
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
func (s *session) prepare(ctx context.Context, readOnly bool) (err error) {
	if err := s.open(ctx, readOnly); err != nil {
		return err
	}
	if diags := s.buildSources(); diags.HasErrors() {
		return diags
	}
	var why string
	if s.candidate, why = s.candidateBasis(ctx); s.candidate == nil && s.meta.Basis != "" {
		s.logf("plan: planning in full: %s", why)
	}
	if err := s.stageAll(ctx, false); err != nil {
		return err
	}
	if short, err := s.decideShortcut(ctx); err != nil || short {
		if err != nil {
			return err
		}
		return s.prepareShortcut(ctx)
	}
	if err := s.followRejects(ctx); err != nil {
		return err
	}
	s.sortDesired = s.firstSyncSorts()
	// A plan against the state holds its desired table until the diff drops it (diff.Input.Consume): past
	// the cap (3M records) the transform would spill it and the diff read it back, evicting as much again
	// beside its join (BENCHMARKS.md, #15 plan). It may take the engine's burst limit meanwhile (none when
	// the pipeline sets memory_limit); afterDiff puts the cap back once the table is dropped. A first sync
	// whose last step sorts the desired table (firstSyncSorts) takes it for that sort too, which under the
	// cap spilled part of the table it wrote (1M records: 0.4-1.3 cpu s less with the burst, the same peak:
	// the apply's is higher; BENCHMARKS.md, #15 first sync); afterDiff puts the cap back once the diff has
	// taken the table, and DuckDB evicts what it holds past the cap then. Any other first sync stays under
	// the cap, and a --refresh plan (which reads the sink before its diff) until its diff.
	if (s.store.Snapshot() != "" || s.sortDesired) && !s.opts.Refresh {
		end, berr := s.d.StartBurst(ctx)
		if berr != nil {
			return berr
		}
		s.endBurst = end
		defer func() {
			if err != nil { // else the burst lasts until the diff (afterDiff)
				s.stopBurst(ctx, &err)
			}
		}()
	}
	diags, err := s.transformAll(ctx)
	if err != nil {
		return err
	}
	if diags.HasErrors() {
		return diags
	}
	s.deferredHolds()
	if err := s.reportDesired(ctx); err != nil {
		return err
	}
	if s.trace != nil {
		if err := s.trace(ctx); err != nil {
			return err
		}
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
		if err := s.d.Exec(ctx, "DROP TABLE IF EXISTS "+engine.Ident(name)); err != nil {
			return err
		}
	}
	return nil
}

// openEngine opens the planner's DuckDB with the pipeline's state settings (spilling to the state folder).
func openEngine(ctx context.Context, st pipelines.State) (*engine.DB, error) {
	return engine.Open(ctx, engine.Options{TempDir: filepath.Join(st.Dir, "tmp"), MemoryLimit: st.MemoryLimit, Threads: st.Threads})
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
