package file

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/record"
	"github.com/possync/possync/spec"
)

func newSink(t *testing.T, dir string, values map[string]any) *Sink {
	t.Helper()
	s, err := NewSink(spec.Config{Values: values}, connectors.Env{Dir: dir})
	if err != nil {
		t.Fatalf("NewSink: %v", err)
	}
	s.now = func() time.Time { return time.Date(2025, 1, 15, 15, 0, 0, 987, time.FixedZone("CET", 3600)) }
	return s
}

func TestNewSink(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name          string
		values        map[string]any
		wantExport    connectors.Export
		wantChangelog string
		wantErr       string
	}{
		{
			name:          "batch size",
			values:        map[string]any{"path": "out/products.csv", "batch_size": int64(500)},
			wantExport:    connectors.Export{Path: filepath.Join(dir, "out", "products.csv"), Format: "csv"},
			wantChangelog: filepath.Join(dir, "out", "products.changes.jsonl"),
		},
		{
			name:          "defaults",
			values:        map[string]any{"path": "out/products.csv"},
			wantExport:    connectors.Export{Path: filepath.Join(dir, "out", "products.csv"), Format: "csv"},
			wantChangelog: filepath.Join(dir, "out", "products.changes.jsonl"),
		},
		{
			name:          "jsonl records and explicit log",
			values:        map[string]any{"path": "out/p.jsonl", "changelog": "logs/changes.jsonl"},
			wantExport:    connectors.Export{Path: filepath.Join(dir, "out", "p.jsonl"), Format: "jsonl"},
			wantChangelog: filepath.Join(dir, "logs", "changes.jsonl"),
		},
		{
			name:          "explicit format",
			values:        map[string]any{"path": "/srv/feed.dat", "format": "parquet"},
			wantExport:    connectors.Export{Path: "/srv/feed.dat", Format: "parquet"},
			wantChangelog: "/srv/feed.changes.jsonl",
		},
		{name: "no path", values: map[string]any{}, wantErr: "path is required"},
		{name: "unknown extension", values: map[string]any{"path": "out/feed"}, wantErr: "cannot tell the format"},
		{
			name:    "log is the records file",
			values:  map[string]any{"path": "out/p.jsonl", "changelog": "./out/p.jsonl"},
			wantErr: "must differ from path",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewSink(spec.Config{Values: tt.values}, connectors.Env{Dir: dir})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Export(); got != tt.wantExport {
				t.Errorf("Export = %+v, want %+v", got, tt.wantExport)
			}
			if s.Changelog() != tt.wantChangelog {
				t.Errorf("Changelog = %q, want %q", s.Changelog(), tt.wantChangelog)
			}
			want := 122_880 // the default: one row group of the state (DefaultBatchSize)
			if n, ok := tt.values["batch_size"].(int64); ok {
				want = int(n)
			}
			if s.BatchSize() != want {
				t.Errorf("BatchSize = %d, want %d", s.BatchSize(), want)
			}
		})
	}
}

var changes = []connectors.Change{
	{
		ID:     "c1",
		Action: connectors.Create,
		Key:    record.Record{"sku": "A1"},
		After: record.Record{
			"sku": "A1", "title": "Tom & Jerry <DVD>", "price": 12.5, "stock": int64(3), "active": true,
			"at": time.Date(2025, 1, 15, 15, 0, 0, 500, time.FixedZone("CET", 3600)), "note": nil,
		},
	},
	{
		ID:     "c2",
		Action: connectors.Update,
		Key:    record.Record{"sku": "B2"},
		Fields: []string{"price"},
		Before: record.Record{"sku": "B2", "price": 1.0},
		After:  record.Record{"sku": "B2", "price": 2.0},
	},
	{
		ID:     "c3",
		Action: connectors.Delete,
		Key:    record.Record{"sku": "C3"},
		Before: record.Record{"sku": "C3"},
	},
}

