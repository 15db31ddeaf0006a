package main

import (
	"strings"
	"testing"
	"time"
)

func line(id, action, sku string, price float64) changeLine {
	l := changeLine{ID: id, Action: action, Key: map[string]any{"sku": sku}}
	if action != "delete" {
		l.After = map[string]any{"sku": sku, "title": "T " + sku, "price": price, "stock": float64(1)}
	}
	return l
}

// TestReplay: a change log applied once replays to the desired records; each way of applying a change twice
// or losing one is reported as such.
func TestReplay(t *testing.T) {
	clean := []changeLine{line("1", "create", "A", 1), line("2", "create", "B", 2), line("3", "update", "A", 3), line("4", "delete", "B", 0)}
	state, dups, lost := replay(clean)
	if len(dups)+len(lost) != 0 {
		t.Fatalf("clean log: duplicates %v, lost %v", dups, lost)
	}
	want := map[string]record{"A": {SKU: "A", Title: "T A", Price: 3, Stock: 1}}
	if d := diffRecords("replay", state, want); len(d) != 0 {
		t.Errorf("clean log replays to %v: %v", state, d)
	}

	for _, tc := range []struct {
		name      string
		log       []changeLine
		dup, lost string
	}{
		{"same ID twice", append(clean[:2:2], line("2", "create", "B", 2)), "change ID 2 again", ""},
		{"create twice", append(clean[:2:2], line("9", "create", "B", 2)), "created again", ""},
		{"update sent twice", append(clean[:3:3], line("9", "update", "A", 3)), "changes nothing", ""},
		{"update of a lost create", []changeLine{line("1", "update", "A", 3)}, "", "update of a key never created"},
		{"delete twice", append(clean[:], line("9", "delete", "B", 0)), "", "delete of a key never created"},
	} {
		_, dups, lost := replay(tc.log)
		if got := strings.Join(dups, "; "); (tc.dup == "") != (got == "") || !strings.Contains(got, tc.dup) {
			t.Errorf("%s: duplicates %q, want %q", tc.name, got, tc.dup)
		}
		if got := strings.Join(lost, "; "); (tc.lost == "") != (got == "") || !strings.Contains(got, tc.lost) {
			t.Errorf("%s: lost %q, want %q", tc.name, got, tc.lost)
		}
	}
}

// TestLockViolations: runs one after the other (also within the same millisecond) are fine; overlapping
// in-lock intervals are reported; runs locked out (no interval) are ignored.
func TestLockViolations(t *testing.T) {
	at := func(ms int) time.Time {
		return time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC).Add(time.Duration(ms) * time.Millisecond)
	}
	run := func(w, first, last int) runRecord {
		return runRecord{Worker: w, InLockFirst: at(first), InLockLast: at(last)}
	}
	if v := lockViolations([]runRecord{run(0, 0, 100), run(1, 100, 200), run(0, 250, 300), {Worker: 2}}); len(v) != 0 {
		t.Errorf("sequential runs: %v", v)
	}
	v := lockViolations([]runRecord{run(0, 0, 100), run(1, 150, 200), run(1, 90, 120)})
	if len(v) != 1 || !strings.Contains(v[0], "workers 0 and 1") {
		t.Errorf("one overlap (0-100 with 90-120): got %v", v)
	}
}

// TestParseLogs: the in-lock interval is the first and last stage line's time; other lines do not count.
func TestParseLogs(t *testing.T) {
	r := runRecord{Stderr: `{"time":"2026-12-06T00:00:01.5Z","level":"INFO","msg":"loaded"}
{"time":"2026-12-06T00:00:02Z","level":"INFO","msg":"step","stage":"read products"}
not json
{"time":"2026-12-06T00:00:03.25Z","level":"DEBUG","msg":"stage done","stage":"export"}
{"time":"2026-12-06T00:00:04Z","level":"INFO","msg":"finished"}
`}
	r.parseLogs()
	if r.InLockFirst.Format(time.RFC3339Nano) != "2026-12-06T00:00:02Z" || r.InLockLast.Format(time.RFC3339Nano) != "2026-12-06T00:00:03.25Z" {
		t.Errorf("in-lock interval %v - %v", r.InLockFirst, r.InLockLast)
	}
}
