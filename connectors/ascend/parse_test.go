package ascend

import (
	"reflect"
	"strings"
	"testing"
)

func TestSplitLines(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       [][]string
		lines      []int
		errs       []string
	}{
		{"tabs, blank lines and CRLF", "a\tb\r\n\r\n1\t2\r\n\n3\t\r\n", [][]string{{"1", "2"}, {"3", ""}}, []int{3, 5}, nil},
		{"quoted fields", "a\tb\n\"x\ty\"\t\"say \"\"hi\"\"\"\n\"\"\tz\n", [][]string{{"x\ty", `say "hi"`}, {"", "z"}}, []int{2, 3}, nil},
		{"literal quote inside a field", "a\tb\n29\" wheel\tok\"\n", [][]string{{`29" wheel`, `ok"`}}, []int{2}, nil},
		{"unterminated quote", "a\tb\n\"open\tx\n1\t2", [][]string{nil, {"1", "2"}}, []int{2, 3},
			[]string{"bad_quote: a quoted field is not closed on its line", ""}},
		{"text after closing quote", "a\tb\n\"x\"y\t1\n", [][]string{nil}, []int{2}, []string{"bad_quote: text after the closing quote"}},
		{"CSV", "a,b\n\"1,5\",2\n", [][]string{{"1,5", "2"}}, []int{2}, nil},
		{"no final newline", "a\tb\n1\t2", [][]string{{"1", "2"}}, []int{2}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tb, _, err := newTable(tc.text)
			if err != nil {
				t.Fatal(err)
			}
			for i := range tc.want {
				fields, line, ok, err := tb.next()
				if !ok {
					t.Fatalf("row %d missing", i)
				}
				wantErr := ""
				if tc.errs != nil {
					wantErr = tc.errs[i]
				}
				if (err == nil) != (wantErr == "") || (err != nil && !strings.Contains(err.Error(), wantErr)) {
					t.Errorf("row %d error %v, want %q", i, err, wantErr)
				}
				if err == nil && !reflect.DeepEqual(fields, tc.want[i]) {
					t.Errorf("row %d = %q, want %q", i, fields, tc.want[i])
				}
				if line != tc.lines[i] {
					t.Errorf("row %d on line %d, want %d", i, line, tc.lines[i])
				}
			}
			if _, _, ok, _ := tb.next(); ok {
				t.Error("more rows than expected")
			}
		})
	}
}

func TestDecodeText(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		want string
		enc  string
	}{
		{"UTF-8", []byte("Café"), "Café", encUTF8},
		{"UTF-8 BOM", []byte("\xEF\xBB\xBFCafé"), "Café", encUTF8BOM},
		{"Windows-1252", []byte("Caf\xE9 \x80 \x93 \x9F \x81"), "Café € “ Ÿ \u0081", enc1252},
	} {
		got, enc, err := decodeText(tc.in)
		if err != nil || got != tc.want || enc != tc.enc {
			t.Errorf("%s: %q %s %v, want %q %s", tc.name, got, enc, err, tc.want, tc.enc)
		}
	}
	if _, _, err := decodeText([]byte("\xFF\xFEa\x00")); err == nil || !strings.Contains(err.Error(), "UTF-16") {
		t.Errorf("UTF-16: %v", err)
	}
}

func TestHeaderAliases(t *testing.T) {
	header := []string{"short name", "SKU", "Qty On Hand", "qty_on_order", "Unrelated"}
	pos, err := matchHeader(header, invColumns, invRequired)
	if err != nil {
		t.Fatal(err)
	}
	if pos[cShortName] != 0 || pos[cSku] != 1 || pos[cQtyOnHand] != 2 || pos[cQtyOnOrder] != 3 || pos[cPrice] != -1 {
		t.Errorf("positions %v", pos)
	}
	for _, alias := range []string{"Quantity", "qty", "OnHand", "QOH", "Quantity On Hand"} {
		pos, err := matchHeader([]string{"ShortName", "Sku", alias}, invColumns, invRequired)
		if err != nil || pos[cQtyOnHand] != 2 {
			t.Errorf("%q does not match QtyOnHand: %v", alias, err)
		}
	}
}

func TestUploadNames(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
		want upload
	}{
		{"Downtown_20250115_140000_inv.txt", true, upload{Name: "Downtown_20250115_140000_inv.txt", ShortName: "Downtown", Stamp: "20250115_140000", Kind: "inv"}},
		{"Down_Town West_20250115_020000_full.txt", true, upload{Name: "Down_Town West_20250115_020000_full.txt", ShortName: "Down_Town West", Stamp: "20250115_020000", Kind: "full"}},
		{"Downtown_20250115_140000_promo.txt", true, upload{Name: "Downtown_20250115_140000_promo.txt", ShortName: "Downtown", Stamp: "20250115_140000", Kind: "promo"}},
		{"Downtown_20250230_140000_inv.txt", false, upload{}}, // no 30 February
		{"Downtown_20250115_250000_inv.txt", false, upload{}},
		{"Downtown_20250115_140000_INV.txt", false, upload{}},
		{"Downtown_20250115_140000_inv.csv", false, upload{}},
		{"_20250115_140000_inv.txt", false, upload{}},
	} {
		got, ok := parseUploadName(tc.name)
		if ok != tc.ok || got != tc.want {
			t.Errorf("parseUploadName(%q) = %+v %v, want %+v %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
	for name, want := range map[string]bool{"a.txt.part": true, ".a.txt": true, "a.TMP": true, "a.txt.filepart": true, "a.txt": false} {
		if temporaryName(name) != want {
			t.Errorf("temporaryName(%q) != %v", name, want)
		}
	}
}
