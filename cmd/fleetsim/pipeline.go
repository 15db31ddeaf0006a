package main

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// pipelineYAML is every simulated pipeline: data/products.csv, mapped, into out/products.csv and its change
// log out/products.changes.jsonl. The deletion guard is off: the simulation deletes rows on purpose, and a
// pipeline locked out for several triggers accumulates them.
const pipelineYAML = `version: 1
name: %s
merchant: fleetsim
key: sku

source:
  type: file
  path: data/products.csv
  columns:
    - {name: sku, type: string}
    - {name: name, type: string}
    - {name: price, type: float}
    - {name: qty, type: int}

transforms:
  - type: map
    name: products
    fields:
      sku: sku
      title: upper(name)
      price: price
      stock: "qty > 0 ? qty : 0"
    types:
      stock: int

sink:
  type: file
  path: out/products.csv
  batch_size: 5

guards:
  max_delete_percent: -1
`

// item is one input row.
type item struct {
	SKU, Name string
	Price     float64
	Qty       int64
}

// record is what the pipeline makes of an item: the sink's record.
type record struct {
	SKU, Title string
	Price      float64
	Stock      int64
}

func (it item) record() record {
	return record{SKU: it.SKU, Title: strings.ToUpper(it.Name), Price: it.Price, Stock: max(it.Qty, 0)}
}

// pipeline is one simulated pipeline: its folder and its current input (the desired data).
type pipeline struct {
	name, dir string
	mu        sync.Mutex
	items     []item
	nextKey   int
	version   int
}

// newPipeline writes a pipeline's file and first input of n rows.
func newPipeline(root, name string, n int, rng *rand.Rand) (*pipeline, error) {
	p := &pipeline{name: name, dir: filepath.Join(root, name)}
	if err := os.MkdirAll(filepath.Join(p.dir, "data"), 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(p.dir, "pipeline.yaml"), fmt.Appendf(nil, pipelineYAML, name), 0o644); err != nil {
		return nil, err
	}
	for range n {
		p.items = append(p.items, p.newItem(rng))
	}
	return p, p.write()
}

func (p *pipeline) newItem(rng *rand.Rand) item {
	k := p.nextKey
	p.nextKey++
	name := fmt.Sprintf("item %d", k)
	if k%5 == 0 {
		name += `, "big"` // quoting in the CSV
	}
	return item{SKU: fmt.Sprintf("SKU-%05d", k), Name: name, Price: float64(rng.IntN(10000)) / 100, Qty: int64(rng.IntN(50)) - 5}
}

// change makes the next version of the input, as a trigger's new data: two prices change, one row goes
// (while more than half of the first rows remain), and one comes.
func (p *pipeline) change(rng *rand.Rand) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for range 2 {
		i := rng.IntN(len(p.items))
		p.items[i].Price = float64(rng.IntN(10000)) / 100
	}
	if len(p.items) > 10 {
		i := rng.IntN(len(p.items))
		p.items = slices.Delete(p.items, i, i+1)
	}
	p.items = append(p.items, p.newItem(rng))
	p.version++
	return p.write()
}

// write replaces data/products.csv atomically (a run reads the old or the new version, never half of one).
// The caller holds mu (or owns p).
func (p *pipeline) write() error {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write([]string{"sku", "name", "price", "qty"})
	for _, it := range p.items {
		_ = w.Write([]string{it.SKU, it.Name, strconv.FormatFloat(it.Price, 'f', -1, 64), strconv.FormatInt(it.Qty, 10)})
	}
	w.Flush()
	path := filepath.Join(p.dir, "data", "products.csv")
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("pipeline %s: %w", p.name, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("pipeline %s: %w", p.name, err)
	}
	return nil
}

// desired is the records the pipeline's last input makes, by SKU.
func (p *pipeline) desired() map[string]record {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]record, len(p.items))
	for _, it := range p.items {
		out[it.SKU] = it.record()
	}
	return out
}
