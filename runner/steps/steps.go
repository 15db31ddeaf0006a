// Package steps builds and runs a pipeline's transforms in order, each against its input's actual schema:
// SQL steps as DuckDB statements (prepared first, so an unknown table or column is reported at its own line
// and column), row transforms as one DuckDB query when they can state themselves as one
// (transforms.Pushdown), else over Arrow batches with one worker per core. Each step writes a table named
// after it; the last step's table holds the desired records.
//
// It owns: the steps' tables, the transforms' reports (upcoming events, notes) and annotations. It may not
// touch: sources (their tables are its inputs, read only), the state, the diff or the sink.
package steps

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/possync/possync/pipelines"
	"github.com/possync/possync/runner/engine"
	"github.com/possync/possync/runner/plan"
	"github.com/possync/possync/runner/tcache"
	"github.com/possync/possync/spec"
	"github.com/possync/possync/transforms"
)

// Input is what the steps run over.
type Input struct {
	// Steps are the pipeline's transforms, in order; First is the input of a first step that names none (the
	// only source), or "".
	Steps []*pipelines.Step
	First string
	// Schemas are the relations defined so far (the sources' tables) by name; Run adds each step's output.
	Schemas map[string]*arrow.Schema
	// Key is the pipeline's key (a failing row is named by it when its input has the key fields).
	Key []string
	// Now, Location, Alloc and Dir are the transforms' environment (transforms.Env).
	Now      time.Time
	Location *time.Location
	Alloc    memory.Allocator
	Dir      string
	// Timer starts a named stage and returns its end; Log receives progress lines. Either may be nil.
	Timer func(name string) func()
	Log   func(format string, args ...any)
	// Built, when set, is called with nil before the first step, then with each step's transform once it is
	// built and before it is prepared or run: the caller defines relations the step may read (the runner's
	// _applied, for a transform that implements AppliedReader). Its error stops the run.
	Built func(ctx context.Context, tr transforms.Transform) error
	// Ran, when set, is called after each step ran with the step, its input relation and its output table
	// (the runner's progress events count their rows).
	Ran func(ctx context.Context, st *pipelines.Step, input, table string)
	// Deferred are relations that are views over a source's files, not yet loaded (stage.Deferred), by name.
	// A map step that reads one as its input and runs as one DuckDB query reads the files through it (they
	// are parsed once, into the step's table) and Finishes it with its row count (a map's output has one row
	// per input row); anything else Loads it first. Run Loads the ones no step read, also when it fails.
	Deferred map[string]DeferredInput
	// Cache, when set, keeps the outputs of the map and filter steps that run in Go between runs (package
	// tcache), so that a run pays for the rows whose input changed only. Nil runs every row.
	Cache *tcache.Cache
	// OrderBy, when set, are columns the last step's table is to be stored in the order of (ascending, in
	// DuckDB's default NULL order): the order a first sync's diff numbers its creates in (the key,
	// diff.FirstSyncOrder), so that the diff takes the table as it is instead of sorting a copy of it. Only a
	// last step that runs as one DuckDB CREATE TABLE AS, a row transform's query (transforms.Pushdown) whose
	// output has every column of OrderBy, can honour it: its query is sorted by them and run with
	// preserve_insertion_order on, so that DuckDB stores the rows in that order and their rowid counts them
	// from 0 in it. Output.Ordered says whether it did; any other last step (a SQL step, a Go transform, a
	// query that failed and ran in Go instead, no steps at all) writes its table as without OrderBy.
	OrderBy []string
	// Prebuilt are steps the caller already built (to ask the transforms what they are, before the sources
	// are read), by step. Run takes a step's Transform (or Err) from there instead of calling its constructor
	// again when the Env it would build the step with is the one the caller used (SameEnv): a constructor
	// may be costly (match reads its mappings file). Any other step is built by Run.
	Prebuilt map[*pipelines.Step]Prebuilt
}

// Prebuilt is what a step's constructor returned for Env.
type Prebuilt struct {
	Env       transforms.Env
	Transform transforms.Transform
	Err       error
}

