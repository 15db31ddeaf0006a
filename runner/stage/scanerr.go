package stage

import (
	"context"
	"fmt"
	"regexp"
	"strconv"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/runner/engine"
)

// Errors people can act on when DuckDB cannot read a source's files (issue 16): DuckDB's own errors name
// options possync does not have (its CSV sniffer lists twenty lines of them).

// explainScan returns the source's own diagnosis of files DuckDB could not read (connectors.Diagnoser), or
// nil when the source has none (the caller then reports DuckDB's error).
func explainScan(ctx context.Context, src connectors.Source, scan *connectors.Scan) error {
	if d, ok := src.(connectors.Diagnoser); ok {
		return d.Diagnose(ctx, scan)
	}
	return nil
}

// reviewScan lets a source that implements connectors.ScanReviewer check the records DuckDB read from its
// files (the table named after it) against the last applied run; its holds and checkpoint become the read's
// result.
func reviewScan(ctx context.Context, db *engine.DB, in Input, scan *connectors.Scan, st *Output) error {
	if _, ok := in.Source.(connectors.ScanReviewer); !ok {
		return nil
	}
	n, err := db.Count(ctx, "SELECT count(*) FROM "+engine.Ident(in.Name))
	if err != nil {
		return err
	}
	return reviewRows(ctx, in, scan, st, n)
}

// reviewRows is reviewScan with the records read counted by the caller.
func reviewRows(ctx context.Context, in Input, scan *connectors.Scan, st *Output, n int64) error {
	rv, ok := in.Source.(connectors.ScanReviewer)
	if !ok {
		return nil
	}
	var err error
	st.Result.Holds, st.Result.Checkpoint, err = rv.ReviewScan(ctx, in.Request, scan, n)
	redactResult(in, &st.Result)
	return err
}

var (
	duckColumns = regexp.MustCompile(`^Expected Number of Columns: (\d+) Found: (\d+)`)
	duckUnicode = regexp.MustCompile(`^Invalid unicode \(byte sequence mismatch\) detected`)
)

// rejectMessage rewrites DuckDB's reason for a malformed CSV row in possync's terms.
func rejectMessage(msg string) string {
	if m := duckColumns.FindStringSubmatch(msg); m != nil {
		want, found := atoi(m[1]), atoi(m[2])
		if found < want {
			return fmt.Sprintf("the row has %d field(s), the header %d (if this is the last line, the file may be cut short)", found, want)
		}
		return fmt.Sprintf("the row has more fields than the header's %d (a delimiter inside a field that is not quoted?)", want)
	}
	if duckUnicode.MatchString(msg) {
		return "the text is not UTF-8 (another encoding, or binary data): for a POS or spreadsheet export set " +
			"encoding: windows-1252 (or latin-1) on the source"
	}
	return msg
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
