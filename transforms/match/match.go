// Package match is the match transform: it maps each POS item to the website product it is (domain README
// §1.3 and §7.1), by GTIN-14, else by MPN and brand, honouring the decisions made by hand.
//
//	type: match
//	name: matched
//	input: inventory          # the POS items (the ascend source's fields by default)
//	products: website         # the website catalog (the ecom_products source's fields by default)
//	mappings: mappings.csv    # optional: pos_sku,website_sku decided by hand
//
// The rules, first that applies:
//  1. manual: the item's pos_sku is in the mappings file: its website_sku (empty: no website product). A
//     website SKU the products lack is not used: the item is pending.
//  2. ambiguous_gtin: several items carry the item's GTIN-14 (or the items flag it, gtin_ambiguous): none
//     of them is mapped.
//  3. gtin: exactly one website product has the item's GTIN-14 (several: pending).
//  4. mpn_brand: exactly one website product has the item's MPN and brand, both exactly (several: pending).
//  5. pending: website products have the item's MPN, but none with the item's brand (blank or different).
//  6. unmatched: nothing matches.
//
// A website product is then given to one item only: when several items map to it, the strongest match
// (manual, then gtin, then mpn_brand) keeps it if it is the only one of its kind; the others become pending.
//
// The step is a SQL step (transforms.SQL): one DuckDB query over the two relations. It is a
// transforms.Reporter (a plan note per pending item naming the candidates, and per ambiguous GTIN) and a
// transforms.Annotator (the match field explains a change and is never sent).
package match

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/possync/possync/spec"
	"github.com/possync/possync/transforms"
)

// Output fields the step adds to its items.
const (
	// FieldWebsiteSKU is the mapped website product's SKU, or NULL.
	FieldWebsiteSKU = "website_sku"
	// FieldMatch says how (or why not): one of the Match values. It is an annotation.
	FieldMatch = "match"
)

// Values of the match field.
const (
	MatchManual        = "manual"
	MatchGTIN          = "gtin"
	MatchMPNBrand      = "mpn_brand"
	MatchPending       = "pending"
	MatchUnmatched     = "unmatched"
	MatchAmbiguousGTIN = "ambiguous_gtin"
)

