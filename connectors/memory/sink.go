package memory

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/spec"
)

var sinkSpec = spec.Component{
	Kind:    spec.KindSink,
	Name:    "memory",
	Summary: "Apply changes to an in-process target (for tests).",
	Description: `Applies changes to the in-process target a Go test inspects with memory.Target(name): creates,
updates and deactivations store the change's whole record, deletes remove it. Records are keyed by the
change key's fields in sorted order ("sku=A1,store=1"). The target can reject chosen keys (FailKeys) and
stop after a number of changes (FailAfter). The sink reconciles by change ID and lists the target's
records for plan --refresh.`,
	Fields: []spec.Field{
		{
			Name:        "target",
			Type:        spec.TypeString,
			Required:    true,
			Description: "Name of the in-process target.",
			Example:     "store",
		},
	},
	Example: `sink:
  type: memory
  target: store`,
	Config: sinkConfig{},
}

func init() {
	connectors.Sinks.MustRegister(sinkSpec, connectors.SinkOf(NewSink))
}

type sinkConfig struct {
	Target string `spec:"target"`
}

// listBatch is the number of records per batch List yields.
const listBatch = 1024

// Sink applies changes to a TargetState.
type Sink struct {
	target *TargetState
	schema *arrow.Schema
}

var (
	_ connectors.Sink       = (*Sink)(nil)
	_ connectors.Reconciler = (*Sink)(nil)
	_ connectors.Lister     = (*Sink)(nil)
)

// NewSink builds a memory sink on Target(target). env.Schema is kept for List.
func NewSink(cfg spec.Config, env connectors.Env) (*Sink, error) {
	var c sinkConfig
	if err := cfg.Decode(&c); err != nil {
		return nil, err
	}
	if c.Target == "" {
		return nil, fmt.Errorf("target is required")
	}
	return &Sink{target: Target(c.Target), schema: env.Schema}, nil
}

// Apply applies changes in order. The outcome of a change is nil when applied; a *connectors.ChangeError
// when its key is failed by FailKeys, or it is a create, update or deactivate without a record, or its
// action is unknown; connectors.ErrNotAttempted for it and every later change once ctx is done or the
// FailAfter count is reached, in which case Apply also returns ctx's error or the FailAfter error.
func (s *Sink) Apply(ctx context.Context, changes []connectors.Change) ([]error, error) {
	return s.target.apply(ctx, changes)
}

// Reconcile reports, for each change, whether a change with its ID was acknowledged.
func (s *Sink) Reconcile(_ context.Context, changes []connectors.Change) ([]bool, error) {
	return s.target.reconcile(changes), nil
}

// List yields the target's records, sorted by key string, as a snapshot in the pipeline's schema (fields a
// record lacks are null). It needs the schema the sink was built with (connectors.Env.Schema).
func (s *Sink) List(_ context.Context, req connectors.ReadRequest) (connectors.Reader, error) {
	if s.schema == nil {
		return nil, fmt.Errorf("memory sink: listing needs the pipeline's schema")
	}
	return connectors.RecordsReader(s.schema, s.target.sortedRecords(), listBatch, req.Alloc,
		connectors.ReadResult{Mode: connectors.Snapshot}), nil
}

// Close does nothing.
func (s *Sink) Close() error { return nil }
