package ascend

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/connectors/ascend/ftptest"
	"github.com/possync/possync/record"
)

func TestReadFullUpload(t *testing.T) {
	for _, tc := range []struct {
		name string
		mlsd bool
		// mtime is the modification time the listing shows: exact with MLSD, the day with LIST (ls shows the
		// year instead of the time for files older than six months).
		mtime time.Time
	}{{"MLSD", true, mtime}, {"LIST fallback", false, mtime.Truncate(24 * time.Hour)}} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServer(t, ftptest.Options{DisableMLSD: !tc.mlsd})
			data := fullFile(
				row{loc: "Downtown", sku: "A1", upc: "036000291452", mpn: "M-1", brand: "Trek", desc: "Domane SL5",
					msrp: "1499.00", price: "1299.99", qty: "3", lastSold: "2024-12-01"},
				row{loc: "Downtown", sku: "00123", desc: `Wheel 29" Carbon`, qty: "-2", onOrder: "0"},
				row{loc: "Downtown", sku: "B2", desc: `"Tube, 700c ""Presta"""`, active: "N"},
			)
			srv.Put("/in/Downtown_20250115_020000_full.txt", data, mtime)
			srv.Put("/in/notes.csv", []byte("x"), mtime)
			s := newSource(t, baseConfig(srv.Addr(), map[string]any{"dir": "/in"}))
			recs, order, res := read(t, s, nil)

			if got := strings.Join(order, " "); got != "00123 A1 B2" {
				t.Errorf("records %q, want sorted SKUs 00123 A1 B2", got)
			}
			want := record.Record{
				"sku": "A1", "short_name": "Downtown", "upc": "036000291452", "gtin14": "00036000291452",
				"gtin_ambiguous": false, "mpn": "M-1", "brand": "Trek", "description": "Domane SL5", "model_year": "2025",
				"color": "Red", "size": "M", "category": "Bikes>Road", "msrp": 1499.0, "price": 1299.99,
				"qty_on_hand": int64(3), "qty_on_order": nil, "non_inventory": false, "last_sold_date": date("2024-12-01"),
				"ecommerce": true, "active": true, "eligible": true, "upload": "full",
				"file": "Downtown_20250115_020000_full.txt",
			}
			if !reflect.DeepEqual(recs["A1"], want) {
				t.Errorf("A1 =\n%v\nwant\n%v", recs["A1"], want)
			}
			if r := recs["00123"]; r["qty_on_hand"] != int64(0) || r["upc"] != nil || r["gtin14"] != nil ||
				r["description"] != `Wheel 29" Carbon` || r["eligible"] != false {
				t.Errorf("00123 (negative stock clamped, no UPC, literal quote): %v", r)
			}
			if r := recs["B2"]; r["description"] != `Tube, 700c "Presta"` || r["eligible"] != false {
				t.Errorf("B2 (quoted field, inactive): %v", r)
			}
			if len(res.Rejects) != 0 {
				t.Errorf("rejects: %v", res.Rejects)
			}
			if !hasNote(res.Notes, "ignored 1 file(s) not named", "notes.csv") || !hasNote(res.Notes, "new upload(s): Downtown_20250115_020000_full.txt") {
				t.Errorf("notes %q", res.Notes)
			}
			var cp checkpoint
			if err := json.Unmarshal(res.Checkpoint, &cp); err != nil {
				t.Fatal(err)
			}
			applied := cp.Locations["Downtown"]
			if len(applied) != 1 || applied[0].Name != "Downtown_20250115_020000_full.txt" || applied[0].Size != int64(len(data)) ||
				!applied[0].MTime.Equal(tc.mtime) {
				t.Errorf("checkpoint %s", res.Checkpoint)
			}
		})
	}
}

