package export

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/runner/diff"
	"github.com/possync/possync/runner/engine"
	"github.com/possync/possync/runner/failpoint"
)

// Early writes a first sync's records file while its apply goes on, so that the file costs the processor
// time the apply leaves idle (one of the two cores waits for the apply's batch reads for long stretches)
// rather than a stage of its own after the last commit (issue #15: at 1M records the one COPY of the
// export took 1.4-1.7 s of a 9.4 s first sync).
//
// A first sync's snapshot starts empty, and each commit of its apply appends the acknowledged creates of
// one batch, in the diff's order, which is key order when the pipeline has no rank. Once a commit has
// returned (Committed), a goroutine on a DuckDB connection of its own (engine.DB.Reader) reads the rows that
// commit appended (the snapshot's row ids from its size before the commit to its size after), checks that
// they continue the parts before in strictly increasing key order with no NULL key field (as
// scanInKeyOrder checks a whole snapshot), writes them with one COPY in the export's format to a part file
// (the first part with the header) and appends that to the export's temporary file. Run then only waits for
// the last part (finish), checks that the parts cover the snapshot exactly (its row ids are 0 up to the
// rows written, each once) and renames the file as it renames any export: the same bytes as the sorted COPY
// of the whole snapshot, appearing only after the last commit.
//
// Anything that does not hold gives the early export up, and Run writes the file in full as it would have
// without it: a format whose files do not concatenate (Parquet's footer), a key that is not text and
// integers, an existing records file, a snapshot not empty when the apply starts, a commit that removes
// or replaces records (its snapshot grows by less than its acknowledged changes), rows out of key order
// (a rank, a batch committed out of order, drift adopted after the apply), a snapshot that is a view (no
// row ids), a failed part. A kill at any point leaves at most the temporary and part files, never a
// records file: the next run's export writes its temporary file anew (and removes the part file).
//
// The parts' COPY and order check rely on DuckDB keeping a scan's row order, promised while
// preserve_insertion_order is on (see scanInKeyOrder): StartEarly turns it on for the database until finish
// or Close (the session runs with it off), so the apply's statements run with it too (on the apply's one
// thread it changes nothing for them), as do those after the apply and before the export (the adoption of
// drift, the diff's drop, the commit of incremental sources' stored records: on the session's threads, where
// an INSERT keeps its rows' order, which none of them needs), and nothing else may turn it off meanwhile.
//
// A part of a CSV or TSV file is most often not a COPY: the apply's batch reader encodes every create's
// line beside its entry (diff.EntriesCSV, in the format CSVFormat gives) and stages them (Stage: into a
// staging file, unlinked, so that the batches read ahead of their commits do not hold their lines in
// memory; each batch's region of it is freed once its part is written or no part will take it: release),
// the applier hands a batch's staged lines over before applying it (Lines), and a commit of
// exactly that batch (as many changes acknowledged as the batch holds, the snapshot grown by as many)
// takes them: its part is those bytes, written straight to the file, once the lines prove to continue the
// part before in strictly increasing key order (their key order tokens), the keys of the first and last
// rows the commit appended are the lines' first and last (linesOfRows: two point reads, which refuse the
// lines of any other batch) and the snapshot's columns are the format's. The commit inserted exactly the
// batch's records, cast from the same diff columns the lines were encoded from, so the part holds the same rows
// as its COPY would, in key order, in DuckDB's bytes (diff.CSVFormat, TestCSVLinesEqualDuckDBCopy). A part
// without lines (a partial batch, a value the encoder does not write, another format) is the COPY, unless
// parts before were lines: then the early export gives up (the rows' order in the snapshot is not known to
// be the lines' order, which the COPY's order check needs).
//
// Committed, Lines, finish and Close are called by the session's goroutine, Stage by the apply's batch
// reader; a nil *Early does nothing.
type Early struct {
	db      *engine.DB // the writer's connection
	exp     connectors.Export
	cols    string // the exported columns, as the COPY selects them
	key     []string
	tmp     string
	cancel  context.CancelFunc
	restore func() error // puts preserve_insertion_order back (nil: done)

	mu     sync.Mutex
	queue  []span
	ended  bool          // no more spans come (finish or Close)
	why    string        // set: the early export gave up, and why
	wake   chan struct{} // a span was queued, or the queue ended
	done   chan struct{} // the writer has stopped
	handed bool          // finish handed tmp over to Run (Close leaves it)
	// discarded: the files were removed (once: Run may write tmp afresh after).
	discarded bool

	// csv is the lines' format (nil: a format written by COPY alone); offered the lines of the batch
	// being applied (Lines), for its commit.
	csv     *diff.CSVFormat
	offered *Staged
	// stage is the staging file of the batches' lines (Stage; nil: they wait in memory), unlinked once
	// created, so that no kill leaves it behind; stageEnd is the end of its last region. The reader writes
	// it past stageEnd, the writer reads the regions staged before, and release frees each region's disk
	// once it is read or dropped. stageLive counts the regions not released, at most stageRegions (Stage
	// waits for one to be released: stageFreed); stageHeld is their lines' bytes, stagePeak the most they
	// were at once.
	stageMu              sync.Mutex
	stageFreed           *sync.Cond // on stageMu
	stage                *os.File
	stageEnd             int64
	stageLive            int
	stageHeld, stagePeak int64

	// The writer's, read after done.
	snapshot string
	out      *os.File
	rows     int64
	parts    int
	types    []column
	// lineParts counts the parts written from lines, lastKey is the key order token of the last line
	// written; linesOK says the snapshot's columns are csv's (checked at the first part).
	lineParts int
	lastKey   []byte
	linesOK   bool
}

