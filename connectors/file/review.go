package file

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/possync/possync/connectors"
)

var _ connectors.ScanReviewer = (*Source)(nil)

// checkpoint is what the file source remembers of the last applied read: its record count and the header of
// its first file (CSV and TSV with a header).
type checkpoint struct {
	Version int      `json:"version"`
	Rows    int64    `json:"rows"`
	Header  []string `json:"header,omitempty"`
}

// ReviewScan holds deletions when the files read are suspect compared with the last applied read that was
// not suspect: fewer records than min_rows_percent of its count, or another header. A suspect read does not
// become the baseline unless the user allowed the mass change. A checkpoint it cannot read is ignored.
func (s *Source) ReviewScan(_ context.Context, req connectors.ReadRequest, scan *connectors.Scan, rows int64) ([]string, []byte, error) {
	now := checkpoint{Version: 1, Rows: rows}
	if scan.Header && len(scan.Paths) > 0 {
		h, err := readHeader(scan.Paths[0], s.comma)
		if err != nil {
			return nil, nil, err
		}
		now.Header = h
	}
	cp, err := json.Marshal(now)
	if err != nil {
		return nil, nil, err
	}
	var last checkpoint
	if len(req.Checkpoint) == 0 || json.Unmarshal(req.Checkpoint, &last) != nil || last.Version != 1 {
		return nil, cp, nil // the first read (or an unreadable checkpoint): the baseline from now on
	}
	what := strings.Join(scan.Paths, ", ")
	var holds []string
	if s.minRowsPercent > 0 && last.Rows > 0 && float64(rows)*100 < s.minRowsPercent*float64(last.Rows) {
		holds = append(holds, fmt.Sprintf("%s has %d record(s), %.0f%% of the %d of the last applied read (min_rows_percent %g): "+
			"it may be cut short or the wrong file; records missing from it are not deleted", what, rows,
			float64(rows)*100/float64(last.Rows), last.Rows, s.minRowsPercent))
	}
	if len(last.Header) > 0 && len(now.Header) > 0 && !slices.Equal(last.Header, now.Header) {
		holds = append(holds, fmt.Sprintf("%s has another header than the last applied read (%s, was %s): check the export; "+
			"records missing from it are not deleted (if the new header is right, apply with --allow-mass-change to "+
			"take this read as the baseline)", scan.Paths[0], strings.Join(now.Header, ","), strings.Join(last.Header, ",")))
	}
	switch {
	case len(holds) > 0 && !req.AllowMassChange:
		cp = nil // the last applied read stays the baseline: the same files are held again next time
	case string(cp) == string(req.Checkpoint):
		cp = nil // unchanged: nothing to commit
	}
	return holds, cp, nil
}

// readHeader reads the header row of a CSV or TSV file.
func readHeader(path string, comma rune) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("input file: %w", err)
	}
	defer f.Close()
	br := bufio.NewReader(f)
	if head, err := br.Peek(len(utf8BOM)); err == nil && string(head) == string(utf8BOM) {
		_, _ = br.Discard(len(utf8BOM))
	}
	r := csv.NewReader(br)
	r.Comma, r.LazyQuotes = comma, true
	h, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: header: %w", path, err)
	}
	return h, nil
}