func TestInvUploadsChangeOnlyQuantitiesOfKnownItems(t *testing.T) {
	srv := startServer(t, ftptest.Options{})
	srv.Put("/Downtown_20250115_020000_full.txt", fullFile(
		row{loc: "Downtown", sku: "A1", price: "90.00", qty: "3", onOrder: "2"},
		row{loc: "Downtown", sku: "B2", qty: "5"},
		row{loc: "Downtown", sku: "C3", qty: "7"},
	), mtime)
	// Older than the full upload: already contained in it.
	srv.Put("/Downtown_20250115_010000_inv.txt", invFile("Downtown", "A1=99", "C3=99"), mtime)
	srv.Put("/Downtown_20250115_100000_inv.txt", invFile("Downtown", "A1=1", "ZZ=4"), mtime)
	srv.Put("/Downtown_20250115_120000_inv.txt", []byte("ShortName\tSku\tQty On Hand\tQtyOnOrder\r\nDowntown\tB2\t0\t6\r\n"), mtime)
	s := newSource(t, baseConfig(srv.Addr(), nil))
	recs, order, res := read(t, s, nil)

	if len(order) != 3 {
		t.Fatalf("records %v: an inv upload must not add ZZ", order)
	}
	for _, c := range []struct {
		sku            string
		qty            int64
		onOrder        any
		upload, file   string
		priceUnchanged bool
	}{
		{"A1", 1, int64(2), "inv", "Downtown_20250115_100000_inv.txt", true},
		{"B2", 0, int64(6), "inv", "Downtown_20250115_120000_inv.txt", true},
		{"C3", 7, nil, "full", "Downtown_20250115_020000_full.txt", true},
	} {
		r := recs[c.sku]
		if r["qty_on_hand"] != c.qty || r["qty_on_order"] != c.onOrder || r["upload"] != c.upload || r["file"] != c.file {
			t.Errorf("%s: qty %v on order %v upload %v file %v; want %d %v %s %s", c.sku, r["qty_on_hand"], r["qty_on_order"],
				r["upload"], r["file"], c.qty, c.onOrder, c.upload, c.file)
		}
		if r["description"] != "Item "+c.sku || r["msrp"] != 100.0 {
			t.Errorf("%s: an inv upload changed other fields: %v", c.sku, r)
		}
	}
	if !hasNote(res.Notes, "Downtown_20250115_100000_inv.txt: 1 SKU(s) that no full upload has were ignored", "ZZ") {
		t.Errorf("notes %q: want the unknown SKU ZZ named", res.Notes)
	}
	var cp checkpoint
	if err := json.Unmarshal(res.Checkpoint, &cp); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, a := range cp.Locations["Downtown"] {
		names = append(names, a.Name)
	}
	if want := "Downtown_20250115_020000_full.txt Downtown_20250115_100000_inv.txt Downtown_20250115_120000_inv.txt"; strings.Join(names, " ") != want {
		t.Errorf("checkpoint files %q, want %q", names, want)
	}
}

func TestMultiSiteCombinesLocations(t *testing.T) {
	srv := startServer(t, ftptest.Options{})
	srv.Put("/Downtown_20250115_020000_full.txt", fullFile(
		row{loc: "Downtown", sku: "A1", desc: "Downtown name", qty: "3", onOrder: "1", lastSold: "2024-11-01", ecom: "N"},
		row{loc: "Downtown", sku: "B2", qty: "-4"},
		row{loc: "Downtown", sku: "C3", qty: "0", active: "N"},
	), mtime)
	srv.Put("/Uptown_20250115_020500_full.txt", fullFile(
		row{loc: "Uptown", sku: "A1", desc: "Uptown name", price: "80.00", qty: "2", onOrder: "2", lastSold: "2024-12-24"},
		row{loc: "Uptown", sku: "B2", qty: "5", nonInv: "Y"},
		row{loc: "Uptown", sku: "D4", qty: "1"},
	), mtime)
	// C3 is not in Uptown's full upload but is in Downtown's: the website has it, so Uptown's stock counts.
	srv.Put("/Uptown_20250115_120000_inv.txt", invFile("Uptown", "A1=10", "C3=4"), mtime)
	srv.Put("/Warehouse_20250115_020000_full.txt", fullFile(row{loc: "Warehouse", sku: "A1", qty: "100"}), mtime)
	srv.Put("/Solo_20250115_020000_full.txt", fullFile(row{loc: "Solo", sku: "A1", qty: "100"}), mtime)
	srv.Put("/downtown_20250115_030000_full.txt", fullFile(row{loc: "downtown", sku: "A1", qty: "100"}), mtime)
	s := newSource(t, baseConfig(srv.Addr(), map[string]any{
		"mode":      "multi-site",
		"locations": locations("Downtown=multi-site", "Uptown=multi-site", "Warehouse=none", "Solo=single-site"),
	}))
	recs, order, res := read(t, s, nil)

	if got := strings.Join(order, " "); got != "A1 B2 C3 D4" {
		t.Fatalf("records %q, want A1 B2 C3 D4", got)
	}
	a1 := recs["A1"]
	for k, want := range map[string]any{
		"qty_on_hand": int64(13), "qty_on_order": int64(3), "last_sold_date": date("2024-12-24"),
		"description": "Downtown name", "price": 90.0, "short_name": "Downtown", "ecommerce": true,
		"upload": "inv", "file": "Uptown_20250115_120000_inv.txt",
	} {
		if a1[k] != want {
			t.Errorf("A1.%s = %v, want %v", k, a1[k], want)
		}
	}
	if b2 := recs["B2"]; b2["qty_on_hand"] != int64(5) || b2["non_inventory"] != true || b2["eligible"] != true {
		t.Errorf("B2 (negative counted as 0, non-inventory at one location): %v", b2)
	}
	if c3 := recs["C3"]; c3["qty_on_hand"] != int64(4) || c3["short_name"] != "Downtown" || c3["active"] != false ||
		c3["upload"] != "inv" || c3["file"] != "Uptown_20250115_120000_inv.txt" {
		t.Errorf("C3 (Downtown's item, stock from Uptown's inv upload): %v", c3)
	}
	if d4 := recs["D4"]; d4["short_name"] != "Uptown" || d4["qty_on_hand"] != int64(1) {
		t.Errorf("D4 (only at the second location): %v", d4)
	}
	want := []connectors.Reject{{Where: "downtown_20250115_030000_full.txt",
		Reason: `ShortName "downtown" matches no location; configured: "Downtown" (case differs; the Short Name must equal the Neighborhood Descriptor exactly)`}}
	if !reflect.DeepEqual(res.Rejects, want) {
		t.Errorf("rejects %+v, want %+v", res.Rejects, want)
	}
	if !hasNote(res.Notes, `ignored 1 upload(s) of location "Warehouse" (status none`) ||
		!hasNote(res.Notes, `ignored 1 upload(s) of location "Solo" (status single-site; this pipeline reads multi-site locations)`) {
		t.Errorf("notes %q", res.Notes)
	}
}