var changeLines = `{"id":"c1","action":"create","key":{"sku":"A1"},"fields":[],"before":null,"after":{"active":true,"at":"2025-01-15T14:00:00.0000005Z","note":null,"price":12.5,"sku":"A1","stock":3,"title":"Tom & Jerry <DVD>"},"at":"2025-01-15T14:00:00Z"}
{"id":"c2","action":"update","key":{"sku":"B2"},"fields":["price"],"before":{"price":1,"sku":"B2"},"after":{"price":2,"sku":"B2"},"at":"2025-01-15T14:00:00Z"}
{"id":"c3","action":"delete","key":{"sku":"C3"},"fields":[],"before":{"sku":"C3"},"after":null,"at":"2025-01-15T14:00:00Z"}
`

func readString(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestApplyWritesLines(t *testing.T) {
	dir := t.TempDir()
	s := newSink(t, dir, map[string]any{"path": "out/deep/products.csv"})
	outcomes, err := s.Apply(context.Background(), changes)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(outcomes, make([]error, len(changes))) {
		t.Errorf("outcomes = %v, want all nil", outcomes)
	}
	if got := readString(t, s.Changelog()); got != changeLines {
		t.Errorf("change log:\n%s\nwant:\n%s", got, changeLines)
	}
	// A second apply appends.
	if _, err := s.Apply(context.Background(), changes[:1]); err != nil {
		t.Fatal(err)
	}
	want := changeLines + strings.SplitAfter(changeLines, "\n")[0]
	if got := readString(t, s.Changelog()); got != want {
		t.Errorf("change log after second apply:\n%s\nwant:\n%s", got, want)
	}
}

// recordingFile wraps the change log to record syncs and to fail writes after a number of bytes.
type recordingFile struct {
	logFile
	events    *[]string
	failAfter int // bytes a write may still write before failing; < 0 never fails
}

var errDiskFull = errors.New("disk full")

func (f *recordingFile) Write(p []byte) (int, error) {
	*f.events = append(*f.events, "write")
	if f.failAfter >= 0 && len(p) > f.failAfter {
		n, _ := f.logFile.Write(p[:f.failAfter])
		return n, errDiskFull
	}
	return f.logFile.Write(p)
}

func (f *recordingFile) Sync() error {
	*f.events = append(*f.events, "sync")
	return f.logFile.Sync()
}

func (f *recordingFile) Close() error {
	*f.events = append(*f.events, "close")
	return f.logFile.Close()
}

func recording(s *Sink, events *[]string, failAfter int) {
	s.open = func(path string) (logFile, error) {
		f, err := openLog(path)
		if err != nil {
			return nil, err
		}
		return &recordingFile{logFile: f, events: events, failAfter: failAfter}, nil
	}
}

func TestApplySyncsBeforeReturning(t *testing.T) {
	s := newSink(t, t.TempDir(), map[string]any{"path": "p.csv"})
	var events []string
	recording(s, &events, -1)
	if _, err := s.Apply(context.Background(), changes); err != nil {
		t.Fatal(err)
	}
	if want := []string{"write", "sync", "close"}; !reflect.DeepEqual(events, want) {
		t.Errorf("file operations = %v, want %v", events, want)
	}
}

func TestApplyWriteFailureThenRepair(t *testing.T) {
	ctx := context.Background()
	s := newSink(t, t.TempDir(), map[string]any{"path": "p.csv"})
	var events []string
	// The write stops in the middle of the second line.
	cut := len(strings.SplitAfter(changeLines, "\n")[0]) + 20
	recording(s, &events, cut)
	outcomes, err := s.Apply(ctx, changes)
	if !errors.Is(err, errDiskFull) {
		t.Fatalf("Apply error = %v, want disk full", err)
	}
	for i, o := range outcomes {
		if !errors.Is(o, errDiskFull) {
			t.Errorf("outcome %d = %v, want the write error (nothing acknowledged)", i, o)
		}
	}
	if got := readString(t, s.Changelog()); got != changeLines[:cut] {
		t.Fatalf("change log after failed write = %q, want the first line and a partial one", got)
	}
	landed, err := s.Reconcile(ctx, changes)
	if err != nil {
		t.Fatal(err)
	}
	if want := []bool{true, false, false}; !reflect.DeepEqual(landed, want) {
		t.Errorf("landed = %v, want %v (a partial line does not count)", landed, want)
	}

	// The next run applies the changes that did not land: the partial line is cut off first.
	s.open = openLog
	if _, err := s.Apply(ctx, changes[1:]); err != nil {
		t.Fatal(err)
	}
	if got := readString(t, s.Changelog()); got != changeLines {
		t.Errorf("change log after repair:\n%s\nwant:\n%s", got, changeLines)
	}
	landed, err = s.Reconcile(ctx, changes)
	if err != nil {
		t.Fatal(err)
	}
	if want := []bool{true, true, true}; !reflect.DeepEqual(landed, want) {
		t.Errorf("landed after repair = %v, want %v", landed, want)
	}
}

func TestCrashRepair(t *testing.T) {
	tests := []struct {
		name       string
		existing   string
		wantLanded []bool
		want       string
	}{
		{
			name:       "partial line after complete ones",
			existing:   strings.SplitAfter(changeLines, "\n")[0] + `{"id":"c2","act`,
			wantLanded: []bool{true, false, false},
			want:       strings.SplitAfter(changeLines, "\n")[0] + strings.Join(strings.SplitAfter(changeLines, "\n")[1:], ""),
		},
		{
			name:       "only a partial line",
			existing:   `{"id":"c1"`,
			wantLanded: []bool{false, false, false},
			want:       strings.Join(strings.SplitAfter(changeLines, "\n")[1:], ""),
		},
		{
			name:       "long partial line",
			existing:   strings.SplitAfter(changeLines, "\n")[0] + `{"id":"c2","x":"` + strings.Repeat("y", 200<<10),
			wantLanded: []bool{true, false, false},
			want:       strings.SplitAfter(changeLines, "\n")[0] + strings.Join(strings.SplitAfter(changeLines, "\n")[1:], ""),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			s := newSink(t, t.TempDir(), map[string]any{"path": "p.parquet"})
			writeFile(t, s.Changelog(), tt.existing)
			landed, err := s.Reconcile(ctx, changes)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(landed, tt.wantLanded) {
				t.Errorf("landed = %v, want %v", landed, tt.wantLanded)
			}
			if _, err := s.Apply(ctx, changes[1:]); err != nil {
				t.Fatal(err)
			}
			if got := readString(t, s.Changelog()); got != tt.want {
				t.Errorf("change log:\n%q\nwant:\n%q", got, tt.want)
			}
		})
	}
}

