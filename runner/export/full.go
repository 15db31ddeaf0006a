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

// partRows is about the most records a full export sorts at once (tests lower it). A full export has to
// sort the snapshot by key (a commit inserts its batch, one key range, in the diff table's scan order), and
// DuckDB's sort of the whole snapshot held about 350 MiB at 1M records (the benchmark's 11 fields) whatever
// its memory limit, on top of the rest of the run: the first sync's peak. Sorting it in key ranges of about
// partRows records holds one range's worth. After a first sync (one key range per batch) each range lies in
// a few of the snapshot's row groups, which DuckDB's zone maps find without reading the others, and it
// costs the processor time of the one sort (measured at 1M: 2.1-2.9 against 2.0-2.7 cpu s); a snapshot not
// clustered by key (rewritten by many runs of updates) has each range read every row group: about 1.25x.
// BENCHMARKS.md (issue #15, the records file of a first sync) has the numbers.
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

// writeFull writes the snapshot's records, sorted by key, to tmp in the export's format, and returns in how
// many key ranges it sorted them (1: one COPY of the whole snapshot).
//
// A snapshot of more than partRows records, exported as CSV, TSV or JSON lines (whose files concatenate)
// with a text or integer first key field, is written range by range: bounds drawn from a sample of the
// first key field split the snapshot into ranges of about partRows records; each range is one DuckDB COPY
// of its records sorted by the whole key (the first with the header) to tmp.part, appended to tmp. The
// ranges follow each other in key order (NULL keys, which sort last, go with the last one), so the file
// holds exactly the bytes of one COPY of the whole snapshot sorted by key. Anything else is that one COPY.
func writeFull(ctx context.Context, db *engine.DB, in Input, tmp string) (int, error) {
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
	ranges, err := partRanges(ctx, db, in)
	if err != nil {
		return 0, err
	}
	if len(ranges) < 2 {
		return 1, copyTo("", tmp, opts)
	}
	part := tmp + ".part"
	defer os.Remove(part)
	done := false
	out, err := os.Create(tmp)
	if err != nil {
		return 0, err
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
			return 0, err
		}
		if err := appendFile(out, part); err != nil {
			return 0, err
		}
		failpoint.Hit("during-export-part")
	}
	if err := out.Close(); err != nil {
		return 0, err
	}
	done = true
	return len(ranges), nil
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

// partsNote is the log's note of a full export written in key ranges.
func partsNote(parts int) string {
	if parts < 2 {
		return ""
	}
	return fmt.Sprintf(", sorted in %d key ranges", parts)
}
