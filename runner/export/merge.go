package export

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync/atomic"

	"github.com/possync/possync/runner/failpoint"
)

// csvKey is a record's key as the export orders it: text fields by their bytes, integer fields by value.
type csvKey []keyPart

type keyPart struct {
	text []byte
	num  int64
}

func compareKeys(a, b csvKey, numeric []bool) int {
	for i := range a {
		var c int
		if numeric[i] {
			c = cmpInt(a[i].num, b[i].num)
		} else {
			c = bytes.Compare(a[i].text, b[i].text)
		}
		if c != 0 {
			return c
		}
	}
	return 0
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// readChunk is how many bytes a merge reads from a file at once (tests lower it, to cross records and keys
// over the chunks' ends): SetReadChunk.
var readChunk = 4 << 20

// SetReadChunk makes merges read their files n bytes at a time; the returned function restores the default.
func SetReadChunk(n int) (restore func()) {
	was := readChunk
	readChunk = n
	return func() { readChunk = was }
}

// mergeBeside runs merge on a goroutine of its own and beside (when not nil) on the caller's, and returns
// merge's error once both returned.
func mergeBeside(beside func(), merge func() error) error {
	if beside == nil {
		return merge()
	}
	merged := make(chan error, 1)
	go func() { merged <- merge() }()
	beside()
	failpoint.Hit("beside-merge") // the crash tests' kill after beside, the merge perhaps still writing
	return <-merged
}

// mergeRecordFiles writes out: the header and records of base, in order, except those whose key is in
// touched, merged by key with the records of changed (which has the same header). Both inputs must be in
// strictly increasing key order (DuckDB's ORDER BY of text by bytes and of integers by value); when they are
// not, or the headers differ, it returns an error wrapping errNoMerge and the caller writes the file in full.
//
// The unchanged records of base are not copied one by one: base is read in chunks of readChunk bytes, each
// record's key parsed in place, and every run of records kept as they are written as one slice of the chunk
// (issue #15: at 1M records and 30,000 changes, the records file's ~140 MB are ~30,000 such runs). What
// costs a line is finding its end, counting its quotes and comparing its key.
func mergeRecordFiles(base, changed, out string, delim byte, keyIdx []int, numeric []bool, touched []csvKey) (err error) {
	bf, err := os.Open(base)
	if err != nil {
		return err
	}
	defer bf.Close()
	cf, err := os.Open(changed)
	if err != nil {
		return err
	}
	defer cf.Close()
	of, err := os.Create(out)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := of.Close(); cerr != nil && err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(out)
		}
	}()
	w := newAsyncWriter(of, 1<<20)
	defer w.stop()
	old := newCSVRecords(bf, delim, keyIdx, numeric, base)
	old.out = w // its records are written as runs: keep, skip, flush
	chg := newCSVRecords(cf, delim, keyIdx, numeric, changed)
	oh, err := old.header()
	if err != nil {
		return err
	}
	ch, err := chg.header()
	if err != nil {
		return err
	}
	if !bytes.Equal(oh, ch) {
		return fmt.Errorf("%w: the file's header is not the columns' header", errNoMerge)
	}
	o, err := old.next() // the header stays in old's run
	if err != nil {
		return err
	}
	n, err := chg.next()
	if err != nil {
		return err
	}
	// touched[t] is the least touched key not below o's; n's key is touched[u] when nTouched (the changed
	// records' keys are touched keys, so a record of the file below touched[t] is also below n's key, and is
	// kept with one comparison).
	t, u, nTouched := 0, 0, false
	findN := func() {
		for u < len(touched) && compareKeys(touched[u], chg.key, numeric) < 0 {
			u++
		}
		nTouched = u < len(touched) && compareKeys(touched[u], chg.key, numeric) == 0
	}
	if n != nil {
		findN()
	}
	for o != nil || n != nil {
		if o != nil {
			c := 1 // touched[t] against o's key
			for t < len(touched) {
				if c = compareKeys(touched[t], old.key, numeric); c >= 0 {
					break
				}
				t++
			}
			if t < len(touched) && c == 0 { // o's record changed: dropped here (n has its new line)
				if err := old.skip(); err != nil {
					return err
				}
				if o, err = old.next(); err != nil {
					return err
				}
				continue
			}
		}
		takeOld := n == nil
		if o != nil && n != nil {
			if nTouched && u >= t && t < len(touched) { // o's key < touched[t] <= touched[u], n's key
				takeOld = true
			} else {
				c := compareKeys(old.key, chg.key, numeric)
				if c == 0 {
					return fmt.Errorf("%w: a changed record's key is also an unchanged line of the file", errNoMerge)
				}
				takeOld = c < 0
			}
		}
		if takeOld {
			if o, err = old.next(); err != nil { // o stays in old's run
				return err
			}
			continue
		}
		if err := old.flush(); err != nil { // the records kept before n
			return err
		}
		if _, err := w.Write(n); err != nil {
			return err
		}
		if n, err = chg.next(); err != nil {
			return err
		}
		if n != nil {
			findN()
		}
	}
	if err := old.flush(); err != nil {
		return err
	}
	return w.flush()
}

