package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/possync/possync/connectors/orderurl/orderurltest"
)

const ordersPipelineYAML = `version: 1
name: crash-orders
merchant: bikeshop
key: order_id
sources:
  orders: {type: order_url, url: "${ORDER_URL}", merchant: "${ORDER_MERCHANT}", url_key: "${ORDER_URL_KEY}"}
sink: {type: file, path: out/orders.jsonl, changelog: out/orders.changes.jsonl, batch_size: 500}
diff: {on_missing: keep, on_change: keep}
`

// TestOrdersCrashRecovery kills the real binary (SIGKILL) at each step between the sink write, the state
// commit and the confirmation of 1,200 orders (three sink batches of 500, 500 and 200), and once in the
// middle of the confirmations (after the emulator answered the 300th UpdateOrder), then runs it again: every
// order is in the sink's change log exactly once, every order is confirmed on the website with its status
// changed, and a plan afterwards has nothing to do.
func TestOrdersCrashRecovery(t *testing.T) {
	points := []string{"after-intents:1", "after-sink:1", "after-sink:2", "after-commit:1", "after-commit:3",
		"during-export", "before-confirm", "after-confirm", "mid-confirm"}
	for _, point := range points {
		t.Run(point, func(t *testing.T) {
			t.Parallel()
			var (
				mu      sync.Mutex
				victim  *os.Process
				updates int
			)
			opts := orderurltest.Options{}
			if point == "mid-confirm" {
				opts.OnCall = func(c orderurltest.Call) {
					mu.Lock()
					defer mu.Unlock()
					if c.Method != "UpdateOrder" {
						return
					}
					if updates++; updates == 300 && victim != nil {
						_ = victim.Kill() // SIGKILL
					}
				}
			}
			site := orderurltest.New(opts)
			defer site.Close()
			orders := orderurltest.Generate(1200, 1, time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC), "Downtown Store")
			site.Add(orders...)
			f := &fixture{dir: t.TempDir(), state: t.TempDir()}
			if err := os.WriteFile(f.path("pipeline.yaml"), []byte(ordersPipelineYAML), 0o644); err != nil {
				t.Fatal(err)
			}
			env := []string{"ORDER_URL=" + site.URL(), "ORDER_MERCHANT=" + site.Merchant(), "ORDER_URL_KEY=" + site.URLKey()}

			var r result
			if point == "mid-confirm" {
				cmd := f.command(env, "run", "pipeline.yaml")
				var out, errb bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, &errb
				mu.Lock()
				err := cmd.Start()
				victim = cmd.Process
				mu.Unlock()
				if err != nil {
					t.Fatal(err)
				}
				r = finish(t, cmd.Wait(), cmd, &out, &errb)
			} else {
				r = f.run(t, append(env, "POSSYNC_FAILPOINT="+point), "run", "pipeline.yaml")
			}
			if !r.killed {
				t.Fatalf("run with the kill at %s: want death by SIGKILL, got %s", point, r)
			}
			if strings.Contains(r.stdout+r.stderr, site.URLKey()) {
				t.Fatalf("the URL key appears in the output of the killed run")
			}

			r = f.run(t, env, "run", "pipeline.yaml")
			if r.code != 0 {
				t.Fatalf("rerun after the kill at %s: %s", point, r)
			}
			if strings.Contains(r.stdout, site.URLKey()) {
				t.Fatalf("the run report shows the URL key")
			}
			var rep struct {
				Notes []string `json:"notes"`
			}
			if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
				t.Fatalf("report: %v", err)
			}

			counts := orderLog(t, f)
			for _, o := range orders {
				if n := counts[o.ID]; n != 1 {
					t.Errorf("order %s is in the sink %d times, want exactly once", o.ID, n)
				}
				got, _ := site.Order(o.ID)
				if !site.Confirmed(o.ID) || got.Status != "Being Processed" {
					t.Errorf("order %s: confirmed %t, status %q; want confirmed and Being Processed", o.ID, site.Confirmed(o.ID), got.Status)
				}
			}
			if len(counts) != len(orders) {
				t.Errorf("the sink holds %d orders, want %d", len(counts), len(orders))
			}
			if r := f.run(t, env, "plan", "pipeline.yaml"); r.code != 0 {
				t.Fatalf("plan after the rerun: want exit 0 (no changes), got %s", r)
			}
		})
	}
}

// orderLog counts the create lines per order in the file sink's change log; any other action fails.
func orderLog(t *testing.T, f *fixture) map[string]int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(f.dir, "out", "orders.changes.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, s := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		var l logLine
		if err := json.Unmarshal([]byte(s), &l); err != nil {
			t.Fatalf("change log line %q: %v", s, err)
		}
		if l.Action != "create" {
			t.Fatalf("change log: %s of %v; orders are only ever created", l.Action, l.Key)
		}
		counts[fmt.Sprint(l.Key["order_id"])]++
	}
	return counts
}
