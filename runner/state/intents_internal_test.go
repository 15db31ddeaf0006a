package state

import (
	"slices"
	"testing"
)

// TestPackIDs: a part's IDs come back from their packed form as they were, in order, in the compact form
// when every ID is plan.ChangeID's (lowercase hexadecimal of one length) and in the general one otherwise
// (IDs of other lengths, other characters, empty); a damaged value is an error, never fewer IDs.
func TestPackIDs(t *testing.T) {
	for _, tc := range []struct {
		name string
		ids  []string
		form byte
	}{
		{"change IDs", []string{"0123456789abcdef01234567", "fedcba987654321000000000", "ffffffffffffffffffffffff"}, packedHex},
		{"one", []string{"00"}, packedHex},
		{"upper case", []string{"0123456789ABCDEF01234567"}, packedText},
		{"odd length", []string{"abc"}, packedText},
		{"lengths differ", []string{"abcd", "ab"}, packedText},
		{"any text", []string{"a\nb", "", "é,\x00", "change-1"}, packedText},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := packIDs(tc.ids)
			if b[0] != tc.form {
				t.Errorf("form %q, want %q", b[0], tc.form)
			}
			got, err := unpackIDs([]string{"before"}, b)
			if err != nil {
				t.Fatal(err)
			}
			if want := append([]string{"before"}, tc.ids...); !slices.Equal(got, want) {
				t.Errorf("unpacked %q, want %q", got, want)
			}
			for cut := 1; cut < len(b); cut++ {
				if got, err := unpackIDs(nil, b[:cut]); err == nil && len(got) == len(tc.ids) {
					t.Errorf("%d of %d bytes unpacked to every ID: %q", cut, len(b), got)
				}
			}
		})
	}
	for _, bad := range [][]byte{nil, {'h'}, {'h', 0}, {'h', 2, 1}, {'t', 5, 'a'}, {'x', 1}} {
		if got, err := unpackIDs(nil, bad); err == nil {
			t.Errorf("unpack %q = %q, want an error", bad, got)
		}
	}
}

// TestSettlePacked: a packed row keeps the IDs that did not settle, in order, and says whether any did.
func TestSettlePacked(t *testing.T) {
	b := packIDs([]string{"aa", "bb", "cc"})
	keep, changed, err := settlePacked(b, map[string]bool{"bb": true, "zz": true})
	if err != nil || !changed || !slices.Equal(keep, []string{"aa", "cc"}) {
		t.Errorf("settle bb: keep %q, changed %v, %v", keep, changed, err)
	}
	if keep, changed, err := settlePacked(b, map[string]bool{"zz": true}); err != nil || changed || len(keep) != 3 {
		t.Errorf("settle none: keep %q, changed %v, %v", keep, changed, err)
	}
	if keep, changed, err := settlePacked(b, map[string]bool{"aa": true, "bb": true, "cc": true}); err != nil || !changed || keep != nil {
		t.Errorf("settle all: keep %q, changed %v, %v", keep, changed, err)
	}
}