func TestUnknownShortNameListsConfiguredNames(t *testing.T) {
	cfg := &config{Locations: []location{{"Downtown", statusMulti}, {"Uptown", statusMulti}}}
	got := unknownLocation("Midtown", cfg)
	if want := `ShortName "Midtown" matches no location; configured: "Downtown", "Uptown"`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestPartialUploadsAreSkipped(t *testing.T) {
	const full = "/Downtown_20250115_020000_full.txt"
	const inv = "/Downtown_20250115_100000_inv.txt"
	for _, tc := range []struct {
		name string
		mlsd bool
		// during changes the inv upload between the two listings of the read.
		during func(srv *ftptest.Server, n int)
		why    string
	}{
		{"growing", true, func(srv *ftptest.Server, n int) {
			srv.Append(inv, []byte("Downtown\tB2\t1\r\n"), mtime.Add(time.Duration(n)*time.Minute))
		}, "size changed from"},
		{"growing, LIST", false, func(srv *ftptest.Server, n int) {
			srv.Append(inv, []byte("Downtown\tB2\t1\r\n"), mtime)
		}, "size changed from"},
		{"touched", true, func(srv *ftptest.Server, n int) {
			srv.Append(inv, nil, mtime.Add(time.Duration(n)*time.Second))
		}, "modification time changed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServer(t, ftptest.Options{DisableMLSD: !tc.mlsd})
			srv.Put(full, fullFile(row{loc: "Downtown", sku: "A1", qty: "3"}), mtime)
			s := newSource(t, baseConfig(srv.Addr(), nil))
			_, _, first := read(t, s, nil)

			srv.Put(inv, invFile("Downtown", "A1=0"), mtime)
			srv.Put("/Downtown_20250115_120000_inv.txt.part", invFile("Downtown", "A1=0"), mtime)
			srv.OnList(func(_ string, n int) { tc.during(srv, n) })
			recs, _, res := read(t, s, first.Checkpoint)

			if got := recs["A1"]["qty_on_hand"]; got != int64(3) {
				t.Errorf("A1 qty %v: a partial upload was applied", got)
			}
			if !hasNote(res.Notes, "skipped Downtown_20250115_100000_inv.txt", tc.why) ||
				!hasNote(res.Notes, "skipped Downtown_20250115_120000_inv.txt.part: temporary name") ||
				!hasNote(res.Notes, "no new upload since the last applied run") {
				t.Errorf("notes %q", res.Notes)
			}
			if string(res.Checkpoint) != string(first.Checkpoint) {
				t.Errorf("checkpoint moved to %s", res.Checkpoint)
			}
		})
	}
}

