// Package conntest is the conformance suite of the connector contracts (connectors.Source, Reader, Lister,
// Sink, Reconciler). Each connector's own tests run it against their emulator or fixtures:
//
//	conntest.Source(t, func(t *testing.T) connectors.Source { return newTestSource(t) }, conntest.SourceOptions{})
//	conntest.Sink(t, func(t *testing.T) conntest.SinkTarget { ... }, conntest.SinkOptions{Steps: ...})
//
// It owns only the checks every connector must pass (EOF stays EOF, Close is idempotent and safe at any
// point, no Arrow memory is leaked, every batch has the declared schema, a sink returns one outcome per change,
// a replayed change is harmless); what a connector reads or writes is for its own tests. It imports nothing
// but the connectors contracts and the standard test tooling, and is used by tests only.
package conntest

import (
	"context"
	"errors"
	"io"
	"reflect"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/possync/possync/connectors"
)

// SourceOptions tune the source checks.
type SourceOptions struct {
	// Request is the read request of every read (Checkpoint, Now, FullRefresh); the suite sets Alloc to a
	// leak-checking allocator.
	Request connectors.ReadRequest
	// MinRows is the least number of records a full read must yield, so the schema check has rows to look at.
	// Default 1.
	MinRows int
}

// Source checks a source against the connectors.Source and Reader contracts. newSource builds a fresh source
// on the same data each time it is called (it is called once per check).
//
// Checks: a full read yields at least MinRows records, every batch has exactly Schema(), and Result is
// readable after io.EOF; Next after io.EOF returns (nil, io.EOF) again; Next with a cancelled context returns
// no batch and an error wrapping context.Canceled; Close is idempotent, before the first
// Next, after a partial read (with a batch still held) and after EOF; no Arrow memory is left allocated once
// the batches are released and the reader closed.
func Source(t *testing.T, newSource func(t *testing.T) connectors.Source, opts SourceOptions) {
	t.Helper()
	open := func(t *testing.T) (*arrow.Schema, OpenReader) {
		s := newSource(t)
		return s.Schema(), func(ctx context.Context, req connectors.ReadRequest) (connectors.Reader, error) {
			return s.Read(ctx, req)
		}
	}
	readerChecks(t, open, opts)
}

// OpenReader starts one read (Source.Read or Lister.List).
type OpenReader func(ctx context.Context, req connectors.ReadRequest) (connectors.Reader, error)

// Lister checks a sink's listing (connectors.Lister) against the Reader contract, as Source does for a
// source: newLister builds the listing sink on a target holding at least MinRows records, and schema is the
// schema its batches must have (the fields the target reports).
func Lister(t *testing.T, newLister func(t *testing.T) (connectors.Lister, *arrow.Schema), opts SourceOptions) {
	t.Helper()
	open := func(t *testing.T) (*arrow.Schema, OpenReader) {
		l, sch := newLister(t)
		return sch, func(ctx context.Context, req connectors.ReadRequest) (connectors.Reader, error) {
			return l.List(ctx, req)
		}
	}
	readerChecks(t, open, opts)
}