// SameEnv says whether two environments would build a step alike: the same input schema (arrow.Schema.Equal,
// which compares field names, types, nullability and metadata), input name, time, time zone, allocator and
// folder.
func SameEnv(a, b transforms.Env) bool {
	sameInput := a.Input == b.Input || (a.Input != nil && b.Input != nil && a.Input.Equal(b.Input))
	return sameInput && a.InputName == b.InputName && a.Now.Equal(b.Now) && a.Location == b.Location &&
		a.Alloc == b.Alloc && a.Dir == b.Dir
}

// DeferredInput is a relation that is a view over a source's files (stage.Deferred).
type DeferredInput interface {
	// Scanned is called before the one query that reads the view.
	Scanned(ctx context.Context) error
	// Finish reports the read once that query succeeded, with the rows the view gave it.
	Finish(ctx context.Context, records int64) error
	// Load replaces the view by a table holding its rows.
	Load(ctx context.Context) error
}

// AppliedReader may be implemented by transforms that read the runner's _applied relation (the last-applied
// snapshot): the fields they read, so that _applied has them (as nulls) before the first apply, or when the
// snapshot predates them.
type AppliedReader interface {
	AppliedFields() []arrow.Field
}

// Output is what the steps produced.
type Output struct {
	// Desired is the table of the desired records (the last step's, or First with no steps).
	Desired string
	// Annotations are desired fields that explain changes and are not record data (transforms.Annotator).
	Annotations []string
	// Upcoming and Notes are what transforms reported (transforms.Reporter).
	Upcoming []plan.Upcoming
	Notes    []plan.Note
	// Pushed names the row transforms that ran as DuckDB queries (transforms.Pushdown).
	Pushed []string
	// Ordered says that Desired is stored in Input.OrderBy's order, rowid counting its rows from 0 in it, as
	// one CREATE TABLE AS made it (no row deleted or updated since).
	Ordered bool
}

// runner runs one Input.
type runner struct {
	db  *engine.DB
	in  Input
	out *Output
}

func (r *runner) logf(format string, args ...any) {
	if r.in.Log != nil {
		r.in.Log(format, args...)
	}
}

// Run builds and runs each step in order. It returns the diagnostics of steps that could not be built
// (unknown fields, type errors) with the output so far, or the error of a run.
func Run(ctx context.Context, db *engine.DB, in Input) (out *Output, diags spec.Diagnostics, err error) {
	r := &runner{db: db, in: in, out: &Output{}}
	defer func() {
		// A source's read errors come before the steps' (as when it is loaded before they run).
		if lerr := r.loadDeferred(ctx); lerr != nil {
			out, diags, err = r.out, nil, lerr
		}
	}()
	return r.run(ctx)
}

// loadDeferred loads the deferred inputs no step read.
func (r *runner) loadDeferred(ctx context.Context) error {
	for name, d := range r.in.Deferred {
		delete(r.in.Deferred, name)
		if err := d.Load(ctx); err != nil {
			return err
		}
	}
	return nil
}

