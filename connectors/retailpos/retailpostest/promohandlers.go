package retailpostest

import (
	"cmp"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// The promotion and price book endpoints. /promotions/search and /promotions/{id}/products page by offset
// (a 1-based page number, default 1, as the documented default of 1 suggests) and page_size (default
// DefaultPageSize, capped by Options.MaxPageSize); /price_books and /price_book_products page by version
// cursor like the catalog.

// promotionRoutes registers the promotion and price book endpoints on mux.
func (s *Server) promotionRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET "+APIPath+"/promotions/search", s.searchPromotions)
	mux.HandleFunc("GET "+APIPath+"/promotions/{id}/products", s.promotionProducts)
	mux.HandleFunc("GET "+APIPath+"/price_books", s.listPriceBooks)
	mux.HandleFunc("GET "+APIPath+"/price_book_products", s.listPriceBookProducts)
}

// parseOffset reads page_size and offset (a 1-based page number); it answers 400 and returns false when
// one is bad.
func (s *Server) parseOffset(w http.ResponseWriter, q url.Values) (size, page int, ok bool) {
	size, page = DefaultPageSize, 1
	for name, dst := range map[string]*int{"page_size": &size, "offset": &page} {
		if v := q.Get(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				writeError(w, http.StatusBadRequest, "Bad Request", name+" must be a positive integer")
				return 0, 0, false
			}
			*dst = n
		}
	}
	return min(size, s.opts.MaxPageSize), page, true
}

// pageOf returns page (1-based) of items, size items per page.
func pageOf[T any](items []T, page, size int) []T {
	from := (page - 1) * size
	if from >= len(items) {
		return []T{}
	}
	return items[from:min(from+size, len(items))]
}

// searchPromotions answers GET /promotions/search: scope (all by default, current_upcoming: not ended at
// the server's clock, past: ended), order_by (name, start_date, end_date; open-ended promotions end last),
// direction (desc by default). Archived promotions (the API's deletion) are listed only with scope all, with
// their status: the documentation says the list endpoint hides them and is silent on the search scopes, so
// the emulator takes the reading that makes a client check the status.
func (s *Server) searchPromotions(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	size, page, ok := s.parseOffset(w, q)
	if !ok {
		return
	}
	scope, orderBy, direction := or(q.Get("scope"), "all"), or(q.Get("order_by"), "name"), or(q.Get("direction"), "desc")
	if !slices.Contains([]string{"all", "current_upcoming", "past"}, scope) ||
		!slices.Contains([]string{"name", "start_date", "end_date"}, orderBy) ||
		!slices.Contains([]string{"asc", "desc"}, direction) {
		writeError(w, http.StatusBadRequest, "Bad Request", "scope, order_by or direction has an unknown value")
		return
	}
	s.mu.Lock()
	now := s.opts.Now()
	var list []Promotion
	for _, id := range s.promos.order {
		p := s.promos.promotions[id]
		ended := !p.End.IsZero() && p.End.Before(now)
		archived := p.Status == "archived"
		if (scope == "current_upcoming" && (ended || archived)) || (scope == "past" && (!ended || archived)) {
			continue
		}
		list = append(list, p)
	}
	slices.SortStableFunc(list, func(a, b Promotion) int {
		c := comparePromotions(&a, &b, orderBy)
		if direction == "desc" {
			c = -c
		}
		if c == 0 {
			c = cmp.Or(cmp.Compare(len(a.ID), len(b.ID)), cmp.Compare(a.ID, b.ID)) // integer IDs in numeric order
		}
		return c
	})
	list = pageOf(list, page, size)
	out := make([]wirePromotion, len(list))
	for i := range list {
		out[i] = list[i].wire()
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"data": out})
}