// csvRecords reads the records of a CSV file written by DuckDB's COPY (fields quoted with " when needed,
// quotes doubled, records ending in a newline), parsing each one's key fields only. It reads the file in
// chunks and returns each record as a slice of its chunk.
//
// With out set, the records read are also copied to out as runs: a record returned by next is part of the
// current run (from the run's start to the record's start: the header and the records before it) unless
// skip drops it; flush writes the run so far and starts the next one at the current record.
type csvRecords struct {
	r     io.Reader
	name  string
	delim byte
	// buf[:end] holds the file's bytes from the start of the chunk; pos is where the next record starts,
	// cur where the current one (the last next returned) starts, run where the run not yet written does.
	buf           []byte
	end, pos, cur int
	run           int
	eof           bool
	out           *asyncWriter
	keyIdx        []int
	numeric       []bool
	// key is the current record's key: keys[k]; keys[1-k] the previous record's, for the order check. Their
	// text fields are slices of buf (until fill moves it: it copies key's to own), or of scratch[k] for
	// quoted fields.
	key     csvKey
	keys    [2]csvKey
	k       int
	scratch [2][][]byte
	own     [][]byte
	started bool
}

func newCSVRecords(r io.Reader, delim byte, keyIdx []int, numeric []bool, name string) *csvRecords {
	c := &csvRecords{r: r, name: name, delim: delim, keyIdx: keyIdx, numeric: numeric, buf: make([]byte, readChunk),
		keys: [2]csvKey{make(csvKey, len(keyIdx)), make(csvKey, len(keyIdx))}, own: make([][]byte, len(keyIdx)),
		scratch: [2][][]byte{make([][]byte, len(keyIdx)), make([][]byte, len(keyIdx))}}
	c.key = c.keys[0]
	return c
}

// fill reads more of the file after buf[:end], first moving the unread bytes (from the run's start, or
// the current record's, or the next one's) to the front of buf, and growing buf when they fill it. It
// returns how far the bytes moved (0 at the end of the file).
func (c *csvRecords) fill() (int, error) {
	keep := c.pos
	if c.out != nil {
		keep = min(keep, c.run)
	}
	for i := range c.key { // the current record's key outlives the move, as the next one's previous key
		c.own[i] = append(c.own[i][:0], c.key[i].text...)
		c.key[i].text = c.own[i]
	}
	if keep > 0 {
		copy(c.buf, c.buf[keep:c.end])
		c.end -= keep
		c.pos -= keep
		c.cur -= keep
		c.run -= keep
	}
	if c.end == len(c.buf) {
		c.buf = append(c.buf, make([]byte, len(c.buf))...)[:len(c.buf)*2]
	}
	n, err := io.ReadAtLeast(c.r, c.buf[c.end:], 1)
	c.end += n
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		c.eof, err = true, nil
	}
	return keep, err
}

// record reads the next whole record (a newline inside quotes continues it) and returns it as a slice of
// buf, valid until the next call; nil at the end.
func (c *csvRecords) record() ([]byte, error) {
	from, quotes := c.pos, 0 // the search for the record's end goes on at from; quotes counts those before
	for {
		nl := bytes.IndexByte(c.buf[from:c.end], '\n')
		if nl < 0 {
			quotes += bytes.Count(c.buf[from:c.end], []byte{'"'})
			from = c.end
			if c.eof {
				if c.pos == c.end {
					c.cur = c.pos
					return nil, nil
				}
				return nil, fmt.Errorf("%w: %s ends inside a record", errNoMerge, c.name)
			}
			moved, err := c.fill()
			if err != nil {
				return nil, err
			}
			from -= moved
			continue
		}
		nl += from
		quotes += bytes.Count(c.buf[from:nl], []byte{'"'})
		if quotes%2 == 0 {
			c.cur, c.pos = c.pos, nl+1
			return c.buf[c.cur:c.pos], nil
		}
		from = nl + 1
	}
}

// header returns the first record (a copy).
func (c *csvRecords) header() ([]byte, error) {
	h, err := c.record()
	if err != nil {
		return nil, err
	}
	if h == nil {
		return nil, fmt.Errorf("%w: %s is empty", errNoMerge, c.name)
	}
	return bytes.Clone(h), nil
}

// next returns the next record (valid until the next call) and parses its key into c.key; nil at the end.
// It fails (errNoMerge) when the record's key does not follow the previous one's.
func (c *csvRecords) next() ([]byte, error) {
	rec, err := c.record()
	if rec == nil || err != nil {
		return nil, err
	}
	c.k = 1 - c.k
	c.key = c.keys[c.k]
	if err := c.parseKey(rec); err != nil {
		return nil, err
	}
	if c.started && compareKeys(c.keys[1-c.k], c.key, c.numeric) >= 0 {
		return nil, fmt.Errorf("%w: %s is not in key order", errNoMerge, c.name)
	}
	c.started = true
	return rec, nil
}

