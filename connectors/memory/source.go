package memory

import (
	"context"
	"fmt"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/spec"
)

var sourceSpec = spec.Component{
	Kind:    spec.KindSource,
	Name:    "memory",
	Summary: "Read a dataset registered in-process (for tests).",
	Description: `Reads a dataset a Go test registered with memory.SetDataset: its records, in order, in batches of
at most batch_size rows, with the dataset's mode (snapshot or changes). The checkpoint is the dataset's
version, which grows each time a dataset is registered. The schema is the dataset's at construction time.`,
	Fields: []spec.Field{
		{
			Name:        "dataset",
			Type:        spec.TypeString,
			Required:    true,
			Description: "Name of the registered dataset.",
			Example:     "products",
		},
		{
			Name:        "batch_size",
			Type:        spec.TypeInt,
			Default:     1024,
			Description: "Maximum number of rows per batch.",
			Example:     100,
			Advanced:    true,
		},
	},
	Example: `source:
  type: memory
  dataset: products`,
	Config: sourceConfig{},
}

func init() {
	connectors.Sources.MustRegister(sourceSpec, connectors.SourceOf(NewSource))
}

type sourceConfig struct {
	Dataset   string `spec:"dataset"`
	BatchSize int    `spec:"batch_size"`
}

// Source reads a registered dataset.
type Source struct {
	dataset   string
	schema    *arrow.Schema
	batchSize int
}

var _ connectors.Source = (*Source)(nil)

// NewSource builds a memory source. It fails on an unknown dataset (listing the known ones) and on a batch
// size below 1.
func NewSource(cfg spec.Config, _ connectors.Env) (*Source, error) {
	c := sourceConfig{BatchSize: 1024}
	if err := cfg.Decode(&c); err != nil {
		return nil, err
	}
	if c.BatchSize < 1 {
		return nil, fmt.Errorf("batch_size must be at least 1, not %d", c.BatchSize)
	}
	d, err := lookup(c.Dataset)
	if err != nil {
		return nil, err
	}
	return &Source{dataset: c.Dataset, schema: d.schema, batchSize: c.BatchSize}, nil
}

// Schema returns the dataset's schema as it was when the source was built.
func (s *Source) Schema() *arrow.Schema { return s.schema }

// Read yields the dataset's current records in the source's schema. It fails with the error set by
// SetDatasetError. The result carries the dataset's mode and, as checkpoint, its version in decimal.
func (s *Source) Read(_ context.Context, req connectors.ReadRequest) (connectors.Reader, error) {
	d, err := lookup(s.dataset)
	if err != nil {
		return nil, err
	}
	if d.err != nil {
		return nil, fmt.Errorf("memory dataset %q: %w", s.dataset, d.err)
	}
	return connectors.RecordsReader(s.schema, d.records, s.batchSize, req.Alloc, connectors.ReadResult{
		Mode:       d.mode,
		Key:        d.key,
		Checkpoint: []byte(strconv.FormatUint(d.version, 10)),
	}), nil
}
