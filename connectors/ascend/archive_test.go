package ascend

import (
	"context"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/connectors/ascend/ftptest"
	"github.com/possync/possync/spec"
)

// putUploads puts files into the folder /in of srv: name → contents.
func putUploads(srv *ftptest.Server, files map[string][]byte) {
	for name, data := range files {
		srv.Put("/in/"+name, data, mtime)
	}
}

// inFiles returns the paths srv serves, with moved ones (in want) replacing their /in originals.
func inFiles(names []string, moved map[string]string) []string {
	var out []string
	for _, n := range names {
		if to, ok := moved[n]; ok {
			out = append(out, to)
			continue
		}
		out = append(out, "/in/"+n)
	}
	sort.Strings(out)
	return out
}

func TestCommittedArchivesOnlySupersededUploads(t *testing.T) {
	files := map[string][]byte{
		"Downtown_20250113_020000_full.txt":  fullFile(row{loc: "Downtown", sku: "A1", qty: "1"}),
		"Downtown_20250113_020000_promo.txt": promoFileOf(),
		"Downtown_20250113_150000_inv.txt":   invFile("Downtown", "A1=0"),
		"Downtown_20250114_020000_full.txt":  fullFile(row{loc: "Downtown", sku: "A1", qty: "2"}),
		"Downtown_20250114_020000_promo.txt": promoFileOf(),
		"Downtown_20250114_100000_inv.txt":   invFile("Downtown", "A1=9"),
		// The current state: the newest full upload and the inv upload after it.
		"Downtown_20250115_020000_full.txt": fullFile(row{loc: "Downtown", sku: "A1", qty: "3"}, row{loc: "Downtown", sku: "B2", qty: "5"}),
		"Downtown_20250115_100000_inv.txt":  invFile("Downtown", "A1=7"),
		// Never moved: an upload in progress, other locations' uploads, an unknown Short Name, other files.
		"Downtown_20250116_020000_full.txt.part": fullFile(),
		"Uptown_20250113_020000_full.txt":        fullFile(row{loc: "Uptown", sku: "A1"}),
		"Warehouse_20250113_020000_full.txt":     fullFile(row{loc: "Warehouse", sku: "A1"}),
		"downtown_20250113_020000_full.txt":      fullFile(row{loc: "downtown", sku: "A1"}),
		"notes.csv":                              []byte("x"),
	}
	var names []string
	for n := range files {
		names = append(names, n)
	}
	superseded := []string{"Downtown_20250113_020000_full.txt", "Downtown_20250113_020000_promo.txt",
		"Downtown_20250113_150000_inv.txt", "Downtown_20250114_020000_full.txt", "Downtown_20250114_100000_inv.txt"}

	for _, tc := range []struct {
		name, archiveDir string
		// taken is a file already in the archive folder (by path), whose name a moved upload must not take.
		taken string
		// moved maps each superseded upload to where it must end up.
		moved map[string]string
	}{
		{name: "relative folder holding a name already", archiveDir: "archive",
			taken: "/in/archive/Downtown_20250113_020000_full.txt",
			moved: map[string]string{"Downtown_20250113_020000_full.txt": "/in/archive/Downtown_20250113_020000_full.1.txt"}},
		{name: "absolute folder created with its parent", archiveDir: "/old/uploads", moved: map[string]string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServer(t, ftptest.Options{})
			putUploads(srv, files)
			if tc.taken != "" {
				srv.Put(tc.taken, []byte("archived earlier"), mtime)
			}
			archive := tc.archiveDir
			if !strings.HasPrefix(archive, "/") {
				archive = "/in/" + archive
			}
			for _, n := range superseded {
				if _, ok := tc.moved[n]; !ok {
					tc.moved[n] = archive + "/" + n
				}
			}
			s := newSource(t, baseConfig(srv.Addr(), map[string]any{"dir": "/in", "archive_dir": tc.archiveDir,
				"locations": locations("Downtown=single-site", "Uptown=multi-site", "Warehouse=none")}))
			recs, _, res := read(t, s, nil)
			if got := recs["A1"]["qty_on_hand"]; got != int64(7) {
				t.Fatalf("A1 qty %v before archiving, want 7 (the current full and inv uploads)", got)
			}

			if err := s.Committed(context.Background(), res.Checkpoint); err != nil {
				t.Fatalf("Committed: %v", err)
			}
			want := inFiles(names, tc.moved)
			if tc.taken != "" {
				want = append(want, tc.taken)
				sort.Strings(want)
			}
			if got := srv.Files(); !reflect.DeepEqual(got, want) {
				t.Fatalf("files after archiving:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if tc.taken != "" {
				if b, _ := srv.Get(tc.taken); string(b) != "archived earlier" {
					t.Errorf("%s was overwritten: %q", tc.taken, b)
				}
			}

			// The next run reads the same state from the files left, and has nothing more to archive.
			again, _, res2 := read(t, s, res.Checkpoint)
			if !reflect.DeepEqual(again, recs) {
				t.Errorf("records after archiving:\n%v\nwant:\n%v", again, recs)
			}
			if !hasNote(res2.Notes, "no new upload since the last applied run") {
				t.Errorf("notes %q", res2.Notes)
			}
			if err := s.Committed(context.Background(), res2.Checkpoint); err != nil {
				t.Fatalf("second Committed: %v", err)
			}
			if got := srv.Files(); !reflect.DeepEqual(got, want) {
				t.Errorf("the second Committed moved files:\n%s", strings.Join(got, "\n"))
			}
		})
	}
}

