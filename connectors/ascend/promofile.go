package ascend

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/possync/possync/connectors"
)

// Columns of promo uploads (§7.1); the constants index promoColumns.
const (
	pPromotionID = iota
	pPromotionName
	pCreatedAt
	pStartDate
	pEndDate
	pEcommerce
	pSku
	pSalePrice
)

var promoColumns = []column{
	pPromotionID:   {"PromotionId", []string{"PromoId"}},
	pPromotionName: {"PromotionName", []string{"PromoName"}},
	pCreatedAt:     {"CreatedAt", []string{"Created", "CreatedDate"}},
	pStartDate:     {"StartDate", nil},
	pEndDate:       {"EndDate", nil},
	pEcommerce:     {"Ecommerce", []string{"Ecom", "ECommerceEnabled"}},
	pSku:           {"Sku", []string{"ItemSku", "ProductSku"}},
	pSalePrice:     {"SalePrice", []string{"PromoPrice", "PromotionPrice"}},
}

var promoRequired = []int{pPromotionID, pCreatedAt, pStartDate, pEndDate, pEcommerce, pSku, pSalePrice}

// reasonBadWindow rejects a promotion that ends before it starts.
const reasonBadWindow = "bad_window"

// promotion is one (promotion, item) row.
type promotion struct {
	id, name, sku string
	createdAt     time.Time
	start, end    int32 // days since 1970-01-01
	ecommerce     bool
	salePrice     float64
	file          upload
}

type promoKey struct{ id, sku string }

// promoFile is a parsed promo upload.
type promoFile struct {
	encoding string
	promos   []*promotion
	rejects  []connectors.Reject
	withheld map[promoKey]bool
	rows     int
}

// parsePromotions parses a promo upload; CreatedAt is read in zone. Unusable rows become rejects keyed by
// PromotionId and Sku; a (promotion, item) pair on several rows rejects them all.
func parsePromotions(u upload, data []byte, zone *time.Location) (*promoFile, error) {
	text, enc, err := decodeText(data)
	if err != nil {
		return nil, err
	}
	t, header, err := newTable(text)
	if err != nil {
		return nil, err
	}
	pos, err := matchHeader(header, promoColumns, promoRequired)
	if err != nil {
		return nil, err
	}
	f := &promoFile{encoding: enc, withheld: map[promoKey]bool{}}
	lines := map[promoKey][]int{}
	byKey := map[promoKey]*promotion{}
	for {
		fields, line, ok, err := t.next()
		if !ok {
			break
		}
		f.rows++
		var p *promotion
		if err == nil {
			p, err = parsePromoRow(fields, pos, len(header), zone)
		}
		if err != nil {
			f.reject(u.Name, line, promoKeyOf(fields, pos, len(header), err), err)
			continue
		}
		p.file = u
		k := promoKey{p.id, p.sku}
		lines[k] = append(lines[k], line)
		byKey[k] = p
		f.promos = append(f.promos, p)
	}
	kept := f.promos[:0]
	for _, p := range f.promos {
		k := promoKey{p.id, p.sku}
		if ls := lines[k]; len(ls) > 1 {
			if byKey[k] == p { // once per duplicated pair
				for _, l := range ls {
					f.reject(u.Name, l, &k, &rowError{reasonDuplicate, fmt.Sprintf("promotion %q lists SKU %q on lines %s", p.id, p.sku, joinInts(ls))})
				}
			}
			continue
		}
		kept = append(kept, p)
	}
	f.promos = kept
	return f, nil
}

func (f *promoFile) reject(name string, line int, k *promoKey, err error) {
	r := connectors.Reject{Where: fmt.Sprintf("%s:%d", name, line), Reason: err.Error()}
	if k != nil {
		r.Key = map[string]any{"PromotionId": k.id, "Sku": k.sku}
		f.withheld[*k] = true
	}
	f.rejects = append(f.rejects, r)
}

// promoKeyOf returns a rejected row's key when it has both parts.
func promoKeyOf(fields []string, pos []int, n int, err error) *promoKey {
	var re *rowError
	if len(fields) != n || (errors.As(err, &re) && re.Reason == reasonFieldCount) {
		return nil
	}
	k := promoKey{fields[pos[pPromotionID]], fields[pos[pSku]]}
	if k.id == "" || k.sku == "" {
		return nil
	}
	return &k
}

func parsePromoRow(fields []string, pos []int, n int, zone *time.Location) (*promotion, error) {
	if len(fields) != n {
		return nil, &rowError{reasonFieldCount, fmt.Sprintf("%d field(s), the header has %d", len(fields), n)}
	}
	get := func(c int) string {
		if pos[c] < 0 {
			return ""
		}
		return fields[pos[c]]
	}
	for _, c := range promoRequired {
		if strings.TrimSpace(get(c)) == "" {
			return nil, &rowError{reasonMissing, fmt.Sprintf("%s is empty; it is required in a promo upload", promoColumns[c].name)}
		}
	}
	p := &promotion{id: get(pPromotionID), name: get(pPromotionName), sku: get(pSku)}
	var err error
	if p.createdAt, err = parseDateTime("CreatedAt", get(pCreatedAt), zone); err != nil {
		return nil, err
	}
	start, err := parseDate("StartDate", get(pStartDate))
	if err != nil {
		return nil, err
	}
	end, err := parseDate("EndDate", get(pEndDate))
	if err != nil {
		return nil, err
	}
	if end.v < start.v {
		return nil, &rowError{reasonBadWindow, fmt.Sprintf("EndDate %s is before StartDate %s", get(pEndDate), get(pStartDate))}
	}
	p.start, p.end = start.v, end.v
	if p.ecommerce, _, err = parseFlag("Ecommerce", get(pEcommerce)); err != nil {
		return nil, err
	}
	price, err := parseDecimal("SalePrice", get(pSalePrice))
	if err != nil {
		return nil, err
	}
	p.salePrice = price.v
	return p, nil
}

func sortPromotions(ps []*promotion) {
	sort.Slice(ps, func(i, j int) bool {
		if ps[i].id != ps[j].id {
			return ps[i].id < ps[j].id
		}
		return ps[i].sku < ps[j].sku
	})
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, ", ")
}
