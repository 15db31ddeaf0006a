package runner

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/runner/apply"
	"github.com/possync/possync/runner/diff"
	"github.com/possync/possync/runner/engine"
	"github.com/possync/possync/runner/export"
	"github.com/possync/possync/runner/failpoint"
	"github.com/possync/possync/runner/plan"
)

// The streamed plan of an apply (planMode streamed: every apply whose sink takes the diff's order, unless its
// caller asked for the plan's changes; see applyStreams) holds no change; its hash (plan.Hasher: the head
// and each change's ID, in apply order) needs every change's ID, one ordered read of the whole diff:
//
//   - Without a saved plan to compare with, nothing needs the hash before the first change is applied: the
//     apply's own batch reads (applyStreamed) compute each change's ID for the sink and add it to the hash,
//     so the diff is read and decoded once, and the hash is known when the last batch is read (the run's
//     journal entry gets it when the run finishes).
//   - With a saved plan (apply --plan), the hash decides whether to apply at all: hashStreamed reads the diff
//     once before the apply, one change at a time with one decoded row and one plan.Change reused throughout,
//     and keeps the IDs it computes, by sequence number, for the apply's batches, which then decode each
//     change into the sink's form only.

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

// streamHash is a streamed plan's hash in the making: each change's ID is computed and added to the hash,
// in apply order.
type streamHash struct {
	h    *plan.Hasher
	form plan.IDForm
	pc   plan.Change // what the hash reads of a change: its ID and annotations
	next int64       // the sequence number of the next change
}

// add computes c's ID against the state planned against and adds the change to the hash; c must be the
// change numbered h.next. The ID is computed straight from c's values (diff.Layout.ChangeIDOf), unless the
// plan has annotations, which the hash covers too: then c's plan form is built (into one reused
// plan.Change).
func (h *streamHash) add(s *session, c *diff.Change) (string, error) {
	if len(s.ds.Annot) > 0 {
		return h.push(c.Seq, func() { s.ds.PlanChangeInto(c, s.planned, &h.pc) })
	}
	return h.push(c.Seq, func() { h.pc.ID = s.ds.ChangeIDOf(c, s.planned, &h.form) })
}

// rowChange is what the hash reads of the change r (read by diff.Entries, in any order): its ID, computed
// straight from the diff's columns (diff.Row.ID: no decoded row), unless the plan has annotations, whose
// plan form needs the decoded change; then its annotations too, which the caller keeps until the change is
// added (addChange, in apply order). It uses nothing of h: Entries' workers call it at the same time, each
// with a row (and its IDForm) of its own.
func (h *streamHash) rowChange(s *session, r *diff.Row) plan.Change {
	if len(s.ds.Annot) > 0 {
		var pc plan.Change // a new one each time: its annotations are kept
		s.ds.PlanChangeInto(r.Change(), s.planned, &pc)
		return plan.Change{ID: pc.ID, Annotations: pc.Annotations}
	}
	return plan.Change{ID: r.ID(s.planned, r.Form())}
}

// addChange adds pc, what the hash reads of the change numbered seq (which must be h.next), to the hash.
func (h *streamHash) addChange(seq int64, pc *plan.Change) error {
	if seq != h.next {
		return fmt.Errorf("diff: change numbered %d where %d was expected", seq, h.next)
	}
	h.next++
	return h.h.Add(pc)
}

// push adds the change numbered seq, which must be h.next, to the hash, once fill has put what the hash
// reads of it into h.pc, and returns its ID.
func (h *streamHash) push(seq int64, fill func()) (string, error) {
	if seq != h.next {
		return "", fmt.Errorf("diff: change numbered %d where %d was expected", seq, h.next)
	}
	fill()
	if err := h.addChange(seq, &h.pc); err != nil {
		return "", err
	}
	return h.pc.ID, nil
}

