package memory

import (
	"context"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	amem "github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/record"
	"github.com/possync/possync/spec"
)

var productSchema = arrow.NewSchema([]arrow.Field{
	{Name: "sku", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "price", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
}, nil)

func products(n int) []record.Record {
	out := make([]record.Record, n)
	for i := range out {
		out[i] = record.Record{"sku": string(rune('a' + i%26)), "price": float64(i)}
	}
	return out
}

func newSource(t *testing.T, values map[string]any) *Source {
	t.Helper()
	s, err := NewSource(spec.Config{Values: values}, connectors.Env{})
	if err != nil {
		t.Fatalf("NewSource: %v", err)
	}
	return s
}

// drain reads r to the end with a leak-checking allocator and returns the records and batch sizes.
func drain(t *testing.T, open func(alloc amem.Allocator) (connectors.Reader, error)) ([]record.Record, []int, connectors.ReadResult) {
	t.Helper()
	alloc := amem.NewCheckedAllocator(amem.NewGoAllocator())
	defer alloc.AssertSize(t, 0)
	r, err := open(alloc)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var recs []record.Record
	var sizes []int
	for {
		b, err := r.Next(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, int(b.NumRows()))
		for i := 0; i < int(b.NumRows()); i++ {
			recs = append(recs, record.RowRecord(b, i))
		}
		b.Release()
	}
	return recs, sizes, r.Result()
}

func TestSourceBatches(t *testing.T) {
	tests := []struct {
		name      string
		records   int
		batchSize any
		want      []int
	}{
		{"default size", 2500, nil, []int{1024, 1024, 452}},
		{"exact multiple", 6, int64(3), []int{3, 3}},
		{"one per batch", 2, int64(1), []int{1, 1}},
		{"empty", 0, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := t.Name()
			SetDataset(name, productSchema, products(tt.records), connectors.Snapshot)
			values := map[string]any{"dataset": name}
			if tt.batchSize != nil {
				values["batch_size"] = tt.batchSize
			}
			s := newSource(t, values)
			recs, sizes, _ := drain(t, func(a amem.Allocator) (connectors.Reader, error) {
				return s.Read(context.Background(), connectors.ReadRequest{Alloc: a})
			})
			if !reflect.DeepEqual(sizes, tt.want) {
				t.Errorf("batch sizes = %v, want %v", sizes, tt.want)
			}
			if want := products(tt.records); len(recs) != len(want) || (len(want) > 0 && !reflect.DeepEqual(recs[len(recs)-1], want[len(want)-1])) {
				t.Errorf("read %d records ending %v, want %d", len(recs), recs, len(want))
			}
		})
	}
}

func TestSourceModeCheckpointAndSchema(t *testing.T) {
	name := t.Name()
	SetDataset(name, productSchema, []record.Record{{"sku": "A1", "extra": 1}}, connectors.Changes)
	s := newSource(t, map[string]any{"dataset": name})
	if !s.Schema().Equal(productSchema) {
		t.Errorf("schema = %v, want %v", s.Schema(), productSchema)
	}
	read := func() ([]record.Record, connectors.ReadResult) {
		recs, _, res := drain(t, func(a amem.Allocator) (connectors.Reader, error) {
			return s.Read(context.Background(), connectors.ReadRequest{Alloc: a})
		})
		return recs, res
	}
	recs, first := read()
	if want := []record.Record{{"sku": "A1", "price": nil}}; !reflect.DeepEqual(recs, want) {
		t.Errorf("records = %v, want %v", recs, want)
	}
	if first.Mode != connectors.Changes || len(first.Checkpoint) == 0 {
		t.Errorf("result = %+v, want changes mode with a checkpoint", first)
	}
	if _, again := read(); string(again.Checkpoint) != string(first.Checkpoint) {
		t.Errorf("checkpoint changed without a new dataset: %q then %q", first.Checkpoint, again.Checkpoint)
	}
	SetDataset(name, productSchema, products(2), connectors.Snapshot)
	recs, next := read()
	if next.Mode != connectors.Snapshot || len(recs) != 2 {
		t.Errorf("after SetDataset: mode %v, %d records; want snapshot, 2", next.Mode, len(recs))
	}
	if string(next.Checkpoint) == string(first.Checkpoint) {
		t.Errorf("checkpoint %q did not change with the dataset", next.Checkpoint)
	}
}

func TestSourceErrors(t *testing.T) {
	name := t.Name()
	SetDataset(name, productSchema, products(1), connectors.Snapshot)

	_, err := NewSource(spec.Config{Values: map[string]any{"dataset": name + "-missing"}}, connectors.Env{})
	if err == nil || !strings.Contains(err.Error(), `unknown memory dataset "`+name+`-missing"`) || !strings.Contains(err.Error(), name) {
		t.Errorf("unknown dataset error = %v, want one naming it and listing %q", err, name)
	}
	_, err = NewSource(spec.Config{Values: map[string]any{"dataset": name, "batch_size": int64(0)}}, connectors.Env{})
	if err == nil || !strings.Contains(err.Error(), "batch_size must be at least 1") {
		t.Errorf("batch_size 0 error = %v", err)
	}

	s := newSource(t, map[string]any{"dataset": name})
	boom := errors.New("feed unavailable")
	SetDatasetError(name, boom)
	if _, err := s.Read(context.Background(), connectors.ReadRequest{}); !errors.Is(err, boom) {
		t.Errorf("Read with an injected error = %v, want %v", err, boom)
	}
	SetDatasetError(name, nil)
	if _, err := s.Read(context.Background(), connectors.ReadRequest{}); err != nil {
		t.Errorf("Read after clearing the error: %v", err)
	}

	// A record whose value does not fit the schema fails the read.
	SetDataset(name, productSchema, []record.Record{{"sku": "A1"}, {"sku": 12}}, connectors.Snapshot)
	r, err := s.Read(context.Background(), connectors.ReadRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(context.Background()); err == nil || !strings.Contains(err.Error(), "field sku") {
		t.Errorf("Next of a bad record = %v, want an error naming the field", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.Next(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Next after cancel = %v, want context.Canceled", err)
	}
}

func TestSetDatasetErrorRegistersUnknownName(t *testing.T) {
	name := t.Name()
	boom := errors.New("boom")
	SetDatasetError(name, boom)
	s := newSource(t, map[string]any{"dataset": name})
	if s.Schema().NumFields() != 0 {
		t.Errorf("schema = %v, want no fields", s.Schema())
	}
	if _, err := s.Read(context.Background(), connectors.ReadRequest{}); !errors.Is(err, boom) {
		t.Errorf("Read = %v, want %v", err, boom)
	}
}
