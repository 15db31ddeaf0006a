package export

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/possync/possync/record"
	"github.com/possync/possync/runner/engine"
	"github.com/possync/possync/runner/failpoint"
)

// partRows is about the most records a full export sorts at once (tests lower it). A full export of a
// snapshot not stored in key order (scanInKeyOrder) has to sort it by key, and DuckDB's sort of the whole
// snapshot held about 350 MiB at 1M records (the benchmark's 11 fields) whatever its memory limit, on top
// of the rest of the run. Sorting it in key ranges of about partRows records holds one range's worth. A
// snapshot clustered by key (each range lies in a few of its row groups, which DuckDB's zone maps find
// without reading the others) costs the processor time of the one sort (measured at 1M: 2.1-2.9 against
// 2.0-2.7 cpu s); one not clustered by key (rewritten by many runs of updates) has each range read every
// row group: about 1.25x. BENCHMARKS.md (issue #15, the records file of a first sync) has the numbers.
var partRows int64 = 250_000

// SetPartRows makes full exports sort key ranges of about n records (tests of the ranged export, and of a
// crash in the middle of one, use small snapshots); the returned function restores the default.
func SetPartRows(n int64) (restore func()) {
	was := partRows
	partRows = n
	return func() { partRows = was }
}

// partSample is how many keys per range the range bounds are drawn from.
const partSample = 1000

// inOrder turns on the export of a snapshot already stored in key order without a sort (tests of the
// ranged export turn it off: SetInOrder).
var inOrder = true

// SetInOrder turns the export of a snapshot already stored in key order without a sort on or off (tests of
// the ranged export, and of a crash in the middle of one, turn it off); the returned function restores it.
func SetInOrder(on bool) (restore func()) {
	was := inOrder
	inOrder = on
	return func() { inOrder = was }
}

// fullWay says how writeFull wrote the snapshot: parts key ranges sorted one at a time (0 or 1: one COPY),
// or, with scanned, in the snapshot's own order, which was key order (no sort); or how full did: early
// parts written during the apply (Early), earlyLines of them from the batches' lines (staged: the most
// disk their staging file took at once, Early.StagedPeak), or why the early parts were given up.
type fullWay struct {
	parts      int
	scanned    bool
	early      int
	earlyLines int
	staged     int64
	noEarly    string
}

// note is the log's note of how a full export was written.
func (w fullWay) note() string {
	if w.noEarly != "" {
		w.noEarly = " (not from the parts written during the apply: " + w.noEarly + ")"
	}
	switch {
	case w.early > 0:
		note := fmt.Sprintf(", in %d parts written while the apply committed (%d from the batches' lines), in key order (no sort)", w.early, w.earlyLines)
		if w.staged > 0 {
			note += fmt.Sprintf("; the lines' staging file held at most %.1f MiB at once", float64(w.staged)/(1<<20))
		}
		return note
	case w.scanned:
		return ", in the snapshot's stored order, which is key order (no sort)" + w.noEarly
	case w.parts >= 2:
		return fmt.Sprintf(", sorted in %d key ranges", w.parts) + w.noEarly
	}
	return w.noEarly
}

// full writes the snapshot's records, sorted by key, to tmp: the parts in.Early wrote while the apply
// committed, when they are the snapshot's records (Early.finish), otherwise writeFull.
func full(ctx context.Context, db *engine.DB, in Input, tmp string) (fullWay, error) {
	if in.Early == nil {
		return writeFull(ctx, db, in, tmp)
	}
	parts, lines, why, err := in.Early.finish(ctx, db, in, tmp)
	if err != nil || why == "" {
		return fullWay{early: parts, earlyLines: lines, staged: in.Early.StagedPeak()}, err
	}
	way, err := writeFull(ctx, db, in, tmp)
	way.noEarly = why
	return way, err
}

