package retailpostest

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newServer(t *testing.T, opts Options) (*Server, *fakeClock) {
	t.Helper()
	clk := &fakeClock{t: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)}
	opts.Now = clk.Now
	s := New(opts)
	t.Cleanup(s.Close)
	return s, clk
}

// get calls path (relative to the API root) with the server's token unless token is given, and decodes the
// JSON body into a generic value.
func get(t *testing.T, s *Server, path string, token ...string) (int, http.Header, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.URL()+path, nil)
	tok := s.Token()
	if len(token) > 0 {
		tok = token[0]
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var body map[string]any
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatalf("GET %s: %d %s: %v", path, resp.StatusCode, b, err)
	}
	return resp.StatusCode, resp.Header, body
}

func data(body map[string]any) []map[string]any {
	var out []map[string]any
	for _, d := range body["data"].([]any) {
		out = append(out, d.(map[string]any))
	}
	return out
}

func version(body map[string]any, bound string) any { return body["version"].(map[string]any)[bound] }

func TestVersionCursorPaging(t *testing.T) {
	s, _ := newServer(t, Options{})
	gen := s.Generate(10, 2)
	var seen []string
	after := "0"
	for pages := 0; ; pages++ {
		status, _, body := get(t, s, "/products?page_size=3&after="+after)
		items := data(body)
		if status != 200 || pages > 5 {
			t.Fatalf("status %d after %d pages", status, pages)
		}
		if len(items) == 0 {
			if version(body, "min") != nil || version(body, "max") != nil {
				t.Errorf("empty page versions %v", body["version"])
			}
			break
		}
		lo, hi := items[0]["version"].(float64), items[len(items)-1]["version"].(float64)
		if version(body, "min") != lo || version(body, "max") != hi {
			t.Errorf("page versions %v, items %v..%v", body["version"], lo, hi)
		}
		for _, it := range items {
			seen = append(seen, it["sku"].(string))
		}
		after = strconv.FormatInt(int64(hi), 10)
	}
	if len(seen) != 10 || seen[0] != gen[0].SKU || seen[9] != gen[9].SKU {
		t.Errorf("paged %v", seen)
	}
	// before is an exclusive upper bound.
	_, _, body := get(t, s, "/products?before="+strconv.FormatInt(gen[3].Version, 10))
	if n := len(data(body)); n != 3 {
		t.Errorf("%d products before the 4th's version, want 3", n)
	}
}

func TestChangesMoveToTheEndOfTheFeed(t *testing.T) {
	s, clk := newServer(t, Options{})
	gen := s.Generate(3, 1)
	v := s.Version()
	clk.Advance(time.Hour)
	p := gen[0]
	for i := range 2000 { // enough updates to compact the log
		p.Name = "renamed " + strconv.Itoa(i)
		p = s.Upsert(p)
	}
	if p.Version <= v || !p.UpdatedAt.Equal(clk.Now()) || !p.CreatedAt.Equal(gen[0].CreatedAt) {
		t.Errorf("upserted %+v", p)
	}
	_, _, body := get(t, s, "/products?after="+strconv.FormatInt(v, 10))
	items := data(body)
	if len(items) != 1 || items[0]["name"] != "renamed 1999" || items[0]["updated_at"] != "2026-11-22T11:00:00+00:00" {
		t.Errorf("changes after %d: %v", v, items)
	}
	if _, _, all := get(t, s, "/products"); len(data(all)) != 3 {
		t.Errorf("%d products", len(data(all)))
	}
}

func TestDeletedProducts(t *testing.T) {
	s, _ := newServer(t, Options{})
	s.LoadExample()
	p, _ := s.ProductBySKU("CAP-OLD")
	if !s.Delete(p.ID) || s.Delete(p.ID) || s.Delete("nope") {
		t.Fatal("Delete reports the wrong outcome")
	}
	_, _, without := get(t, s, "/products")
	_, _, with := get(t, s, "/products?deleted=true")
	if len(data(without)) != 7 || len(data(with)) != 8 {
		t.Fatalf("%d products without deleted, %d with", len(data(without)), len(data(with)))
	}
	last := data(with)[7]
	if last["sku"] != "CAP-OLD" || last["deleted_at"] != "2026-11-22T10:00:00+00:00" {
		t.Errorf("deleted product %v", last)
	}
	if status, _, body := get(t, s, "/products/"+p.ID); status != 200 || body["data"].(map[string]any)["deleted_at"] == nil {
		t.Errorf("GET deleted product: %d %v", status, body)
	}
}

func TestProductShape(t *testing.T) {
	s, _ := newServer(t, Options{})
	s.LoadExample()
	_, _, parent := get(t, s, "/products/"+ProductBravo)
	p := parent["data"].(map[string]any)
	if p["variant_parent_id"] != nil || p["has_variants"] != true || p["variant_count"] != 3.0 ||
		p["brand"].(map[string]any)["name"] != "Peak Performance" || p["weight_unit"] != "G" ||
		p["product_category"].(map[string]any)["category_path"].([]any)[1].(map[string]any)["name"] != "Tops" {
		t.Errorf("parent %v", p)
	}
	opts := p["variant_options"].([]any)
	if len(opts) != 2 || opts[0].(map[string]any)["name"] != "Color" || opts[0].(map[string]any)["value"] != "Black" {
		t.Errorf("variant_options %v", opts)
	}
	child, _ := s.ProductBySKU("787879")
	_, _, body := get(t, s, "/products/"+child.ID)
	if c := body["data"].(map[string]any); c["variant_parent_id"] != ProductBravo || c["family_id"] != ProductBravo {
		t.Errorf("child %v", c)
	}
	plain, _ := s.ProductBySKU("0003")
	_, _, body = get(t, s, "/products/"+plain.ID)
	pl := body["data"].(map[string]any)
	if _, ok := pl["ecwid_enabled_webstore"]; ok || len(pl["brand"].(map[string]any)) != 0 || pl["weight"] != nil ||
		pl["image_url"] != placeholderImage || len(pl["images"].([]any)) != 0 {
		t.Errorf("plain product %v", pl)
	}
	if status, _, body := get(t, s, "/products/nope"); status != 404 || body["error"] != "Not Found" {
		t.Errorf("missing product: %d %v", status, body)
	}
}