var component = spec.Component{
	Kind:    spec.KindTransform,
	Name:    "match",
	Summary: "Maps POS items to website products by GTIN, else MPN and brand; ambiguous matches wait for a decision.",
	Description: "Adds `website_sku` (the website product the item is, or NULL) and `match` to every item. " +
		"The first rule that applies decides `match`: `manual` (the item is in the mappings file: its " +
		"website_sku, or none when left empty), `ambiguous_gtin` (several items carry the item's GTIN-14, or " +
		"the items flag it: none of them is mapped), `gtin` (exactly one website product has the GTIN-14), " +
		"`mpn_brand` (exactly one website product has the item's MPN and brand, both compared exactly), " +
		"`pending` (several website products have the GTIN, or the MPN and brand, or products have the MPN " +
		"with a blank or different brand: never mapped automatically), else `unmatched`. GTINs compare as " +
		"GTIN-14: spaces removed, 11 to 14 digits left-padded with zeros, so a UPC-A, its EAN-13 and its " +
		"GTIN-14 are equal; other values never match (the ascend and ecom_products sources check the " +
		"check digit and give gtin14 already normalised). MPN and brand compare exactly. A website product goes to one item only: when several " +
		"items map to it, the strongest match (manual, gtin, mpn_brand) keeps it if it is alone of its kind, " +
		"and the others are pending. A manual website SKU the products lack is pending too.\n\n" +
		"The plan lists a note per pending item naming the candidate website SKUs (the pending-mapping " +
		"report) and per ambiguous GTIN; decide them in the mappings file, which wins over every rule from " +
		"then on. `match` is an annotation: the plan shows it beside the item's changes; it is never compared " +
		"or sent. An items field named website_sku or match is replaced.",
	Fields: []spec.Field{
		{Name: "items", Type: spec.TypeString, Advanced: true,
			Description: "The relation holding one row per POS item. Default: the step's input.",
			Example:     "inventory"},
		{Name: "products", Type: spec.TypeString, Required: true,
			Description: "The relation (a source or an earlier step) holding one row per website product.",
			Example:     "website"},
		{Name: "mappings", Type: spec.TypeString,
			Description: "A CSV file of decisions made by hand, relative to the pipeline file's folder: the " +
				"header pos_sku,website_sku, then one item per line; an empty website_sku says the item is no " +
				"website product. Lines starting with # are comments. Read when the step is built.",
			Example: "mappings.csv"},
		{Name: "columns", Type: spec.TypeObject,
			Description: "Field names of the two relations (defaults: the ascend and ecom_products sources). An " +
				"empty gtin, gtin_ambiguous, mpn or brand turns that field off.",
			Fields: []spec.Field{
				{Name: "items", Type: spec.TypeObject, Description: "Fields of the items.", Fields: []spec.Field{
					{Name: "key", Type: spec.TypeString, Default: defaultColumns.Items.Key,
						Description: "The POS SKU: the pos_sku of the mappings file."},
					{Name: "gtin", Type: spec.TypeString, Default: defaultColumns.Items.GTIN,
						Description: "The normalised GTIN-14."},
					{Name: "gtin_ambiguous", Type: spec.TypeString, Default: defaultColumns.Items.Ambiguous,
						Description: "A bool: true when the source found the GTIN on several items."},
					{Name: "mpn", Type: spec.TypeString, Default: defaultColumns.Items.MPN,
						Description: "Manufacturer part number."},
					{Name: "brand", Type: spec.TypeString, Default: defaultColumns.Items.Brand,
						Description: "Manufacturer or brand."},
				}},
				{Name: "products", Type: spec.TypeObject, Description: "Fields of the website products.", Fields: []spec.Field{
					{Name: "sku", Type: spec.TypeString, Default: defaultColumns.Products.SKU,
						Description: "The website product's SKU: the output website_sku."},
					{Name: "gtin", Type: spec.TypeString, Default: defaultColumns.Products.GTIN,
						Description: "The normalised GTIN-14."},
					{Name: "mpn", Type: spec.TypeString, Default: defaultColumns.Products.MPN,
						Description: "Manufacturer part number."},
					{Name: "brand", Type: spec.TypeString, Default: defaultColumns.Products.Brand,
						Description: "Manufacturer or brand."},
				}},
			}},
	},
	Example: "type: match\nname: matched\ninput: inventory\nproducts: website\nmappings: mappings.csv\n",
	Config:  config{},
}

func init() { transforms.Registry.MustRegister(component, New) }

// Step is a configured match transform. It implements transforms.SQL, transforms.Reporter and
// transforms.Annotator.
type Step struct {
	c        config
	pos      spec.Pos
	mappings []mapping
	query    string
}

var _ interface {
	transforms.Transform
	transforms.SQL
	transforms.Reporter
	transforms.Annotator
} = (*Step)(nil)

// New returns the step. It reads the mappings file (relative to env.Dir) now, so that `possync validate`
// reports a file that is missing or malformed; it does not read env.Input. An inconsistent configuration or a
// bad mappings file is a *spec.Diagnostic.
func New(cfg spec.Config, env transforms.Env) (transforms.Transform, error) {
	c := config{Columns: defaultColumns}
	if err := cfg.Decode(&c); err != nil {
		return nil, fmt.Errorf("match: %w", err)
	}
	if c.Items == "" {
		c.Items = env.InputName
	}
	if err := check(c, cfg.Pos); err != nil {
		return nil, err
	}
	s := &Step{c: c, pos: cfg.Pos}
	if c.Mappings != "" {
		ms, err := readMappings(c.Mappings, env.Dir, pointer(cfg.Pos, "mappings"))
		if err != nil {
			return nil, err
		}
		s.mappings = ms
	}
	s.query = s.outputSQL()
	return s, nil
}

// Query returns the generated query, positioned at the step's block.
func (s *Step) Query() spec.Expr { return spec.Expr{Text: s.query, Pos: s.pos} }

// ReportSQL returns the plan's notes: one per pending item, with its candidates, and one per ambiguous GTIN.
// They are computed from the step's relations; output is not needed.
func (s *Step) ReportSQL(string) string { return s.reportSQL() }

// Annotations returns the annotation field: match.
func (s *Step) Annotations() []string { return []string{FieldMatch} }

// Schema returns nil: the runner finds the output schema by preparing the query.
func (s *Step) Schema() *arrow.Schema { return nil }
