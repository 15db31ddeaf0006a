package retailpos

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/record"
	"github.com/possync/possync/spec"
)

func init() {
	connectors.Sources.MustRegister(promotionsSpec, connectors.SourceOf(NewPromotionsSource))
}

// promotionsSchema is the schema of the retailpos_promotions source: the promotions transform's default
// column names (the Ascend promotions file's, domain README §7.1), plus Kind.
var promotionsSchema = arrow.NewSchema([]arrow.Field{
	{Name: "PromotionId", Type: arrow.BinaryTypes.String},
	{Name: "PromotionName", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "CreatedAt", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
	{Name: "StartDate", Type: arrow.FixedWidthTypes.Date32},
	{Name: "EndDate", Type: arrow.FixedWidthTypes.Date32},
	{Name: "Ecommerce", Type: arrow.FixedWidthTypes.Boolean},
	{Name: "Sku", Type: arrow.BinaryTypes.String},
	{Name: "SalePrice", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "Kind", Type: arrow.BinaryTypes.String},
}, nil)

type promotionsConfig struct {
	connection
	IncludePriceBooks bool   `spec:"include_price_books"`
	Timezone          string `spec:"timezone"`
}

// PromotionsSource reads the promotions and price books of a Lightspeed Retail X-Series store as rows for the
// promotions transform. Read may be called once per run; the source holds no per-read state.
type PromotionsSource struct {
	api        *api
	loc        *time.Location
	priceBooks bool
}

var (
	_ connectors.Source           = (*PromotionsSource)(nil)
	_ connectors.ConnectionTester = (*PromotionsSource)(nil)
)

// NewPromotionsSource builds a retailpos_promotions source. It checks the settings (a base URL or a domain
// prefix, a token, positive page size and timeout, a non-negative rate, a known IANA time zone) and touches
// no network.
func NewPromotionsSource(cfg spec.Config, _ connectors.Env) (*PromotionsSource, error) {
	c := promotionsConfig{connection: defaultConnection(), IncludePriceBooks: true, Timezone: "UTC"}
	if err := cfg.Decode(&c); err != nil {
		return nil, err
	}
	a, err := c.connect()
	if err != nil {
		return nil, err
	}
	zone := strings.TrimSpace(c.Timezone)
	loc, err := time.LoadLocation(zone)
	if err != nil || zone == "" || zone == "Local" {
		return nil, fmt.Errorf("timezone %q is not an IANA time zone such as America/Los_Angeles (set it to the pipeline's timezone)", c.Timezone)
	}
	return &PromotionsSource{api: a, loc: loc,
		priceBooks: c.IncludePriceBooks}, nil
}

// Schema returns the fixed promotion row schema.
func (s *PromotionsSource) Schema() *arrow.Schema { return promotionsSchema }

// Check asks for one promotion (and one price book when they are read), which proves the token and its
// promotions (and price books) scopes.
func (s *PromotionsSource) Check(ctx context.Context) error {
	a := s.api.forCheck() // answer within seconds
	one := url.Values{"page_size": {"1"}}
	var body struct{}
	if err := a.get(ctx, "/promotions/search", one, &body); err != nil {
		return fmt.Errorf("list promotions: %w", err)
	}
	if s.priceBooks {
		if err := a.get(ctx, "/price_books", one, &body); err != nil {
			return fmt.Errorf("list price books: %w", err)
		}
	}
	return nil
}

// Read reads the promotions (and price books) that have not ended before the evaluation date (req.Now in
// the configured time zone) and returns one row per (promotion, SKU) as a Snapshot keyed by PromotionId and
// Sku. All the requests happen here; the returned reader only builds batches.
func (s *PromotionsSource) Read(ctx context.Context, req connectors.ReadRequest) (connectors.Reader, error) {
	now := req.Now
	if now.IsZero() {
		now = time.Now()
	}
	rd := &promoReading{api: s.api, loc: s.loc, today: localDate(now, s.loc)}
	if err := rd.promotions(ctx); err != nil {
		return nil, err
	}
	if s.priceBooks {
		if err := rd.priceBooks(ctx); err != nil {
			return nil, err
		}
	}
	alloc := req.Alloc
	if alloc == nil {
		alloc = memory.DefaultAllocator
	}
	return &promoReader{rows: rd.finish(), alloc: alloc, result: connectors.ReadResult{Mode: connectors.Snapshot,
		Key: []string{"PromotionId", "Sku"}, Rejects: rd.rejects, Notes: rd.notes}}, nil
}

// promoReader yields the rows of a finished read as batches.
type promoReader struct {
	rows   []promoRow
	alloc  memory.Allocator
	result connectors.ReadResult
}

var _ connectors.Reader = (*promoReader)(nil)

// Next builds the next batch of at most batchSize rows.
func (r *promoReader) Next(ctx context.Context) (arrow.RecordBatch, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(r.rows) == 0 {
		return nil, io.EOF
	}
	n := min(batchSize, len(r.rows))
	recs := make([]record.Record, n)
	for i := range recs {
		recs[i] = r.rows[i].record()
	}
	r.rows = r.rows[n:]
	b, err := record.BuildBatch(r.alloc, promotionsSchema, recs)
	if err != nil {
		return nil, fmt.Errorf("build batch: %w", err)
	}
	return b, nil
}

// Result reports the read's mode, key, rejects and notes.
func (r *promoReader) Result() connectors.ReadResult { return r.result }

// Close drops the remaining rows.
func (r *promoReader) Close() error {
	r.rows = nil
	return nil
}

// record renders the row with the schema's field names.
func (r *promoRow) record() record.Record {
	rec := record.Record{"PromotionId": r.id, "PromotionName": str(r.name), "CreatedAt": nil, "StartDate": r.start,
		"EndDate": r.end, "Ecommerce": r.ecommerce, "Sku": r.sku, "SalePrice": nil, "Kind": r.kind}
	if !r.createdAt.IsZero() {
		rec["CreatedAt"] = r.createdAt
	}
	if r.sale != nil {
		rec["SalePrice"] = *r.sale
	}
	return rec
}