func TestReconcileReportsExactlyTheLoggedIDs(t *testing.T) {
	ctx := context.Background()
	s := newSink(t, t.TempDir(), map[string]any{"path": "p.csv"})
	probe := []connectors.Change{{ID: "c1"}, {ID: "c2"}, {ID: "c9"}, {ID: "c1"}, {ID: "c"}}
	landed, err := s.Reconcile(ctx, probe)
	if err != nil {
		t.Fatal(err)
	}
	if want := make([]bool, len(probe)); !reflect.DeepEqual(landed, want) {
		t.Errorf("landed without a change log = %v, want none", landed)
	}
	if _, err := s.Apply(ctx, changes[:2]); err != nil {
		t.Fatal(err)
	}
	landed, err = s.Reconcile(ctx, probe)
	if err != nil {
		t.Fatal(err)
	}
	if want := []bool{true, true, false, true, false}; !reflect.DeepEqual(landed, want) {
		t.Errorf("landed = %v, want %v", landed, want)
	}
	// A corrupt complete line is an error naming the file and line.
	writeFile(t, s.Changelog(), readString(t, s.Changelog())+"garbage\n")
	_, err = s.Reconcile(ctx, probe)
	if want := s.Changelog() + ":3:"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Reconcile of a corrupt log = %v, want an error containing %q", err, want)
	}
}

