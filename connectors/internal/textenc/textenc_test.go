package textenc

import (
	"bytes"
	"io"
	"testing"
	"testing/iotest"
)

func TestDecode(t *testing.T) {
	data := []byte("caf\xe9 \x80 \x93quoted\x94 \x9f \xff \x81 plain")
	for _, tc := range []struct{ enc, want string }{
		{Windows1252, "café € “quoted” Ÿ ÿ \u0081 plain"},
		{Latin1, "café \u0080 \u0093quoted\u0094 \u009f ÿ \u0081 plain"},
		{UTF8, string(data)},
	} {
		if got := Decode(tc.enc, data); got != tc.want {
			t.Errorf("Decode(%s) = %q, want %q", tc.enc, got, tc.want)
		}
		// The stream gives the same text when read one byte at a time (characters split across reads).
		got, err := io.ReadAll(iotest.OneByteReader(NewReader(bytes.NewReader(data), tc.enc)))
		if err != nil || string(got) != tc.want {
			t.Errorf("NewReader(%s) = %q, %v; want %q", tc.enc, got, err, tc.want)
		}
	}
}

func TestCanonical(t *testing.T) {
	for in, want := range map[string]string{"": UTF8, "UTF8": UTF8, "cp1252": Windows1252, "Windows-1252": Windows1252,
		"ISO-8859-1": Latin1, "latin1": Latin1} {
		if got, err := Canonical(in); err != nil || got != want {
			t.Errorf("Canonical(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := Canonical("utf-16"); err == nil || err.Error() != `encoding "utf-16": want one of utf-8, windows-1252, latin-1` {
		t.Errorf("Canonical(utf-16) error = %v", err)
	}
}
