package retailpostest

import (
	"fmt"
	"slices"
	"strconv"
	"time"
)

// Promotion is an X-Series promotion, as the current API documents it. The server serves it from
// /promotions/search and its products, with their discounted prices, from /promotions/{id}/products.
type Promotion struct {
	// ID is assigned by AddPromotion when empty: the next integer (promotion IDs are integers).
	ID          string
	Name        string
	Description string
	// Start and End are served as start_time and end_time, UTC without a zone suffix; a zero End is an
	// open-ended promotion (end_time null).
	Start, End time.Time
	// Channels are where the promotion applies: "Register", "Ecommerce".
	Channels []string
	// UsePromoCode marks a promotion that applies only with one of its promo codes.
	UsePromoCode bool
	PromoCodes   []string
	// Status is "active" by default; "archived" is the API's deletion (listed only by a search of scope all).
	Status           string
	OutletIDs        []string
	CustomerGroupIDs []string
	// ActionType and ActionValue are the action, e.g. "percent_discount" and 20.
	ActionType  string
	ActionValue float64
	// Products are the products the promotion discounts, with their discounted prices, served in both the
	// condition and the action product lists (a basic discount's condition set is its action set).
	Products []PromotionProduct
	// CreatedAt is set by AddPromotion when zero. The public schema does not list created_at; the server
	// serves it (possync reads a promotion's creation time from its record, domain README §7.4) unless
	// NoCreatedAt is set.
	CreatedAt   time.Time
	NoCreatedAt bool
}

// PromotionProduct is one product of a promotion and its price under the promotion.
type PromotionProduct struct {
	ProductID     string
	DiscountPrice float64
}

// PriceBook is an X-Series price book.
type PriceBook struct {
	// ID is assigned by AddPriceBook when empty.
	ID   string
	Name string
	// Type is "GENERAL" by default, or "BASE" for the retailer's general price book (the regular prices).
	Type            string
	CustomerGroupID string
	OutletID        string
	// PlatformKey is restrict_to_platform_key: "0" all platforms, "1" in store, "2" ecommerce; empty is
	// served as null. The label is derived from it.
	PlatformKey string
	// ValidFrom and ValidTo bound the price book's validity; zero is served as null (unbounded).
	ValidFrom, ValidTo time.Time
	// CreatedAt is set by AddPriceBook when zero; NoCreatedAt leaves it out of the JSON, as API 2.0 documents
	// the object.
	CreatedAt   time.Time
	NoCreatedAt bool
	// DeletedAt is set by DeletePriceBook; UpdatedAt and Version by every change.
	UpdatedAt, DeletedAt time.Time
	Version              int64
}

// PriceBookProduct is the price of one product in one price book.
type PriceBookProduct struct {
	ID          string
	PriceBookID string
	ProductID   string
	Price       float64
	// CreatedAt is set when the row is first added; UpdatedAt and Version by every change; DeletedAt by
	// RemovePriceBookPrice.
	CreatedAt, UpdatedAt, DeletedAt time.Time
	Version                         int64
}

// promoData holds the promotions and price books; the server's lock guards it.
type promoData struct {
	// promotions by ID, and their IDs in creation order.
	promotions map[string]Promotion
	order      []string
	nextID     int
	priceBooks *table[PriceBook]
	// bookProducts is keyed by price book ID + "/" + product ID.
	bookProducts *table[PriceBookProduct]
}

func newPromoData() *promoData {
	return &promoData{promotions: map[string]Promotion{}, nextID: 100, priceBooks: newTable[PriceBook](),
		bookProducts: newTable[PriceBookProduct]()}
}

// AddPromotion creates or replaces a promotion (matched by ID; an empty ID gets the next integer) and returns
// it as stored. Status defaults to "active" and CreatedAt to now (kept from the replaced promotion).
func (s *Server) AddPromotion(p Promotion) Promotion {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.promos
	p = clonePromotion(p)
	if p.ID == "" {
		d.nextID++
		p.ID = strconv.Itoa(d.nextID)
	}
	old, exists := d.promotions[p.ID]
	if p.CreatedAt.IsZero() && exists {
		p.CreatedAt = old.CreatedAt
	}
	if p.CreatedAt.IsZero() {
		p.CreatedAt = s.opts.Now().UTC()
	}
	if p.Status == "" {
		p.Status = "active"
	}
	if !exists {
		d.order = append(d.order, p.ID)
	}
	d.promotions[p.ID] = p
	return clonePromotion(p)
}