func TestOnlyPartialUploadsOnFirstRun(t *testing.T) {
	srv := startServer(t, ftptest.Options{})
	srv.Put("/Downtown_20250115_020000_full.txt.filepart", fullFile(row{loc: "Downtown", sku: "A1"}), mtime)
	s := newSource(t, baseConfig(srv.Addr(), nil))
	recs, _, res := read(t, s, nil)
	if len(recs) != 0 {
		t.Errorf("records %v from a partial upload", recs)
	}
	if !hasNote(res.Notes, "skipped Downtown_20250115_020000_full.txt.filepart") || !hasNote(res.Notes, `"Downtown" has no complete full upload yet`) {
		t.Errorf("notes %q", res.Notes)
	}
}

func TestRefusesToGoBackToAnOlderFullUpload(t *testing.T) {
	srv := startServer(t, ftptest.Options{})
	srv.Put("/Downtown_20250114_020000_full.txt", fullFile(row{loc: "Downtown", sku: "OLD"}), mtime)
	srv.Put("/Downtown_20250115_020000_full.txt", fullFile(row{loc: "Downtown", sku: "NEW"}), mtime)
	s := newSource(t, baseConfig(srv.Addr(), nil))
	_, _, first := read(t, s, nil)

	srv.Remove("/Downtown_20250115_020000_full.txt")
	_, _, _, err := tryRead(t, s, first.Checkpoint)
	if err == nil || !strings.Contains(err.Error(), "the last applied run used Downtown_20250115_020000_full.txt, but the newest complete one is Downtown_20250114_020000_full.txt") {
		t.Fatalf("err = %v", err)
	}
	// --full-refresh ignores the checkpoint and accepts the older data.
	r, err := s.Read(context.Background(), connectors.ReadRequest{Checkpoint: first.Checkpoint, FullRefresh: true, Now: testNow})
	if err != nil {
		t.Fatalf("full refresh: %v", err)
	}
	b, err := r.Next(context.Background())
	if err != nil || b.NumRows() != 1 || record.RowRecord(b, 0)["sku"] != "OLD" {
		t.Fatalf("full refresh read %v, %v; want the OLD record", b, err)
	}
	b.Release()
	_ = r.Close()

	srv.Remove("/Downtown_20250114_020000_full.txt")
	if _, _, _, err := tryRead(t, s, first.Checkpoint); err == nil || !strings.Contains(err.Error(), "there is no complete full upload") {
		t.Fatalf("err = %v", err)
	}
}