// hashRest reads the changes from h.next up to total (one query per diff.QueryRows changes: DuckDB materialises
// a query's whole result, outside its memory limit, before the first row reaches Go, so one ordered read
// of a 1M-row diff held the whole diff a second time, issue #15), adding each to the hash, and calls keep
// with each one's sequence number and ID. The changes must be numbered 0..total-1 in apply order
// (diff.Table's __seq).
func (h *streamHash) hashRest(ctx context.Context, s *session, total int64, keep func(seq int64, id string) error) error {
	for lo := h.next; lo < total; lo = h.next {
		n := h.next
		err := diff.EachReused(ctx, s.d, s.ds, lo, min(lo+diff.QueryRows, total), func(c *diff.Change) error {
			id, err := h.add(s, c)
			if err != nil || keep == nil {
				return err
			}
			return keep(c.Seq, id)
		})
		if err != nil {
			return err
		}
		if h.next == n {
			break // no change numbered lo: Sum says the changes do not add up
		}
	}
	return nil
}

// hashStreamed returns the hash of pl with the diff's changes, read in one pass, and keeps their IDs in
// s.ids for the apply's batches.
func (s *session) hashStreamed(ctx context.Context, pl *plan.Plan) (string, error) {
	total := int64(pl.Summary.Total())
	h, err := pl.NewHasher()
	if err != nil {
		return "", err
	}
	sh := &streamHash{h: h}
	ids := &changeIDs{buf: make([]byte, 0, total*24)}
	if err := sh.hashRest(ctx, s, total, func(_ int64, id string) error { return ids.add(id) }); err != nil {
		return "", err
	}
	sum, err := h.Sum()
	if err != nil {
		return "", fmt.Errorf("diff: %w", err)
	}
	s.ids = ids
	return sum, nil
}

// applyStreamed applies a streamed plan's changes, read from the diff a batch at a time (an apply of
// millions of changes holds at most two batches' changes in memory, the one applied and the one read
// ahead: pipeBatches). With the IDs of a hash pass (s.ids), each change takes its ID from them; without, each
// change's ID is computed as its batch is read and added to the plan's hash, and pl.Hash is set once every
// change has been read. When the apply fails part way, the changes not yet read are read for the hash
// alone (unless ctx is done), so that the run's journal entry still names the plan it applied.
func (s *session) applyStreamed(ctx context.Context, a *apply.Applier, pl *plan.Plan, t apply.Tally) error {
	total, size := int64(pl.Summary.Total()), int64(a.BatchSize())
	var sh *streamHash
	if s.ids == nil {
		h, err := pl.NewHasher()
		if err != nil {
			return err
		}
		sh = &streamHash{h: h}
	}
	r := &batchReader{s: s, sh: sh, encoded: a.Encoded()}
	defer func(sent func()) { a.Sent = sent }(a.Sent)
	err := s.pipeBatches(ctx, total, size, r.read, func(b *readBatch, sent func()) error {
		a.Sent = func() {
			r.recycle(b) // first: the read this lets go on takes its memory
			sent()
		}
		if b.entries != nil {
			s.early.Lines(b.lines) // for the batch's commit: its part of the records file
			defer s.early.Lines(nil)
			return a.BatchEntries(ctx, b.changes, b.entries, b.seqs, int(total), t)
		}
		return a.Batch(ctx, b.changes, b.seqs, int(total), t)
	})
	if sh == nil {
		return err
	}
	if err != nil {
		if ctx.Err() != nil || sh.hashRest(ctx, s, total, nil) != nil {
			return err // the plan's hash stays unknown
		}
	}
	sum, herr := sh.h.Sum()
	if herr != nil && err == nil {
		return fmt.Errorf("diff: %w", herr)
	}
	if herr == nil {
		pl.Hash = sum
	}
	return err
}

// readBatch is a batch of changes read from the diff for the applier, in apply order: the sink's form of
// each change, its entry when the sink takes entries (nil: the applier encodes them), its sequence number,
// and the creates' records-file lines when the early export takes them (export.Early.Lines; nil: none).
// The changes, entries and sequence numbers of a batch read as entries are in mem's memory, which the
// batches read after it reuse once it was sent (batchReader.recycle).
type readBatch struct {
	changes []connectors.Change
	entries [][]byte
	seqs    []int64
	lines   *export.Staged
	mem     *diff.Reuse
}

