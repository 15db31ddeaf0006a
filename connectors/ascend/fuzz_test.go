package ascend

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/possync/possync/connectors"
)

// addUploadSeeds adds the example chain's uploads whose name ends in suffix, and texts, as seeds (with the
// extra arguments args).
func addUploadSeeds(f *testing.F, args []any, suffix string, texts ...string) {
	add := func(b []byte) { f.Add(append([]any{b}, args...)...) }
	for _, dir := range []string{"uploads", "scenario"} {
		m, _ := filepath.Glob(filepath.Join("..", "..", "examples", "bikeshop", "data", dir, "*"+suffix))
		for _, p := range m {
			if b, err := os.ReadFile(p); err == nil {
				add(b)
			}
		}
	}
	for _, s := range texts {
		add([]byte(s))
	}
}

// drainReader builds every batch of r with a leak-checking allocator and returns the row count.
func drainReader(t *testing.T, alloc *memory.CheckedAllocator, r connectors.Reader) int {
	t.Helper()
	defer alloc.AssertSize(t, 0)
	defer r.Close()
	n := 0
	for {
		b, err := r.Next(context.Background())
		if errors.Is(err, io.EOF) {
			return n
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		n += int(b.NumRows())
		b.Release()
	}
}

// checkFuzzRejects checks what every reject must say: the file and line it comes from, and why.
func checkFuzzRejects(t *testing.T, name string, rejects []connectors.Reject) {
	t.Helper()
	for _, r := range rejects {
		if !strings.HasPrefix(r.Where, name+":") || r.Reason == "" {
			t.Fatalf("reject %+v does not name the file and line, or has no reason", r)
		}
	}
}

// FuzzParseInventory feeds arbitrary bytes to the inventory upload reader (encoding detection, the tab or
// comma table with its quoting, header matching, typed values, GTIN checks), as a full and as an inv upload,
// then combines and builds the records the source would emit. It must not panic; a refused file gets an
// error; an accepted one has one item per SKU, each from a line after the header, rejects naming file and
// line, and builds into exactly the records of its items that no rejected row withholds.
func FuzzParseInventory(f *testing.F) {
	addUploadSeeds(f, []any{false}, "_full.txt",
		"ShortName\tSku\tQtyOnHand\nDowntown\tA1\t3\n",
		"ShortName,Sku,Upc,QtyOnHand\nDowntown,\"A,1\",036000291452,2\nDowntown,A2,036000291453,1\n",
		"ShortName\tSku\tQtyOnHand\nDowntown\tA1\t3\nDowntown\tA1\t4\nDowntown\t\"B\n",
		"\xff\xfeS\x00", "\xef\xbb\xbfShortName\tSku\n", "", "\n\n", "ShortName\tSku\tPrice\nDowntown\tA\t1e400\n",
		"ShortName\tSku\tDescription\nDowntown\tA\tCaf\xe9 29\" wheel\n",
	)
	addUploadSeeds(f, []any{true}, "_inv.txt", "ShortName\tSku\tQtyOnHand\nDowntown\tA1\tx\n")
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte, inv bool) {
		u := upload{Name: "Downtown_20261120_020000_full.txt", ShortName: "Downtown", Stamp: "20261120_020000", Kind: kindFull}
		if inv {
			u.Name, u.Kind = "Downtown_20261120_100000_inv.txt", kindInv
		}
		parsed, err := parseInventory(u, data)
		if err != nil {
			if parsed != nil || err.Error() == "" {
				t.Fatalf("parseInventory: %v with a result %v", err, parsed != nil)
			}
			return
		}
		if !utf8.ValidString(parsed.encoding) || parsed.encoding == "" {
			t.Fatalf("encoding %q", parsed.encoding)
		}
		seen := map[string]bool{}
		usable := 0 // items whose SKU no rejected row withholds
		for _, it := range parsed.items {
			if it.sku == "" || seen[it.sku] || it.line < 2 {
				t.Fatalf("item %q (line %d): empty, repeated or on the header line", it.sku, it.line)
			}
			seen[it.sku] = true
			if !parsed.withheld[it.sku] {
				usable++
			}
		}
		if len(parsed.items) > parsed.rows || len(parsed.items)+len(parsed.rejects) < parsed.rows {
			t.Fatalf("%d items and %d rejects from %d rows", len(parsed.items), len(parsed.rejects), parsed.rows)
		}
		checkFuzzRejects(t, u.Name, parsed.rejects)
		if inv {
			return
		}
		st := newState(location{ShortName: "Downtown"}, parsed)
		records := combine([]*state{st})
		flagAmbiguous(records, []*state{st})
		setEligible(records, now, time.UTC)
		if len(records) != usable {
			t.Fatalf("%d records from %d usable items: a withheld SKU must not be emitted", len(records), usable)
		}
		alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
		r := newReader(inventorySchema, alloc, len(records), func(b *array.RecordBuilder, i int) {
			appendRecord(b, records[i])
		}, connectors.ReadResult{})
		if n := drainReader(t, alloc, r); n != len(records) {
			t.Fatalf("built %d rows from %d records", n, len(records))
		}
	})
}

