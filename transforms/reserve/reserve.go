// Package reserve is the reserve transform: it keeps an inventory pipeline from selling twice what the
// website already sold (issue 11, "double selling"). The stock a POS uploads (Ascend's inventory files, the
// Retail POS inventory) does not yet count the website orders the POS has not imported; pushed as is, it
// would reset the website's stock of items already sold online. The step subtracts, per stock item, the
// quantities of the open website orders that the POS has not imported yet, never below 0, and reports per
// item the reserved quantity and the orders that hold it.
//
//	type: reserve
//	name: desired
//	input: records            # the stock: one row per item, with its quantity
//	orders: orders            # order records (connectors/order.Schema): an order_url or shopify_orders source
//	quantity: quantity        # the stock field to reduce
//	code_field: sku           # the stock field a line's code equals
//	gtin_field: ""            # optional: the stock field a line's GTIN1 or GTIN2 equals (as GTIN-14)
//
// Which orders reserve: every order of the orders relation that is not cancelled (cancelled = true), not
// marked imported (an `imported` column, when the relation has one, is true: shopify_orders' mark), and
// whose web_status is not one of released_statuses (cancelled, fulfilled, restocked, completed). The
// order_url source serves exactly the orders the website has not had confirmed, i.e. not yet imported by the
// POS, so every order it serves that is not cancelled reserves; once the POS imported an order, the
// website stops serving it and its quantities are in the POS's own numbers. Lines fulfilled by a supplier
// (supplier_fulfilled) never leave the store's stock and reserve nothing.
//
// Which item a line reserves: the first of code (the line's code equals the stock's code_field, trimmed) and
// gtin (the line's GTIN1 or GTIN2 equals the stock's gtin_field, compared as GTIN-14) that finds stock items
// decides; exactly one item takes the reservation. A line that matches no item, or several, reserves nothing
// and is a plan note naming the order and the line: never guessed.
//
// The step is a SQL step (transforms.SQL): one DuckDB query over the stock and the orders, the lines unnested
// by DuckDB's JSON functions. It is a transforms.Reporter (a note per reserved item and per line it could
// not place) and a transforms.Annotator (the reserved field explains a quantity change in the plan and is
// never sent).
package reserve

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/possync/possync/spec"
	"github.com/possync/possync/transforms"
)

// FieldReserved is the annotation the step adds to each stock row: the reserved quantity and the orders that
// hold it (e.g. "3: 1001 (2), 1003 (1)"), NULL when nothing is reserved.
const FieldReserved = "reserved"

var component = spec.Component{
	Kind:    spec.KindTransform,
	Name:    "reserve",
	Summary: "Subtracts the open website orders the POS has not imported yet from the stock, so an upload never resells them.",
	Description: "The step's input is the stock: one row per item with its quantity (e.g. the records an Ascend or " +
		"Retail POS inventory pipeline sends to the website). `orders` names a relation of order records: an " +
		"order_url source (set `confirm: false` on it: an inventory pipeline only reads the orders) or a " +
		"shopify_orders source. The output is the stock with each item's quantity reduced by the quantities its " +
		"open orders hold, never below 0 (a NULL quantity, an unlimited item, stays NULL; an integer quantity " +
		"is reduced by whole units, a fraction rounded up), and the annotation `reserved` (\"3: 1001 (2), 1003 (1)\").\n\n" +
		"An order reserves while it is open and not imported by the POS: not cancelled (cancelled = true), not " +
		"marked imported (a boolean `imported` column, when the relation has one: shopify_orders' mark), and its " +
		"web_status is not one of released_statuses (compared case-insensitively). The order export (order_url) " +
		"serves exactly the orders not yet confirmed, that is not yet imported by the POS, so its orders reserve " +
		"until the POS imports them; from then on their quantities are in the POS's numbers and are not " +
		"subtracted again. A cancelled order releases its reservation. Lines fulfilled by a supplier " +
		"(supplier_fulfilled) reserve nothing.\n\n" +
		"A line reserves the stock item its code equals (code_field), else the item its GTIN1 or GTIN2 equals as " +
		"a GTIN-14 (gtin_field, when set): the first key that finds items decides, and only when it finds exactly " +
		"one. The plan lists a note per reserved item (the quantity, the orders holding it, the quantity before " +
		"and after) and per open order line that matches no item or several (nothing is reserved for it). An " +
		"input field named reserved is replaced.",
	Fields: []spec.Field{
		{Name: "orders", Type: spec.TypeString, Required: true, Example: "orders",
			Description: "The relation of order records (an order_url or shopify_orders source)."},
		{Name: "quantity", Type: spec.TypeString, Default: defaultQuantity,
			Description: "The stock field holding the quantity to reduce (a number)."},
		{Name: "code_field", Type: spec.TypeString, Default: defaultCodeField,
			Description: "The stock field an order line's code equals (trimmed, exactly): the website SKU. \"\" " +
				"turns matching by code off."},
		{Name: "gtin_field", Type: spec.TypeString, Example: "gtin14",
			Description: "The stock field holding the item's GTIN (UPC/EAN): a line whose GTIN1 or GTIN2 equals it " +
				"as a GTIN-14 reserves the item, when no item has the line's code. Empty: off."},
		{Name: "released_statuses", Type: spec.TypeList, Items: &spec.Field{Type: spec.TypeString},
			Default: stringsAny(defaultReleased),
			Description: "Website statuses (web_status, case-insensitive) of orders that hold no stock any more: " +
				"cancelled, or shipped from the store."},
	},
	Example: "type: reserve\nname: desired\ninput: records\norders: orders\nquantity: quantity\ncode_field: sku\n",
	Config:  config{},
}

func stringsAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func init() { transforms.Registry.MustRegister(component, New) }

// Step is a configured reserve transform. It implements transforms.SQL, transforms.Reporter and
// transforms.Annotator.
type Step struct {
	c     config
	stock string
	pos   spec.Pos
	// qtype is the DuckDB type of the quantity field ("" when the input's schema is unknown), and whole says
	// it is an integer type (reservations then count in whole units, rounded up).
	qtype string
	whole bool
	query string
}

var _ interface {
	transforms.Transform
	transforms.SQL
	transforms.Reporter
	transforms.Annotator
} = (*Step)(nil)

// New returns the step. The stock is the step's input (env.InputName). When env.Input is known, the
// quantity, code and GTIN fields must be fields of it, and the quantity a number; an inconsistent
// configuration is a *spec.Diagnostic.
func New(cfg spec.Config, env transforms.Env) (transforms.Transform, error) {
	c := config{Quantity: defaultQuantity, CodeField: defaultCodeField, ReleasedStatuses: defaultReleased}
	if err := cfg.Decode(&c); err != nil {
		return nil, fmt.Errorf("reserve: %w", err)
	}
	c.Orders, c.Quantity = strings.TrimSpace(c.Orders), strings.TrimSpace(c.Quantity)
	c.CodeField, c.GTINField = strings.TrimSpace(c.CodeField), strings.TrimSpace(c.GTINField)
	if err := check(c, cfg.Pos); err != nil {
		return nil, err
	}
	if env.InputName == "" {
		return nil, spec.Errorf(pointer(cfg.Pos, "input"), spec.CodeBadValue, "name the stock relation in `input:`",
			"the step has no input: it reads the stock from its input")
	}
	s := &Step{c: c, stock: env.InputName, pos: cfg.Pos}
	if env.Input != nil {
		if err := s.checkInput(env.Input, cfg.Pos); err != nil {
			return nil, err
		}
	}
	s.query = s.outputSQL()
	return s, nil
}

// checkInput checks the configured fields against the stock's schema and finds the quantity's type.
func (s *Step) checkInput(in *arrow.Schema, at spec.Pos) error {
	var ds spec.Diagnostics
	names := make([]string, in.NumFields())
	for i, f := range in.Fields() {
		names[i] = f.Name
	}
	for _, f := range []struct{ path, name string }{{"quantity", s.c.Quantity}, {"code_field", s.c.CodeField}, {"gtin_field", s.c.GTINField}} {
		if f.name != "" && len(in.FieldIndices(f.name)) == 0 {
			ds.Append(spec.Errorf(pointer(at, f.path), spec.CodeBadValue, "the stock's fields are: "+strings.Join(names, ", "),
				"`%s`: %q is not a field of the stock (%s)", f.path, f.name, s.stock))
		}
	}
	if idx := in.FieldIndices(s.c.Quantity); len(idx) > 0 {
		t := in.Field(idx[0]).Type
		s.qtype, s.whole = duckNumber(t)
		if s.qtype == "" {
			ds.Append(spec.Errorf(pointer(at, "quantity"), spec.CodeBadValue, "name a numeric field, or convert it in an earlier step",
				"`quantity`: %q is a %s, not a number", s.c.Quantity, t))
		}
	}
	return ds.Err()
}

// duckNumber returns the DuckDB type of a numeric Arrow type and whether it is an integer type ("" when
// the type is not a number).
func duckNumber(t arrow.DataType) (string, bool) {
	switch t.ID() {
	case arrow.INT8:
		return "TINYINT", true
	case arrow.INT16:
		return "SMALLINT", true
	case arrow.INT32:
		return "INTEGER", true
	case arrow.INT64:
		return "BIGINT", true
	case arrow.UINT8:
		return "UTINYINT", true
	case arrow.UINT16:
		return "USMALLINT", true
	case arrow.UINT32:
		return "UINTEGER", true
	case arrow.UINT64:
		return "UBIGINT", true
	case arrow.FLOAT32:
		return "FLOAT", false
	case arrow.FLOAT64:
		return "DOUBLE", false
	case arrow.DECIMAL128, arrow.DECIMAL256:
		d := t.(arrow.DecimalType)
		return fmt.Sprintf("DECIMAL(%d, %d)", d.GetPrecision(), d.GetScale()), false
	}
	return "", false
}

// Query returns the generated query, positioned at the step's block.
func (s *Step) Query() spec.Expr { return spec.Expr{Text: s.query, Pos: s.pos} }

// ReportSQL returns the plan's notes: per reserved item, the quantity, the orders holding it and the
// quantity before and after; per open order line placed on no item or on several, why.
func (s *Step) ReportSQL(output string) string { return s.reportSQL(output) }

// Annotations returns the annotation field: reserved.
func (s *Step) Annotations() []string { return []string{FieldReserved} }

// Schema returns nil: the runner finds the output schema by preparing the query.
func (s *Step) Schema() *arrow.Schema { return nil }
