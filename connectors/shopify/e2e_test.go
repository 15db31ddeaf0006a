package shopify_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	_ "github.com/possync/possync/connectors/all"
	"github.com/possync/possync/connectors/shopify/shopifytest"
	"github.com/possync/possync/pipelines"
	"github.com/possync/possync/runner"
	_ "github.com/possync/possync/transforms/all"
)

// ordersPipeline imports the orders of the Shopify emulator at %s into a JSON-lines file. The map drops
// updated_at, which marking an order imported (a tag) moves: the exported record is the order as imported.
const ordersPipeline = `version: 1
name: shop-orders
merchant: acme-bikes
key: order_id
sources:
  orders:
    type: shopify_orders
    base_url: %s
    token: ${SHOPIFY_TOKEN}
transforms:
  - type: map
    name: exported
    input: orders
    fields:
      order_id: order_id
    passthrough: true
    drop: [updated_at]
sink:
  type: file
  path: out/orders.jsonl
`

// End to end through the runner: the first apply exports the four example orders; the next run, which the
// overlap window and an updatedAt moved by a tag make Shopify serve #1004 and #1001 again, exports
// only the new order #1005; a third run changes nothing. Every order is created once in the change log.
//
// (The runner's call of Confirm after the commit is added by the order_url work on another branch; Confirm
// is tested directly in confirm_test.go. Here the tag is added as Confirm would, through the emulator.)
func TestOrdersEndToEnd(t *testing.T) {
	srv := shopifytest.New(shopifytest.Options{})
	t.Cleanup(srv.Close)
	srv.LoadExample()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "pipeline.yaml"), []byte(fmt.Sprintf(ordersPipeline, srv.URL())), 0o644); err != nil {
		t.Fatal(err)
	}
	load := func() *pipelines.Pipeline {
		t.Helper()
		p, diags := pipelines.Load(filepath.Join(dir, "pipeline.yaml"), pipelines.Options{LookupEnv: func(k string) (string, bool) {
			if k == "SHOPIFY_TOKEN" {
				return srv.Token(), true
			}
			return "", false
		}})
		if diags.HasErrors() {
			t.Fatalf("load: %v", diags)
		}
		p.State.Dir = filepath.Join(dir, ".state")
		return p
	}
	apply := func() *runner.Report {
		t.Helper()
		rep, err := runner.Apply(context.Background(), load(), runner.Options{}, nil)
		if err != nil {
			t.Fatalf("apply: %v", err)
		}
		b, _ := json.Marshal(rep)
		if strings.Contains(string(b), srv.Token()) {
			t.Errorf("the run report reveals the token")
		}
		return rep
	}

	rep := apply()
	if rep.Applied.Create != 4 {
		t.Fatalf("first run created %d orders, want 4: %+v", rep.Applied.Create, rep.Applied)
	}
	// The runner confirmed every imported order: each carries the tag once (tagging moved its updatedAt, so
	// the next incremental read serves it again). A new order arrives.
	tagged := 0
	for _, c := range srv.Calls() {
		if c.Kind == "mutation" && slices.Contains(c.Fields, "tagsAdd") {
			tagged++
		}
	}
	if tagged != 4 {
		t.Errorf("first run sent %d tagsAdd, want one per imported order (4)", tagged)
	}
	if o, ok := srv.Order(shopifytest.OrderDelivery); !ok || !slices.Contains(o.Tags, "possync-imported") {
		t.Errorf("order %d is not tagged as imported after the run: %+v", shopifytest.OrderDelivery, o.Tags)
	}
	srv.AddOrder(shopifytest.Order{ID: 99, Name: "#1005", Email: "new@example.com", CreatedAt: time.Now().UTC(),
		LineItems: []shopifytest.LineItem{{ID: 9, SKU: "BTL-750", Title: "Trail Bottle 750 ml", Quantity: 1, UnitPrice: 12.5}},
		Subtotal:  12.5, Total: 12.5})
	before := len(srv.Calls())
	rep = apply()
	if rep.Applied.Create != 1 || rep.Applied.Update != 0 || rep.Applied.Delete != 0 {
		t.Errorf("second run applied %+v, want only #1005 created", rep.Applied)
	}
	var served []string
	var marks int
	for _, c := range srv.Calls()[before:] {
		if c.Kind == "mutation" {
			marks++ // the Confirm of the run: only #1005 is not tagged yet
			continue
		}
		if c.Throttled {
			continue // answered THROTTLED (the bucket still drained by the first run's marks) and asked again
		}
		served = append(served, fmt.Sprint(c.Variables["query"]))
	}
	if len(served) != 1 || !strings.HasPrefix(served[0], "updated_at:>='") {
		t.Errorf("second run's requests %q, want one incremental page", served)
	}
	if marks != 1 {
		t.Errorf("second run sent %d mutations, want one tagsAdd (for #1005; the others already carry the tag)", marks)
	}
	if rep := apply(); rep.Applied.Total() != 0 {
		t.Errorf("third run applied %+v, want nothing", rep.Applied)
	}

	creates := map[string]int{}
	f, err := os.Open(filepath.Join(dir, "out/orders.changes.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var ch struct {
			Action string            `json:"action"`
			Key    map[string]string `json:"key"`
		}
		if err := json.Unmarshal(sc.Bytes(), &ch); err != nil {
			t.Fatal(err)
		}
		if ch.Action != "create" {
			t.Errorf("change log has a %s of %v", ch.Action, ch.Key)
		}
		creates[ch.Key["order_id"]]++
	}
	for _, id := range []string{"#1001", "#1002", "#1003", "#1004", "#1005"} {
		if creates[id] != 1 {
			t.Errorf("order %s created %d times, want once", id, creates[id])
		}
	}
	records, err := os.ReadFile(filepath.Join(dir, "out/orders.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(records), "\n"); n != 5 || !strings.Contains(string(records), `"pickup_location":"Downtown Store"`) {
		t.Errorf("records file has %d orders, want 5 with #1002's pickup location:\n%s", n, records)
	}
}