func comparePromotions(a, b *Promotion, orderBy string) int {
	switch orderBy {
	case "start_date":
		return a.Start.Compare(b.Start)
	case "end_date":
		if a.End.IsZero() || b.End.IsZero() {
			return cmp.Compare(boolInt(a.End.IsZero()), boolInt(b.End.IsZero()))
		}
		return a.End.Compare(b.End)
	}
	return cmp.Compare(a.Name, b.Name)
}

// promotionProducts answers GET /promotions/{id}/products: the promotion's products that exist and are not
// deleted, with their discount_price, in both product lists, paged alike.
func (s *Server) promotionProducts(w http.ResponseWriter, r *http.Request) {
	size, page, ok := s.parseOffset(w, r.URL.Query())
	if !ok {
		return
	}
	id := r.PathValue("id")
	s.mu.Lock()
	p, found := s.promos.promotions[id]
	var items []wirePromotionProduct
	for _, pp := range p.Products {
		if prod, ok := s.products.get(pp.ProductID); ok && prod.DeletedAt.IsZero() {
			items = append(items, wirePromotionProduct{wireProduct: s.wire(&prod), DiscountPrice: pp.DiscountPrice})
		}
	}
	s.mu.Unlock()
	if !found {
		writeError(w, http.StatusNotFound, "Not Found", "The promotion "+id+" does not exist.")
		return
	}
	items = pageOf(items, page, size)
	writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{"condition_products": items, "action_products": items}})
}

// listPriceBooks answers GET /price_books; deleted price books only with deleted=true.
func (s *Server) listPriceBooks(w http.ResponseWriter, r *http.Request) {
	servePage(s, w, r, s.promos.priceBooks, func(c cursor, pb PriceBook) bool { return c.deleted || pb.DeletedAt.IsZero() },
		(*PriceBook).wire, func(x *wirePriceBook) int64 { return x.Version })
}

// listPriceBookProducts answers GET /price_book_products, the rows of every price book; removed rows stay in
// the feed with deleted_at set (the endpoint documents no deleted parameter).
func (s *Server) listPriceBookProducts(w http.ResponseWriter, r *http.Request) {
	servePage(s, w, r, s.promos.bookProducts, nil, (*PriceBookProduct).wire,
		func(x *wirePriceBookProduct) int64 { return x.Version })
}

// The JSON shapes of the current promotions and price books documentation.

type wirePromotion struct {
	ID               string       `json:"id"`
	Name             string       `json:"name"`
	Description      string       `json:"description"`
	StartTime        string       `json:"start_time"`
	EndTime          *string      `json:"end_time"`
	Status           string       `json:"status"`
	Channels         []string     `json:"channels"`
	OutletIDs        []string     `json:"outlet_ids"`
	CustomerGroupIDs []string     `json:"customer_group_ids"`
	Condition        wireRule     `json:"condition"`
	Action           wireRule     `json:"action"`
	UsePromoCode     bool         `json:"use_promo_code"`
	PromoCodeSummary *wireSummary `json:"promo_code_summary"`
	CreatedAt        string       `json:"created_at,omitempty"`
}

// wireRule is a condition or an action: its type, value or quantity, and the product filters it includes.
type wireRule struct {
	Type     string       `json:"type"`
	Value    *float64     `json:"value,omitempty"`
	Quantity *int         `json:"quantity,omitempty"`
	Include  []wireFilter `json:"include"`
}

type wireFilter struct {
	Field string `json:"field"`
	Value string `json:"value"`
}

type wireSummary struct {
	RedeemedAmount int `json:"redeemed_amount"`
	TotalPromoCode int `json:"total_promo_code"`
}

// wirePromotionProduct is a product of /promotions/{id}/products: the product object and its price under the
// promotion (the documentation promises "their discount price" without naming the field; possync adopts
// discount_price).
type wirePromotionProduct struct {
	wireProduct
	DiscountPrice float64 `json:"discount_price"`
}