// span is the snapshot rows [lo, hi) (row ids) one commit appended to relation snapshot, with the lines of
// its batch when the commit is exactly that batch's (nil: written by COPY).
type span struct {
	snapshot string
	lo, hi   int64
	lines    *Staged
}

// Staged is a batch's lines (diff.CSVLines) waiting for the batch's commit (Stage): size bytes at off in
// the staging file, or lines in memory. One owner at a time holds it (the batch reader, then Lines'
// offer, then a commit's span), and the last one releases it (Early.release).
type Staged struct {
	format      *diff.CSVFormat
	n           int64 // the lines
	off, size   int64
	lines       [][]byte
	first, last []byte // the key order tokens of the first and last line
}

// StartEarly starts writing the records file of in.Export while the apply of a first sync commits (Early);
// in.Snapshot may be empty (a new state has no snapshot before its first commit). It returns nil and the
// reason when the file cannot be written that way.
func StartEarly(ctx context.Context, db *engine.DB, in Input) (*Early, string, error) {
	e := in.Export
	switch {
	case e.Format != "csv" && e.Format != "tsv" && e.Format != "jsonl":
		return nil, e.Format + " files do not concatenate", nil
	case !inOrder || !scannable(in):
		return nil, "the key is not of text and integer fields", nil
	case in.Meta.Records != 0:
		return nil, "the snapshot holds records already", nil
	case engine.ShadowsRowid(engine.FieldNames(in.Schema)):
		return nil, "a field is named rowid", nil
	}
	if _, err := os.Stat(e.Path); err == nil {
		return nil, "the records file exists", nil
	}
	restore, err := setOn(ctx, db, "preserve_insertion_order")
	if err != nil {
		return nil, "", err
	}
	rd, err := db.Reader(ctx)
	if err != nil {
		_ = restore()
		return nil, "", fmt.Errorf("export: %w", err)
	}
	wctx, cancel := context.WithCancel(ctx)
	ea := &Early{db: rd, exp: e, cols: engine.IdentList(engine.FieldNames(in.Schema), ""), key: in.Key, tmp: e.Path + ".possync-tmp",
		cancel: cancel, restore: restore, wake: make(chan struct{}, 1), done: make(chan struct{})}
	if delim, ok := csvDelims[e.Format]; ok && lineParts {
		f := &diff.CSVFormat{Names: engine.FieldNames(in.Schema), Key: slices.Clone(in.Key), Delim: delim}
		for _, fl := range in.Schema.Fields() {
			f.Types = append(f.Types, engine.Type(fl.Type))
		}
		ea.csv = f
		ea.stage = openStage(filepath.Dir(e.Path))
		ea.stageFreed = sync.NewCond(&ea.stageMu)
	}
	go ea.write(wctx)
	return ea, "", nil
}

