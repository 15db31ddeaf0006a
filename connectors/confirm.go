package connectors

import (
	"context"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/possync/possync/record"
)

// Confirmer is implemented by sources that must tell their origin that records were taken: an order export
// confirming receipt of an order, a Shopify order tagged as imported. After a run's changes and checkpoints
// are committed to state, the runner calls Confirm with the key of every record that this run's read
// delivered and that is in the applied state, whether it was applied by this run or an earlier one, so a
// confirm that failed or was interrupted by a crash is retried by the next run (the origin keeps serving an
// unconfirmed record). keys carry the source's key fields (ReadResult.Key), which must be the pipeline's key.
//
// Confirm must be idempotent: confirming a record twice is harmless. It returns one outcome per key (nil when
// confirmed) and err when it cannot go on; failures are reported in the run report as notes and do not fail
// the run, since the state is already right.
type Confirmer interface {
	Confirm(ctx context.Context, keys []record.Record) (outcomes []error, err error)
}

// WithoutConfirm returns src stripped of its Confirmer ability, for a source configured to only read (an order
// source with confirm: false in an inventory pipeline that reserves stock): the runner then never confirms
// what the read delivered. The result is a Source, and a ConnectionTester when src is one; it has no other
// optional ability. Unwrap returns src.
func WithoutConfirm(src Source) Source {
	if t, ok := src.(ConnectionTester); ok {
		return readOnlyTester{readOnly{src}, t}
	}
	return readOnly{src}
}

// readOnly is WithoutConfirm's Source.
type readOnly struct{ src Source }

func (r readOnly) Schema() *arrow.Schema { return r.src.Schema() }

func (r readOnly) Read(ctx context.Context, req ReadRequest) (Reader, error) {
	return r.src.Read(ctx, req)
}

// Unwrap returns the wrapped source.
func (r readOnly) Unwrap() Source { return r.src }

// readOnlyTester is WithoutConfirm's Source for a source that can test its connection.
type readOnlyTester struct {
	readOnly
	t ConnectionTester
}

func (r readOnlyTester) Check(ctx context.Context) error { return r.t.Check(ctx) }