// writeFull writes the snapshot's records, sorted by key, to tmp in the export's format, and says how.
//
// A snapshot whose stored order is already key order (a first sync's: its commits insert the creates in
// the diff's order, which is key order without a rank, see runner/diff createsQuery) is written by one COPY
// without ORDER BY, once a scan of its key fields proved that order (scanInKeyOrder): the same bytes as a
// sorted COPY, without the sort.
//
// Otherwise, a snapshot of more than partRows records, exported as CSV, TSV or JSON lines (whose files
// concatenate) with a text or integer first key field, is written range by range: bounds drawn from a
// sample of the first key field split the snapshot into ranges of about partRows records; each range is
// one DuckDB COPY of its records sorted by the whole key (the first with the header) to tmp.part, appended
// to tmp. The ranges follow each other in key order (NULL keys, which sort last, go with the last one), so
// the file holds exactly the bytes of one COPY of the whole snapshot sorted by key. Anything else is that
// one COPY.
func writeFull(ctx context.Context, db *engine.DB, in Input, tmp string) (fullWay, error) {
	cols := engine.IdentList(engine.FieldNames(in.Schema), "")
	order := engine.IdentList(in.Key, "")
	opts := options[in.Export.Format]
	copyTo := func(where, path, opts string) error {
		if where != "" {
			where = " WHERE " + where
		}
		q := fmt.Sprintf("COPY (SELECT %s FROM %s%s ORDER BY %s) TO %s (%s)", cols, in.Snapshot, where, order, engine.Lit(path), opts)
		return db.Exec(ctx, q)
	}
	if inOrder && scannable(in) {
		// One thread: at 1M records the ordered COPY on two threads cost 1.31-1.93 cpu s and peaked at 194
		// MiB (DuckDB holds the batches that finish ahead of their turn), on one 1.09-1.17 cpu s and 82 MiB,
		// in no more wall time on the loaded 2 cores; on an idle machine two threads would finish about
		// 0.3 s sooner (BENCHMARKS.md #15).
		var sorted bool
		err := db.WithSetting(ctx, "preserve_insertion_order", "true", func() error {
			return db.WithSetting(ctx, "threads", "1", func() error {
				var err error
				if sorted, err = scanInKeyOrder(ctx, db, in); err != nil || !sorted {
					return err
				}
				return db.Exec(ctx, fmt.Sprintf("COPY (SELECT %s FROM %s) TO %s (%s)", cols, in.Snapshot, engine.Lit(tmp), opts))
			})
		})
		if err != nil || sorted {
			return fullWay{scanned: sorted}, err
		}
	}
	ranges, err := partRanges(ctx, db, in)
	if err != nil {
		return fullWay{}, err
	}
	if len(ranges) < 2 {
		return fullWay{parts: 1}, copyTo("", tmp, opts)
	}
	part := tmp + ".part"
	defer os.Remove(part)
	done := false
	out, err := os.Create(tmp)
	if err != nil {
		return fullWay{}, err
	}
	defer func() {
		out.Close()
		if !done {
			os.Remove(tmp)
		}
	}()
	for i, where := range ranges {
		o := opts
		if i > 0 {
			o = strings.Replace(opts, "HEADER true", "HEADER false", 1)
		}
		if err := copyTo(where, part, o); err != nil {
			return fullWay{}, err
		}
		if err := appendFile(out, part); err != nil {
			return fullWay{}, err
		}
		failpoint.Hit("during-export-part")
	}
	if err := out.Close(); err != nil {
		return fullWay{}, err
	}
	done = true
	return fullWay{parts: len(ranges)}, nil
}

// scannable says whether scanInKeyOrder can prove the snapshot's stored order is key order: a key of text
// and integer fields, whose comparison (<, =) orders them exactly as ORDER BY does (other types have
// values that compare equal and print differently, or sort apart from how they compare: -0.0 and 0.0,
// NaN, time zones).
func scannable(in Input) bool {
	if len(in.Key) == 0 || in.Schema == nil {
		return false
	}
	sch := engine.Canonical(in.Schema)
	for _, k := range in.Key {
		idx := sch.FieldIndices(k)
		if len(idx) != 1 {
			return false
		}
		switch record.TypeName(sch.Field(idx[0]).Type) {
		case "string", "int":
		default:
			return false
		}
	}
	return true
}

// scanInKeyOrder reports whether the snapshot's records come out of a scan in strictly increasing key
// order, with no NULL key field: one streaming pass over the key fields (lag() over an empty OVER (),
// DuckDB's streaming window, compares each key with the one before it) that stops at the first record out
// of order. It must run with preserve_insertion_order on (engine.DB.WithSetting), as must the COPY that relies on it.
//
// What DuckDB promises: its "Order Preservation" page
// (https://duckdb.org/docs/stable/sql/dialect/order_preservation) lists FROM with a single table, SELECT, WHERE,
// window functions with an empty OVER clause and COPY among the clauses that keep the original row order, and says
// (its 1.1 version) that the preservation of insertion order is controlled by preserve_insertion_order, true by
// default. So with it on, the check and the COPY that follows both see the snapshot's rows in its insertion order
// (nothing writes the snapshot between them: the session runs one statement at a time). The page does not say what
// a table's order is after DELETEs (the survivors kept their order in every test here), nor that an INSERT stores
// rows in the order its SELECT yields them, which is why the order is checked rather than assumed from how the
// snapshot was written (ranked creates, a batch committed out of order, a later run's updates and creates, which
// the state appends at the end, all fail the check and fall back on the sort). Equal keys fail it too: a sort
// orders ties arbitrarily. With the check passed, the records file is byte for byte the sorted COPY's.
func scanInKeyOrder(ctx context.Context, db *engine.DB, in Input) (bool, error) {
	return keysInOrder(ctx, db, in.Key, in.Snapshot)
}