// csvDelims are the delimiters of the formats whose parts may be written from lines (Lines), as options
// gives them to COPY.
var csvDelims = map[string]byte{"csv": ',', "tsv": '\t'}

// lineParts turns the parts written from lines off (every part a COPY): SetLineParts.
var lineParts = true

// SetLineParts turns the early export's parts written from the batches' lines on or off (off: every part a
// COPY), for the tests that compare the two; the returned function restores it.
func SetLineParts(on bool) (restore func()) {
	was := lineParts
	lineParts = on
	return func() { lineParts = was }
}

// openStage creates the staging file of the batches' lines in dir (the records file's, created if need
// be), and unlinks it: it lives while it is open, and a kill leaves nothing (but in the instant between
// the two calls: an empty .possync-lines-* file). Nil when that fails (a system that does not unlink an
// open file): the lines then wait in memory. Its size grows with every batch staged, but its disk holds
// only the regions not released yet (release: the batch applied, the one read ahead, and the parts the
// writer has yet to write), a hole where the others were; on a file system that cannot punch holes it
// holds every staged batch's lines until finish or Close closes it (a write it cannot take fails Stage,
// and the batch's part is a COPY).
func openStage(dir string) *os.File {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil
	}
	f, err := os.CreateTemp(dir, ".possync-lines-*")
	if err != nil {
		return nil
	}
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		_ = os.Remove(f.Name())
		return nil
	}
	return f
}

// Stage keeps l, the lines of a batch read ahead (diff.EntriesCSV in the format CSVFormat), for the
// batch's commit (Lines): written to the staging file, so that the two batches read ahead of the one
// committed do not hold their lines in memory (about 200 bytes a record: +80-140 MiB of peak RSS in a 1M
// first sync), or kept in memory without one. Each batch's lines take a region of their own, starting at
// a multiple of stageAlign, so that releasing one frees whole blocks of the file system and never a byte
// of its neighbours'. While stageRegions regions are not released, Stage waits for one to be (a part
// written, or lines no part takes), so that the file's disk stays within stageRegions batches' lines
// however far the writer falls behind; the batches it holds are the one committed and the one applied
// (released by their commits and the writer, which never wait for the reader), so the wait ends. It
// returns nil for nil lines, lines of another format, or when the write fails: the batch's part is then a
// COPY. It is called by one goroutine at a time.
func (e *Early) Stage(l *diff.CSVLines) *Staged {
	if e == nil || l == nil || l.Format != e.csv || len(l.Lines) == 0 {
		return nil
	}
	st := &Staged{format: l.Format, n: int64(len(l.Lines)), first: l.First, last: l.Last}
	for _, line := range l.Lines {
		st.size += int64(len(line))
	}
	f := e.reserve(st)
	if f == nil {
		st.lines, st.size = l.Lines, 0
		return st
	}
	w := bufio.NewWriterSize(io.NewOffsetWriter(f, st.off), 1<<20)
	for _, line := range l.Lines {
		w.Write(line)
	}
	if err := w.Flush(); err != nil {
		e.release(st) // what the write took before it failed
		return nil
	}
	return st
}

// stageRegions is the most regions of the staging file not released at once (Stage): the batch being
// committed, the one applied after it and the one read ahead (pipeBatches reads batch N+2 once batch N's
// sink call returned).
const stageRegions = 3

// stageAlign is where each batch's region of the staging file starts (a multiple of it), so that release
// frees whole blocks: a multiple of the block size of every common file system (4 KiB; 64 KiB at most).
const stageAlign = 1 << 16

// alignUp is n rounded up to a multiple of stageAlign.
func alignUp(n int64) int64 { return (n + stageAlign - 1) &^ (stageAlign - 1) }

// reserve gives st (its size set) a region of the staging file, once fewer than stageRegions are not
// released, and returns the file; nil when there is none (the lines wait in memory).
func (e *Early) reserve(st *Staged) *os.File {
	e.stageMu.Lock()
	defer e.stageMu.Unlock()
	for e.stage != nil && e.stageLive >= stageRegions {
		e.stageFreed.Wait()
	}
	if e.stage == nil {
		return nil
	}
	st.off = alignUp(e.stageEnd)
	e.stageEnd = st.off + st.size
	e.stageLive++
	e.stageHeld += st.size
	e.stagePeak = max(e.stagePeak, e.stageHeld)
	return e.stage
}

