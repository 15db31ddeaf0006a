package runner

import (
	"context"
	"fmt"

	"github.com/possync/possync/runner/diff"
	"github.com/possync/possync/runner/plan"
)

// The streamed plan of a large apply (planMode streamed): the plan's hash is computed over one ordered read
// of the whole diff, one change at a time, with one decoded row and one plan.Change reused throughout
// (nothing per change is kept but its ID), and the IDs it computes are kept, by sequence number, for the
// apply's batches, which then decode each change into the sink's form only.

// changeIDs are change IDs by diff sequence number, in one buffer of fixed-width hex IDs: 24 bytes a
// change, no pointer for the garbage collector to follow.
type changeIDs struct {
	width int
	buf   []byte
}

// add appends the ID of the next sequence number.
func (c *changeIDs) add(id string) error {
	if c.width == 0 {
		c.width = len(id)
	}
	if len(id) != c.width || c.width == 0 {
		return fmt.Errorf("change ID %q: not %d characters", id, c.width)
	}
	c.buf = append(c.buf, id...)
	return nil
}

// at returns the ID of sequence number seq.
func (c *changeIDs) at(seq int64) (string, error) {
	if c.width == 0 || seq < 0 || (seq+1)*int64(c.width) > int64(len(c.buf)) {
		return "", fmt.Errorf("no planned change numbered %d", seq)
	}
	return string(c.buf[seq*int64(c.width) : (seq+1)*int64(c.width)]), nil
}

// hashChunk is how many changes the streamed hash pass reads per query.
var hashChunk int64 = 50_000

// hashStreamed returns the hash of pl with the diff's changes, read in one pass, and keeps their IDs in
// s.ids. The changes must be numbered 0..total-1 in apply order (diff.Table's __seq).
func (s *session) hashStreamed(ctx context.Context, pl *plan.Plan) (string, error) {
	total := int64(pl.Summary.Total())
	ids := &changeIDs{buf: make([]byte, 0, total*24)}
	var pc plan.Change
	next := int64(0)
	h, err := pl.HashOf(func(yield func(*plan.Change) error) error {
		// One query per hashChunk changes: DuckDB materialises a query's whole result (outside its memory
		// limit) before the first row reaches Go, so one ordered read of a 1M-row diff held the whole diff a
		// second time (issue #15). Each chunk is a range of __seq, in order.
		for lo := int64(0); lo < total; lo += hashChunk {
			err := diff.EachReused(ctx, s.d, s.ds, lo, min(lo+hashChunk, total), func(c *diff.Change) error {
				if c.Seq != next {
					return fmt.Errorf("diff: change numbered %d where %d was expected", c.Seq, next)
				}
				next++
				s.ds.PlanChangeInto(c, s.planned, &pc)
				if err := ids.add(pc.ID); err != nil {
					return err
				}
				return yield(&pc)
			})
			if err != nil {
				return err
			}
		}
		if next != total {
			return fmt.Errorf("diff: %d changes read for a summary of %d", next, total)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	s.ids = ids
	return h, nil
}

// dropDiff frees the diff table and the changes' IDs once every change is applied and the drift adopted:
// the export and the checkpoint that follow need neither, and for a first sync the diff holds the whole
// catalog (a second copy of the snapshot, in memory, while the export reads the snapshot).
func (s *session) dropDiff(ctx context.Context) error {
	s.ids = nil
	if err := s.d.Exec(ctx, "DROP TABLE IF EXISTS "+diff.Table); err != nil {
		return fmt.Errorf("free the diff: %w", err)
	}
	return nil
}