// FuzzParsePromotions feeds arbitrary bytes to the promotions upload reader. It must not panic; a refused
// file gets an error; an accepted one emits no (promotion, SKU) pair a rejected row withholds, has rejects
// naming file and line, and builds into exactly its promotions' rows.
func FuzzParsePromotions(f *testing.F) {
	addUploadSeeds(f, nil, "_promo.txt",
		"PromotionId\tPromotionName\tCreatedAt\tStartDate\tEndDate\tEcommerce\tSku\tSalePrice\n"+
			"1\tX\t2026-01-05 10:00:00\t2026-01-05\t2026-01-01\tY\tA\t-1\n1\tX\t2026-01-05 10:00:00\t\t\tY\tA\t2\n",
		"PromotionId,Sku,SalePrice\n\"1\",\"A\"\"\",3.50\n", "PromotionId\n", "\xfe\xff\x00P",
	)
	zone, err := time.LoadLocation("America/Denver")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		u := upload{Name: "Downtown_20261120_020000_promo.txt", ShortName: "Downtown", Stamp: "20261120_020000", Kind: kindPromo}
		pf, err := parsePromotions(u, data, zone)
		if err != nil {
			if pf != nil || err.Error() == "" {
				t.Fatalf("parsePromotions: %v with a result %v", err, pf != nil)
			}
			return
		}
		checkFuzzRejects(t, u.Name, pf.rejects)
		promos := combinePromotions([]*promoFile{pf})
		for _, p := range promos {
			if pf.withheld[promoKey{p.id, p.sku}] {
				t.Fatalf("promotion %q SKU %q is emitted although a rejected row withholds it", p.id, p.sku)
			}
		}
		alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
		r := newReader(promotionsSchema, alloc, len(promos), func(b *array.RecordBuilder, i int) {
			appendPromotion(b, promos[i])
		}, connectors.ReadResult{})
		if n := drainReader(t, alloc, r); n != len(promos) {
			t.Fatalf("built %d rows from %d promotions", n, len(promos))
		}
	})
}

// FuzzDecodeText checks encoding detection: never a panic, always valid UTF-8 out, valid UTF-8 in kept as is
// (without its BOM), other bytes one character each (Windows-1252), and UTF-16 refused with an error that
// says so.
func FuzzDecodeText(f *testing.F) {
	for _, s := range []string{"", "abc", "\xef\xbb\xbfabc", "Caf\xe9", "\x80\x81\x8d\x9f\xff", "\xff\xfe", "\xfe\xff", "\xef\xbb"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		text, enc, err := decodeText(data)
		if err != nil {
			if !strings.Contains(err.Error(), "UTF-16") {
				t.Fatalf("decodeText: %v", err)
			}
			return
		}
		if !utf8.ValidString(text) {
			t.Fatalf("decodeText(%q) = %q: not UTF-8", data, text)
		}
		switch enc {
		case encUTF8:
			if text != string(data) {
				t.Fatalf("valid UTF-8 changed: %q -> %q", data, text)
			}
		case encUTF8BOM:
			if "\xef\xbb\xbf"+text != string(data) {
				t.Fatalf("UTF-8 with BOM changed: %q -> %q", data, text)
			}
		case enc1252:
			// One character per byte; a UTF-8 BOM before bytes that are not UTF-8 is still dropped.
			n := len(data)
			if strings.HasPrefix(string(data), "\xef\xbb\xbf") {
				n -= 3
			}
			if utf8.RuneCountInString(text) != n {
				t.Fatalf("Windows-1252 decoding of %d bytes gave %d characters", n, utf8.RuneCountInString(text))
			}
		default:
			t.Fatalf("unknown encoding %q", enc)
		}
	})
}

// FuzzParseUploadName checks the upload name recogniser (names come from the FTP listing).
func FuzzParseUploadName(f *testing.F) {
	for _, s := range []string{"Downtown_20261120_020000_full.txt", "A_B_20261131_020000_inv.txt", "_20261120_020000_promo.txt",
		"x_20261120_250000_full.txt", "Downtown_20261120_020000_full.txt.part", "../x_20261120_020000_full.txt"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		u, ok := parseUploadName(name)
		if !ok {
			return
		}
		if u.Name != name || u.ShortName == "" || len(u.Stamp) != 15 || !strings.HasSuffix(name, "_"+u.Kind+".txt") {
			t.Fatalf("parseUploadName(%q) = %+v", name, u)
		}
	})
}
