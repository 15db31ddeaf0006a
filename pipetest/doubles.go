package pipetest

import (
	"context"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/record"
)

// rowsSource is a source that delivers a case's rows, in the schema of the source it replaces, as a
// complete snapshot. It is handed to the runner directly (runner.Options.Sources) and never registered, so
// that the binary's catalog (and the JSON Schema generated from it) does not offer it.
type rowsSource struct {
	schema  *arrow.Schema
	records []record.Record
}

var _ connectors.Source = (*rowsSource)(nil)

func (s *rowsSource) Schema() *arrow.Schema { return s.schema }

func (s *rowsSource) Read(_ context.Context, req connectors.ReadRequest) (connectors.Reader, error) {
	return connectors.RecordsReader(s.schema, append([]record.Record(nil), s.records...), 1024, req.Alloc,
		connectors.ReadResult{Mode: connectors.Snapshot}), nil
}

// ackSink acknowledges every change without sending it anywhere: applying a case's state rows through it
// makes them the last-applied snapshot of the scratch state.
type ackSink struct{ applied int }

var _ connectors.Sink = (*ackSink)(nil)

func (s *ackSink) Apply(ctx context.Context, changes []connectors.Change) ([]error, error) {
	s.applied += len(changes)
	return make([]error, len(changes)), ctx.Err()
}

func (s *ackSink) Close() error { return nil }
