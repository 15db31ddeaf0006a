package diff

import (
	"sync"

	"github.com/possync/possync/connectors"
)

// Reuse is memory a batch is read into by EntriesCSV and that its caller gives back once done with it, for
// the batches read after it: a batch of 122,880 creates takes about 80 MB (its entries, records-file lines,
// light changes), which, made afresh for each batch, the garbage collector frees and the scavenger hands
// back to the kernel, whose page faults then map it in again for the next batch (issue #15). A Reuse serves
// one read at a time: the slices of the results (the changes, entries and sequence numbers) are its own, and
// the buffers the entries and lines are written into come from Entries and Text (buffer pools a caller
// may share between Reuses; nil: fresh buffers) and go back to them on Release and ReleaseLines.
type Reuse struct {
	Entries, Text *Buffers

	changes              []connectors.Change
	entries, lines, keys [][]byte
	seqs                 []int64
	seen                 []bool
	// The bytes a row's entry and line took in the last read, which size the next read's buffers.
	perRow, linePerRow int64
	// The buffers the last read took from Entries and from Text.
	entryBufs, textBufs [][]byte
	mu                  sync.Mutex // guards entryBufs and textBufs while a read's workers add to them
}

// Release gives the buffers of the entries of the last read back to r.Entries: the read's changes,
// entries and sequence numbers must not be read any more (their memory is the next read's). r may then
// be passed to EntriesCSV again. Nothing for a nil r.
func (r *Reuse) Release() {
	if r == nil {
		return
	}
	if poisonFreed {
		for i := range r.changes {
			r.changes[i] = connectors.Change{ID: "released", Action: "released"}
		}
	}
	r.Entries.put(r.entryBufs)
	r.entryBufs = nil
}

// ReleaseLines gives the buffers of the records-file lines of the last read (CSVLines.Lines) back to r.Text:
// they must not be read any more. The lines' First and Last are copies, and stay. Nothing for a nil r.
func (r *Reuse) ReleaseLines() {
	if r == nil {
		return
	}
	r.Text.put(r.textBufs)
	r.textBufs = nil
}

// DisownLines leaves the records-file lines of the last read (CSVLines.Lines, the slice and its buffers) to
// the caller, who keeps them, and with them the text buffers the lines' key tokens share: the next reads
// write their lines and keys into other memory. Nothing for a nil r.
func (r *Reuse) DisownLines() {
	if r == nil {
		return
	}
	r.lines, r.keys = nil, nil
	clear(r.textBufs)
	r.textBufs = r.textBufs[:0]
}

// forget drops the buffers the last read took and that were not given back (the lines a staging file did
// not copy, ReleaseLines never called): they are not known to be free, and r must not keep them alive.
func (r *Reuse) forget() {
	clear(r.entryBufs)
	clear(r.textBufs)
	r.entryBufs, r.textBufs = r.entryBufs[:0], r.textBufs[:0]
}

// took keeps buf, taken from r.Entries (text false) or r.Text, for Release or ReleaseLines (none: nothing
// to give it back to).
func (r *Reuse) took(buf []byte, text bool) {
	if r.buffers(text) == nil || cap(buf) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if text {
		r.textBufs = append(r.textBufs, buf[:0])
	} else {
		r.entryBufs = append(r.entryBufs, buf[:0])
	}
}

// buffers is r's pool of entries' buffers (text false) or of lines' buffers.
func (r *Reuse) buffers(text bool) *Buffers {
	if text {
		return r.Text
	}
	return r.Entries
}

// sized returns s with length n, reusing its memory when it has room; its elements are not cleared.
func sized[T any](s []T, n int64) []T {
	if int64(cap(s)) < n {
		return make([]T, n)
	}
	return s[:n]
}

// Buffers is a pool of byte buffers, safe for concurrent use; a nil *Buffers makes a new buffer each time.
type Buffers struct {
	mu   sync.Mutex
	free [][]byte
}

// get returns an empty buffer for about size bytes: of the buffers put back, the smallest of at least size
// bytes, or else the largest (which the caller's appends grow: the pool never holds more buffers than were
// taken from it, and the ones it holds grow to the sizes asked for); a new one when the pool is empty.
func (p *Buffers) get(size int64) []byte {
	if p != nil {
		p.mu.Lock()
		defer p.mu.Unlock()
		best := -1
		for i, b := range p.free {
			if best < 0 || suits(int64(cap(b)), int64(cap(p.free[best])), size) {
				best = i
			}
		}
		if best >= 0 {
			b := p.free[best]
			p.free[best] = p.free[len(p.free)-1]
			p.free = p.free[:len(p.free)-1]
			return b
		}
	}
	return make([]byte, 0, size)
}

// suits says whether a buffer of c bytes suits size bytes better than one of bc: it has room and is
// smaller, or neither has room and it is larger.
func suits(c, bc, size int64) bool {
	switch {
	case (c >= size) != (bc >= size):
		return c >= size
	case c >= size:
		return c < bc
	}
	return c > bc
}

// put adds bufs (empty) to the pool.
func (p *Buffers) put(bufs [][]byte) {
	if p == nil || len(bufs) == 0 {
		return
	}
	if poisonFreed {
		for _, b := range bufs {
			b = b[:cap(b)]
			for i := range b {
				b[i] = '#'
			}
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.free = append(p.free, bufs...)
}

// poisonFreed makes memory given back to a Reuse or a pool garbage at once (its bytes '#', its changes
// "released"): a test then sees any result still read after its Release. SetPoisonFreed.
var poisonFreed bool

// SetPoisonFreed turns poisonFreed on or off, for the tests of the callers that give memory back; the
// returned function restores it.
func SetPoisonFreed(on bool) (restore func()) {
	was := poisonFreed
	poisonFreed = on
	return func() { poisonFreed = was }
}
