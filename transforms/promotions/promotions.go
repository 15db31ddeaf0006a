// Package promotions is the promotions transform: it resolves, per item, the promotion whose sale price the
// website uses (domain README §7.4) and replaces the item's price with it while the sale is on.
//
//	type: promotions
//	name: priced
//	items: products              # the item rows
//	promotions: promos           # one row per (promotion, item), Ascend's §7.1 columns by default
//	compare_to: compare_to_price # optional: the regular price while a sale is on, NULL otherwise
//
// A promotion applies to an item on the evaluation date (Env.Now's date in Env.Location) when StartDate ≤
// date ≤ EndDate (both inclusive) and its Ecommerce flag is set. Among those, the earliest CreatedAt wins;
// equal creation times go to the lowest PromotionId. The winner's sale price replaces the price, unless it is
// above the regular price (or missing): then the price stays regular and the plan gets a note.
//
// The step is a SQL step (transforms.SQL): it generates one DuckDB query over the two relations, so the
// resolution runs set-based at catalog scale. It is also a transforms.Reporter (upcoming promotion starts and
// ends, and the sale prices not applied) and a transforms.Annotator (which promotion won and which lost).
package promotions

import (
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/possync/possync/spec"
	"github.com/possync/possync/transforms"
)

// Output fields the step adds to its items, besides the optional compare_to and promoted fields.
const (
	FieldSalePrice = "sale_price"
	FieldSaleStart = "sale_start"
	FieldSaleEnd   = "sale_end"
	// FieldWon and FieldLost are annotations (see Annotations): the winning promotion as "id (name)", and the
	// ids of the item's other active eCommerce promotions, comma-separated, in precedence order.
	FieldWon  = "promotion_won"
	FieldLost = "promotion_lost"
)

var component = spec.Component{
	Kind:    spec.KindTransform,
	Name:    "promotions",
	Summary: "Applies each item's winning promotion: sale price, dates and compare-to price.",
	Description: "Per item, the promotions active on the evaluation date in the pipeline's timezone (StartDate " +
		"≤ date ≤ EndDate, both inclusive) with E-Commerce checked compete: the earliest created wins, equal " +
		"creation times go to the lowest promotion ID (numerically when both are integers). While a sale is on, " +
		"`price` is the winner's sale price and `sale_price`, `sale_start`, `sale_end` are set (NULL otherwise); " +
		"a sale price above the regular price is not applied and is reported in the plan. The plan also lists " +
		"the promotion starts and ends due within `horizon`, and shows for each item which promotion won and " +
		"which lost (the annotations `promotion_won` and `promotion_lost`, never sent to the sink).\n\n" +
		"Output fields named like the step's own outputs (sale_price, ..., compare_to, promoted) are replaced. " +
		"The items are the step's input (its `input:`, else the previous step's output).",
	Fields: []spec.Field{
		{Name: "items", Type: spec.TypeString, Advanced: true,
			Description: "The relation holding one row per item. Default: the step's input.",
			Example:     "products"},
		{Name: "promotions", Type: spec.TypeString, Required: true,
			Description: "The relation (a source or an earlier step) holding one row per (promotion, item).",
			Example:     "promos"},
		{Name: "key", Type: spec.TypeString, Default: defaultKey,
			Description: "The item key field, in both relations (names match case-insensitively)."},
		{Name: "price", Type: spec.TypeString, Default: defaultPrice,
			Description: "The items' regular price field; the output replaces it with the effective price."},
		{Name: "compare_to", Type: spec.TypeString,
			Description: "Output field set to the regular price while a sale is on and NULL otherwise. Set it " +
				"only when the pipeline owns the compare-to price.",
			Example: "compare_to_price"},
		{Name: "promoted", Type: spec.TypeString, Advanced: true,
			Description: "Output bool field: true when the item is in an active eCommerce promotion (whether " +
				"or not its sale price applies), e.g. for Ascend's website eligibility.",
			Example: "on_promotion"},
		{Name: "columns", Type: spec.TypeObject,
			Description: "Names of the promotions relation's columns (defaults: the Ascend promotions file).",
			Fields: []spec.Field{
				{Name: "id", Type: spec.TypeString, Default: defaultColumns.ID,
					Description: "Promotion ID (the tie-break: lowest wins)."},
				{Name: "name", Type: spec.TypeString, Default: defaultColumns.Name,
					Description: "Promotion name shown in the plan; empty: none."},
				{Name: "created_at", Type: spec.TypeString, Default: defaultColumns.CreatedAt,
					Description: "When the promotion was created (a timestamp, or text DuckDB casts to one)."},
				{Name: "start", Type: spec.TypeString, Default: defaultColumns.Start,
					Description: "First day of the promotion (a date), in the store's time zone."},
				{Name: "end", Type: spec.TypeString, Default: defaultColumns.End,
					Description: "Last day of the promotion (a date), in the store's time zone."},
				{Name: "ecommerce", Type: spec.TypeString, Default: defaultColumns.Ecommerce,
					Description: "E-Commerce flag: a bool, or text Y/N (yes/no, true/false, 1/0); empty: every " +
						"row is an eCommerce promotion."},
				{Name: "sale_price", Type: spec.TypeString, Default: defaultColumns.SalePrice,
					Description: "The item's sale price under the promotion."},
			}},
		{Name: "horizon", Type: spec.TypeDuration, Default: "168h",
			Description: "The plan lists the promotion starts and ends due within this time after the " +
				"evaluation time (at most 366 days)."},
	},
	Example: "type: promotions\nname: priced\ninput: products\nitems: products\npromotions: promos\n" +
		"compare_to: compare_to_price\n",
	Config: config{},
}