func TestRejectedRows(t *testing.T) {
	srv := startServer(t, ftptest.Options{})
	lines := []string{
		strings.Join(fullHeader, "\t"),
		row{loc: "Downtown", sku: "OK1", upc: "4006381333931"}.line(),
		row{loc: "Downtown", sku: "CD", upc: "036000291453"}.line(),
		"",
		row{loc: "Downtown", sku: "EXP", upc: "6.89228E+11"}.line(),
		row{loc: "Downtown", sku: "LEN", upc: "12345"}.line(),
		row{loc: "Downtown", sku: "PRICE", price: "1,299.00"}.line(),
		row{loc: "Downtown", sku: "", desc: "no sku"}.line(),
		"Downtown\tSHORT\t1",
		row{loc: "Downtown", sku: "DUP"}.line(),
		row{loc: "Downtown", sku: "DUP"}.line(),
		row{loc: "Downtown", sku: "FLAG", active: "maybe"}.line(),
		row{loc: "Downtown", sku: "OK2", upc: "10614141000415"}.line(),
	}
	srv.Put("/Downtown_20250115_020000_full.txt", []byte(strings.Join(lines, "\n")+"\n"), mtime)
	name := "Downtown_20250115_020000_full.txt"
	want := []connectors.Reject{
		{Where: name + ":3", Key: map[string]any{"sku": "CD"}, Fields: map[string]any{"short_name": "Downtown", "upc": "036000291453"}, Reason: `check_digit: Upc "036000291453" fails the GS1 check digit: it ends in 3, the check digit is 2`},
		{Where: name + ":5", Key: map[string]any{"sku": "EXP"}, Fields: map[string]any{"short_name": "Downtown", "upc": "6.89228E+11"}, Reason: `non_digit: Upc "6.89228E+11" has a character other than a digit (spreadsheet exponent forms such as 6.89228E+11 lose digits)`},
		{Where: name + ":6", Key: map[string]any{"sku": "LEN"}, Fields: map[string]any{"short_name": "Downtown", "upc": "12345"}, Reason: `length: Upc "12345" has 5 digits; a UPC-A, EAN-13 or GTIN-14 has 11 to 14`},
		{Where: name + ":7", Key: map[string]any{"sku": "PRICE"}, Fields: map[string]any{"short_name": "Downtown"}, Reason: `bad_number: Price "1,299.00" is not a decimal number such as 1299.99 (dot for decimals, no thousands separators)`},
		{Where: name + ":8", Reason: "missing: Sku is empty; it is required in a full upload"},
		// Cut short: the fields before the last one were read whole, the SKU among them.
		{Where: name + ":9", Key: map[string]any{"sku": "SHORT"}, Fields: map[string]any{"short_name": "Downtown"}, Reason: "field_count: 3 field(s), the header has 18"},
		{Where: name + ":12", Key: map[string]any{"sku": "FLAG"}, Fields: map[string]any{"short_name": "Downtown"}, Reason: `bad_flag: Active "maybe": want Y or N`},
		{Where: name + ":10", Key: map[string]any{"sku": "DUP"}, Reason: `duplicate_sku: SKU "DUP" is on lines 10, 11 of the file`},
		{Where: name + ":11", Key: map[string]any{"sku": "DUP"}, Reason: `duplicate_sku: SKU "DUP" is on lines 10, 11 of the file`},
	}

	s := newSource(t, baseConfig(srv.Addr(), map[string]any{"max_reject_percent": 100.0}))
	recs, order, res := read(t, s, nil)
	if got := strings.Join(order, " "); got != "OK1 OK2" {
		t.Errorf("records %q, want OK1 OK2", got)
	}
	if recs["OK2"]["gtin14"] != "10614141000415" || recs["OK1"]["gtin14"] != "04006381333931" {
		t.Errorf("GTIN-14 of OK1 %v, OK2 %v", recs["OK1"]["gtin14"], recs["OK2"]["gtin14"])
	}
	if !reflect.DeepEqual(res.Rejects, want) {
		t.Errorf("rejects:\n%s\nwant:\n%s", rejectLines(res.Rejects), rejectLines(want))
	}

	s = newSource(t, baseConfig(srv.Addr(), nil))
	_, _, _, err := tryRead(t, s, nil)
	if err == nil || !strings.Contains(err.Error(), name+": 9 of 11 row(s) rejected (81.8%, more than max_reject_percent 5); nothing was planned:\n  "+name+":3: check_digit") {
		t.Errorf("err = %v", err)
	}
}

func rejectLines(rs []connectors.Reject) string {
	var b strings.Builder
	for _, r := range rs {
		b.WriteString(r.Where + " " + r.Reason + "\n")
	}
	return b.String()
}

