package ecom

import "github.com/possync/possync/connectors"

var (
	_ connectors.Sequencer = (*Sink)(nil)
	_ connectors.Ranker    = (*Sink)(nil)
)

// applyOrder is the order a run's changes must be applied in so that dependencies hold across batches:
// every product create before any variant create (a combination needs its product), and every variant
// delete before any product delete (deleting a product takes its combinations with it, and their own
// deletes would then fail). A variant is a record with a parent_sku. Other changes (updates, deactivations)
// rank between, in the runner's order.
var applyOrder = connectors.Rank{
	Field: "parent_sku",
	Rules: []connectors.RankRule{
		{Action: connectors.Create, Set: false, Rank: 0},
		{Action: connectors.Create, Set: true, Rank: 1},
		{Action: connectors.Delete, Set: true, Rank: 3},
		{Action: connectors.Delete, Set: false, Rank: 4},
	},
	Default: 2,
}

// Rank states the sink's order as data (connectors.Ranker), so that the runner numbers the changes in it
// inside the diff and streams them in batches.
func (s *Sink) Rank() connectors.Rank { return applyOrder }

// Sequence orders a run's changes held in memory by the same rank (connectors.Sequencer): products
// created before variants, variants deleted before products; other changes keep their order.
func (s *Sink) Sequence(changes []connectors.Change) { applyOrder.Sort(changes) }
