package connectors

import "context"

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
	Confirm(ctx context.Context, keys []Record) (outcomes []error, err error)
}