// release frees st's region of the staging file (a hole punched over it: its disk blocks go back to the
// file system), once its part is written or no part will take it; nil or lines in memory need nothing.
// Each Staged is released once, by its last owner (Staged). A file system that cannot punch holes keeps
// the blocks until the file is closed.
func (e *Early) release(st *Staged) {
	if st == nil || st.lines != nil {
		return
	}
	e.stageMu.Lock()
	defer e.stageMu.Unlock()
	if e.stage == nil {
		return // closed: all of it freed
	}
	_ = punchHole(e.stage, st.off, alignUp(st.size))
	e.stageLive--
	e.stageHeld -= st.size
	e.stageFreed.Broadcast()
}

// StagedPeak is the most bytes of lines the staging file held at once (Stage, release): at most
// stageRegions batches' lines.
func (e *Early) StagedPeak() int64 {
	e.stageMu.Lock()
	defer e.stageMu.Unlock()
	return e.stagePeak
}

// InMemory says whether st holds the lines it was staged from (kept in memory, without a staging file):
// their memory must then stay as it is until the batch's part is written. False for nil.
func (st *Staged) InMemory() bool { return st != nil && st.lines != nil }

// closeStage closes the staging file (removed already); the reader and the writer are done with it.
func (e *Early) closeStage() {
	e.stageMu.Lock()
	defer e.stageMu.Unlock()
	if e.stage != nil {
		e.stage.Close()
		e.stage = nil
		e.stageFreed.Broadcast()
	}
}

