package ascend

import (
	"reflect"
	"strings"
	"testing"
)

// A rejected row names its SKU and the fields read whole when the row was split far enough to trust them,
// and a file that ends inside a row it cannot read is held (issue 16).
func TestRejectedRowKeysAndHolds(t *testing.T) {
	const name = "Downtown_20250116_020000_full.txt"
	good := row{loc: "Downtown", sku: "OK", upc: "036000291452"}.line()
	full := row{loc: "Downtown", sku: "A1", upc: "036000291452", mpn: "M-1", brand: "Trek"}.line()
	cut := func(line string, n, keep int) string {
		f := strings.Split(line, "\t")[:n]
		f[n-1] = f[n-1][:keep]
		return strings.Join(f, "\t")
	}
	for _, tc := range []struct {
		name   string
		last   string // the file's last row
		eol    bool   // the last row has its line end
		key    any    // the reject's sku; nil for none
		fields map[string]any
		hold   string // part of the hold; "" for none
	}{
		{"cut after the brand, mid-description", cut(full, 6, 2), false, "A1",
			map[string]any{"short_name": "Downtown", "upc": "036000291452", "gtin14": "00036000291452", "mpn": "M-1", "brand": "Trek"},
			name + " ends in the middle of line 3"},
		{"cut inside the SKU", cut(full, 2, 1), false, nil, nil, name + " ends in the middle of line 3"},
		{"cut inside the UPC: no GTIN from it", cut(full, 3, 5), false, "A1", map[string]any{"short_name": "Downtown"},
			name + " ends in the middle of line 3"},
		{"cut inside a quoted field", strings.Replace(full, "Item A1", `"Item A1`, 1)[:len(full)-8], false, "A1",
			map[string]any{"short_name": "Downtown", "upc": "036000291452", "gtin14": "00036000291452", "mpn": "M-1", "brand": "Trek"},
			name + " ends in the middle of line 3"},
		{"short row with its line end", cut(full, 6, 2), true, "A1",
			map[string]any{"short_name": "Downtown", "upc": "036000291452", "gtin14": "00036000291452", "mpn": "M-1", "brand": "Trek"}, ""},
		{"too many fields: nothing can be trusted", strings.Replace(full, "Item A1", "Item\tA1", 1), true, nil, nil, ""},
		{"another location's ShortName in a short row", strings.Replace(cut(full, 6, 2), "Downtown", "Uptown", 1), true, nil, nil, ""},
		{"a bad value: every field read", strings.Replace(full, "90.00", "9O.00", 1), false, "A1",
			map[string]any{"short_name": "Downtown", "upc": "036000291452", "gtin14": "00036000291452", "mpn": "M-1", "brand": "Trek"},
			name + " ends in the middle of line 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := strings.Join(fullHeader, "\t") + "\r\n" + good + "\r\n" + tc.last
			if tc.eol {
				text += "\r\n"
			}
			inv, err := parseInventory(upload{Name: name, ShortName: "Downtown", Kind: kindFull}, []byte(text))
			if err != nil {
				t.Fatal(err)
			}
			if len(inv.rejects) != 1 {
				t.Fatalf("rejects %v, want 1", inv.rejects)
			}
			r := inv.rejects[0]
			var key any
			if r.Key != nil {
				key = r.Key["sku"]
			}
			if key != tc.key || !reflect.DeepEqual(r.Fields, tc.fields) {
				t.Errorf("reject %s: key %v fields %v, want %v %v", r.Reason, key, r.Fields, tc.key, tc.fields)
			}
			if tc.key != nil && !inv.withheld[tc.key.(string)] {
				t.Errorf("%v not withheld", tc.key)
			}
			switch {
			case tc.hold == "" && len(inv.holds) > 0:
				t.Errorf("holds %q, want none", inv.holds)
			case tc.hold != "" && (len(inv.holds) != 1 || !strings.Contains(inv.holds[0], tc.hold)):
				t.Errorf("holds %q, want one with %q", inv.holds, tc.hold)
			}
		})
	}
	// A complete last row without its line end is not a cut.
	inv, err := parseInventory(upload{Name: name, ShortName: "Downtown", Kind: kindFull},
		[]byte(strings.Join(fullHeader, "\t")+"\r\n"+good))
	if err != nil || len(inv.holds) != 0 || len(inv.items) != 1 {
		t.Errorf("complete file without a final line end: %v, holds %q", err, inv.holds)
	}
}
