package ascend

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/connectors/ascend/ftptest"
	"github.com/possync/possync/connectors/internal/gtin"
	"github.com/possync/possync/record"
)

// largeRows is the size of the large-upload test: a big chain's nightly catalog.
const largeRows = 200_000

// largeFile builds a full upload of n rows, every one valid, with distinct SKUs and UPCs; QtyOnHand of row
// i is i%7-1 (so some are negative).
func largeFile(loc string, n int) []byte {
	var b strings.Builder
	b.Grow(n * 140)
	b.WriteString(strings.Join(fullHeader, "\t"))
	b.WriteString("\r\n")
	for i := 0; i < n; i++ {
		upc := fmt.Sprintf("0%010d", i)
		upc += string(gtin.CheckDigit(upc))
		fields := []string{loc, "SKU" + strconv.Itoa(1_000_000+i), upc, "MPN-" + strconv.Itoa(i), "Brand " + strconv.Itoa(i%50),
			"Product number " + strconv.Itoa(i), "2025", "Blue", "L", "Parts>Drivetrain>Chains", "49.99", "39.99",
			strconv.Itoa(i%7 - 1), strconv.Itoa(i % 3), "N", "2024-12-01", "Y", "Y"}
		b.WriteString(strings.Join(fields, "\t"))
		b.WriteString("\r\n")
	}
	return []byte(b.String())
}

// drain reads a source to the end without converting rows to Go values, returning the record count, the sum
// of qty_on_hand and the record of one SKU.
func drain(tb testing.TB, s *Source, sku string) (int, int64, record.Record, connectors.ReadResult) {
	tb.Helper()
	ctx := context.Background()
	r, err := s.Read(ctx, connectors.ReadRequest{Now: testNow})
	if err != nil {
		tb.Fatalf("read: %v", err)
	}
	defer r.Close()
	var (
		n   int
		qty int64
		rec record.Record
	)
	for {
		b, err := r.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			tb.Fatalf("next: %v", err)
		}
		skus := b.Column(0).(*array.String)
		for i, q := range b.Column(14).(*array.Int64).Int64Values() {
			qty += q
			if skus.Value(i) == sku {
				rec = record.RowRecord(b, i)
			}
		}
		n += int(b.NumRows())
		b.Release()
	}
	return n, qty, rec, r.Result()
}

func TestLargeUpload(t *testing.T) {
	srv := startServer(t, ftptest.Options{})
	srv.Put("/Downtown_20250115_020000_full.txt", largeFile("Downtown", largeRows), mtime)
	n, qty, rec, res := drain(t, newSource(t, baseConfig(srv.Addr(), nil)), "SKU1123456")
	if n != largeRows || len(res.Rejects) != 0 {
		t.Fatalf("%d records, %d rejects; want %d and none", n, len(res.Rejects), largeRows)
	}
	// Per 7 rows the quantities are -1 (clamped to 0), 0, 1, ..., 5: 15 in all.
	if want := int64(largeRows/7*15 + []int64{0, 0, 0, 1, 3, 6, 10}[largeRows%7]); qty != want {
		t.Errorf("total quantity %d, want %d", qty, want)
	}
	if rec["gtin14"] != "0000000123456"+string(gtin.CheckDigit("00000123456")) || rec["description"] != "Product number 123456" ||
		rec["qty_on_hand"] != int64(123456%7-1) {
		t.Errorf("SKU1123456 = %v", rec)
	}
}

// BenchmarkRead measures a whole read of a large full upload over loopback FTP (listing, download, decode,
// parse, GTIN checks, combining, Arrow batches): see the records/s metric.
func BenchmarkRead(b *testing.B) {
	srv := startServer(b, ftptest.Options{})
	srv.Put("/Downtown_20250115_020000_full.txt", largeFile("Downtown", largeRows), mtime)
	s := newSource(b, baseConfig(srv.Addr(), map[string]any{"settle": time.Duration(0)}))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if n, _, _, _ := drain(b, s, ""); n != largeRows {
			b.Fatalf("%d records", n)
		}
	}
	b.ReportMetric(float64(largeRows)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkParse measures parsing alone (decode, split, typed values, GTIN checks) of a large upload.
func BenchmarkParse(b *testing.B) {
	data := largeFile("Downtown", largeRows)
	u := upload{Name: "Downtown_20250115_020000_full.txt", ShortName: "Downtown", Kind: kindFull}
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		inv, err := parseInventory(u, data)
		if err != nil || len(inv.items) != largeRows {
			b.Fatalf("%v", err)
		}
	}
	b.ReportMetric(float64(largeRows)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