func TestFileLevelProblemsFailTheRead(t *testing.T) {
	for _, tc := range []struct {
		name, data, want string
	}{
		{"missing column", "ShortName\tSku\tQtyOnHand\r\nDowntown\tA\t1\r\n",
			"Downtown_20250115_020000_full.txt: header: missing column(s) Description, Msrp, Price, Ecommerce, Active"},
		{"another location's row", string(fullFile(row{loc: "Downtown", sku: "A"}, row{loc: "Uptown", sku: "B"})),
			`line 3: ShortName "Uptown" differs from the file name's "Downtown"`},
		{"no rows", strings.Join(fullHeader, "\t") + "\r\n", "a full upload without item rows"},
		{"two columns for one", "Sku\tShortName\tQty\tQtyOnHand\r\n", `header: columns "Qty" and "QtyOnHand" both mean QtyOnHand`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServer(t, ftptest.Options{})
			srv.Put("/Downtown_20250115_020000_full.txt", []byte(tc.data), mtime)
			s := newSource(t, baseConfig(srv.Addr(), nil))
			if _, _, _, err := tryRead(t, s, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestDuplicateGTINsAreAmbiguous(t *testing.T) {
	srv := startServer(t, ftptest.Options{})
	srv.Put("/Downtown_20250115_020000_full.txt", fullFile(
		row{loc: "Downtown", sku: "A1", upc: "036000291452"},
		row{loc: "Downtown", sku: "A2", upc: "00036000291452"},
		row{loc: "Downtown", sku: "A3", upc: "36000291452"},
		row{loc: "Downtown", sku: "B1", upc: "4006381333931"},
	), mtime)
	s := newSource(t, baseConfig(srv.Addr(), nil))
	recs, _, res := read(t, s, nil)
	for sku, want := range map[string]bool{"A1": true, "A2": true, "A3": true, "B1": false} {
		if got := recs[sku]["gtin_ambiguous"]; got != want {
			t.Errorf("%s gtin_ambiguous = %v, want %v", sku, got, want)
		}
	}
	if len(res.Rejects) != 0 || !hasNote(res.Notes, "1 GTIN(s) are carried by several SKUs", "00036000291452") {
		t.Errorf("rejects %v notes %q", res.Rejects, res.Notes)
	}
}

func TestEncodings(t *testing.T) {
	header := strings.Join(fullHeader, "\t")
	r := row{loc: "Downtown", sku: "A1", desc: "Café – 29€ ‘Bell’"}.line()
	cp1252 := []byte(header + "\r\n")
	for _, c := range r {
		switch c {
		case 'é':
			cp1252 = append(cp1252, 0xE9)
		case '–':
			cp1252 = append(cp1252, 0x96)
		case '€':
			cp1252 = append(cp1252, 0x80)
		case '‘':
			cp1252 = append(cp1252, 0x91)
		case '’':
			cp1252 = append(cp1252, 0x92)
		default:
			cp1252 = append(cp1252, byte(c))
		}
	}
	for _, tc := range []struct {
		name string
		data []byte
		note string
	}{
		{"UTF-8 LF", []byte(header + "\n" + r + "\n"), ""},
		{"UTF-8 BOM CRLF", []byte("\xEF\xBB\xBF" + header + "\r\n" + r + "\r\n"), "read as UTF-8 with BOM"},
		{"Windows-1252 CRLF", append(cp1252, '\r', '\n'), "read as Windows-1252"},
		{"CSV", []byte(strings.ReplaceAll(header, "\t", ",") + "\r\n" + strings.ReplaceAll(strings.ReplaceAll(r, "Bikes>Road", `"Bikes>Road, Gravel"`), "\t", ",") + "\r\n"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServer(t, ftptest.Options{})
			srv.Put("/Downtown_20250115_020000_full.txt", tc.data, mtime)
			recs, _, res := read(t, newSource(t, baseConfig(srv.Addr(), nil)), nil)
			if got := recs["A1"]["description"]; got != "Café – 29€ ‘Bell’" {
				t.Errorf("description %q", got)
			}
			if tc.note != "" && !hasNote(res.Notes, tc.note) {
				t.Errorf("notes %q, want %q", res.Notes, tc.note)
			}
			if tc.name == "CSV" && recs["A1"]["category"] != "Bikes>Road, Gravel" {
				t.Errorf("category %q", recs["A1"]["category"])
			}
		})
	}
}

func TestEligibility(t *testing.T) {
	// testNow is 2025-01-15 in Los Angeles and 2025-01-16 in UTC: day 90 before it is 2024-10-17 there.
	rows := []row{
		{sku: "STOCK", qty: "2"},
		{sku: "NOSTOCK", qty: "0"},
		{sku: "NONINV", qty: "0", nonInv: "Y"},
		{sku: "ONORDER", qty: "-1", onOrder: "4"},
		{sku: "DAY90", qty: "0", lastSold: "2024-10-17"},
		{sku: "DAY91", qty: "0", lastSold: "2024-10-16"},
		{sku: "HIDDEN", qty: "5", active: "N"},
		{sku: "NOTWEB", qty: "5", ecom: "N"},
	}
	for i := range rows {
		rows[i].loc = "Downtown"
	}
	for _, tc := range []struct {
		zone  string
		day90 bool
	}{{"America/Los_Angeles", true}, {"UTC", false}} {
		t.Run(tc.zone, func(t *testing.T) {
			srv := startServer(t, ftptest.Options{})
			srv.Put("/Downtown_20250115_020000_full.txt", fullFile(rows...), mtime)
			recs, _, _ := read(t, newSource(t, baseConfig(srv.Addr(), map[string]any{"timezone": tc.zone})), nil)
			want := map[string]bool{"STOCK": true, "NOSTOCK": false, "NONINV": true, "ONORDER": true, "DAY90": tc.day90,
				"DAY91": false, "HIDDEN": false, "NOTWEB": false}
			for sku, w := range want {
				if got := recs[sku]["eligible"]; got != w {
					t.Errorf("%s eligible = %v, want %v", sku, got, w)
				}
			}
		})
	}
}
