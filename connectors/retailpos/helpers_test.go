package retailpos

import (
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/connectors/retailpos/retailpostest"
	"github.com/possync/possync/record"
	"github.com/possync/possync/spec"
)

// clock is a fake clock shared by the emulator and the client: sleeping advances it, so rate-limit waits
// take no real time.
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

func (c *clock) sleep(_ context.Context, d time.Duration) error {
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

// env is an emulator with the example catalog and a fake clock.
type env struct {
	t   testing.TB
	srv *retailpostest.Server
	clk *clock
}

func newEnv(t *testing.T, opts retailpostest.Options) *env {
	t.Helper()
	clk := newClock()
	opts.Now = clk.Now
	srv := retailpostest.New(opts)
	t.Cleanup(srv.Close)
	return &env{t: t, srv: srv, clk: clk}
}

// source builds a source of the emulator without client-side pacing; values override the configuration.
func (e *env) source(values map[string]any) *Source {
	e.t.Helper()
	cfg := map[string]any{"base_url": e.srv.URL(), "token": spec.NewSecret(e.srv.Token()), "requests_per_minute": int64(0)}
	for k, v := range values {
		cfg[k] = v
	}
	s, err := NewSource(spec.Config{Values: cfg}, connectors.Env{})
	if err != nil {
		e.t.Fatalf("NewSource: %v", err)
	}
	s.api.c.Sleep, s.api.c.Now = e.clk.sleep, e.clk.Now
	return s
}

// result is one read's records (by SKU) and result.
type result struct {
	records []record.Record
	bySKU   map[string]record.Record
	batches []int64
	connectors.ReadResult
}

// read reads everything from s, failing the test on error.
func read(t *testing.T, s *Source, req connectors.ReadRequest) result {
	t.Helper()
	res, err := tryRead(s, req)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return res
}

func tryRead(s *Source, req connectors.ReadRequest) (result, error) {
	ctx := context.Background()
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	req.Alloc = alloc
	r, err := s.Read(ctx, req)
	if err != nil {
		return result{}, err
	}
	defer r.Close()
	res := result{bySKU: map[string]record.Record{}}
	for {
		b, err := r.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return result{}, err
		}
		res.batches = append(res.batches, b.NumRows())
		for i := 0; i < int(b.NumRows()); i++ {
			rec := record.RowRecord(b, i)
			res.records = append(res.records, rec)
			res.bySKU[rec["sku"].(string)] = rec
		}
		b.Release()
	}
	if n := alloc.CurrentAlloc(); n != 0 {
		return result{}, errors.New("leaked Arrow memory")
	}
	res.ReadResult = r.Result()
	return res, nil
}

// requestsTo counts the recorded requests whose path is path.
func (e *env) requestsTo(path string) int {
	n := 0
	for _, r := range e.srv.Requests() {
		if r.Path == path {
			n++
		}
	}
	return n
}