// Promotion returns a promotion as stored (archived ones included).
func (s *Server) Promotion(id string) (Promotion, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.promos.promotions[id]
	return clonePromotion(p), ok
}

// AddPriceBook creates or replaces a price book (an empty ID gets a new one) and returns it as stored, with a
// new version. Type defaults to "GENERAL" and CreatedAt to now (kept from the replaced price book).
func (s *Server) AddPriceBook(pb PriceBook) PriceBook {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Now().UTC()
	if pb.ID == "" {
		pb.ID = s.newID()
	}
	if old, ok := s.promos.priceBooks.get(pb.ID); ok && pb.CreatedAt.IsZero() {
		pb.CreatedAt = old.CreatedAt
	}
	if pb.CreatedAt.IsZero() {
		pb.CreatedAt = now
	}
	if pb.Type == "" {
		pb.Type = "GENERAL"
	}
	pb.UpdatedAt, pb.Version = now, s.nextVersion()
	s.promos.priceBooks.put(pb.ID, pb, pb.Version)
	return pb
}

// PriceBook returns a price book as stored (deleted ones included).
func (s *Server) PriceBook(id string) (PriceBook, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.promos.priceBooks.get(id)
}

// DeletePriceBook soft-deletes a price book (deleted_at set, new version). It reports whether the price book
// existed and was not deleted already.
func (s *Server) DeletePriceBook(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	pb, ok := s.promos.priceBooks.get(id)
	if !ok || !pb.DeletedAt.IsZero() {
		return false
	}
	pb.DeletedAt = s.opts.Now().UTC()
	pb.UpdatedAt, pb.Version = pb.DeletedAt, s.nextVersion()
	s.promos.priceBooks.put(pb.ID, pb, pb.Version)
	return true
}

// SetPriceBookPrice sets the price of a product in a price book (a new version of its row, created at now
// the first time) and returns the row. It panics when the price book or the product does not exist: that is
// a test bug.
func (s *Server) SetPriceBookPrice(priceBookID, productID string, price float64) PriceBookProduct {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.promos.priceBooks.get(priceBookID); !ok {
		panic(fmt.Sprintf("retailpostest: SetPriceBookPrice: no price book %q", priceBookID))
	}
	if _, ok := s.products.get(productID); !ok {
		panic(fmt.Sprintf("retailpostest: SetPriceBookPrice: no product %q", productID))
	}
	now := s.opts.Now().UTC()
	key := priceBookID + "/" + productID
	row, ok := s.promos.bookProducts.get(key)
	if !ok || !row.DeletedAt.IsZero() {
		row = PriceBookProduct{ID: s.newID(), PriceBookID: priceBookID, ProductID: productID, CreatedAt: now}
	}
	row.Price, row.UpdatedAt, row.Version = price, now, s.nextVersion()
	s.promos.bookProducts.put(key, row, row.Version)
	return row
}

// RemovePriceBookPrice soft-deletes the row of a product in a price book and reports whether it existed.
func (s *Server) RemovePriceBookPrice(priceBookID, productID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := priceBookID + "/" + productID
	row, ok := s.promos.bookProducts.get(key)
	if !ok || !row.DeletedAt.IsZero() {
		return false
	}
	row.DeletedAt = s.opts.Now().UTC()
	row.UpdatedAt, row.Version = row.DeletedAt, s.nextVersion()
	s.promos.bookProducts.put(key, row, row.Version)
	return true
}

func clonePromotion(p Promotion) Promotion {
	p.Channels = slices.Clone(p.Channels)
	p.PromoCodes = slices.Clone(p.PromoCodes)
	p.OutletIDs = slices.Clone(p.OutletIDs)
	p.CustomerGroupIDs = slices.Clone(p.CustomerGroupIDs)
	p.Products = slices.Clone(p.Products)
	return p
}
