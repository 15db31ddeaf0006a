package retailpos

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/possync/possync/connectors"
)

// Kinds of promotion rows.
const (
	kindPromotion = "promotion"
	kindPriceBook = "price_book"
)

// priceBookPrefix starts the PromotionId of a price book's rows, keeping them apart from promotion IDs.
const priceBookPrefix = "pb:"

// promoRow is one (promotion or price book, item) row of the promotions source.
type promoRow struct {
	id, name, kind, sku string
	// createdAt is zero when unknown.
	createdAt time.Time
	window
	ecommerce bool
	// sale is nil when the API gave no price.
	sale *float64
}

// promoReading is the state of one read of the promotions source.
type promoReading struct {
	api *api
	loc *time.Location
	// today is the evaluation date in loc: promotions and price books that ended before it are left out.
	today   time.Time
	rows    []promoRow
	rejects []connectors.Reject
	notes   []string
}

// promotions reads the promotions that need no promo code, are not archived and have not ended before today,
// and their products.
func (rd *promoReading) promotions(ctx context.Context) error {
	var keep []promotion
	var listed, read, archived, promoCode, ended, ecommerce, noCreated int
	err := rd.api.eachPromotion(ctx, func(p *promotion) {
		listed++
		switch {
		case strings.EqualFold(p.Status, "archived"):
			archived++
		case p.UsePromoCode:
			promoCode++
		default:
			keep = append(keep, *p)
		}
	})
	if err != nil {
		return fmt.Errorf("list promotions: %w", err)
	}
	for i := range keep {
		p := &keep[i]
		where := fmt.Sprintf("promotion %s (%s)", p.ID, p.Name)
		w, err := parseWindow(p.StartTime, p.EndTime, rd.loc)
		if err != nil {
			rd.rejects = append(rd.rejects, connectors.Reject{Where: where, Reason: "unreadable start_time or end_time: " + err.Error()})
			continue
		}
		if w.end.Before(rd.today) {
			ended++
			continue
		}
		read++
		created, known := createdAt(p.CreatedAt)
		if !known {
			noCreated++
		}
		online := slices.ContainsFunc(p.Channels, func(c string) bool { return strings.EqualFold(strings.TrimSpace(c), "Ecommerce") })
		if online {
			ecommerce++
		}
		products, err := rd.api.promotionProducts(ctx, p.ID)
		if err != nil {
			return fmt.Errorf("read the products of %s: %w", where, err)
		}
		for _, pp := range products {
			if strings.TrimSpace(pp.SKU) == "" {
				rd.rejects = append(rd.rejects, connectors.Reject{Where: where + ", product " + pp.ID,
					Reason: "the product has no SKU; eCom matches products by SKU, so its sale price is left out"})
				continue
			}
			rd.rows = append(rd.rows, promoRow{id: p.ID, name: p.Name, kind: kindPromotion, sku: pp.SKU, createdAt: created,
				window: w, ecommerce: online, sale: pp.DiscountPrice})
		}
	}
	rd.notes = append(rd.notes, fmt.Sprintf("promotions: %d listed, %d read (%d for Ecommerce); left out: %d with a promo "+
		"code, %d archived, %d ended before %s", listed, read, ecommerce, promoCode,
		archived, ended, rd.today.Format(dateLayout)))
	if noCreated > 0 {
		rd.notes = append(rd.notes, fmt.Sprintf("%d promotions have no created_at: the promotions transform ranks them "+
			"after every promotion or price book with one", noCreated))
	}
	return nil
}

// book is a price book whose prices are read.
type book struct {
	id, name  string
	createdAt time.Time
	window
	// prices maps product IDs to their row (the latest version seen).
	prices map[string]priceBookProduct
}

