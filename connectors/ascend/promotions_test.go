package ascend

import (
	"context"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/connectors/ascend/ftptest"
	"github.com/possync/possync/record"
	"github.com/possync/possync/spec"
)

const promoHeader = "PromotionId\tPromotionName\tCreatedAt\tStartDate\tEndDate\tEcommerce\tSku\tSalePrice"

func promoFileOf(rows ...string) []byte {
	return []byte(promoHeader + "\r\n" + strings.Join(rows, "\r\n") + "\r\n")
}

// readPromotions reads an ascend_promotions source to the end, from a checkpoint; records are keyed "PromotionId/Sku".
func readPromotions(t *testing.T, s *PromotionsSource, checkpoint []byte) (map[string]record.Record, []string, connectors.ReadResult) {
	t.Helper()
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)
	ctx := context.Background()
	r, err := s.Read(ctx, connectors.ReadRequest{Checkpoint: checkpoint, Now: testNow, Alloc: alloc})
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	defer r.Close()
	recs := map[string]record.Record{}
	var order []string
	for {
		b, err := r.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < int(b.NumRows()); i++ {
			rec := record.RowRecord(b, i)
			k := rec["PromotionId"].(string) + "/" + rec["Sku"].(string)
			recs[k] = rec
			order = append(order, k)
		}
		b.Release()
	}
	res := r.Result()
	if res.Mode != connectors.Snapshot || strings.Join(res.Key, ",") != "PromotionId,Sku" {
		t.Errorf("mode %v key %v", res.Mode, res.Key)
	}
	return recs, order, res
}

func TestPromotions(t *testing.T) {
	srv := startServer(t, ftptest.Options{})
	srv.Put("/Downtown_20250115_020000_full.txt", fullFile(row{loc: "Downtown", sku: "A1"}), mtime)
	srv.Put("/Downtown_20250114_020000_promo.txt", promoFileOf("OLD\t\t2024-01-01 00:00:00\t2025-01-01\t2025-01-31\tY\tA1\t1.00"), mtime)
	srv.Put("/Downtown_20250115_020000_promo.txt", promoFileOf(
		"10\tWinter sale\t2024-12-01 09:00:00\t2025-01-10\t2025-01-15\tY\tA1\t79.99",
		"2\tEnded\t2024-11-01 09:00:00\t2025-01-01\t2025-01-14\tY\tA1\t70.00",
		"3\tIn store only\t2024-11-01 09:00:00\t2025-01-01\t2025-01-31\tN\tA1\t60.00",
		"4\tBackwards\t2024-11-01 09:00:00\t2025-01-31\t2025-01-01\tY\tB2\t60.00",
		"5\t\t2024-11-01 09:00:00\t2025-01-01\t2025-01-31\tY\tC3\t10.00",
		"5\t\t2024-11-01 09:00:00\t2025-01-01\t2025-01-31\tY\tC3\t11.00",
	), mtime)
	srv.Put("/Uptown_20250115_020000_promo.txt", promoFileOf(
		"10\tWinter sale (Uptown)\t2024-12-01 09:00:00\t2025-01-10\t2025-01-15\tY\tA1\t75.00",
		"11\t\t2025-01-02 10:30:00\t2025-01-02\t2025-02-02\tY\tD4\t5.50",
	), mtime)
	srv.Put("/uptown_20250115_020000_promo.txt", promoFileOf(), mtime)
	values := baseConfig(srv.Addr(), map[string]any{
		"mode": "multi-site", "locations": locations("Downtown=multi-site", "Uptown=multi-site"), "max_reject_percent": 100.0,
	})
	s, err := NewPromotionsSource(spec.Config{Values: values}, connectors.Env{})
	if err != nil {
		t.Fatal(err)
	}
	recs, order, res := readPromotions(t, s, nil)

	if got := strings.Join(order, " "); got != "10/A1 11/D4 2/A1 3/A1" {
		t.Errorf("rows %q", got)
	}
	want := record.Record{
		"PromotionId": "10", "Sku": "A1", "PromotionName": "Winter sale",
		"CreatedAt": time.Date(2024, 12, 1, 17, 0, 0, 0, time.UTC), "StartDate": date("2025-01-10"),
		"EndDate": date("2025-01-15"), "Ecommerce": true, "SalePrice": 79.99,
		"ShortName": "Downtown", "File": "Downtown_20250115_020000_promo.txt",
	}
	if !reflect.DeepEqual(recs["10/A1"], want) {
		t.Errorf("10/A1 =\n%v\nwant\n%v", recs["10/A1"], want)
	}
	if recs["3/A1"]["Ecommerce"] != false {
		t.Errorf("3/A1 = %v, want Ecommerce false", recs["3/A1"])
	}
	if recs["11/D4"]["PromotionName"] != nil || recs["11/D4"]["ShortName"] != "Uptown" {
		t.Errorf("11/D4 = %v", recs["11/D4"])
	}
	var got []string
	for _, r := range res.Rejects {
		got = append(got, r.Where+" "+r.Reason)
		if strings.Contains(r.Where, "Downtown") && r.Key == nil {
			t.Errorf("reject %v has no key", r)
		}
	}
	wantRejects := []string{
		`uptown_20250115_020000_promo.txt ShortName "uptown" matches no location; configured: "Uptown" (case differs; the Short Name must equal the Neighborhood Descriptor exactly)`,
		"Downtown_20250115_020000_promo.txt:5 bad_window: EndDate 2025-01-01 is before StartDate 2025-01-31",
		`Downtown_20250115_020000_promo.txt:6 duplicate_sku: promotion "5" lists SKU "C3" on lines 6, 7`,
		`Downtown_20250115_020000_promo.txt:7 duplicate_sku: promotion "5" lists SKU "C3" on lines 6, 7`,
	}
	if !reflect.DeepEqual(got, wantRejects) {
		t.Errorf("rejects:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantRejects, "\n"))
	}
	if hasNote(res.Notes, "full") {
		t.Errorf("notes %q mention the inventory upload", res.Notes)
	}
}