func TestBrandIDsOnly(t *testing.T) {
	s, _ := newServer(t, Options{BrandIDsOnly: true})
	s.LoadExample()
	_, _, body := get(t, s, "/products/"+ProductBravo)
	p := body["data"].(map[string]any)
	if _, embedded := p["brand"]; embedded || p["brand_id"] != BrandPeak {
		t.Errorf("product %v", p)
	}
	_, _, brands := get(t, s, "/brands")
	if b := data(brands); len(b) != 1 || b[0]["name"] != "Peak Performance" {
		t.Errorf("brands %v", b)
	}
}

func TestInventory(t *testing.T) {
	s, _ := newServer(t, Options{})
	s.LoadExample()
	_, _, all := get(t, s, "/inventory")
	if n := len(data(all)); n != 14 {
		t.Errorf("%d inventory records, want 14", n)
	}
	child, _ := s.ProductBySKU("787880")
	inv := s.SetInventory(child.ID, OutletWarehouse, 11)
	_, _, changed := get(t, s, "/inventory?after="+strconv.FormatInt(inv.Version-1, 10))
	if d := data(changed); len(d) != 1 || d[0]["inventory_level"] != 11.0 || d[0]["outlet_id"] != OutletWarehouse {
		t.Errorf("changed inventory %v", d)
	}
	_, _, one := get(t, s, "/products/"+child.ID+"/inventory")
	if d := data(one); len(d) != 2 || d[0]["inventory_level"] != 3.0 || d[1]["inventory_level"] != 11.0 {
		t.Errorf("product inventory %v", d)
	}
	if l, ok := s.InventoryLevel(child.ID, OutletWarehouse); !ok || l != 11 {
		t.Errorf("InventoryLevel %v %v", l, ok)
	}
}

func TestAuthAndErrors(t *testing.T) {
	s, _ := newServer(t, Options{MaxPageSize: 4})
	s.Generate(6, 1)
	cases := []struct {
		name   string
		path   string
		token  string
		status int
		error  string
		items  int
	}{
		{"wrong token", "/products", "nope", 401, "Unauthorized", 0},
		{"bad after", "/products?after=x", "", 400, "Bad Request", 0},
		{"bad page size", "/products?page_size=0", "", 400, "Bad Request", 0},
		{"page size capped", "/products?page_size=100", "", 200, "", 4},
		{"unknown endpoint", "/consignments", "", 404, "Not Found", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tok := []string{}
			if c.token != "" {
				tok = append(tok, c.token)
			}
			status, _, body := get(t, s, c.path, tok...)
			if status != c.status || (c.error != "" && (body["error"] != c.error || body["message"] == "")) {
				t.Fatalf("%d %v", status, body)
			}
			if c.error == "" && len(data(body)) != c.items {
				t.Errorf("%d items, want %d", len(data(body)), c.items)
			}
		})
	}
	reqs := s.Requests()
	if len(reqs) != len(cases) || reqs[0].Status != 401 || reqs[0].Path != "/products" || reqs[1].Query != "after=x" {
		t.Errorf("requests %+v", reqs)
	}
}

func TestRateLimitAndInjectedFailures(t *testing.T) {
	s, clk := newServer(t, Options{RateLimit: 2, RateWindow: time.Minute})
	s.LoadExample()
	clk.Advance(500 * time.Millisecond)
	for i := range 2 {
		if status, h, _ := get(t, s, "/outlets"); status != 200 || h.Get("X-RateLimit-Remaining") != strconv.Itoa(1-i) {
			t.Fatalf("request %d: %d remaining %s", i, status, h.Get("X-RateLimit-Remaining"))
		}
	}
	status, h, body := get(t, s, "/outlets")
	// The window opened at 10:00:00.5, so it ends at 10:01:00.5: Retry-After rounds up to 10:01:01.
	if status != 429 || h.Get("Retry-After") != "Sun, 22 Nov 2026 10:01:01 GMT" || body["error"] != "Too Many Requests" {
		t.Fatalf("%d Retry-After %q %v", status, h.Get("Retry-After"), body)
	}
	clk.Advance(time.Minute)
	if status, _, _ := get(t, s, "/outlets"); status != 200 {
		t.Fatalf("after the window: %d", status)
	}
	s.FailNext(2, http.StatusServiceUnavailable)
	for range 2 {
		if status, _, body := get(t, s, "/outlets"); status != 503 || body["message"] != "injected failure" {
			t.Fatalf("injected: %d %v", status, body)
		}
	}
	if status, _, _ := get(t, s, "/outlets"); status != 200 {
		t.Fatalf("after the injected failures: %d", status)
	}
}
