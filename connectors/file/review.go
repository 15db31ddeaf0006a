package file

import (
	"bufio"
	"bytes"
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

// checkpoint is what the file source remembers of the last applied read: its record count, the header of
// its first file (CSV and TSV with a header) and whether each CSV or TSV file ended with a line end.
type checkpoint struct {
	Version int      `json:"version"`
	Rows    int64    `json:"rows"`
	Header  []string `json:"header,omitempty"`
	// LineEnds says, for each non-empty CSV or TSV file read (by path), whether its last byte is a line end
	// (LF, or CR). Checkpoints written before it was recorded lack it.
	LineEnds map[string]bool `json:"line_ends,omitempty"`
}

// ReviewScan checks the files the runner read with DuckDB, before their records are used.
//
// It fails the read when a JSON-lines file holds objects and none has the key of a declared column
// (checkKeys), and when a CSV or TSV file ends without a line end where the last applied read's ended with
// one: the file was then probably cut short inside its last row's last field, which would be applied cut
// (cutFiles). With req.AllowMassChange such a file is read as it is (a hold says so) and becomes the
// baseline.
//
// It holds deletions when the files read are suspect compared with the last applied read that was not
// suspect: fewer records than min_rows_percent of its count, or another header. A suspect read does not
// become the baseline unless the user allowed the mass change. A checkpoint it cannot read is ignored.
func (s *Source) ReviewScan(ctx context.Context, req connectors.ReadRequest, scan *connectors.Scan, rows int64) ([]string, []byte, error) {
	return s.review(ctx, req, scan, rows, true)
}

// review is ReviewScan, with checkKeys false for a read that checked JSON lines' keys as it decoded them
// (Read, for files not in UTF-8).
func (s *Source) review(ctx context.Context, req connectors.ReadRequest, scan *connectors.Scan, rows int64, checkKeys bool) ([]string, []byte, error) {
	if scan.Format == "jsonl" && checkKeys {
		if err := s.checkKeys(ctx, scan.Paths); err != nil {
			return nil, nil, err
		}
	}
	now := checkpoint{Version: 1, Rows: rows}
	if scan.Header && len(scan.Paths) > 0 {
		h, err := readHeader(scan.Paths[0], s.comma)
		if err != nil {
			return nil, nil, err
		}
		now.Header = h
	}
	if scan.Format == "csv" || scan.Format == "tsv" {
		ends, err := lineEnds(scan.Paths)
		if err != nil {
			return nil, nil, err
		}
		now.LineEnds = ends
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
	if cut := cutFiles(scan.Paths, last.LineEnds, now.LineEnds); len(cut) > 0 {
		if !req.AllowMassChange {
			return nil, nil, s.cutError(cut)
		}
		for _, c := range cut {
			holds = append(holds, fmt.Sprintf("%s ends without a line end, where %s: its last row may be cut short; "+
				"read as it is, as --allow-mass-change asks", c.path, c.was()))
		}
	}
	if s.minRowsPercent > 0 && last.Rows > 0 && float64(rows)*100 < s.minRowsPercent*float64(last.Rows) {
		holds = append(holds, fmt.Sprintf("%s has %d record(s), %.0f%% of the %d of the last applied read (min_rows_percent %g): "+
			"it may be cut short or the wrong file", what, rows,
			float64(rows)*100/float64(last.Rows), last.Rows, s.minRowsPercent))
	}
	if len(last.Header) > 0 && len(now.Header) > 0 && !slices.Equal(last.Header, now.Header) {
		holds = append(holds, fmt.Sprintf("%s has another header than the last applied read (%s, was %s): check the export", scan.Paths[0], strings.Join(now.Header, ","), strings.Join(last.Header, ",")))
	}
	switch {
	case len(holds) > 0 && !req.AllowMassChange:
		cp = nil // the last applied read stays the baseline: the same files are held again next time
	case string(cp) == string(req.Checkpoint):
		cp = nil // unchanged: nothing to commit
	}
	return holds, cp, nil
}

// lineEnds says, for each non-empty file, whether its last byte is a line end (LF, or CR: a file cut between
// the CR and the LF of its last line end lost no field).
func lineEnds(paths []string) (map[string]bool, error) {
	ends := make(map[string]bool, len(paths))
	for _, path := range paths {
		ended, empty, err := endsWithLineEnd(path)
		if err != nil {
			return nil, err
		}
		if !empty {
			ends[path] = ended
		}
	}
	return ends, nil
}

// endsWithLineEnd says whether the file at path ends with a line end, or is empty.
func endsWithLineEnd(path string) (ended, empty bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return false, false, fmt.Errorf("input file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return false, false, fmt.Errorf("input file: %w", err)
	}
	if fi.Size() == 0 {
		return false, true, nil
	}
	var b [1]byte
	if _, err := f.ReadAt(b[:], fi.Size()-1); err != nil {
		return false, false, fmt.Errorf("read %s: %w", path, err)
	}
	return b[0] == '\n' || b[0] == '\r', false, nil
}

// cutFile is a file whose last row may be cut short.
type cutFile struct {
	path string
	// known says the last applied read had the file (and it ended with a line end); otherwise every file of
	// that read did.
	known bool
}

// was says what the last applied read had that this file lacks.
func (c cutFile) was() string {
	if c.known {
		return "the last applied read's ended with one"
	}
	return "every file of the last applied read ended with one"
}

// cutFiles returns the files of paths that end without a line end (now) where the last applied read (last)
// says they should have one: the file ended with one then, or, a file that read did not have, every file of
// it did (a glob's files are of the same layout, from the same export). Without last (the first read, or a
// checkpoint from before line ends were recorded) no file is.
func cutFiles(paths []string, last, now map[string]bool) []cutFile {
	if len(last) == 0 {
		return nil
	}
	all := true
	for _, ended := range last {
		all = all && ended
	}
	var cut []cutFile
	for _, path := range paths {
		ended, read := now[path]
		if !read || ended {
			continue
		}
		if was, known := last[path]; known && was || !known && all {
			cut = append(cut, cutFile{path: path, known: known})
		}
	}
	return cut
}

// cutError is the error for files whose last row may be cut short: each file's last line, with the key of
// its row when the fields before the last one hold it.
func (s *Source) cutError(cut []cutFile) error {
	const advice = "Upload the file again; if it is complete, end it with a line end, or run once with " +
		"--allow-mass-change to read it as it is"
	detail := make([]string, len(cut))
	for i, c := range cut {
		line, row := s.lastRow(c.path)
		detail[i] = fmt.Sprintf("%s:%d: the file ends inside %s without a line end, where %s: the upload or copy was "+
			"probably cut short, and the row's last field with it", c.path, line, row, c.was())
	}
	if len(cut) == 1 {
		return fmt.Errorf("%s; nothing was planned. %s", detail[0], advice)
	}
	return fmt.Errorf("%d files end without a line end; nothing was planned. %s:\n  %s", len(cut), advice,
		strings.Join(detail, "\n  "))
}

// maxRowText caps how much of a last row lastRow reads, and maxShownText how much of it an error shows.
const (
	maxRowText   = 64 << 10
	maxShownText = 80
)

// lastRow returns the number of the last line of a CSV or TSV file and a description of the row it ends:
// `its last row (sku "A2": "A2,Beta,12")`, the key being the pipeline's key fields that are declared columns
// and not in the row's last field (which may be cut). It reads the whole file (an error path).
func (s *Source) lastRow(path string) (int, string) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "its last row"
	}
	defer f.Close()
	line, start, pos := 1, int64(0), int64(0)
	buf := make([]byte, 64<<10)
	for {
		n, err := f.Read(buf)
		for i, c := range buf[:n] {
			if c == '\n' {
				line++
				start = pos + int64(i) + 1
			}
		}
		pos += int64(n)
		if err != nil {
			break
		}
	}
	if line == 1 && s.header {
		return line, "its header row"
	}
	text := make([]byte, min(pos-start, maxRowText))
	n, _ := f.ReadAt(text, start)
	text = bytes.TrimSuffix(text[:n], []byte("\r"))
	shown := string(text)
	if r := []rune(shown); len(r) > maxShownText {
		shown = string(r[:maxShownText]) + "…"
	}
	if key := s.rowKey(path, text); key != "" {
		return line, fmt.Sprintf("its last row (%s: %q)", key, shown)
	}
	return line, fmt.Sprintf("its last row (%q)", shown)
}

// rowKey returns the pipeline's key fields of one row's text as `sku "A2"`, when they are declared columns
// and none is in the row's last field; "" otherwise.
func (s *Source) rowKey(path string, text []byte) string {
	r := csv.NewReader(bytes.NewReader(text))
	r.Comma, r.LazyQuotes, r.FieldsPerRecord = s.comma, true, -1
	fields, err := r.Read()
	if err != nil || len(fields) == 0 {
		return ""
	}
	index := map[string]int{}
	if s.header {
		header, err := readHeader(path, s.comma)
		if err != nil {
			return ""
		}
		for i, name := range header {
			if name = strings.TrimSpace(name); index[name] == 0 {
				index[name] = i + 1
			}
		}
	} else {
		for i, f := range s.schema.Fields() {
			index[f.Name] = i + 1
		}
	}
	var parts []string
	for _, k := range s.key {
		at := index[k] - 1
		if s.schema.FieldIndices(k) == nil || at < 0 || at >= len(fields)-1 {
			return ""
		}
		parts = append(parts, fmt.Sprintf("%s %q", k, fields[at]))
	}
	return strings.Join(parts, " ")
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