// batchReader reads a streamed apply's batches from the diff, in apply order, and adds their changes to
// the plan's hash (sh; nil: the IDs come from the hash pass, s.ids). It is used by one goroutine at a time.
type batchReader struct {
	s       *session
	sh      *streamHash
	encoded bool // the batches are read as their entries (apply.Applier.Encoded)
	// annots holds, by number from the batch's first, the annotations of a batch's changes, for the hash
	// of a plan that has them.
	annots  []map[string]any
	batchLo int64
	// free holds the memory of the batches sent, for the batches read next (recycle: the applier's
	// goroutine adds to it while the reader reads); entries and text are the pools of their entries' and
	// lines' buffers.
	mu            sync.Mutex
	free          []*diff.Reuse
	entries, text diff.Buffers
}

// reuse is memory for the next batch read as entries: a sent batch's, or new (nil: fresh memory, with
// recycleOff).
func (r *batchReader) reuse() *diff.Reuse {
	if recycleOff {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if n := len(r.free); n > 0 {
		m := r.free[n-1]
		r.free = r.free[:n-1]
		recycledReads.Add(1)
		return m
	}
	return &diff.Reuse{Entries: &r.entries, Text: &r.text}
}

// recycledReads counts the batches read into a sent batch's memory (reuse), for the tests that check the
// recycling engaged.
var recycledReads atomic.Int64

// recycle gives the memory of b, a batch sent (its changes, entries and sequence numbers no longer read:
// apply.Applier.Sent), to the batches read next; b's are then nil. Nothing for a batch recycled already or
// not read as entries.
func (r *batchReader) recycle(b *readBatch) {
	m := b.mem
	if m == nil {
		return
	}
	b.mem, b.changes, b.entries, b.seqs = nil, nil, nil, nil
	m.Release()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.free = append(r.free, m)
}

// read reads the changes numbered lo up to hi through db (the session's, or a Reader of it).
func (r *batchReader) read(ctx context.Context, db *engine.DB, lo, hi int64) (*readBatch, error) {
	s, sh := r.s, r.sh
	if r.encoded {
		// Each batch read as its changes' entries, straight from the diff's columns (diff.Entries): the sink
		// writes them, and the commit takes the records from the diff table, so the changes' records are
		// never built in Go.
		r.annots = nil
		if r.batchLo = lo; sh != nil && len(s.ds.Annot) > 0 {
			r.annots = make([]map[string]any, hi-lo)
		}
		mem := r.reuse()
		batch, entries, seqs, lines, err := diff.EntriesCSV(ctx, db, s.ds, lo, hi, encodeWorkers(hi-lo), r.entryID, s.early.CSVFormat(), mem)
		if err != nil {
			return nil, err // mem dropped with the read
		}
		if sh != nil {
			var pc plan.Change
			for i := range batch {
				pc.ID = batch[i].ID
				if r.annots != nil {
					pc.Annotations = r.annots[i]
				}
				if err := sh.addChange(seqs[i], &pc); err != nil {
					return nil, err
				}
			}
		}
		staged := s.early.Stage(lines)
		if staged.InMemory() {
			mem.DisownLines() // kept until the batch's part is written
		} else {
			mem.ReleaseLines() // copied to the staging file, or not kept
		}
		return &readBatch{changes: batch, entries: entries, seqs: seqs, lines: staged, mem: mem}, nil
	}
	b := &readBatch{} // the sink may keep its batch: a new one each time
	// One decoded row reused: the sink's form copies the values out of it (SinkChange).
	err := diff.EachReused(ctx, db, s.ds, lo, hi, func(c *diff.Change) error {
		var cid string
		var err error
		if sh != nil {
			cid, err = sh.add(s, c) // from the decoded row, added to the plan's hash
		} else {
			cid, err = s.ids.at(c.Seq)
		}
		if err != nil {
			return err
		}
		b.changes, b.seqs = append(b.changes, s.ds.SinkChange(c, cid)), append(b.seqs, c.Seq)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return b, nil
}

// encodeWorkers is how many goroutines diff.Entries encodes a batch of n changes in: one per processor the
// Go runtime uses (the reading and encoding of the next batch is what a streamed apply waits for once the
// commit of the batch before is done, issue #15), at most 4; one for fewer than parallelEncodeRows. A 1M
// first sync's batches of 122,880 (two pairs, load 6-7): apply 6.6-7.0 s wall with two workers, 9.0-10.1 s
// with one. The full cycle's single batch of 29,837 (four pairs, load 5-8): apply 0.38-0.90 s with one,
// 0.77-1.13 s with two, +0.03 cpu s of hand-offs for at most half of a ~0.07 s encoding.
func encodeWorkers(n int64) int {
	if n < parallelEncodeRows {
		return 1
	}
	return min(runtime.GOMAXPROCS(0), 4)
}

// parallelEncodeRows is the fewest changes encodeWorkers splits across goroutines. A variable for the
// tests.
var parallelEncodeRows int64 = 65_536

// entryID gives a change's ID, for diff.Entries: from the hash pass's, or computed here from the diff's
// columns (in the order the batch's rows are read; read adds the batch's changes to the plan's hash
// afterwards, in apply order). Entries' workers call it at the same time: it writes only the change's own
// place in r.annots.
func (r *batchReader) entryID(seq int64, row *diff.Row) (string, error) {
	if r.sh == nil {
		return r.s.ids.at(seq)
	}
	pc := r.sh.rowChange(r.s, row)
	if r.annots != nil {
		r.annots[seq-r.batchLo] = pc.Annotations
	}
	return pc.ID, nil
}

// pipeBatches reads the batches of size changes numbered 0 up to total (read) and applies each in turn
// (apply), reading ahead while the batches before are applied: a goroutine reads the batches from the diff
// on a connection of its own (engine.DB.Reader) and encodes them in Go, which the apply would otherwise
// wait for (issue #15), and hands each over when the apply takes it. It reads batch N+pipeDepth once batch
// N's sink call returned (apply calls sent; the commit that follows is statements on the session
// connection, on which DuckDB runs one thread), and batch N+1 only once batch N was taken. With pipeDepth
// 2 it thus reads batch N+2 while batch N+1's intents, sink call and commit run (with 1, during batch N's
// commit alone). The memory held is at most two batches' changes and entries: the one being applied and
// the one read ahead (a batch's changes and entries are not read after its sink call, apply.Applier.Sent,
// so with pipeDepth 1 the one being committed is garbage while the next is read, about one batch live;
// with 2, both are live more often: a 1M first sync's peak RSS 617-658 MiB against 523 with 1, issue
// #15; a batch read as entries reuses the memory of a batch sent before, batchReader.recycle, so the memory
// held stays, rather than garbage for the collector to free and the kernel to fault in again). The batches
// are applied in order, each once. Reading ahead has no effect on the state or the sink:
// a batch read ahead whose apply never comes is dropped.
//
// An apply error stops the reading (its context is cancelled) and is returned once the reader has
// stopped; a read error (ctx done included) is returned once the batch being applied is done, and no batch
// after it is applied. read is called by one goroutine, never two at a time, and has returned when
// pipeBatches does. sent may be called more than once for a batch (the first call counts), and not at all.
func (s *session) pipeBatches(ctx context.Context, total, size int64, read func(context.Context, *engine.DB, int64, int64) (*readBatch, error), apply func(b *readBatch, sent func()) error) error {
	if total <= size || pipeOff {
		// One batch, nothing to overlap: read and applied in turn on the session connection.
		for lo := int64(0); lo < total; lo += size {
			done := s.timings.start(waitStage)
			b, err := read(ctx, s.d, lo, min(lo+size, total))
			done()
			if err != nil {
				return readError(lo, min(lo+size, total), err)
			}
			if err := apply(b, func() {}); err != nil {
				return err
			}
		}
		return nil
	}
	rd, err := s.d.Reader(ctx)
	if err != nil {
		return fmt.Errorf("read the diff: %w", err)
	}
	defer rd.Close()
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	next := make(chan *readBatch)          // unbuffered: the reader hands a batch over when the apply takes it
	goOn := make(chan struct{}, pipeDepth) // a batch was sent: the reader may read the one pipeDepth after it
	var readErr error
	stopped := make(chan struct{})
	var ahead chan struct{} // pipeAhead: a token for each batch read
	if pipeAhead {
		ahead = make(chan struct{}, (total+size-1)/size)
	}
	go func() {
		defer close(stopped)
		defer close(next)
		for lo := int64(0); lo < total; lo += size {
			if lo >= pipeDepth*size {
				select {
				case <-goOn:
				case <-rctx.Done():
					readErr = rctx.Err()
					return
				}
			}
			b, err := read(rctx, rd, lo, min(lo+size, total))
			if err != nil {
				readErr = readError(lo, min(lo+size, total), err)
				return
			}
			failpoint.Hit("batch-read-ahead")
			if ahead != nil {
				ahead <- struct{}{}
			}
			select {
			case next <- b:
			case <-rctx.Done(): // ctx is done (or the apply failed: then its error is the one returned)
				readErr = rctx.Err()
				return
			}
		}
	}()
	readN := int64(0) // pipeAhead: the batches known to be read, by their tokens
	// waitAhead waits, for pipeAhead, until the batch after the one numbered from lo is read, or the reader
	// has stopped.
	waitAhead := func(lo int64) {
		for ahead != nil && readN*size < min(lo+2*size, total) {
			select {
			case <-ahead:
				readN++
				continue
			case <-stopped:
			}
			break
		}
	}
	for lo := int64(0); ; lo += size {
		done := s.timings.start(waitStage)
		b, ok := <-next
		done()
		if !ok {
			break
		}
		once := false
		sent := func() {
			if once {
				return
			}
			once = true
			// Room for it: the reader, which handed this batch over, took the tokens of the batches sent up to
			// pipeDepth before it, so at most pipeDepth are not taken.
			goOn <- struct{}{}
			waitAhead(lo)
		}
		if err = apply(b, sent); err != nil {
			break
		}
		sent() // if apply did not: the reader must not wait for it
	}
	stop()
	<-stopped // the reader is done with rd and with read's state
	if err == nil {
		err = readErr
	}
	return err
}

// readError is err, the error of reading the changes numbered lo up to hi, with their numbers.
func readError(lo, hi int64, err error) error {
	return fmt.Errorf("changes %d to %d: %w", lo, hi-1, err)
}

// waitStage is the stage that times how long a streamed apply waited for its batches to be read: all of
// their reading when read in turn, the part not hidden behind the commits when read ahead. Its processor
// time is the process's meanwhile (the reader's, when read ahead).
const waitStage = "apply: wait for reads"

// recycleOff makes a streamed apply read each batch into fresh memory, none reused (batchReader.reuse;
// SetRecycleBatches, for the tests that compare the two).
var recycleOff bool

// pipeOff turns pipeBatches' reading ahead off; pipeAhead makes the apply of each batch wait until the next
// is read, so that the reader is ahead whenever a batch fails (SetPipeBatches, for the tests).
var pipeOff, pipeAhead bool

// pipeDepth is how many batches pipeBatches' reader may be ahead of the batches sent: it reads batch
// N+pipeDepth once batch N was sent. 2 lets it read during a batch's intents and sink call as well as during
// the commit before, without holding more batches (pipeBatches). A variable for the tests.
var pipeDepth int64 = 2

// dropDiff frees the diff table and the changes' IDs once every change is applied and the drift adopted:
// the export and the checkpoint that follow need neither, and for a first sync the diff holds the whole
// catalog (a second copy of the snapshot, in memory, while the export reads the snapshot).
func (s *session) dropDiff(ctx context.Context) error {
	s.ids = nil
	if err := diff.Drop(ctx, s.d); err != nil {
		return fmt.Errorf("free the diff: %w", err)
	}
	return nil
}