func (r *runner) run(ctx context.Context) (*Output, spec.Diagnostics, error) {
	in, db := r.in, r.db
	timer := in.Timer
	if timer == nil {
		timer = func(string) func() { return func() {} }
	}
	var diags spec.Diagnostics
	built := in.Built
	if built == nil {
		built = func(context.Context, transforms.Transform) error { return nil }
	}
	if err := built(ctx, nil); err != nil {
		return r.out, diags, err
	}
	prev := in.First
	for i, st := range in.Steps {
		sp := &step{st: st, table: Table(i, st), input: st.Input, last: i == len(in.Steps)-1}
		if sp.input == "" {
			sp.input = prev
		}
		_, ctor, ok := transforms.Registry.Lookup(st.Type)
		if !ok {
			diags.Append(spec.Errorf(st.Pos, spec.CodeUnknownComponent, "", "unknown transform type %q", st.Type))
			return r.out, diags, nil
		}
		env := transforms.Env{Now: in.Now, Location: in.Location, Alloc: in.Alloc, InputName: sp.input, Dir: in.Dir}
		if sch, ok := in.Schemas[sp.input]; ok {
			env.Input = sch
		}
		var tr transforms.Transform
		var err error
		if pb, ok := in.Prebuilt[st]; ok && SameEnv(pb.Env, env) {
			tr, err = pb.Transform, pb.Err
		} else {
			tr, err = ctor(st.Config, env)
		}
		if err != nil {
			diags.Add(st.Pos, componentError(&st.Component, err))
			return r.out, diags, nil // later steps depend on this one's output
		}
		sp.tr = tr
		if err := built(ctx, tr); err != nil {
			return r.out, diags, err
		}
		if q, ok := tr.(transforms.SQL); ok {
			if err := db.Prepare(ctx, q.Query().Text); err != nil {
				diags.Add(st.Pos, SQLError(q.Query(), err))
				return r.out, diags, nil
			}
		}
		done := timer("transform " + Name(st))
		err = r.runStep(ctx, sp)
		done()
		if err != nil {
			var d *spec.Diagnostic
			if errors.As(err, &d) {
				diags.Append(d)
				return r.out, diags, nil
			}
			return r.out, diags, err
		}
		sch, err := db.SchemaOf(ctx, engine.Ident(sp.table))
		if err != nil {
			return r.out, diags, err
		}
		in.Schemas[sp.table] = sch
		if in.Ran != nil {
			in.Ran(ctx, st, sp.input, sp.table)
		}
		prev = sp.table
		if a, ok := tr.(transforms.Annotator); ok {
			r.out.Annotations = append(r.out.Annotations, a.Annotations()...)
		}
		if rp, ok := tr.(transforms.Reporter); ok {
			if err := r.report(ctx, sp, rp); err != nil {
				var d *spec.Diagnostic
				if errors.As(err, &d) {
					diags.Append(d)
					return r.out, diags, nil
				}
				return r.out, diags, err
			}
		}
	}
	r.out.Desired = prev
	if in.Cache != nil && in.Cache.Dir != "" {
		in.Cache.Prune(in.Steps)
	}
	return r.out, diags, nil
}

// report runs a transform's report query over its output and keeps the rows for the plan.
func (r *runner) report(ctx context.Context, sp *step, rp transforms.Reporter) error {
	q := rp.ReportSQL(engine.Ident(sp.table))
	rows, err := r.db.Rows(ctx, `SELECT "kind", "at", "subject", "message" FROM (`+q+`) ORDER BY "at" NULLS LAST, "subject", "message"`)
	if err != nil {
		return fmt.Errorf("transform %s: report: %w", Name(sp.st), err)
	}
	defer rows.Close()
	for rows.Next() {
		var kind, subject, message string
		var at sql.NullTime
		if err := rows.Scan(&kind, &at, &subject, &message); err != nil {
			return fmt.Errorf("transform %s: report: %w", Name(sp.st), err)
		}
		switch {
		case kind == "upcoming" && at.Valid:
			r.out.Upcoming = append(r.out.Upcoming, plan.Upcoming{At: at.Time.UTC(), Subject: subject, Message: message})
		default:
			if kind == "note" || kind == "" || kind == "upcoming" {
				kind = spec.NoteOther
			}
			r.out.Notes = append(r.out.Notes, plan.Note{Kind: kind, Subject: subject, Message: message})
		}
	}
	return rows.Err()
}

// componentError turns a transform's construction error into a diagnostic at the step (as the runner does
// for sources and sinks).
func componentError(c *pipelines.Component, err error) error {
	var d *spec.Diagnostic
	var ds spec.Diagnostics
	if errors.As(err, &d) || errors.As(err, &ds) {
		return err
	}
	return spec.Errorf(c.Pos, spec.CodeComponentError, "", "%s %s: %v", c.Spec.Kind, c.Type, err)
}
