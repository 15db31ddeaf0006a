package ecom

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

// pageSize is the largest page GET /products returns.
const pageSize = 100

// lookupThreshold is the number of SKUs above which the sink considers listing the whole store instead of
// looking each SKU up.
const lookupThreshold = 10

// product is the part of an API product the sink reads.
type product struct {
	ID                int64         `json:"id"`
	SKU               string        `json:"sku"`
	Name              string        `json:"name"`
	Description       string        `json:"description"`
	Subtitle          string        `json:"subtitle"`
	Price             float64       `json:"price"`
	CompareToPrice    float64       `json:"compareToPrice"`
	Quantity          *int64        `json:"quantity"`
	Unlimited         bool          `json:"unlimited"`
	Enabled           bool          `json:"enabled"`
	WarningLimit      int64         `json:"warningLimit"`
	Weight            float64       `json:"weight"`
	Dimensions        dimensions    `json:"dimensions"`
	CategoryIDs       []int64       `json:"categoryIds"`
	DefaultCategoryID int64         `json:"defaultCategoryId"`
	Attributes        []attribute   `json:"attributes"`
	Combinations      []combination `json:"combinations"`
	OriginalImageURL  string        `json:"originalImageUrl"`
	GalleryImages     []struct {
		URL string `json:"url"`
	} `json:"galleryImages"`
}

type dimensions struct {
	Length float64 `json:"length"`
	Width  float64 `json:"width"`
	Height float64 `json:"height"`
}

type attribute struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	Value string `json:"value"`
}

// combination is the part of an API combination (variation) the sink reads; a nil price or weight is the
// product's.
type combination struct {
	ID           int64         `json:"id"`
	SKU          string        `json:"sku"`
	Options      []optionValue `json:"options"`
	Quantity     *int64        `json:"quantity"`
	Unlimited    bool          `json:"unlimited"`
	Price        *float64      `json:"price"`
	Weight       *float64      `json:"weight"`
	WarningLimit int64         `json:"warningLimit"`
	Attributes   []attribute   `json:"attributes"`
}

// envelope is a page of GET /products.
type envelope struct {
	Total  int       `json:"total"`
	Count  int       `json:"count"`
	Offset int       `json:"offset"`
	Limit  int       `json:"limit"`
	Items  []product `json:"items"`
}

// find returns the product or combination of p with the SKU sku (c nil for the product itself).
func (p *product) find(sku string) (c *combination, ok bool) {
	if p.SKU == sku {
		return nil, true
	}
	for i := range p.Combinations {
		if p.Combinations[i].SKU == sku {
			return &p.Combinations[i], true
		}
	}
	return nil, false
}

// entry locates a SKU in the store.
type entry struct {
	product     int64
	combination int64  // 0 for a product
	parentSKU   string // the product's SKU, for a combination
}

// index maps SKUs to store ids, learnt from lookups and listings and kept up to date by the sink's own
// writes. complete means the whole store was listed: a SKU it lacks is not in the store.
type index struct {
	bySKU  map[string]entry
	absent map[string]bool
	// combos holds the combination SKUs of each product id.
	combos   map[int64]map[string]bool
	complete bool
}

func newIndex() index {
	return index{bySKU: map[string]entry{}, absent: map[string]bool{}, combos: map[int64]map[string]bool{}}
}

// known reports whether the index can tell where sku is (or that it is absent).
func (x *index) known(sku string) bool {
	_, ok := x.bySKU[sku]
	return ok || x.absent[sku] || x.complete
}

// addProduct records a product and its combinations.
func (x *index) addProduct(p *product) {
	if p.SKU != "" {
		x.put(p.SKU, entry{product: p.ID})
	}
	for _, c := range p.Combinations {
		if c.SKU != "" {
			x.put(c.SKU, entry{product: p.ID, combination: c.ID, parentSKU: p.SKU})
		}
	}
}

