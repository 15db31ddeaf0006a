package shopify

import (
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/connectors/order"
	"github.com/possync/possync/connectors/shopify/shopifytest"
	"github.com/possync/possync/record"
	"github.com/possync/possync/spec"
)

// clock is a fake clock shared by the emulator and the client: sleeping advances it, so the waits for the
// query cost to restore take no real time and are exact.
type clock struct {
	mu    sync.Mutex
	t     time.Time
	slept []time.Duration
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.slept = append(c.slept, d)
	c.t = c.t.Add(d)
	return nil
}

func (c *clock) sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.slept...)
}

// env is an emulator on a fake clock.
type env struct {
	t   testing.TB
	srv *shopifytest.Server
	clk *clock
}

func newEnv(t *testing.T, opts shopifytest.Options) *env {
	t.Helper()
	clk := newClock()
	opts.Now = clk.Now
	srv := shopifytest.New(opts)
	t.Cleanup(srv.Close)
	return &env{t: t, srv: srv, clk: clk}
}

// source builds a source of the emulator on the fake clock; values override the configuration.
func (e *env) source(values map[string]any) *Source {
	e.t.Helper()
	cfg := map[string]any{"base_url": e.srv.URL(), "token": spec.NewSecret(e.srv.Token())}
	for k, v := range values {
		cfg[k] = v
	}
	s, err := NewSource(spec.Config{Values: cfg}, connectors.Env{})
	if err != nil {
		e.t.Fatalf("NewSource: %v", err)
	}
	s.api.sleep, s.api.now = e.clk.sleep, e.clk.Now
	return s
}

// result is one read's records by order_id, in read order, and its result.
type result struct {
	byID  map[string]record.Record
	order []string
	res   connectors.ReadResult
}

// read runs one read to the end.
func read(ctx context.Context, s *Source, checkpoint []byte) (*result, error) {
	rd, err := s.Read(ctx, connectors.ReadRequest{Checkpoint: checkpoint, Alloc: memory.DefaultAllocator})
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	out := &result{byID: map[string]record.Record{}}
	for {
		b, err := rd.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		for i := 0; i < int(b.NumRows()); i++ {
			r := record.RowRecord(b, i)
			id := r[order.ColOrderID].(string)
			if _, dup := out.byID[id]; dup {
				b.Release()
				return nil, errors.New("order " + id + " read twice")
			}
			out.byID[id] = r
			out.order = append(out.order, id)
		}
		b.Release()
	}
	out.res = rd.Result()
	return out, nil
}

func mustRead(t *testing.T, s *Source, checkpoint []byte) *result {
	t.Helper()
	r, err := read(context.Background(), s, checkpoint)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return r
}

// lines decodes an order's lines.
func lines(t *testing.T, r record.Record) []order.Line {
	t.Helper()
	text, _ := r[order.ColLines].(string)
	ls, err := order.DecodeLines(text)
	if err != nil {
		t.Fatal(err)
	}
	return ls
}

// ordersCalls are the orders page requests the server received.
func ordersCalls(calls []shopifytest.Call) []shopifytest.Call {
	var out []shopifytest.Call
	for _, c := range calls {
		if len(c.Fields) > 0 && c.Fields[0] == "orders" {
			out = append(out, c)
		}
	}
	return out
}

func secret(s string) spec.Secret { return spec.NewSecret(s) }