// flush writes the run of records kept before the current one to out, and starts the next run at the
// current record (all of the rest once next returned nil).
func (c *csvRecords) flush() error {
	if c.cur > c.run {
		if _, err := c.out.Write(c.buf[c.run:c.cur]); err != nil {
			return err
		}
	}
	c.run = c.cur
	return nil
}

// skip drops the current record from out: it writes the run before it and starts the next run after it.
func (c *csvRecords) skip() error {
	if err := c.flush(); err != nil {
		return err
	}
	c.run = c.pos
	return nil
}

// parseKey reads the key fields of a record.
func (c *csvRecords) parseKey(rec []byte) error {
	rec = rec[:len(rec)-1] // the newline
	field, pos := 0, 0
	for k := 0; k < len(c.keyIdx); {
		var val []byte
		if pos < len(rec) && rec[pos] == '"' {
			val = c.scratch[c.k][k][:0]
			pos++
			for {
				q := bytes.IndexByte(rec[pos:], '"')
				if q < 0 {
					return fmt.Errorf("%w: %s: unterminated quote", errNoMerge, c.name)
				}
				val = append(val, rec[pos:pos+q]...)
				pos += q + 1
				if pos < len(rec) && rec[pos] == '"' {
					val = append(val, '"')
					pos++
					continue
				}
				break
			}
			c.scratch[c.k][k] = val
		} else {
			end := bytes.IndexByte(rec[pos:], c.delim)
			if end < 0 {
				end = len(rec) - pos
			}
			val = rec[pos : pos+end]
			pos += end
		}
		for j, idx := range c.keyIdx {
			if idx != field {
				continue
			}
			if c.numeric[j] {
				n, err := strconv.ParseInt(string(val), 10, 64) // no allocation: the string does not escape
				if err != nil {
					return fmt.Errorf("%w: %s: key %q is not an integer", errNoMerge, c.name, val)
				}
				c.key[j].num = n
			} else {
				c.key[j].text = val
			}
			k++
		}
		if k == len(c.keyIdx) {
			return nil
		}
		if pos >= len(rec) || rec[pos] != c.delim {
			return fmt.Errorf("%w: %s: a record has too few fields", errNoMerge, c.name)
		}
		pos++
		field++
	}
	return nil
}

// asyncWriter writes to a file from a goroutine of its own, in blocks: the merge's reads and key checks of
// the next records run while the last block's write(2) copies it into the page cache (issue #15: the writes
// were a third of the merge's processor time). Write copies into the current block, and hands it over once
// full; flush hands over the last one and waits for every write. A failed write fails the next Write or
// the flush. stop ends the goroutine; it must be called (after flush, or instead of it).
type asyncWriter struct {
	f          *os.File
	cur        []byte
	full, free chan []byte
	done       chan struct{}
	err        error // the writer goroutine's, read once done is closed
	failed     atomic.Bool
	stopped    bool
}

// asyncBlocks is how many blocks an asyncWriter fills and writes in turn.
const asyncBlocks = 3

func newAsyncWriter(f *os.File, size int) *asyncWriter {
	w := &asyncWriter{f: f, cur: make([]byte, 0, size), full: make(chan []byte, asyncBlocks), free: make(chan []byte, asyncBlocks),
		done: make(chan struct{})}
	for range asyncBlocks - 1 {
		w.free <- make([]byte, 0, size)
	}
	go func() {
		defer close(w.done)
		for b := range w.full {
			if w.err == nil {
				if _, err := w.f.Write(b); err != nil {
					w.err = err
					w.failed.Store(true)
				}
			}
			w.free <- b[:0]
		}
	}()
	return w
}

// Write copies p into the blocks.
func (w *asyncWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if len(w.cur) == cap(w.cur) {
			if w.failed.Load() {
				return 0, w.stop()
			}
			w.full <- w.cur
			w.cur = <-w.free
		}
		c := copy(w.cur[len(w.cur):cap(w.cur)], p)
		w.cur = w.cur[:len(w.cur)+c]
		p = p[c:]
	}
	return n, nil
}

// flush writes what is left and waits for the writes; it returns the first write's error.
func (w *asyncWriter) flush() error {
	if len(w.cur) > 0 && !w.stopped {
		w.full <- w.cur
		w.cur = w.cur[:0]
	}
	return w.stop()
}

// stop ends the writer goroutine once it wrote the blocks handed over, and returns its error.
func (w *asyncWriter) stop() error {
	if !w.stopped {
		w.stopped = true
		close(w.full)
		<-w.done
	}
	return w.err
}
