package ftptest

import (
	"strings"
	"testing"
	"time"
)

func TestMkdirAndRename(t *testing.T) {
	mtime := time.Date(2025, 1, 15, 2, 0, 0, 0, time.UTC)
	s := start(t, Options{ReadOnly: []string{"/locked"}})
	s.Put("/in/a.txt", []byte("A"), mtime)
	s.Put("/in/b.txt", []byte("B"), mtime)
	s.Put("/in/c.txt", []byte("C"), mtime)
	s.Put("/locked/d.txt", []byte("D"), mtime)
	c := dial(t, s)

	for _, tc := range []struct {
		name string
		do   func() error
		// want is "" for success, else a part of the error.
		want string
	}{
		{"MKD", func() error { return c.MakeDir("/in/archive") }, ""},
		{"MKD of an existing folder", func() error { return c.MakeDir("/in/archive") }, "550"},
		{"MKD of an existing file", func() error { return c.MakeDir("/in/a.txt") }, "550"},
		{"MKD without its parent", func() error { return c.MakeDir("/x/y") }, "550"},
		{"MKD in a read-only folder", func() error { return c.MakeDir("/locked/sub") }, "/locked/sub: permission denied"},
		{"rename into a folder", func() error { return c.Rename("/in/a.txt", "/in/archive/a.txt") }, ""},
		{"rename, relative paths", func() error {
			if err := c.ChangeDir("/in"); err != nil {
				return err
			}
			return c.Rename("b.txt", "archive/b2.txt")
		}, ""},
		{"rename over a file replaces it", func() error { return c.Rename("/in/c.txt", "/in/archive/b2.txt") }, ""},
		{"rename of a missing file", func() error { return c.Rename("/in/nope.txt", "/in/archive/nope.txt") }, "550"},
		{"rename onto a folder", func() error { return c.Rename("/locked/d.txt", "/in/archive") }, "550"},
		{"rename out of a read-only folder", func() error { return c.Rename("/locked/d.txt", "/in/d.txt") }, "permission denied"},
		{"rename into a read-only folder", func() error { return c.Rename("/in/archive/a.txt", "/locked/a.txt") }, "permission denied"},
		{"rename into a missing folder", func() error { return c.Rename("/in/archive/a.txt", "/nope/a.txt") }, "550"},
	} {
		err := tc.do()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want one with %q", tc.name, err, tc.want)
		}
	}
	if got, want := strings.Join(s.Files(), " "), "/in/archive/a.txt /in/archive/b2.txt /locked/d.txt"; got != want {
		t.Errorf("files %q, want %q", got, want)
	}
	if b, ok := s.Get("/in/archive/b2.txt"); !ok || string(b) != "C" {
		t.Errorf("/in/archive/b2.txt = %q, %v; want C (replaced)", b, ok)
	}
	entries, err := c.List("/in")
	if err != nil || len(entries) != 1 || entries[0].Name != "archive" {
		t.Errorf("list /in: %v, %v; want only the archive folder", entries, err)
	}
}
