package ecom

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/spec"
)

// productPages are seeds of GET /products answers: real shapes, and shapes a broken store could send.
var productPages = []string{
	`{"total":1,"count":1,"offset":0,"limit":100,"items":[{"id":7,"sku":"A1","name":"Shoe","price":12.5,` +
		`"compareToPrice":20,"quantity":3,"enabled":true,"weight":1.2,"dimensions":{"length":1,"width":2,"height":3},` +
		`"categoryIds":[5],"defaultCategoryId":5,"attributes":[{"name":"Brand","type":"BRAND","value":"Acme"},` +
		`{"name":"UPC","type":"UPC","value":"036000291452"},{"name":"MPN","type":"CUSTOM","value":"M-1"}],` +
		`"combinations":[{"id":9,"sku":"A1-R","options":[{"name":"Color","value":"Red"}],"quantity":1,"price":13,` +
		`"weight":null,"attributes":[{"type":"UPC","value":"12345"}]},{"id":10,"sku":""}],` +
		`"originalImageUrl":"https://x/1.jpg","galleryImages":[{"url":"https://x/2.jpg"}]}]}`,
	`{"total":2,"items":[{"id":1,"sku":"A"},{"id":2,"sku":"A"}]}`,
	`{"total":1,"items":[{"id":1,"sku":"","unlimited":true,"quantity":-5}]}`,
	`{"total":1,"items":[{"id":1,"sku":"A","price":1e308,"quantity":9223372036854775807}]}`,
	`{"total":1,"items":[{"id":"x"}]}`, `{"items":null}`, `[]`, `null`, ``, `{"total":-1,"items":[{}]}`,
	`{"total":1,"items":[{"sku":"A","combinations":[{"sku":"A"}],"attributes":[{"type":"UPC","value":"\u0000"}]}]}`,
	"\xff\xfe{", `{"items":[{"sku":"A\ud800"}]}`,
}

// FuzzListProducts serves arbitrary bytes as the store's GET /products answer and lists it through the
// sink's List (what --refresh reads), the ecom_products source's Read and the SKU lookup. None may panic or
// leak; an answer that cannot be used is an error that says which request it was; one that can is built into
// batches of the declared schema.
func FuzzListProducts(f *testing.F) {
	for _, s := range productPages {
		f.Add([]byte(s))
	}
	var body atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case strings.HasSuffix(r.URL.Path, "/categories"):
			_, _ = io.WriteString(w, `{"total":1,"items":[{"id":5,"name":"Shoes","parentId":0}]}`)
		case r.URL.Query().Get("offset") != "" && r.URL.Query().Get("offset") != "0":
			_, _ = io.WriteString(w, `{"total":0,"items":[]}`) // one page only
		default:
			_, _ = w.Write(body.Load().([]byte))
		}
	}))
	defer srv.Close()
	base := map[string]any{"store_id": int64(1), "token": spec.NewSecret("secret_fuzz_token"), "base_url": srv.URL,
		"requests_per_minute": int64(6_000_000)}
	fields := make([]string, 0, len(recordFields))
	for _, rf := range recordFields {
		fields = append(fields, rf.name)
	}
	sinkValues := map[string]any{"owned_fields": []any{"compare_to_price", "subtitle", "warning_limit"}}
	for k, v := range base {
		sinkValues[k] = v
	}
	sink, err := NewSink(spec.Config{Values: sinkValues}, connectors.Env{Schema: schemaOf(fields...), Key: []string{"sku"}})
	if err != nil {
		f.Fatal(err)
	}
	sink.SetSleep(func(context.Context, time.Duration) error { return nil })
	source, err := NewProductsSource(spec.Config{Values: base}, connectors.Env{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		body.Store(data)
		ctx := context.Background()
		alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
		defer alloc.AssertSize(t, 0)
		r, err := sink.List(ctx, connectors.ReadRequest{Alloc: alloc})
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		drainListing(t, r)
		r, err = source.Read(ctx, connectors.ReadRequest{Alloc: alloc})
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		drainListing(t, r)
		if _, _, err := sink.lookupAnswer("A1", data); err != nil && !strings.Contains(err.Error(), "look up SKU A1") {
			t.Fatalf("lookupAnswer: error %q does not name the SKU", err)
		}
	})
}

// drainListing reads a listing to its end or its first error, which must say what was requested.
func drainListing(t *testing.T, r connectors.Reader) {
	t.Helper()
	defer r.Close()
	for {
		b, err := r.Next(context.Background())
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			if !strings.Contains(err.Error(), "products") || strings.Contains(err.Error(), "secret_fuzz_token") {
				t.Fatalf("listing error %q does not say what it read (or shows the token)", err)
			}
			return
		}
		b.Release()
	}
}

// FuzzDecodeError feeds arbitrary error bodies to the store's error decoder (the explanation errors show).
func FuzzDecodeError(f *testing.F) {
	for _, s := range []string{`{"errorMessage":"Bad SKU","errorCode":"INVALID"}`, `{"error_message":"old"}`, `{"errorCode":1}`,
		`<html>502</html>`, ``, `null`, `{"errorMessage":"\u0000\ud800"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		code, msg := decodeError(500, body)
		if (code != "" || msg != "") && !strings.HasPrefix(strings.TrimSpace(string(body)), "{") {
			t.Fatalf("decodeError(%q) = %q, %q from a body that is not a JSON object", body, code, msg)
		}
	})
}
