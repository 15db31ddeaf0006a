package ecom

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/connectors/internal/gtin"
	"github.com/possync/possync/record"
	"github.com/possync/possync/spec"
)

// defaultMPNAttribute names the product attribute the MPN is read from: Ecwid has no MPN field.
const defaultMPNAttribute = "MPN"

// maxNotedUPCs caps how many invalid website UPCs the read's note lists by SKU.
const maxNotedUPCs = 10

var productsSpec = spec.Component{
	Kind:    spec.KindSource,
	Name:    "ecom_products",
	Summary: "Read a Lightspeed eCom (E-Series) store's catalog identifiers (SKU, UPC, MPN, brand) through the Ecwid REST API v3.",
	Description: `Lists the store's products and their combinations (variants), as the ecom sink's plan --refresh
does, as records of the identifiers a POS item is matched by: the website catalog the match transform maps
POS items to. The read is a snapshot keyed by sku.

Fields: sku (the product's or the combination's SKU; combinations without their own SKU are left out),
parent_sku (the product's SKU, for a combination; null for a product), upc (the attribute of type UPC, as the
store has it), gtin14 (upc normalised to 14 digits as the ascend source does: 11 to 14 digits, spaces removed,
left-padded with zeros, GS1 check digit verified), mpn, brand (the attribute of type BRAND) and name. A
combination has its own upc and mpn attributes and its product's brand and name. Empty text is null.

Ecwid has no MPN field: the MPN is read from the product attribute named mpn_attribute (type CUSTOM, name
matched case-insensitively), the attribute a merchant adds to the product type. A UPC that is not a valid
GTIN leaves gtin14 null (the product can then match only by MPN) and is listed in the run's notes.`,
	Fields: append(productsConnectionFields(),
		spec.Field{Name: "mpn_attribute", Type: spec.TypeString, Default: defaultMPNAttribute, Advanced: true,
			Description: "Name of the custom product attribute holding the manufacturer part number."}),
	Example: `sources:
  website:
    type: ecom_products
    store_id: "1003"
    token: ${ECOM_TOKEN}`,
	Config: productsConfig{},
}

// productsConnectionFields are the sink's connection fields; the source needs only the read_catalog scope.
func productsConnectionFields() []spec.Field {
	fs := append([]spec.Field{}, connectionFields...)
	for i := range fs {
		if fs[i].Name == "token" {
			fs[i].Description = "A secret_ access token with the read_catalog scope."
		}
	}
	return fs
}

func init() {
	connectors.Sources.MustRegister(productsSpec, connectors.SourceOf(NewProductsSource))
}

