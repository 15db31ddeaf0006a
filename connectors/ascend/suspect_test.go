package ascend

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/possync/possync/connectors/ascend/ftptest"
)

// A new full file far smaller than the last applied one of its location, or with another header, is held
// (issue 16): the read succeeds, and Holds says why.
func TestSuspectFullUploads(t *testing.T) {
	rows := func(n int) []row {
		var out []row
		for i := 1; i <= n; i++ {
			out = append(out, row{loc: "Downtown", sku: fmt.Sprintf("S%03d", i)})
		}
		return out
	}
	withHeader := func(data []byte, from, to string) []byte {
		return []byte(strings.Replace(string(data), from, to, 1))
	}
	const first, second = "Downtown_20250115_020000_full.txt", "Downtown_20250116_020000_full.txt"
	for _, tc := range []struct {
		name  string
		over  map[string]any
		next  []byte // the second night's file; nil: the same file again
		holds []string
	}{
		{"same file again", nil, nil, nil},
		{"a normal night", nil, fullFile(rows(95)...), nil},
		{"half the rows is still fine", nil, fullFile(rows(50)...), nil},
		{"far fewer rows", nil, fullFile(rows(49)...),
			[]string{second + " has 49 row(s), 49% of the 100 of the last applied full upload " + first + " (min_rows_percent 50)"}},
		{"far fewer rows, check off", map[string]any{"min_rows_percent": 0.0}, fullFile(rows(10)...), nil},
		{"stricter threshold", map[string]any{"min_rows_percent": 90.0}, fullFile(rows(80)...),
			[]string{second + " has 80 row(s), 80% of the 100"}},
		{"a column renamed", nil, withHeader(fullFile(rows(100)...), "\tMpn\t", "\tManufacturerPart\t"),
			[]string{second + " has another header than the last applied full upload " + first + " (without Mpn; with ManufacturerPart): " +
				"check the POS export settings"}},
		{"columns reordered", nil, withHeader(fullFile(rows(100)...), "ModelYear\tColor", "Color\tModelYear"),
			[]string{"(the same columns in another order)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServer(t, ftptest.Options{})
			srv.Put("/"+first, fullFile(rows(100)...), mtime)
			s := newSource(t, baseConfig(srv.Addr(), tc.over))
			_, _, res := read(t, s, nil)
			if len(res.Holds) != 0 {
				t.Fatalf("first night holds %q", res.Holds)
			}
			if tc.next != nil {
				srv.Put("/"+second, tc.next, mtime.Add(24*time.Hour))
			}
			_, _, res = read(t, s, res.Checkpoint)
			if len(res.Holds) != len(tc.holds) {
				t.Fatalf("holds %q, want %d", res.Holds, len(tc.holds))
			}
			for i, h := range tc.holds {
				if !strings.Contains(res.Holds[i], h) {
					t.Errorf("hold %q, want it to contain %q", res.Holds[i], h)
				}
			}
		})
	}
}

// A suspect full upload does not become the baseline: read again, it is suspect again; once the user allows
// the mass change, it is the baseline.
func TestSuspectUploadKeepsTheBaseline(t *testing.T) {
	srv := startServer(t, ftptest.Options{})
	var rows []row
	for i := 1; i <= 10; i++ {
		rows = append(rows, row{loc: "Downtown", sku: fmt.Sprintf("S%02d", i)})
	}
	srv.Put("/Downtown_20250115_020000_full.txt", fullFile(rows...), mtime)
	s := newSource(t, baseConfig(srv.Addr(), nil))
	_, _, res := read(t, s, nil)
	srv.Put("/Downtown_20250116_020000_full.txt", fullFile(rows[:3]...), mtime.Add(24*time.Hour))
	_, _, res = read(t, s, res.Checkpoint)
	if len(res.Holds) != 1 {
		t.Fatalf("holds %q", res.Holds)
	}
	_, _, again := read(t, s, res.Checkpoint)
	if len(again.Holds) != 1 || !strings.Contains(again.Holds[0], "has 3 row(s), 30% of the 10") {
		t.Errorf("the same suspect upload read again: holds %q", again.Holds)
	}
	prev, _ := decodeCheckpoint(res.Checkpoint)
	inv := &inventory{upload: upload{Name: "Downtown_20250116_020000_full.txt"}, rows: 3, header: fullHeader}
	cp, _ := decodeCheckpoint(withFacts(res.Checkpoint, map[string]*inventory{"Downtown": inv}, prev, map[string]bool{"Downtown": true}, false))
	if got := cp.Locations["Downtown"][0]; got.Rows != 3 {
		t.Errorf("allowed mass change: baseline %d rows, want the new 3", got.Rows)
	}
}
