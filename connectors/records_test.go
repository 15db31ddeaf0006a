package connectors_test

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/record"
)

// RecordsReader yields the records in order, in batches of at most the size, then io.EOF for good, with the
// result it was given, and leaks no Arrow memory.
func TestRecordsReader(t *testing.T) {
	alloc := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer alloc.AssertSize(t, 0)
	schema := arrow.NewSchema([]arrow.Field{{Name: "sku", Type: arrow.BinaryTypes.String}}, nil)
	recs := []record.Record{{"sku": "A"}, {"sku": "B"}, {"sku": "C"}, {"sku": "D"}, {"sku": "E"}}
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
			got = append(got, record.RowRecord(b, i)["sku"].(string))
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

// confirmingSource is a Source, ConnectionTester and Confirmer, for WithoutConfirm.
type confirmingSource struct {
	schema  *arrow.Schema
	checked int
}

func (s *confirmingSource) Schema() *arrow.Schema { return s.schema }
func (s *confirmingSource) Read(context.Context, connectors.ReadRequest) (connectors.Reader, error) {
	return connectors.RecordsReader(s.schema, []record.Record{{"sku": "A"}}, 0, memory.DefaultAllocator,
		connectors.ReadResult{}), nil
}
func (s *confirmingSource) Check(context.Context) error { s.checked++; return nil }
func (s *confirmingSource) Confirm(_ context.Context, keys []record.Record) ([]error, error) {
	return make([]error, len(keys)), nil
}

// WithoutConfirm hides Confirm (the runner never confirms a read-only source) and keeps reading, the
// connection check and the way back to the source.
func TestWithoutConfirm(t *testing.T) {
	src := &confirmingSource{schema: arrow.NewSchema([]arrow.Field{{Name: "sku", Type: arrow.BinaryTypes.String}}, nil)}
	ro := connectors.WithoutConfirm(src)
	if _, ok := ro.(connectors.Confirmer); ok {
		t.Fatalf("%T is still a Confirmer", ro)
	}
	if ro.Schema() != src.schema {
		t.Errorf("schema %v, want the source's", ro.Schema())
	}
	rd, err := ro.Read(context.Background(), connectors.ReadRequest{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := rd.Next(context.Background())
	if err != nil || b.NumRows() != 1 {
		t.Fatalf("read: %v, %v", b, err)
	}
	b.Release()
	rd.Close()
	ct, ok := ro.(connectors.ConnectionTester)
	if !ok {
		t.Fatalf("%T lost the connection check", ro)
	}
	if err := ct.Check(context.Background()); err != nil || src.checked != 1 {
		t.Errorf("check: %v, %d calls to the source's", err, src.checked)
	}
	if u := ro.(interface{ Unwrap() connectors.Source }).Unwrap(); u != src {
		t.Errorf("Unwrap gives %v, want the source", u)
	}
	// A source without a connection check gives none.
	plain := connectors.WithoutConfirm(readerOnly{src})
	if _, ok := plain.(connectors.ConnectionTester); ok {
		t.Errorf("%T claims a connection check its source lacks", plain)
	}
}

// readerOnly is a Source and nothing more.
type readerOnly struct{ s connectors.Source }

func (r readerOnly) Schema() *arrow.Schema { return r.s.Schema() }
func (r readerOnly) Read(ctx context.Context, req connectors.ReadRequest) (connectors.Reader, error) {
	return r.s.Read(ctx, req)
}
