package ascend

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/connectors/ascend/ftptest"
	"github.com/possync/possync/record"
	"github.com/possync/possync/spec"
)

const (
	testUser     = "1234"
	testPassword = "s3cret-Pa55"
)

// fullHeader is the header of a full upload with every §7.1 column.
var fullHeader = []string{"ShortName", "Sku", "Upc", "Mpn", "Brand", "Description", "ModelYear", "Color", "Size",
	"Category", "Msrp", "Price", "QtyOnHand", "QtyOnOrder", "NonInventory", "LastSoldDate", "Ecommerce", "Active"}

// row is one full-upload row; unset fields take sensible defaults in line().
type row struct {
	loc, sku, upc, mpn, brand, desc   string
	msrp, price, qty, onOrder, nonInv string
	lastSold, ecom, active            string
}

// line formats a row of a full upload with fullHeader's columns, tab-delimited.
func (r row) line() string {
	def := func(v, d string) string {
		if v == "" {
			return d
		}
		return v
	}
	return strings.Join([]string{r.loc, r.sku, r.upc, r.mpn, r.brand, def(r.desc, "Item "+r.sku), "2025", "Red", "M",
		"Bikes>Road", def(r.msrp, "100.00"), def(r.price, "90.00"), def(r.qty, "1"), r.onOrder, def(r.nonInv, "N"),
		r.lastSold, def(r.ecom, "Y"), def(r.active, "Y")}, "\t")
}

// fullFile builds a full upload (CRLF, as Ascend writes) from rows.
func fullFile(rows ...row) []byte {
	lines := []string{strings.Join(fullHeader, "\t")}
	for _, r := range rows {
		lines = append(lines, r.line())
	}
	return []byte(strings.Join(lines, "\r\n") + "\r\n")
}

// invFile builds an inv upload of a location from "sku=qty" pairs.
func invFile(loc string, pairs ...string) []byte {
	lines := []string{"ShortName\tSku\tQtyOnHand"}
	for _, p := range pairs {
		sku, qty, _ := strings.Cut(p, "=")
		lines = append(lines, loc+"\t"+sku+"\t"+qty)
	}
	return []byte(strings.Join(lines, "\r\n") + "\r\n")
}

// startServer starts an in-process FTP server with the test credentials.
func startServer(t testing.TB, opts ftptest.Options) *ftptest.Server {
	t.Helper()
	opts.User, opts.Password = testUser, testPassword
	s, err := ftptest.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// baseConfig is the configuration of a source reading srv's root folder; over changes or adds values.
func baseConfig(addr string, over map[string]any) map[string]any {
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.ParseInt(port, 10, 64)
	v := map[string]any{
		"host": host, "port": p, "user": testUser, "password": spec.NewSecret(testPassword),
		"settle": 10 * time.Millisecond, "mode": "single-site", "timezone": "America/Los_Angeles",
		"locations": []any{map[string]any{"short_name": "Downtown", "status": "single-site"}},
	}
	for k, x := range over {
		v[k] = x
	}
	return v
}

func locations(pairs ...string) []any {
	var out []any
	for _, p := range pairs {
		name, status, _ := strings.Cut(p, "=")
		out = append(out, map[string]any{"short_name": name, "status": status})
	}
	return out
}

func newSource(t testing.TB, values map[string]any) *Source {
	t.Helper()
	s, err := NewSource(spec.Config{Values: values}, connectors.Env{Dir: t.TempDir()})
	if err != nil {
		t.Fatalf("NewSource: %v", err)
	}
	return s
}

// testNow is the evaluation time of test reads: 2025-01-15 in Los Angeles (2025-01-16 in UTC).
var testNow = time.Date(2025, 1, 16, 3, 0, 0, 0, time.UTC)

// read reads a source to the end with a leak-checking allocator and returns its records by SKU.
func read(t testing.TB, s *Source, checkpoint []byte) (map[string]record.Record, []string, connectors.ReadResult) {
	t.Helper()
	recs, order, res, err := tryRead(t, s, checkpoint)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return recs, order, res
}

func tryRead(t testing.TB, s *Source, checkpoint []byte) (map[string]record.Record, []string, connectors.ReadResult, error) {
	t.Helper()
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)
	ctx := context.Background()
	r, err := s.Read(ctx, connectors.ReadRequest{Checkpoint: checkpoint, Now: testNow, Alloc: alloc})
	if err != nil {
		return nil, nil, connectors.ReadResult{}, err
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
			return nil, nil, connectors.ReadResult{}, err
		}
		for i := 0; i < int(b.NumRows()); i++ {
			rec := record.RowRecord(b, i)
			sku := rec["sku"].(string)
			recs[sku] = rec
			order = append(order, sku)
		}
		b.Release()
	}
	res := r.Result()
	if res.Mode != connectors.Snapshot || strings.Join(res.Key, ",") != "sku" {
		t.Errorf("mode %v key %v, want snapshot keyed by sku", res.Mode, res.Key)
	}
	return recs, order, res, nil
}

// hasNote reports whether a note contains every part.
func hasNote(notes []string, parts ...string) bool {
	for _, n := range notes {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(n, p)
		}
		if ok {
			return true
		}
	}
	return false
}

// date returns a record date value.
func date(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

// mtime is the modification time of test uploads.
var mtime = time.Date(2025, 1, 15, 22, 0, 0, 0, time.UTC)
