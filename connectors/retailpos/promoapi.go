package retailpos

import (
	"context"
	"net/url"
	"strconv"
)

// The promotions and price books endpoints, only the fields the promotions source uses.

type promotion struct {
	ID           string   `json:"id"`
	Name         string   `json:"name"`
	StartTime    string   `json:"start_time"`
	EndTime      string   `json:"end_time"`
	Status       string   `json:"status"`
	Channels     []string `json:"channels"`
	UsePromoCode bool     `json:"use_promo_code"`
	// CreatedAt is not in the public schema; possync reads it when the record has it (domain README §7.4).
	CreatedAt string `json:"created_at"`
}

// promotionProduct is a product of /promotions/{id}/products: a product object and its price under the
// promotion. The documentation promises "their discount price" without naming the field: possync reads
// discount_price.
type promotionProduct struct {
	ID            string   `json:"id"`
	SKU           string   `json:"sku"`
	DiscountPrice *float64 `json:"discount_price"`
}

type priceBook struct {
	ID                    string `json:"id"`
	Name                  string `json:"name"`
	Type                  string `json:"type"`
	RestrictToPlatformKey string `json:"restrict_to_platform_key"`
	ValidFrom             string `json:"valid_from"`
	ValidTo               string `json:"valid_to"`
	CreatedAt             string `json:"created_at"`
	DeletedAt             string `json:"deleted_at"`
}

type priceBookProduct struct {
	PriceBookID string   `json:"price_book_id"`
	ProductID   string   `json:"product_id"`
	Price       *float64 `json:"price"`
	CreatedAt   string   `json:"created_at"`
	DeletedAt   string   `json:"deleted_at"`
}

// byOffset pages an offset-paged endpoint: it asks for offset 1, 2, ... (a 1-based page number, which the
// documented default of 1 suggests) with page_size, handing each query to fetch, until fetch reports a page
// that is not full or brought nothing new (so a server that ignores offset cannot loop the read).
func (a *api) byOffset(query url.Values, fetch func(q url.Values) (more bool, err error)) error {
	q := url.Values{}
	for k, v := range query {
		q[k] = v
	}
	q.Set("page_size", strconv.Itoa(a.pageSize))
	for page := 1; ; page++ {
		q.Set("offset", strconv.Itoa(page))
		more, err := fetch(q)
		if err != nil || !more {
			return err
		}
	}
}

// promotionsQuery lists every promotion, oldest start first; the read filters them itself, so that an
// evaluation time other than the server's clock (possync plan --at) sees the right ones.
var promotionsQuery = url.Values{"scope": {"all"}, "order_by": {"start_date"}, "direction": {"asc"}}

// eachPromotion hands every listed promotion to fn, once.
func (a *api) eachPromotion(ctx context.Context, fn func(*promotion)) error {
	seen := map[string]bool{}
	return a.byOffset(promotionsQuery, func(q url.Values) (bool, error) {
		var body struct {
			Data []promotion `json:"data"`
		}
		if err := a.get(ctx, "/promotions/search", q, &body); err != nil {
			return false, err
		}
		fresh := 0
		for i := range body.Data {
			if p := &body.Data[i]; !seen[p.ID] {
				seen[p.ID], fresh = true, fresh+1
				fn(p)
			}
		}
		return len(body.Data) >= a.pageSize && fresh > 0, nil
	})
}

// promotionProducts returns the products of a promotion, each once: the union of its condition and action
// products, a product listed twice keeping its lowest discount price.
func (a *api) promotionProducts(ctx context.Context, id string) ([]promotionProduct, error) {
	var out []promotionProduct
	index := map[string]int{}
	path := "/promotions/" + url.PathEscape(id) + "/products"
	err := a.byOffset(nil, func(q url.Values) (bool, error) {
		var body struct {
			Data struct {
				Condition []promotionProduct `json:"condition_products"`
				Action    []promotionProduct `json:"action_products"`
			} `json:"data"`
		}
		if err := a.get(ctx, path, q, &body); err != nil {
			return false, err
		}
		fresh := 0
		for _, p := range append(body.Data.Action, body.Data.Condition...) {
			i, ok := index[p.ID]
			if !ok {
				index[p.ID], fresh = len(out), fresh+1
				out = append(out, p)
				continue
			}
			if lower(p.DiscountPrice, out[i].DiscountPrice) {
				out[i].DiscountPrice = p.DiscountPrice
			}
		}
		full := len(body.Data.Condition) >= a.pageSize || len(body.Data.Action) >= a.pageSize
		return full && fresh > 0, nil
	})
	return out, err
}

// lower reports whether price a is set and below b (an unset b is above any price).
func lower(a, b *float64) bool { return a != nil && (b == nil || *a < *b) }

// productSKUs maps the ID of every product that is not deleted to its SKU.
func (a *api) productSKUs(ctx context.Context) (map[string]string, error) {
	out := map[string]string{}
	_, err := each(ctx, a, "/products", nil, 0, func(items []product) error {
		for _, p := range items {
			if p.DeletedAt == "" {
				out[p.ID] = p.SKU
			}
		}
		return nil
	})
	return out, err
}