func readerChecks(t *testing.T, open func(t *testing.T) (*arrow.Schema, OpenReader), opts SourceOptions) {
	t.Helper()
	if opts.MinRows == 0 {
		opts.MinRows = 1
	}
	ctx := context.Background()
	start := func(t *testing.T) (*arrow.Schema, connectors.Reader, *memory.CheckedAllocator) {
		t.Helper()
		sch, openReader := open(t)
		alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
		t.Cleanup(func() { alloc.AssertSize(t, 0) })
		req := opts.Request
		req.Alloc = alloc
		r, err := openReader(ctx, req)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if r == nil {
			t.Fatal("read returned a nil Reader and no error")
		}
		return sch, r, alloc
	}

	t.Run("full read: schema, EOF stays EOF, no leak", func(t *testing.T) {
		sch, r, alloc := start(t)
		if again, _ := open(t); !again.Equal(sch) {
			t.Errorf("two builds of the same configuration declare different schemas:\n%v\n%v", sch, again)
		}
		rows := 0
		for n := 0; ; n++ {
			b, err := r.Next(ctx)
			if err == io.EOF {
				if b != nil {
					t.Errorf("Next returned a batch with io.EOF")
					b.Release()
				}
				break
			}
			if err != nil {
				if errors.Is(err, io.EOF) {
					t.Fatalf("Next returned a wrapped io.EOF (%v); the contract wants io.EOF itself", err)
				}
				t.Fatalf("Next: %v", err)
			}
			if b == nil {
				t.Fatalf("Next returned (nil, nil) at batch %d", n)
			}
			if !b.Schema().Equal(sch) {
				t.Errorf("batch %d schema:\n%v\nwant the declared schema:\n%v", n, b.Schema(), sch)
			}
			rows += int(b.NumRows())
			b.Release()
		}
		for i := 0; i < 3; i++ {
			b, err := r.Next(ctx)
			if b != nil || err != io.EOF {
				t.Errorf("Next after io.EOF (call %d): (%v, %v), want (nil, io.EOF)", i+1, b, err)
				if b != nil {
					b.Release()
				}
			}
		}
		res := r.Result()
		for i, rej := range res.Rejects {
			if rej.Where == "" || rej.Reason == "" {
				t.Errorf("reject %d %+v: want where and reason", i, rej)
			}
		}
		if res.Mode == connectors.Changes && len(res.Key) == 0 {
			t.Errorf("a changes read must name its key")
		}
		if rows < opts.MinRows {
			t.Errorf("read %d records, want at least %d", rows, opts.MinRows)
		}
		closeTwice(t, r)
		if n := alloc.CurrentAlloc(); n != 0 {
			t.Errorf("%d bytes of Arrow memory still allocated after every batch was released and the reader closed", n)
		}
	})

	t.Run("Next honours a cancelled context", func(t *testing.T) {
		_, r, _ := start(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		b, err := r.Next(cctx)
		if b != nil {
			b.Release()
		}
		if err == nil || !errors.Is(err, context.Canceled) {
			t.Errorf("Next with a cancelled context: (%v, %v), want no batch and an error wrapping context.Canceled", b, err)
		}
		closeTwice(t, r)
	})

	t.Run("close before the first Next", func(t *testing.T) {
		_, r, _ := start(t)
		closeTwice(t, r)
	})

	t.Run("close mid-read holding a batch", func(t *testing.T) {
		sch, r, _ := start(t)
		b, err := r.Next(ctx)
		if err != nil && err != io.EOF {
			t.Fatalf("Next: %v", err)
		}
		closeTwice(t, r)
		if b != nil { // the caller owns the batch: it stays usable after Close
			if !b.Schema().Equal(sch) {
				t.Errorf("batch schema %v, want %v", b.Schema(), sch)
			}
			b.Release()
		}
	})
}

// closeTwice closes r twice: both calls must return without panicking, the second with nil.
func closeTwice(t *testing.T, r connectors.Reader) {
	t.Helper()
	_ = r.Close()
	if err := r.Close(); err != nil {
		t.Errorf("second Close: %v, want nil (Close is idempotent)", err)
	}
}

// SinkTarget is one target system (an emulator's store, a folder) for the sink checks.
type SinkTarget struct {
	// New builds a sink writing to this target. It is called more than once: a replay comes from a new sink,
	// as after a crash.
	New func(t *testing.T) connectors.Sink
	// State returns what the target holds, as a value compared with reflect.DeepEqual.
	State func(t *testing.T) any
}

// SinkOptions tune the sink checks.
type SinkOptions struct {
	// Steps are the runs to apply, in order, each a list of changes the target accepts (e.g. creates, then
	// updates, deactivations and deletes of them). Every change must be acknowledged.
	Steps [][]connectors.Change
	// Rejected, when set, are changes the target refuses (bad data), of keys other than Steps': applied mixed
	// into the first step, each must get a *connectors.ChangeError outcome while the step's changes are still
	// acknowledged, and the target must end as after the first step alone.
	Rejected []connectors.Change
}

// Sink checks a sink against the connectors.Sink contract. newTarget returns a fresh, empty target each time
// it is called.
//
// Checks: Apply returns one outcome per change (also for an empty list), each nil for the valid changes of
// Steps and a *connectors.ChangeError for each of Rejected, mixed among them, which leave the target alone; Close is idempotent, also on a sink that applied nothing; replaying a step (the same changes, same
// IDs, from a new sink, as after a crash) is harmless: every replayed change is acknowledged and the target
// holds what it held after the first apply; a Reconciler reports every acknowledged change as landed, without
// changing the target; Apply with a cancelled context still returns one outcome per change, acknowledges none
// and leaves the target alone.
func Sink(t *testing.T, newTarget func(t *testing.T) SinkTarget, opts SinkOptions) {
	t.Helper()
	if len(opts.Steps) == 0 {
		t.Fatal("conntest.Sink needs at least one step of changes")
	}
	ctx := context.Background()
	apply := func(t *testing.T, s connectors.Sink, step int, changes []connectors.Change) {
		t.Helper()
		outcomes, err := s.Apply(ctx, changes)
		if err != nil {
			t.Fatalf("step %d: Apply: %v", step, err)
		}
		if len(outcomes) != len(changes) {
			t.Fatalf("step %d: %d outcomes for %d changes, want one per change", step, len(outcomes), len(changes))
		}
		for i, o := range outcomes {
			if o != nil {
				t.Errorf("step %d: change %s (%s %v): outcome %v, want acknowledged", step, changes[i].ID,
					changes[i].Action, changes[i].Key, o)
			}
		}
	}

	t.Run("one outcome per change, close idempotent", func(t *testing.T) {
		tg := newTarget(t)
		s := tg.New(t)
		if out, err := s.Apply(ctx, nil); err != nil || len(out) != 0 {
			t.Errorf("Apply of no changes: (%v, %v), want no outcomes and no error", out, err)
		}
		for i, step := range opts.Steps {
			apply(t, s, i+1, step)
		}
		_ = s.Close()
		if err := s.Close(); err != nil {
			t.Errorf("second Close: %v, want nil", err)
		}
		idle := tg.New(t)
		_ = idle.Close()
		if err := idle.Close(); err != nil {
			t.Errorf("second Close of a sink that applied nothing: %v, want nil", err)
		}
	})

	if len(opts.Rejected) > 0 {
		t.Run("a rejected change does not stop the others", func(t *testing.T) {
			want := newTarget(t)
			s := want.New(t)
			apply(t, s, 1, opts.Steps[0])
			_ = s.Close()

			tg := newTarget(t)
			var mixed []connectors.Change
			rejected := map[int]bool{}
			for i, c := range opts.Steps[0] { // a rejected change after each accepted one, while they last
				mixed = append(mixed, c)
				if i < len(opts.Rejected) {
					rejected[len(mixed)] = true
					mixed = append(mixed, opts.Rejected[i])
				}
			}
			for i := len(opts.Steps[0]); i < len(opts.Rejected); i++ {
				rejected[len(mixed)] = true
				mixed = append(mixed, opts.Rejected[i])
			}
			s = tg.New(t)
			defer s.Close()
			outcomes, err := s.Apply(ctx, mixed)
			if err != nil {
				t.Fatalf("Apply: %v (a rejected change is an outcome, not a failure of the sink)", err)
			}
			if len(outcomes) != len(mixed) {
				t.Fatalf("%d outcomes for %d changes, want one per change", len(outcomes), len(mixed))
			}
			for i, o := range outcomes {
				var ce *connectors.ChangeError
				switch {
				case rejected[i] && !errors.As(o, &ce):
					t.Errorf("rejected change %s: outcome %v, want a *connectors.ChangeError", mixed[i].ID, o)
				case !rejected[i] && o != nil:
					t.Errorf("change %s: outcome %v, want acknowledged", mixed[i].ID, o)
				}
			}
			if got, w := tg.State(t), want.State(t); !reflect.DeepEqual(got, w) {
				t.Errorf("with rejected changes mixed in, the target holds\n%v\nwant\n%v", got, w)
			}
		})
	}

	t.Run("cancelled context", func(t *testing.T) {
		tg := newTarget(t)
		before := tg.State(t)
		s := tg.New(t)
		defer s.Close()
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		outcomes, err := s.Apply(cctx, opts.Steps[0])
		if len(outcomes) != len(opts.Steps[0]) {
			t.Fatalf("%d outcomes for %d changes, want one per change", len(outcomes), len(opts.Steps[0]))
		}
		for i, o := range outcomes {
			if o == nil {
				t.Errorf("change %s acknowledged under a cancelled context", opts.Steps[0][i].ID)
			}
		}
		if err == nil {
			t.Errorf("Apply under a cancelled context returned no error")
		}
		if after := tg.State(t); !reflect.DeepEqual(after, before) {
			t.Errorf("Apply under a cancelled context changed the target:\n%v\nwas\n%v", after, before)
		}
	})

	t.Run("replaying a change is harmless", func(t *testing.T) {
		tg := newTarget(t)
		for i, step := range opts.Steps {
			s := tg.New(t)
			apply(t, s, i+1, step)
			_ = s.Close()
			once := tg.State(t)
			if rec, ok := s.(connectors.Reconciler); ok {
				fresh := append([]connectors.Change(nil), step...)
				landed, err := rec.Reconcile(ctx, fresh)
				if err != nil {
					t.Fatalf("step %d: Reconcile: %v", i+1, err)
				}
				if len(landed) != len(fresh) {
					t.Fatalf("step %d: Reconcile gave %d answers for %d changes", i+1, len(landed), len(fresh))
				}
				for j, c := range step {
					if !landed[j] {
						t.Errorf("step %d: Reconcile says acknowledged change %s did not land", i+1, c.ID)
					}
				}
				if !reflect.DeepEqual(tg.State(t), once) {
					t.Errorf("step %d: Reconcile changed the target", i+1)
				}
			}
			again := tg.New(t)
			apply(t, again, i+1, step)
			if twice := tg.State(t); !reflect.DeepEqual(twice, once) {
				t.Errorf("step %d applied twice (by a new sink) leaves the target as\n%v\nwant as once:\n%v", i+1, twice, once)
			}
			apply(t, again, i+1, step) // and by the same sink, whose caches saw the first replay
			_ = again.Close()
			if thrice := tg.State(t); !reflect.DeepEqual(thrice, once) {
				t.Errorf("step %d applied again by the same sink leaves the target as\n%v\nwant as once:\n%v", i+1, thrice, once)
			}
		}
	})
}