func TestCommittedKeepsThePromoFileOfTheCurrentUploads(t *testing.T) {
	srv := startServer(t, ftptest.Options{})
	putUploads(srv, map[string][]byte{
		"Downtown_20250114_020000_full.txt":  fullFile(row{loc: "Downtown", sku: "A1"}),
		"Downtown_20250114_020000_promo.txt": promoFileOf(),
		"Downtown_20250115_020000_full.txt":  fullFile(row{loc: "Downtown", sku: "A1"}),
		"Downtown_20250115_020000_promo.txt": promoFileOf(),
	})
	s := newSource(t, baseConfig(srv.Addr(), map[string]any{"dir": "/in", "archive_dir": "/archive"}))
	_, _, res := read(t, s, nil)
	if err := s.Committed(context.Background(), res.Checkpoint); err != nil {
		t.Fatal(err)
	}
	// The 14th's promo file is the newest older than the applied full upload: the promotions source may
	// still read it (say the 15th's was being uploaded), so it stays until a later full upload supersedes
	// the 15th's.
	want := "/archive/Downtown_20250114_020000_full.txt /in/Downtown_20250114_020000_promo.txt " +
		"/in/Downtown_20250115_020000_full.txt /in/Downtown_20250115_020000_promo.txt"
	if got := strings.Join(srv.Files(), " "); got != want {
		t.Errorf("files %q, want %q", got, want)
	}
}

func TestPromotionsCommittedArchivesOlderPromoFiles(t *testing.T) {
	srv := startServer(t, ftptest.Options{})
	putUploads(srv, map[string][]byte{
		"Downtown_20250113_020000_full.txt":  fullFile(row{loc: "Downtown", sku: "A1"}),
		"Downtown_20250113_020000_promo.txt": promoFileOf("OLD\t\t2024-01-01 00:00:00\t2025-01-01\t2025-01-31\tY\tA1\t1.00"),
		"Downtown_20250114_020000_promo.txt": promoFileOf("OLD\t\t2024-01-01 00:00:00\t2025-01-01\t2025-01-31\tY\tA1\t2.00"),
		"Downtown_20250115_020000_promo.txt": promoFileOf("10\tWinter\t2024-12-01 09:00:00\t2025-01-10\t2025-01-31\tY\tA1\t79.99"),
		"Uptown_20250113_020000_promo.txt":   promoFileOf(),
	})
	values := baseConfig(srv.Addr(), map[string]any{"dir": "/in", "archive_dir": "archive",
		"locations": locations("Downtown=single-site", "Uptown=none")})
	s, err := NewPromotionsSource(spec.Config{Values: values}, connectors.Env{})
	if err != nil {
		t.Fatal(err)
	}
	recs, _, res := readPromotions(t, s, nil)
	if err := s.Committed(context.Background(), res.Checkpoint); err != nil {
		t.Fatalf("Committed: %v", err)
	}
	want := "/in/Downtown_20250113_020000_full.txt /in/Downtown_20250115_020000_promo.txt " +
		"/in/Uptown_20250113_020000_promo.txt /in/archive/Downtown_20250113_020000_promo.txt " +
		"/in/archive/Downtown_20250114_020000_promo.txt"
	if got := strings.Join(srv.Files(), " "); got != want {
		t.Errorf("files %q, want %q (only older promo files of the location read move)", got, want)
	}
	again, _, _ := readPromotions(t, s, res.Checkpoint)
	if !reflect.DeepEqual(again, recs) || len(recs) != 1 {
		t.Errorf("promotions after archiving %v, want %v", again, recs)
	}
}