func init() { transforms.Registry.MustRegister(component, New) }

// Step is a configured promotions transform. It implements transforms.SQL, transforms.Reporter and
// transforms.Annotator.
type Step struct {
	c     config
	pos   spec.Pos
	now   time.Time
	loc   *time.Location
	query string
}

var _ interface {
	transforms.Transform
	transforms.SQL
	transforms.Reporter
	transforms.Annotator
} = (*Step)(nil)

// New returns the step for the evaluation time env.Now in env.Location (UTC when nil). It does not read
// env.Input: the runner checks the generated query against the relations. An inconsistent configuration
// (a blank relation or field name, an output field named twice, a horizon out of range) is a
// *spec.Diagnostic.
func New(cfg spec.Config, env transforms.Env) (transforms.Transform, error) {
	c := config{Key: defaultKey, Price: defaultPrice, Columns: defaultColumns, Horizon: defaultHorizon}
	if err := cfg.Decode(&c); err != nil {
		return nil, fmt.Errorf("promotions: %w", err)
	}
	if c.Items == "" {
		c.Items = env.InputName
	}
	if err := check(c, cfg.Pos); err != nil {
		return nil, err
	}
	loc := env.Location
	if loc == nil {
		loc = time.UTC
	}
	s := &Step{c: c, pos: cfg.Pos, now: env.Now, loc: loc}
	s.query = s.outputSQL()
	return s, nil
}

// Query returns the generated query, positioned at the step's block (it has no place in the file of its own).
func (s *Step) Query() spec.Expr { return spec.Expr{Text: s.query, Pos: s.pos} }

// ReportSQL returns the plan's notes (sale prices not applied) and upcoming changes (promotion starts and
// ends within the horizon), read from the step's relations; output is not needed.
func (s *Step) ReportSQL(string) string { return s.reportSQL() }

// Annotations returns the annotation fields: promotion_won and promotion_lost.
func (s *Step) Annotations() []string { return []string{FieldWon, FieldLost} }

// Schema returns nil: the runner finds the output schema by preparing the query.
func (s *Step) Schema() *arrow.Schema { return nil }