// keysInOrder is scanInKeyOrder of relation from (a table, a view or a parenthesised query) with key fields
// key.
func keysInOrder(ctx context.Context, db *engine.DB, key []string, from string) (bool, error) {
	var keys, prev, nonNull []string
	for i, k := range key {
		keys = append(keys, engine.Ident(k))
		prev = append(prev, fmt.Sprintf("lag(%s) OVER () AS __prev%d", engine.Ident(k), i))
		nonNull = append(nonNull, engine.Ident(k)+" IS NOT NULL")
	}
	// greater: the key is above the previous one, field by field (__prev0 is NULL on the first record only,
	// once every key field before it was checked non-NULL).
	greater := ""
	for i := len(key) - 1; i >= 0; i-- {
		k, p := engine.Ident(key[i]), fmt.Sprintf("__prev%d", i)
		if greater == "" {
			greater = fmt.Sprintf("%s > %s", k, p)
			continue
		}
		greater = fmt.Sprintf("%s > %s OR (%s = %s AND (%s))", k, p, k, p, greater)
	}
	q := fmt.Sprintf("SELECT count(*) FROM (SELECT 1 FROM (SELECT %s, %s FROM %s) WHERE (%s AND (__prev0 IS NULL OR %s)) IS NOT TRUE LIMIT 1)",
		strings.Join(keys, ", "), strings.Join(prev, ", "), from, strings.Join(nonNull, " AND "), greater)
	n, err := db.Count(ctx, q)
	if err != nil {
		return false, fmt.Errorf("check the snapshot's key order: %w", err)
	}
	return n == 0, nil
}

// appendFile appends the file at path to out (on Linux, copy_file_range: the kernel copies the bytes).
func appendFile(out *os.File, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = out.ReadFrom(f)
	return err
}

// partRanges returns the WHERE conditions of the key ranges a full export sorts one at a time, in key
// order; fewer than two: sort the snapshot at once.
func partRanges(ctx context.Context, db *engine.DB, in Input) ([]string, error) {
	switch in.Export.Format {
	case "csv", "tsv", "jsonl":
	default:
		return nil, nil // a Parquet file is one footer: it does not concatenate
	}
	if len(in.Key) == 0 || in.Schema == nil {
		return nil, nil
	}
	k := in.Key[0]
	sch := engine.Canonical(in.Schema)
	idx := sch.FieldIndices(k)
	if len(idx) != 1 {
		return nil, nil
	}
	numeric := false
	switch record.TypeName(sch.Field(idx[0]).Type) {
	case "string":
	case "int":
		numeric = true
	default:
		return nil, nil // bounds are written as literals: text and integers only
	}
	n, err := db.Count(ctx, "SELECT count(*) FROM "+in.Snapshot)
	if err != nil {
		return nil, err
	}
	if n <= partRows {
		return nil, nil
	}
	parts := (n + partRows - 1) / partRows
	fractions := make([]string, parts-1)
	for i := range fractions {
		fractions[i] = fmt.Sprintf("%d/%d", i+1, parts)
	}
	key := engine.Ident(k)
	q := fmt.Sprintf(`SELECT DISTINCT b FROM (SELECT unnest(quantile_disc(%s, [%s])) AS b FROM (SELECT %s FROM %s USING SAMPLE reservoir(%d ROWS) REPEATABLE (1)))
		WHERE b IS NOT NULL ORDER BY b`, key, strings.Join(fractions, ", "), key, in.Snapshot, parts*partSample)
	rows, err := db.Rows(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("range bounds: %w", err)
	}
	defer rows.Close()
	var bounds []string
	for rows.Next() {
		if numeric {
			var b int64
			if err := rows.Scan(&b); err != nil {
				return nil, fmt.Errorf("range bounds: %w", err)
			}
			bounds = append(bounds, strconv.FormatInt(b, 10))
		} else {
			var b string
			if err := rows.Scan(&b); err != nil {
				return nil, fmt.Errorf("range bounds: %w", err)
			}
			if strings.IndexByte(b, 0) >= 0 {
				return nil, nil // a statement is a C string: no NUL in a literal
			}
			bounds = append(bounds, engine.Lit(b))
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("range bounds: %w", err)
	}
	if len(bounds) == 0 {
		return nil, nil
	}
	// The bounds are literals of the key field's type, so DuckDB checks each range against the row groups'
	// zone maps. Ranges: below the first bound, between bounds, from the last bound on (and NULL).
	ranges := []string{fmt.Sprintf("%s < %s", key, bounds[0])}
	for i := 1; i < len(bounds); i++ {
		ranges = append(ranges, fmt.Sprintf("%s >= %s AND %s < %s", key, bounds[i-1], key, bounds[i]))
	}
	ranges = append(ranges, fmt.Sprintf("(%s >= %s OR %s IS NULL)", key, bounds[len(bounds)-1], key))
	return ranges, nil
}
