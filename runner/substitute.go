package runner

// Test doubles a caller hands the runner (Options.Sources, Options.Sink) and what it hands back
// (Options.Desired): `possync test` (package pipetest) runs a pipeline's transforms and plan on rows of its
// own, without reading the real sources or writing to the real sink.

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/pipelines"
	"github.com/possync/possync/record"
	"github.com/possync/possync/runner/engine"
)

// Desired is what Options.Desired receives: the records the last step delivered, before the diff.
type Desired struct {
	// Schema is the desired table's schema, annotations included.
	Schema *arrow.Schema
	// Annotations name the fields that explain changes and are not record data (transforms.Annotator);
	// the state and the sink see Schema without them.
	Annotations []string
	// Rows are the desired records, in no particular order.
	Rows []record.Record
}

// RecordSchema is Schema without the annotations: the schema of the records the state keeps.
func (d *Desired) RecordSchema() *arrow.Schema {
	var fields []arrow.Field
	for _, f := range d.Schema.Fields() {
		if !isIn(d.Annotations, f.Name) {
			fields = append(fields, f)
		}
	}
	return arrow.NewSchema(fields, nil)
}

// reportDesired hands the desired records to Options.Desired, when set (`possync test` compares them with
// a case's expected rows). It reads the whole desired table into memory: it is for tests, not catalogs.
func (s *session) reportDesired(ctx context.Context) error {
	if s.opts.Desired == nil {
		return nil
	}
	out := &Desired{Schema: s.schemas[s.desired], Annotations: s.annotations}
	err := s.d.Query(ctx, "SELECT * FROM "+engine.Ident(s.desired), func(b arrow.RecordBatch) error {
		for i := 0; i < int(b.NumRows()); i++ {
			out.Rows = append(out.Rows, record.RowRecord(b, i))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read the desired records: %w", err)
	}
	s.opts.Desired(out)
	return nil
}

// substituteSource returns the source Options.Sources gives for the pipeline's source c, if any.
func (s *session) substituteSource(c *pipelines.Component) (connectors.Source, bool) {
	src, ok := s.opts.Sources[c.Name]
	return src, ok && src != nil
}