func (x *index) put(sku string, e entry) {
	x.bySKU[sku] = e
	delete(x.absent, sku)
	if e.combination != 0 {
		if x.combos[e.product] == nil {
			x.combos[e.product] = map[string]bool{}
		}
		x.combos[e.product][sku] = true
	}
}

// remove forgets sku; removing a product also forgets its combinations.
func (x *index) remove(sku string) {
	e, ok := x.bySKU[sku]
	if !ok {
		return
	}
	delete(x.bySKU, sku)
	x.absent[sku] = true
	if e.combination != 0 {
		return
	}
	for s := range x.combos[e.product] {
		if other, ok := x.bySKU[s]; ok && other.product == e.product {
			delete(x.bySKU, s)
			x.absent[s] = true
		}
	}
	delete(x.combos, e.product)
}

// resolve makes the index know every SKU of skus.
func (s *Sink) resolve(ctx context.Context, skus []string) error {
	var unknown []string
	seen := map[string]bool{}
	for _, sku := range skus {
		if !seen[sku] && !s.index.known(sku) {
			unknown = append(unknown, sku)
		}
		seen[sku] = true
	}
	if len(unknown) == 0 {
		return nil
	}
	complete, err := s.fetch(ctx, unknown, s.index.addProduct)
	if err != nil {
		return err
	}
	s.index.complete = s.index.complete || complete
	for _, sku := range unknown {
		if _, ok := s.index.bySKU[sku]; !ok {
			s.index.absent[sku] = true
		}
	}
	return nil
}

// fetch calls visit with every store product holding one of skus (as its own SKU or a combination's). It
// looks each SKU up (GET /products?sku=), unless there are many and listing the whole store takes fewer
// requests; then it visits every product of the store and reports complete.
func (s *Sink) fetch(ctx context.Context, skus []string, visit func(*product)) (complete bool, err error) {
	if len(skus) > lookupThreshold {
		first, err := s.page(ctx, 0)
		if err != nil {
			return false, err
		}
		if pages := (first.Total + pageSize - 1) / pageSize; pages <= len(skus) {
			return true, s.listFrom(ctx, first, visit)
		}
	}
	for _, sku := range skus {
		var page envelope
		if err := s.client.Do(ctx, http.MethodGet, "/products", url.Values{"sku": {sku}}, nil, &page); err != nil {
			return false, fmt.Errorf("look up SKU %s: %w", sku, err)
		}
		for i := range page.Items {
			visit(&page.Items[i])
		}
	}
	return false, nil
}

// page reads one page of the store's products.
func (s *Sink) page(ctx context.Context, offset int) (*envelope, error) {
	var page envelope
	q := url.Values{"offset": {strconv.Itoa(offset)}, "limit": {strconv.Itoa(pageSize)}}
	if err := s.client.Do(ctx, http.MethodGet, "/products", q, nil, &page); err != nil {
		return nil, fmt.Errorf("list products at offset %d: %w", offset, err)
	}
	return &page, nil
}

// listFrom visits the products of the first page and of every page after it.
func (s *Sink) listFrom(ctx context.Context, first *envelope, visit func(*product)) error {
	for p := first; ; {
		for i := range p.Items {
			visit(&p.Items[i])
		}
		next := p.Offset + len(p.Items)
		if len(p.Items) == 0 || next >= p.Total {
			return nil
		}
		var err error
		if p, err = s.page(ctx, next); err != nil {
			return err
		}
	}
}

// lookupAnswer reads the answer of GET /products?sku= and updates the index.
func (s *Sink) lookupAnswer(sku string, body json.RawMessage) (*product, *combination, error) {
	var page envelope
	if err := json.Unmarshal(body, &page); err != nil {
		return nil, nil, fmt.Errorf("look up SKU %s: decode answer: %w", sku, err)
	}
	for i := range page.Items {
		p := &page.Items[i]
		if c, ok := p.find(sku); ok {
			s.index.addProduct(p)
			return p, c, nil
		}
	}
	s.index.remove(sku)
	s.index.absent[sku] = true
	return nil, nil, nil
}
