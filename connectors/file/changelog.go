package file

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/record"
)

// logFile is the change log opened for appending (an *os.File).
type logFile interface {
	io.ReaderAt
	io.Writer
	Stat() (os.FileInfo, error)
	Truncate(size int64) error
	Sync() error
	Close() error
}

// openLog opens the change log for reading and appending, creating it.
func openLog(path string) (logFile, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// encodeLines returns the log lines of changes applied at at, and one outcome per change: nil, or a
// *connectors.ChangeError for a change that cannot be encoded (and has no line). A line is
//
//	{"id":…,"action":…,"key":{…},"fields":[…],"before":{…}|null,"after":{…}|null,"at":…}
//
// with record keys sorted and times in UTC.
func encodeLines(changes []connectors.Change, at time.Time) ([]byte, []error) {
	enc := &record.JSON{UTC: true}
	stamp := enc.AppendString(nil, at.UTC().Format(time.RFC3339))
	var buf []byte
	outcomes := make([]error, len(changes))
	for i := range changes {
		line, err := appendLine(enc, buf, &changes[i], stamp)
		if err != nil {
			// Nothing of a change that cannot be encoded is kept, so it leaves no partial line.
			outcomes[i] = &connectors.ChangeError{Reason: fmt.Sprintf("cannot write the change as JSON: %v", err)}
			continue
		}
		buf = line
	}
	return buf, outcomes
}

// appendLine appends one change's log line to buf: its entry (connectors.Change.AppendEntry) with the
// "at" member added.
func appendLine(enc *record.JSON, buf []byte, c *connectors.Change, stamp []byte) ([]byte, error) {
	start := len(buf)
	buf, err := c.AppendEntry(enc, buf)
	if err != nil {
		return buf[:start], err
	}
	return appendAt(buf, stamp), nil
}

// appendAt turns the entry at the end of buf (an object, ending with '}') into a log line: the "at" member
// added, then a newline.
func appendAt(buf, stamp []byte) []byte {
	buf = append(buf[:len(buf)-1], `,"at":`...)
	buf = append(buf, stamp...)
	return append(buf, '}', '\n')
}

// checkEntries verifies that entries, the runner's (connectors.EncodedApplier), are one JSON object per
// change, so that each line is its entry with "at" added.
func checkEntries(changes []connectors.Change, entries [][]byte) error {
	if len(entries) != len(changes) {
		return fmt.Errorf("%d entries for %d changes", len(entries), len(changes))
	}
	for i, e := range entries {
		if len(e) < 2 || e[0] != '{' || e[len(e)-1] != '}' {
			return fmt.Errorf("change %s: its entry is not a JSON object", changes[i].ID)
		}
	}
	return nil
}

// writeEntries writes the log lines of entries applied at at (each entry with the "at" member added) to w,
// through a buffer of its own: the batch's lines are never all copied into one more buffer.
func writeEntries(w io.Writer, entries [][]byte, at time.Time) error {
	stamp := (&record.JSON{UTC: true}).AppendString(nil, at.UTC().Format(time.RFC3339))
	suffix := append(append([]byte(`,"at":`), stamp...), '}', '\n')
	bw := bufio.NewWriterSize(w, 1<<20)
	for _, e := range entries {
		if _, err := bw.Write(e[:len(e)-1]); err != nil {
			return err
		}
		if _, err := bw.Write(suffix); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// appendLog appends data (whole lines) to the change log and syncs it (appendLogWith).
func (s *Sink) appendLog(data []byte) error {
	return s.appendLogWith(func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// appendLogWith appends what write writes (whole lines) to the change log and syncs it. It first cuts off a
// trailing partial line left by an interrupted write, so the new lines start on a line of their own.
func (s *Sink) appendLogWith(write func(io.Writer) error) (err error) {
	dir := filepath.Dir(s.changelog)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("change log: %w", err)
	}
	_, statErr := os.Stat(s.changelog)
	created := errors.Is(statErr, fs.ErrNotExist)
	f, err := s.open(s.changelog)
	if err != nil {
		return fmt.Errorf("change log: %w", err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close change log %s: %w", s.changelog, cerr)
		}
	}()
	if err := repairTail(f); err != nil {
		return fmt.Errorf("repair change log %s: %w", s.changelog, err)
	}
	if err := write(f); err != nil {
		return fmt.Errorf("write change log %s: %w", s.changelog, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync change log %s: %w", s.changelog, err)
	}
	if created {
		if err := syncDir(dir); err != nil {
			return fmt.Errorf("sync folder of change log %s: %w", s.changelog, err)
		}
	}
	return nil
}

// repairTail truncates f after its last newline, dropping a partial last line.
func repairTail(f logFile) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	buf := make([]byte, 64<<10)
	for end := fi.Size(); end > 0; {
		n := min(int64(len(buf)), end)
		start := end - n
		if _, err := f.ReadAt(buf[:n], start); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			if keep := start + int64(i) + 1; keep < fi.Size() {
				return f.Truncate(keep)
			}
			return nil
		}
		end = start
	}
	if fi.Size() > 0 {
		return f.Truncate(0)
	}
	return nil
}

// syncDir syncs a folder, making a file created in it durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// reconcileLog reads the change log at path and reports, for each change, whether a complete line carries its
// ID. The log is streamed; a trailing line without its newline is ignored.
func reconcileLog(ctx context.Context, path string, changes []connectors.Change) ([]bool, error) {
	landed := make([]bool, len(changes))
	want := make(map[string][]int, len(changes))
	for i, c := range changes {
		want[c.ID] = append(want[c.ID], i)
	}
	err := eachLine(ctx, path, func(id, _ []byte) {
		for _, i := range want[string(id)] {
			landed[i] = true
		}
	})
	if err != nil {
		return nil, err
	}
	return landed, nil
}

// landedEntries reads the change log at path and returns, for each ID, the first complete line carrying it
// (a copy, without its newline), or nil.
func landedEntries(ctx context.Context, path string, ids []string) ([][]byte, error) {
	entries := make([][]byte, len(ids))
	want := make(map[string][]int, len(ids))
	for i, id := range ids {
		want[id] = append(want[id], i)
	}
	err := eachLine(ctx, path, func(id, line []byte) {
		for _, i := range want[string(id)] {
			if entries[i] == nil {
				entries[i] = bytes.Clone(line[:len(line)-1])
			}
		}
	})
	if err != nil {
		return nil, err
	}
	return entries, nil
}

// eachLine streams the complete lines of the change log at path (a missing log has none), calling fn with
// each line's change ID and the line (with its newline; both valid during the call only). A trailing line
// without its newline (a write cut short) is ignored.
func eachLine(ctx context.Context, path string, fn func(id, line []byte)) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("change log: %w", err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<20)
	for n := 1; ; n++ {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A line longer than the buffer: gather it whole.
			long := bytes.Clone(line)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = br.ReadSlice('\n')
				long = append(long, line...)
			}
			line = long
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read change log %s: %w", path, err)
		}
		if n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		id, err := lineID(line)
		if err != nil {
			return fmt.Errorf("change log %s:%d: %w", path, n, err)
		}
		fn(id, line)
	}
}

// idPrefix starts every change log line: the entry's first member is the change's ID.
const idPrefix = `{"id":"`

// lineID returns the change ID of a change log line. The usual line starts with the ID, written without
// escapes (the runner's IDs are hexadecimal), which is taken as it is (a slice of line); any other line is
// decoded as JSON.
func lineID(line []byte) ([]byte, error) {
	if rest, ok := bytes.CutPrefix(line, []byte(idPrefix)); ok {
		if end := bytes.IndexByte(rest, '"'); end >= 0 && bytes.IndexByte(rest[:end], '\\') < 0 {
			return rest[:end], nil
		}
	}
	var l struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(line, &l); err != nil {
		return nil, err
	}
	return []byte(l.ID), nil
}