// productsSchema is the schema of the ecom_products source.
var productsSchema = arrow.NewSchema([]arrow.Field{
	{Name: "sku", Type: arrow.BinaryTypes.String},
	{Name: "parent_sku", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "upc", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "gtin14", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "mpn", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "brand", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
}, nil)

// productsConfig is the decoded configuration of an ecom_products source.
type productsConfig struct {
	StoreID           string        `spec:"store_id"`
	Token             spec.Secret   `spec:"token"`
	BaseURL           string        `spec:"base_url"`
	RequestsPerMinute int           `spec:"requests_per_minute"`
	Timeout           time.Duration `spec:"timeout"`
	RetryBudget       time.Duration `spec:"retry_budget"`
	MPNAttribute      string        `spec:"mpn_attribute"`
}

// ProductsSource reads the store's catalog identifiers. Read may be called once at a time.
type ProductsSource struct {
	s       *Sink
	mpnAttr string
}

var (
	_ connectors.Source           = (*ProductsSource)(nil)
	_ connectors.ConnectionTester = (*ProductsSource)(nil)
)

// NewProductsSource builds the source from its configuration (store_id and token required; an absolute
// base_url). It sends no request.
func NewProductsSource(cfg spec.Config, env connectors.Env) (*ProductsSource, error) {
	c := productsConfig{MPNAttribute: defaultMPNAttribute}
	if err := cfg.Decode(&c); err != nil {
		return nil, err
	}
	if strings.TrimSpace(c.MPNAttribute) == "" {
		return nil, fmt.Errorf("mpn_attribute is empty: name the product attribute holding the MPN")
	}
	s, err := build(config{StoreID: c.StoreID, Token: c.Token, BaseURL: c.BaseURL, RequestsPerMinute: c.RequestsPerMinute,
		Timeout: c.Timeout, RetryBudget: c.RetryBudget}, connectors.Env{Pipeline: env.Pipeline, Dir: env.Dir})
	if err != nil {
		return nil, err
	}
	return &ProductsSource{s: s, mpnAttr: strings.TrimSpace(c.MPNAttribute)}, nil
}

// Schema returns the catalog record schema (fixed).
func (ps *ProductsSource) Schema() *arrow.Schema { return productsSchema }

// Check reads one product: the store is reachable and the token may read the catalog.
func (ps *ProductsSource) Check(ctx context.Context) error { return ps.s.Check(ctx) }

// Read lists the store page by page (one batch per page of 100 products) as a snapshot keyed by sku; the
// result's notes list the UPCs that are not valid GTINs.
func (ps *ProductsSource) Read(_ context.Context, req connectors.ReadRequest) (connectors.Reader, error) {
	bad := &badUPCs{}
	l := &lister{s: ps.s, schema: productsSchema, alloc: req.Alloc, total: -1, notes: bad.notes,
		records: func(p *product) []record.Record { return ps.records(p, bad) }}
	return l, nil
}

// records is a store product and each of its combinations with a SKU as catalog records.
func (ps *ProductsSource) records(p *product, bad *badUPCs) []record.Record {
	brand, name := attr(p.Attributes, "BRAND"), nullable(p.Name)
	rec := func(sku string, parent any, attrs []attribute) record.Record {
		upc := attr(attrs, "UPC")
		r := record.Record{"sku": sku, "parent_sku": parent, "upc": upc, "gtin14": nil,
			"mpn": ps.mpn(attrs), "brand": brand, "name": name}
		if s, ok := upc.(string); ok {
			g, err := gtin.Normalize(s)
			var ge *gtin.Error
			switch {
			case errors.As(err, &ge):
				bad.add(sku, ge)
			case g != "":
				r["gtin14"] = g
			}
		}
		return r
	}
	recs := []record.Record{rec(p.SKU, nil, p.Attributes)}
	for _, c := range p.Combinations {
		if c.SKU != "" {
			recs = append(recs, rec(c.SKU, p.SKU, c.Attributes))
		}
	}
	return recs
}

// mpn reads the custom attribute holding the MPN.
func (ps *ProductsSource) mpn(attrs []attribute) any {
	for _, a := range attrs {
		if a.Type == "CUSTOM" && strings.EqualFold(strings.TrimSpace(a.Name), ps.mpnAttr) {
			return nullable(a.Value)
		}
	}
	return nil
}

// badUPCs collects the website UPCs that are not GTINs.
type badUPCs struct {
	n      int
	listed []string
}

func (b *badUPCs) add(sku string, err *gtin.Error) {
	b.n++
	if len(b.listed) < maxNotedUPCs {
		b.listed = append(b.listed, fmt.Sprintf("SKU %s: UPC %s", sku, err.Detail))
	}
}

func (b *badUPCs) notes() []string {
	if b.n == 0 {
		return nil
	}
	more := ""
	if b.n > len(b.listed) {
		more = fmt.Sprintf("; and %d more", b.n-len(b.listed))
	}
	return []string{fmt.Sprintf("%d website product(s) have a UPC that is not a valid GTIN (gtin14 left empty: they "+
		"can match POS items only by MPN): %s%s", b.n, strings.Join(b.listed, "; "), more)}
}