type wirePriceBook struct {
	ID                      string  `json:"id"`
	Name                    string  `json:"name"`
	Type                    string  `json:"type"`
	CustomerGroupID         *string `json:"customer_group_id"`
	OutletID                *string `json:"outlet_id"`
	RestrictToPlatformKey   *string `json:"restrict_to_platform_key"`
	RestrictToPlatformLabel *string `json:"restrict_to_platform_label"`
	ValidFrom               *string `json:"valid_from"`
	ValidTo                 *string `json:"valid_to"`
	CreatedAt               *string `json:"created_at,omitempty"`
	UpdatedAt               string  `json:"updated_at"`
	DeletedAt               *string `json:"deleted_at"`
	Version                 int64   `json:"version"`
}

type wirePriceBookProduct struct {
	ID          string  `json:"id"`
	PriceBookID string  `json:"price_book_id"`
	ProductID   string  `json:"product_id"`
	Price       float64 `json:"price"`
	TaxID       string  `json:"tax_id"`
	CreatedAt   string  `json:"created_at"`
	UpdatedAt   string  `json:"updated_at"`
	DeletedAt   *string `json:"deleted_at"`
	Version     int64   `json:"version"`
}

// promoTime formats a promotion time as the API does: UTC without a zone suffix.
func promoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05") }

func (p *Promotion) wire() wirePromotion {
	w := wirePromotion{ID: p.ID, Name: p.Name, Description: p.Description, StartTime: promoTime(p.Start),
		Status: p.Status, Channels: nonNil(p.Channels), OutletIDs: nonNil(p.OutletIDs),
		CustomerGroupIDs: nonNil(p.CustomerGroupIDs), UsePromoCode: p.UsePromoCode}
	if !p.End.IsZero() {
		e := promoTime(p.End)
		w.EndTime = &e
	}
	one, value := 1, p.ActionValue
	w.Condition = wireRule{Type: "product_set", Quantity: &one, Include: []wireFilter{}}
	w.Action = wireRule{Type: or(p.ActionType, "percent_discount"), Value: &value, Include: []wireFilter{}}
	for _, pp := range p.Products {
		w.Condition.Include = append(w.Condition.Include, wireFilter{Field: "product_id", Value: pp.ProductID})
	}
	if p.UsePromoCode {
		w.PromoCodeSummary = &wireSummary{TotalPromoCode: len(p.PromoCodes)}
	}
	if !p.NoCreatedAt {
		w.CreatedAt = stamp(p.CreatedAt)
	}
	return w
}

// platformLabels are the labels of restrict_to_platform_key.
var platformLabels = map[string]string{"0": "All Platforms", "1": "In Store", "2": "Ecommerce"}

func (pb *PriceBook) wire() wirePriceBook {
	w := wirePriceBook{ID: pb.ID, Name: pb.Name, Type: pb.Type, CustomerGroupID: optional(pb.CustomerGroupID),
		OutletID: optional(pb.OutletID), RestrictToPlatformKey: optional(pb.PlatformKey),
		RestrictToPlatformLabel: optional(platformLabels[pb.PlatformKey]), ValidFrom: optional(stamp(pb.ValidFrom)),
		ValidTo: optional(stamp(pb.ValidTo)), UpdatedAt: stamp(pb.UpdatedAt), DeletedAt: optional(stamp(pb.DeletedAt)),
		Version: pb.Version}
	if !pb.NoCreatedAt {
		w.CreatedAt = optional(stamp(pb.CreatedAt))
	}
	return w
}

func (p *PriceBookProduct) wire() wirePriceBookProduct {
	return wirePriceBookProduct{ID: p.ID, PriceBookID: p.PriceBookID, ProductID: p.ProductID, Price: p.Price,
		TaxID: hashID("tax", "default"), CreatedAt: stamp(p.CreatedAt), UpdatedAt: stamp(p.UpdatedAt),
		DeletedAt: optional(stamp(p.DeletedAt)), Version: p.Version}
}

func nonNil(ss []string) []string {
	if ss == nil {
		return []string{}
	}
	return ss
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
