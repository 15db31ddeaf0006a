package connectors_test

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/possync/possync/connectors"
)

// RecordsReader yields the records in order, in batches of at most the size, then io.EOF for good, with the
// result it was given, and leaks no Arrow memory.
func TestRecordsReader(t *testing.T) {
	alloc := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer alloc.AssertSize(t, 0)
	schema := arrow.NewSchema([]arrow.Field{{Name: "sku", Type: arrow.BinaryTypes.String}}, nil)
	recs := []connectors.Record{{"sku": "A"}, {"sku": "B"}, {"sku": "C"}, {"sku": "D"}, {"sku": "E"}}
	want := connectors.ReadResult{Mode: connectors.Changes, Key: []string{"sku"}, Notes: []string{"n"}}
	r := connectors.RecordsReader(schema, recs, 2, alloc, want)
	defer r.Close()
	var sizes []int64
	var got []string
	for {
		b, err := r.Next(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, b.NumRows())
		for i := 0; i < int(b.NumRows()); i++ {
			got = append(got, connectors.RowRecord(b, i)["sku"].(string))
		}
		b.Release()
	}
	if len(sizes) != 3 || sizes[0] != 2 || sizes[1] != 2 || sizes[2] != 1 {
		t.Errorf("batch sizes %v, want [2 2 1]", sizes)
	}
	if len(got) != 5 || got[0] != "A" || got[4] != "E" {
		t.Errorf("records %v, want A..E in order", got)
	}
	if b, err := r.Next(context.Background()); b != nil || err != io.EOF {
		t.Errorf("after EOF: %v, %v; want nil, io.EOF", b, err)
	}
	if res := r.Result(); res.Mode != connectors.Changes || len(res.Notes) != 1 || res.Key[0] != "sku" {
		t.Errorf("result %+v, want %+v", res, want)
	}
	if err := r.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
}