func TestCommittedFailures(t *testing.T) {
	uploads := map[string][]byte{
		"Downtown_20250114_020000_full.txt": fullFile(row{loc: "Downtown", sku: "A1"}),
		"Downtown_20250114_100000_inv.txt":  invFile("Downtown", "A1=2"),
		"Downtown_20250115_020000_full.txt": fullFile(row{loc: "Downtown", sku: "A1"}),
	}
	for _, tc := range []struct {
		name  string
		opts  ftptest.Options
		setup func(*ftptest.Server)
		// want are parts of the error.
		want []string
	}{
		{"archive folder not writable", ftptest.Options{ReadOnly: []string{"/in/archive"}},
			func(s *ftptest.Server) { s.Mkdir("/in/archive") },
			[]string{"archive_dir /in/archive: 2 of 2 superseded upload(s) not moved; first: ftp://1234@127.0.0.1:",
				": move /in/Downtown_20250114_020000_full.txt to /in/archive/Downtown_20250114_020000_full.txt: 550", "permission denied"}},
		{"archive folder cannot be created", ftptest.Options{ReadOnly: []string{"/in"}}, nil,
			[]string{"archive_dir: ftp://1234@127.0.0.1:", ": create folder /in/archive: 550", "permission denied"}},
		{"archive_dir names a file", ftptest.Options{}, func(s *ftptest.Server) { s.Put("/in/archive", nil, mtime) },
			[]string{"archive_dir: /in/archive exists and is not a folder"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServer(t, tc.opts)
			putUploads(srv, uploads)
			if tc.setup != nil {
				tc.setup(srv)
			}
			before := srv.Files()
			s := newSource(t, baseConfig(srv.Addr(), map[string]any{"dir": "/in", "archive_dir": "archive"}))
			_, _, res := read(t, s, nil)
			err := s.Committed(context.Background(), res.Checkpoint)
			if err == nil || !hasNote([]string{err.Error()}, tc.want...) || strings.Contains(err.Error(), testPassword) {
				t.Fatalf("Committed: %v, want an error with %q (and no password)", err, tc.want)
			}
			if got := srv.Files(); !reflect.DeepEqual(got, before) {
				t.Errorf("files %q, want them unchanged", got)
			}
		})
	}
}

func TestCommittedWithNothingToMoveWritesNothing(t *testing.T) {
	// The upload folder is read-only: any MKD or rename would fail.
	srv := startServer(t, ftptest.Options{ReadOnly: []string{"/"}})
	putUploads(srv, map[string][]byte{
		"Downtown_20250115_020000_full.txt":  fullFile(row{loc: "Downtown", sku: "A1"}),
		"Downtown_20250115_100000_inv.txt":   invFile("Downtown", "A1=2"),
		"Warehouse_20250101_020000_full.txt": fullFile(row{loc: "Warehouse", sku: "A1"}),
	})
	values := baseConfig(srv.Addr(), map[string]any{"dir": "/in", "archive_dir": "archive",
		"locations": locations("Downtown=single-site", "Warehouse=none")})
	s := newSource(t, values)
	_, _, res := read(t, s, nil)
	if err := s.Committed(context.Background(), res.Checkpoint); err != nil {
		t.Errorf("Committed with nothing superseded: %v", err)
	}

	// Without archive_dir, Committed does not even connect.
	delete(values, "archive_dir")
	values["port"] = int64(1)
	if err := newSource(t, values).Committed(context.Background(), res.Checkpoint); err != nil {
		t.Errorf("Committed without archive_dir: %v", err)
	}
	// A checkpoint it cannot read is an error.
	values["archive_dir"] = "archive"
	if err := newSource(t, values).Committed(context.Background(), []byte("{")); err == nil || !strings.Contains(err.Error(), "checkpoint") {
		t.Errorf("Committed with a bad checkpoint: %v", err)
	}
}
