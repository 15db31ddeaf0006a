package ecom

import (
	"sort"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/record"
)

var _ connectors.Sequencer = (*Sink)(nil)

// Sequence orders a run's changes so that dependencies hold across batches: every product create comes
// before any variant create (a combination needs its product), and every variant delete before any product
// delete (deleting a product takes its combinations with it, and their own deletes would then fail). Other
// changes keep their order.
func (s *Sink) Sequence(changes []connectors.Change) {
	rank := func(c *connectors.Change) int {
		variant := isVariant(c.After) || isVariant(c.Before)
		switch {
		case c.Action == connectors.Create && !variant:
			return 0
		case c.Action == connectors.Create:
			return 1
		case c.Action == connectors.Delete && variant:
			return 3
		case c.Action == connectors.Delete:
			return 4
		}
		return 2
	}
	sort.SliceStable(changes, func(i, j int) bool { return rank(&changes[i]) < rank(&changes[j]) })
}

func isVariant(r record.Record) bool {
	p, ok := str(r, "parent_sku")
	return ok && p != ""
}