// TestLandedEntries: the entries the sink gives back for recovery are the change log's complete lines (each
// change's entry with "at"), found by ID whatever the order asked; an ID without a complete line (never
// written, or cut short by a crash) has none.
func TestLandedEntries(t *testing.T) {
	ctx := context.Background()
	s := newSink(t, t.TempDir(), map[string]any{"path": "p.csv"})
	ids := []string{"c2", "c9", "c1", "c3"}
	got, err := s.LandedEntries(ctx, ids)
	if err != nil || !reflect.DeepEqual(got, make([][]byte, len(ids))) {
		t.Fatalf("entries without a change log = %q, %v; want none", got, err)
	}
	lines := strings.SplitAfter(changeLines, "\n")
	writeFile(t, s.Changelog(), lines[0]+lines[1]+lines[2][:30])
	got, err = s.LandedEntries(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]byte{[]byte(strings.TrimSuffix(lines[1], "\n")), nil, []byte(strings.TrimSuffix(lines[0], "\n")), nil}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("entries = %q, want %q", got, want)
	}
	// Every entry decodes to its change: the runner commits a landed change from it.
	var c connectors.Change
	if err := json.Unmarshal(got[0], &c); err != nil || c.ID != "c2" || c.Action != changes[1].Action {
		t.Errorf("entry of c2 decodes to %+v, %v", c, err)
	}
}

func TestApplyUnencodableChange(t *testing.T) {
	s := newSink(t, t.TempDir(), map[string]any{"path": "p.csv"})
	bad := connectors.Change{ID: "nan", Action: connectors.Create, Key: record.Record{"sku": "N"},
		After: record.Record{"sku": "N", "price": math.NaN()}}
	outcomes, err := s.Apply(context.Background(), []connectors.Change{changes[0], bad, changes[1]})
	if err != nil {
		t.Fatal(err)
	}
	var ce *connectors.ChangeError
	if outcomes[0] != nil || outcomes[2] != nil || !errors.As(outcomes[1], &ce) || !strings.Contains(ce.Reason, "NaN") {
		t.Errorf("outcomes = %v, want nil, a ChangeError about NaN, nil", outcomes)
	}
	lines := strings.SplitAfter(changeLines, "\n")
	if got, want := readString(t, s.Changelog()), lines[0]+lines[1]; got != want {
		t.Errorf("change log:\n%s\nwant:\n%s", got, want)
	}
}

func TestApplyCancelled(t *testing.T) {
	s := newSink(t, t.TempDir(), map[string]any{"path": "p.csv"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	outcomes, err := s.Apply(ctx, changes)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error = %v, want context.Canceled", err)
	}
	for i, o := range outcomes {
		if !errors.Is(o, connectors.ErrNotAttempted) {
			t.Errorf("outcome %d = %v, want ErrNotAttempted", i, o)
		}
	}
	if _, err := os.Stat(s.Changelog()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("change log exists after a cancelled apply (stat: %v)", err)
	}
}

func TestSinkCheck(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "afile"), "x")
	tests := []struct {
		name    string
		values  map[string]any
		wantErr string
	}{
		{name: "existing folder", values: map[string]any{"path": "p.csv"}},
		{name: "folders still to create", values: map[string]any{"path": "new/out/p.csv", "changelog": "logs/c.jsonl"}},
		{name: "under a file", values: map[string]any{"path": "p.csv", "changelog": "afile/c.jsonl"}, wantErr: "afile is not a folder"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSink(t, dir, tt.values)
			err := s.Check(context.Background())
			if tt.wantErr == "" && err != nil {
				t.Fatalf("Check: %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Check error = %v, want one containing %q", err, tt.wantErr)
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 1 || entries[0].Name() != "afile" {
				t.Errorf("Check left files behind: %v", entries)
			}
		})
	}
}