// CSVFormat is the format of the lines the early export takes for a batch's part (Lines), or nil: the
// export's format is not CSV or TSV, it has given up or ended (no part will take lines: the file is
// written after the apply, so a batch read now need not encode them), or e is nil. The apply's batch
// reader asks it for each batch.
func (e *Early) CSVFormat() *diff.CSVFormat {
	if e == nil || e.csv == nil {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.why != "" || e.ended {
		return nil
	}
	return e.csv
}

// Lines hands over the staged lines of the batch about to be applied (Stage), for the part of the commit of
// exactly that batch, or takes them back (nil) once it is applied: a commit that is not the batch's whole
// (fewer changes acknowledged, the snapshot grown by another number) leaves them and is written by COPY.
// Lines offered and not taken by a commit are released.
func (e *Early) Lines(l *Staged) {
	if e == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.offered != l {
		e.release(e.offered)
	}
	e.offered = l
}

// setOn turns the boolean DuckDB setting name on for the database (unless it is), and returns the function
// that puts it back.
func setOn(ctx context.Context, db *engine.DB, name string) (func() error, error) {
	var was bool
	if err := db.QueryRow(ctx, "SELECT current_setting("+engine.Lit(name)+")::BOOLEAN").Scan(&was); err != nil {
		return nil, fmt.Errorf("read DuckDB's %s: %w", name, err)
	}
	if was {
		return func() error { return nil }, nil
	}
	if err := db.Exec(ctx, "SET "+name+" = true"); err != nil {
		return nil, fmt.Errorf("set DuckDB's %s: %w", name, err)
	}
	return func() error {
		if err := db.Exec(context.WithoutCancel(ctx), "SET "+name+" = false"); err != nil {
			return fmt.Errorf("restore DuckDB's %s: %w", name, err)
		}
		return nil
	}, nil
}

// Committed tells the early export that a commit of acked acknowledged changes moved the snapshot (relation
// snapshot) from before to after records. Its rows are written as the next part, unless the commit did not
// only append them. The lines offered (Lines) go with the part, or are released.
func (e *Early) Committed(snapshot string, before, after int64, acked int) {
	if e == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	lines := e.offered
	e.offered = nil // one commit takes a batch's lines, or none does
	if e.why == "" && !e.ended && after-before != int64(acked) {
		e.why = fmt.Sprintf("a commit of %d change(s) took the snapshot from %d to %d records", acked, before, after)
	}
	if lines != nil && (e.why != "" || e.ended || lines.format != e.csv || lines.n != after-before) {
		e.release(lines) // no part takes them: none is written, or it is a COPY
		lines = nil
	}
	if e.why != "" || e.ended || after == before {
		return
	}
	e.queue = append(e.queue, span{snapshot: snapshot, lo: before, hi: after, lines: lines})
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// giveUp records why the early export gave up (the first reason counts).
func (e *Early) giveUp(why string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.why == "" {
		e.why = why
	}
}

// write is the writer: it writes the queued spans in turn until the queue ends or the early export gives
// up, and releases each span's lines once written (or not: a COPY part, a failed one), then those of the
// spans left in the queue.
func (e *Early) write(ctx context.Context) {
	defer close(e.done)
	defer func() {
		e.mu.Lock()
		left := e.queue
		e.queue = nil
		e.mu.Unlock()
		for _, sp := range left {
			e.release(sp.lines)
		}
	}()
	for {
		e.mu.Lock()
		var sp span
		ok := len(e.queue) > 0 && e.why == ""
		if ok {
			sp, e.queue = e.queue[0], e.queue[1:]
		}
		stop := !ok && (e.ended || e.why != "")
		e.mu.Unlock()
		switch {
		case stop:
			return
		case !ok:
			select {
			case <-e.wake:
			case <-ctx.Done():
				e.giveUp(ctx.Err().Error())
				return
			}
			continue
		}
		err := e.part(ctx, sp)
		e.release(sp.lines)
		if err != nil {
			e.giveUp(err.Error())
			return
		}
		failpoint.Hit("early-export-part")
	}
}

// part writes the rows of sp as the next part, once they proved to continue the parts before in key order.
func (e *Early) part(ctx context.Context, sp span) error {
	if e.snapshot == "" {
		e.snapshot = sp.snapshot
		types, err := describe(ctx, e.db, fmt.Sprintf("SELECT %s FROM %s", e.cols, e.snapshot))
		if err != nil {
			return fmt.Errorf("snapshot columns: %w", err)
		}
		e.types = types
	}
	switch {
	case sp.snapshot != e.snapshot:
		return fmt.Errorf("the snapshot moved from %s to %s", e.snapshot, sp.snapshot)
	case sp.lo != e.rows:
		return fmt.Errorf("a commit appended records %d to %d after %d written", sp.lo, sp.hi, e.rows)
	}
	if e.parts == 0 && e.csv != nil {
		// Parts of lines never read the snapshot, whose row ids finish checks: a snapshot without them (a
		// view) fails here, as a COPY part would, and gives the early export up before anything is written.
		n, err := e.db.Count(ctx, fmt.Sprintf("SELECT count(*) FROM %s WHERE rowid >= %d AND rowid < %d", e.snapshot, sp.lo, sp.hi))
		if err != nil {
			return fmt.Errorf("records %d to %d: %w", sp.lo, sp.hi, err)
		}
		e.linesOK = n == sp.hi-sp.lo && sameColumns(e.types, e.csv)
	}
	header, not := e.linesFit(sp)
	if not == "" {
		var err error
		if not, err = e.linesOfRows(ctx, sp); err != nil {
			return err
		}
	}
	if not == "" {
		return e.writeLines(sp, header)
	}
	if e.lineParts > 0 {
		return fmt.Errorf("records %d to %d: %s, after %d part(s) written from lines", sp.lo, sp.hi, not, e.lineParts)
	}
	// The rows in key order, from the last row of the part before on (its key is the one to continue).
	from := fmt.Sprintf("(SELECT * FROM %s WHERE rowid >= %d AND rowid < %d)", e.snapshot, max(sp.lo-1, 0), sp.hi)
	sorted, err := keysInOrder(ctx, e.db, e.key, from)
	if err != nil || !sorted {
		if err == nil {
			err = fmt.Errorf("records %d to %d are not in key order after the ones before", sp.lo, sp.hi)
		}
		return err
	}
	opts := options[e.exp.Format]
	if e.parts > 0 {
		opts = strings.Replace(opts, "HEADER true", "HEADER false", 1)
	}
	if err := e.open(); err != nil { // its folder is the part's
		return err
	}
	part := e.tmp + ".part"
	n, err := e.db.Count(ctx, fmt.Sprintf("COPY (SELECT %s FROM %s WHERE rowid >= %d AND rowid < %d) TO %s (%s)",
		e.cols, e.snapshot, sp.lo, sp.hi, engine.Lit(part), opts))
	if err != nil {
		return fmt.Errorf("write records %d to %d: %w", sp.lo, sp.hi, err)
	}
	if n != sp.hi-sp.lo {
		return fmt.Errorf("records %d to %d: %d written", sp.lo, sp.hi, n)
	}
	if err := appendFile(e.out, part); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	e.rows, e.parts = sp.hi, e.parts+1
	return nil
}

// sameColumns says whether the snapshot's columns are those of the lines' format f, in its order and of its
// types.
func sameColumns(cols []column, f *diff.CSVFormat) bool {
	if len(cols) != len(f.Names) || len(f.Types) != len(f.Names) {
		return false
	}
	for j, c := range cols {
		typ := c.typ
		if typ == "TIMESTAMP WITH TIME ZONE" {
			typ = "TIMESTAMPTZ"
		}
		if c.name != f.Names[j] || typ != f.Types[j] {
			return false
		}
	}
	return true
}

// linesFit says why sp's part cannot be its lines ("": it can), and the header to write before them (the
// first part's): it has lines, the snapshot's columns are their format's, every part before was lines, and
// they continue the last of those in strictly increasing key order.
func (e *Early) linesFit(sp span) (header []byte, not string) {
	l := sp.lines
	switch {
	case l == nil || l.format != e.csv || l.n != sp.hi-sp.lo:
		return nil, "no lines of the commit's batch"
	case !e.linesOK:
		return nil, "the snapshot's columns are not the lines'"
	case e.lineParts != e.parts:
		return nil, "parts before were not lines"
	case e.parts == 0:
		if header, ok := e.csv.Header(); ok {
			return header, ""
		}
		return nil, "a column name needs quoting"
	case bytes.Compare(e.lastKey, l.first) >= 0:
		return nil, "lines not in key order after the part before"
	}
	return nil, ""
}

// linesOfRows says why sp's lines are not the rows its commit appended ("": they are, as far as their ends
// show): the keys of the span's first and last rows (row ids lo and hi-1) must be the lines' first and
// last keys (their order tokens). Lines are offered for the commit of their batch alone (Lines), but the
// count and the key order linesFit checks would also pass another batch's lines of as many records (a
// first sync's batches hold disjoint keys, so the first key of another batch's lines is never this
// commit's); this ties the lines to the commit's rows for two point reads.
func (e *Early) linesOfRows(ctx context.Context, sp span) (string, error) {
	for _, end := range []struct {
		row   int64
		token []byte
	}{{sp.lo, sp.lines.first}, {sp.hi - 1, sp.lines.last}} {
		vals := make([]any, len(e.key))
		ptrs := make([]any, len(vals))
		for j := range vals {
			ptrs[j] = &vals[j]
		}
		q := fmt.Sprintf("SELECT %s FROM %s WHERE rowid = %d", engine.IdentList(e.key, ""), e.snapshot, end.row)
		if err := e.db.QueryRow(ctx, q).Scan(ptrs...); err != nil {
			return "", fmt.Errorf("record %d's key: %w", end.row, err)
		}
		token, ok := diff.KeyToken(vals...)
		if !ok {
			return "a key field's values are not text or integers", nil
		}
		if !bytes.Equal(token, end.token) {
			return "the lines' first and last keys are not the commit's records'", nil
		}
	}
	return "", nil
}

// open creates the records file's temporary file (and its folder) for the first part; the parts after
// append to it.
func (e *Early) open() error {
	if e.out != nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(e.exp.Path), 0o755); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	out, err := os.Create(e.tmp)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	e.out = out
	return nil
}

// writeLines appends header and sp's lines to the file as the next part.
func (e *Early) writeLines(sp span, header []byte) error {
	if err := e.open(); err != nil {
		return err
	}
	w := bufio.NewWriterSize(e.out, 1<<20)
	w.Write(header)
	l := sp.lines
	if l.lines != nil {
		for _, line := range l.lines {
			w.Write(line)
		}
	} else if n, err := io.Copy(w, io.NewSectionReader(e.stage, l.off, l.size)); err != nil || n != l.size {
		return fmt.Errorf("export: records %d to %d: %d of %d staged bytes copied (%v)", sp.lo, sp.hi, n, l.size, err)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("export: write records %d to %d: %w", sp.lo, sp.hi, err)
	}
	e.rows, e.parts, e.lineParts = sp.hi, e.parts+1, e.lineParts+1
	e.lastKey = l.last
	return nil
}

// end ends the queue and waits for the writer to stop; the early export gives up with why, unless empty.
func (e *Early) end(why string) {
	e.mu.Lock()
	e.ended = true
	if why != "" && e.why == "" {
		e.why = why
	}
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
	if why != "" {
		e.cancel()
	}
	<-e.done
}

// finish waits for the last part and, when the parts are the export of in (the same file and columns) and
// cover the snapshot exactly (in.Snapshot's row ids are 0 up to the rows written, each once: every commit
// only appended, and the parts followed each other in key order), leaves them in tmp, closed, and returns
// the number of parts and of those written from lines. Otherwise it removes what it wrote and returns why
// not: the export is written in full.
func (e *Early) finish(ctx context.Context, db *engine.DB, in Input, tmp string) (parts, lines int, why string, err error) {
	e.end("")
	e.closeStage()
	if err := e.restoreSetting(); err != nil {
		return 0, 0, "", err
	}
	why, err = e.check(ctx, db, in, tmp)
	if err == nil && why == "" {
		err = e.out.Close()
		e.out = nil
		e.handed = err == nil
	}
	if !e.handed {
		e.discard()
	}
	_ = os.Remove(e.tmp + ".part")
	if err != nil {
		return 0, 0, "", fmt.Errorf("export: %w", err)
	}
	return e.parts, e.lineParts, why, nil
}

// check says why the parts written are not the export of in to tmp ("": they are); the writer has stopped.
func (e *Early) check(ctx context.Context, db *engine.DB, in Input, tmp string) (string, error) {
	e.mu.Lock()
	why := e.why
	e.mu.Unlock()
	switch {
	case why != "":
		return why, nil
	case e.parts == 0:
		return "no records were committed", nil
	case in.Export != e.exp || tmp != e.tmp || engine.IdentList(engine.FieldNames(in.Schema), "") != e.cols || !slices.Equal(in.Key, e.key):
		return "the export is not the one started", nil
	case in.Snapshot != e.snapshot || in.Meta.Records != e.rows:
		return fmt.Sprintf("the snapshot is %s of %d records, %d written from %s", in.Snapshot, in.Meta.Records, e.rows, e.snapshot), nil
	}
	var n, lo, hi int64
	if err := db.QueryRow(ctx, fmt.Sprintf("SELECT count(*), coalesce(min(rowid), -1), coalesce(max(rowid), -1) FROM %s", e.snapshot)).Scan(&n, &lo, &hi); err != nil {
		return "", fmt.Errorf("check the snapshot's rows: %w", err)
	}
	if n != e.rows || lo != 0 || hi != e.rows-1 {
		return fmt.Sprintf("the snapshot's %d rows are numbered %d to %d, %d written", n, lo, hi, e.rows), nil
	}
	types, err := describe(ctx, db, fmt.Sprintf("SELECT %s FROM %s", e.cols, e.snapshot))
	if err != nil {
		return "", fmt.Errorf("snapshot columns: %w", err)
	}
	if !slices.Equal(types, e.types) {
		return "the snapshot's columns changed", nil
	}
	return "", nil
}

// discard closes and removes the temporary file the writer wrote, and its part file; the writer has stopped.
func (e *Early) discard() {
	if e.discarded {
		return // the file at tmp may be another writer's now
	}
	e.discarded = true
	if e.out != nil {
		e.out.Close()
		e.out = nil
	}
	_ = os.Remove(e.tmp)
	_ = os.Remove(e.tmp + ".part")
}

// restoreSetting puts preserve_insertion_order back, once.
func (e *Early) restoreSetting() error {
	if e.restore == nil {
		return nil
	}
	r := e.restore
	e.restore = nil
	return r()
}

// Close stops the early export, if finish did not: it waits for the writer, closes its connection, removes
// its files (the temporary file too, unless finish handed it to the export) and puts preserve_insertion_order
// back. It is safe to call more than once.
func (e *Early) Close() error {
	if e == nil {
		return nil
	}
	e.end("closed")
	e.closeStage()
	if e.db != nil {
		e.db.Close()
		e.db = nil
	}
	if !e.handed {
		e.discard()
	}
	return e.restoreSetting()
}
