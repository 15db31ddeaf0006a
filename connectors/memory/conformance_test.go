package memory

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/connectors/conntest"
	"github.com/possync/possync/record"
)

// conformanceSteps create three records, then update, deactivate and delete them.
var conformanceSteps = [][]connectors.Change{
	{
		change("1", connectors.Create, "A1", record.Record{"sku": "A1", "price": 1.0}),
		change("2", connectors.Create, "B2", record.Record{"sku": "B2", "price": 2.0}),
		change("3", connectors.Create, "C3", record.Record{"sku": "C3", "price": 3.0}),
	},
	{
		change("4", connectors.Update, "A1", record.Record{"sku": "A1", "price": 1.5}),
		change("5", connectors.Deactivate, "B2", record.Record{"sku": "B2", "price": 2.0}),
		change("6", connectors.Delete, "C3", nil),
	},
}

var targetSeq atomic.Int64

// freshTarget returns the name of a new, empty target.
func freshTarget(t *testing.T) string {
	name := fmt.Sprintf("%s#%d", t.Name(), targetSeq.Add(1))
	Target(name).Reset()
	return name
}

func TestConformance(t *testing.T) {
	for _, mode := range []connectors.Mode{connectors.Snapshot, connectors.Changes} {
		t.Run("source "+mode.String(), func(t *testing.T) {
			name := t.Name()
			SetDataset(name, productSchema, products(2500), mode)
			SetDatasetKey(name, "sku")
			conntest.Source(t, func(t *testing.T) connectors.Source {
				return newSource(t, map[string]any{"dataset": name, "batch_size": int64(1000)})
			}, conntest.SourceOptions{MinRows: 2500})
		})
	}
	t.Run("sink", func(t *testing.T) {
		conntest.Sink(t, func(t *testing.T) conntest.SinkTarget {
			name := freshTarget(t)
			return conntest.SinkTarget{
				New:   func(t *testing.T) connectors.Sink { return newSink(t, name, connectors.Env{}) },
				State: func(t *testing.T) any { return Target(name).Records() },
			}
		}, conntest.SinkOptions{Steps: conformanceSteps, Rejected: []connectors.Change{
			change("r1", connectors.Create, "X1", nil), // a create without a record
			change("r2", connectors.Update, "X2", nil),
		}})
	})
	t.Run("lister", func(t *testing.T) {
		conntest.Lister(t, func(t *testing.T) (connectors.Lister, *arrow.Schema) {
			name := freshTarget(t)
			for i, r := range products(30) {
				Target(name).Edit(fmt.Sprintf("sku=%d", i), r)
			}
			return newSink(t, name, connectors.Env{Schema: productSchema}), productSchema
		}, conntest.SourceOptions{MinRows: 30})
	})
}