// priceBooks reads the price books for all platforms ("0") or ecommerce ("2") that are not the general
// (BASE) price book, not deleted and not ended before today, and their prices.
func (rd *promoReading) priceBooks(ctx context.Context) error {
	books := map[string]*book{}
	var listed, base, platform, ended int
	_, err := each(ctx, rd.api, "/price_books", nil, 0, func(items []priceBook) error {
		for _, pb := range items {
			if pb.DeletedAt != "" {
				continue // listed only with deleted=true, which the read does not ask for
			}
			listed++
			key := strings.TrimSpace(pb.RestrictToPlatformKey)
			switch {
			case strings.EqualFold(pb.Type, "BASE"):
				base++
			case key != "0" && key != "2":
				platform++
			default:
				rd.addBook(&pb, books, &ended)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("list price books: %w", err)
	}
	rd.notes = append(rd.notes, fmt.Sprintf("price books: %d listed, %d read (all platforms or Ecommerce); left out: "+
		"%d in store or without a platform, %d the general (BASE) price book, %d ended before %s", listed, len(books),
		platform, base, ended, rd.today.Format(dateLayout)))
	if len(books) == 0 {
		return nil
	}
	_, err = each(ctx, rd.api, "/price_book_products", nil, 0, func(items []priceBookProduct) error {
		for _, pp := range items {
			if b := books[pp.PriceBookID]; b != nil {
				if pp.DeletedAt != "" {
					delete(b.prices, pp.ProductID)
				} else {
					b.prices[pp.ProductID] = pp
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read price book products: %w", err)
	}
	skus, err := rd.api.productSKUs(ctx)
	if err != nil {
		return fmt.Errorf("read product SKUs for the price books: %w", err)
	}
	return rd.bookRows(books, skus)
}

// addBook adds a price book to read, unless its window is unreadable (a reject) or ended (counted).
func (rd *promoReading) addBook(pb *priceBook, books map[string]*book, ended *int) {
	w, err := parseWindow(pb.ValidFrom, pb.ValidTo, rd.loc)
	if err != nil {
		rd.rejects = append(rd.rejects, connectors.Reject{Where: fmt.Sprintf("price book %s (%s)", pb.ID, pb.Name),
			Reason: "unreadable valid_from or valid_to: " + err.Error()})
		return
	}
	if w.end.Before(rd.today) {
		*ended++
		return
	}
	created, _ := createdAt(pb.CreatedAt)
	books[pb.ID] = &book{id: pb.ID, name: pb.Name, createdAt: created, window: w, prices: map[string]priceBookProduct{}}
}

// bookRows turns the price books' prices into rows; a price book without created_at takes the earliest
// created_at of its prices.
func (rd *promoReading) bookRows(books map[string]*book, skus map[string]string) error {
	var gone, inferred int
	for _, id := range slices.Sorted(maps.Keys(books)) {
		b := books[id]
		created := b.createdAt
		if created.IsZero() {
			for _, pp := range b.prices {
				if t, ok := createdAt(pp.CreatedAt); ok && (created.IsZero() || t.Before(created)) {
					created = t
				}
			}
			if !created.IsZero() {
				inferred++
			}
		}
		for _, productID := range slices.Sorted(maps.Keys(b.prices)) {
			pp := b.prices[productID]
			sku, found := skus[productID]
			switch {
			case !found:
				gone++
			case strings.TrimSpace(sku) == "":
				rd.rejects = append(rd.rejects, connectors.Reject{Where: fmt.Sprintf("price book %s (%s), product %s", b.id, b.name, productID),
					Reason: "the product has no SKU; eCom matches products by SKU, so its price book price is left out"})
			default:
				rd.rows = append(rd.rows, promoRow{id: priceBookPrefix + b.id, name: b.name, kind: kindPriceBook, sku: sku,
					createdAt: created, window: b.window, ecommerce: true, sale: pp.Price})
			}
		}
	}
	if inferred > 0 {
		rd.notes = append(rd.notes, fmt.Sprintf("%d price books have no created_at: the earliest created_at of their "+
			"prices stands in", inferred))
	}
	if gone > 0 {
		rd.notes = append(rd.notes, fmt.Sprintf("%d price book prices of deleted products left out", gone))
	}
	return nil
}

// createdAt reads a created_at value; known is false when it is missing or unreadable.
func createdAt(raw string) (t time.Time, known bool) {
	if strings.TrimSpace(raw) == "" {
		return time.Time{}, false
	}
	t, err := parseInstant(raw)
	return t, err == nil
}

// finish sorts the rows by PromotionId and Sku and keeps one row per pair (the lowest sale price), noting
// the SKUs a promotion lists through several products.
func (rd *promoReading) finish() []promoRow {
	slices.SortStableFunc(rd.rows, func(a, b promoRow) int {
		return cmp.Or(cmp.Compare(a.id, b.id), cmp.Compare(a.sku, b.sku))
	})
	out := rd.rows[:0]
	dups := 0
	for _, r := range rd.rows {
		if n := len(out); n > 0 && out[n-1].id == r.id && out[n-1].sku == r.sku {
			dups++
			if lower(r.sale, out[n-1].sale) {
				out[n-1].sale = r.sale
			}
			continue
		}
		out = append(out, r)
	}
	if dups > 0 {
		rd.notes = append(rd.notes, fmt.Sprintf("%d rows name a SKU their promotion or price book already has (several "+
			"products share it): the lowest price is kept", dups))
	}
	rd.rows = out
	return out
}
