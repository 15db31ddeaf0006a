// Package transforms defines pipeline steps between sources and the sink, and their registry. Each transform
// lives in its own folder below this one (map, filter, sql), declares its configuration once and registers a
// constructor; package transforms/all imports them all.
//
// A transform is either a Batch (a pure function of each row, run over Arrow batches by the runner) or a SQL
// step (a DuckDB query over named inputs, which the runner executes). Transforms never import DuckDB.
package transforms

import (
	"context"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/possync/possync/spec"
)

// Env is what a constructor gets besides its configuration.
type Env struct {
	// Input is the schema of the step's input. Constructors compile their expressions against it and report
	// unknown fields or type errors as *spec.Diagnostic at the expression's position.
	Input *arrow.Schema
	// InputName is the relation the step reads (its `input:`, else the previous step's output or the only
	// source), for SQL-generating steps.
	InputName string
	// Now is the evaluation time of the run (possync plan --at); expressions see it as now().
	Now time.Time
	// Location is the store's time zone for date logic.
	Location *time.Location
	// Alloc allocates output batches.
	Alloc memory.Allocator
	// Dir is the folder of the pipeline file: relative file paths in a step's configuration resolve there.
	Dir string
}

// Transform is the common part of every step.
type Transform interface {
	// Schema is the schema of the step's output.
	Schema() *arrow.Schema
}

// Batch is a transform that maps each input batch to an output batch, row by row. It must be a pure
// function of the row, the configuration and Env.Now: the runner may run it on batches in parallel (each
// goroutine with its own Clone) and may skip rows whose input did not change since the last run.
type Batch interface {
	Transform
	// Apply transforms one batch. The caller keeps ownership of in; the caller owns the returned batch and must
	// Release it. A row that cannot be transformed is an error naming the row's index in the batch (see
	// RowError), which fails the run.
	Apply(ctx context.Context, in arrow.RecordBatch) (arrow.RecordBatch, error)
	// Clone returns an independent copy for use by another goroutine.
	Clone() Batch
}

// Pushdown is implemented by Batch transforms that can also state themselves as one DuckDB query over
// their input, with exactly the results Apply would give, including failing (DuckDB's error()) where Apply
// would return a RowError. The runner prefers it for large inputs: DuckDB runs it vectorised on every core,
// with no row crossing into Go. When the query fails, the runner runs Apply to name the failing row.
type Pushdown interface {
	// PushdownSQL returns a SELECT over the relation named input (already quoted) whose columns are Schema's
	// fields, in order, of the same types; ok is false when the transform cannot be expressed exactly.
	PushdownSQL(input string) (query string, ok bool)
}

// RowPushdown is implemented by Batch transforms whose Pushdown query gives exactly one output row per
// input row (a map; not a filter, which drops rows) and reads only the input fields Reads returns. The runner
// may then run that query straight over a view of the source's files instead of a table loaded from them,
// so the files are parsed once, into the step's output, and the source's record count is the query's row
// count. It does so only when Reads names every input field: DuckDB's file readers convert only the columns
// a query reads, so a malformed value in a column the query skips would go unseen.
type RowPushdown interface {
	Batch
	Pushdown
	// Reads returns the input fields the query reads (those its expressions read and those it passes
	// through), sorted and without repeats.
	Reads() []string
	// OneRowPerInput marks the query as giving exactly one output row per input row, in any order.
	OneRowPerInput()
}

// SQL is a step that DuckDB runs: its Query reads the pipeline's sources and earlier named steps as tables.
// Its output schema is found by the runner (the constructor gets a nil Env.Input).
type SQL interface {
	Query() spec.Expr
}

// Reporter is implemented by transforms that have something to tell in the plan about a run: upcoming
// changes (a promotion starting or ending soon), or input they chose not to apply. After the step ran, the
// runner executes each query (DuckDB SQL, which may read the step's output, named by the output argument,
// and any relation the step itself reads) and adds its rows to the plan.
type Reporter interface {
	// ReportSQL returns a query yielding rows of: kind VARCHAR ('upcoming' for an upcoming change, else the
	// note's kind: one of spec.NoteKinds, 'note' reading as spec.NoteOther), at TIMESTAMPTZ (when an upcoming
	// change takes effect; NULL for notes), subject VARCHAR (e.g. "sku=A-1"), message VARCHAR. (AT is a
	// keyword in DuckDB: write the column name quoted, "at".)
	ReportSQL(output string) string
}

// Annotator is implemented by transforms whose output carries annotation fields: values that explain a
// change in the plan (e.g. which promotion won and which lost) but are not record data. The runner shows
// them next to the changes of their record and never compares, stores or sends them.
type Annotator interface {
	Annotations() []string
}

// RowError is a failure to transform one row.
type RowError struct {
	Row   int    // index in the batch
	Field string // the output field being computed, if any
	Err   error
}

func (e *RowError) Error() string {
	if e.Field != "" {
		return "field " + e.Field + ": " + e.Err.Error()
	}
	return e.Err.Error()
}

func (e *RowError) Unwrap() error { return e.Err }

// New builds a transform from its validated configuration.
type New func(cfg spec.Config, env Env) (Transform, error)

// Registry holds the built-in transforms, filled by the transform packages' init functions.
var Registry = spec.NewRegistry[New](spec.KindTransform)
