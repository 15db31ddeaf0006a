package ascend

import (
	"context"
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/spec"
)

var promotionsSpec = spec.Component{
	Kind:    spec.KindSource,
	Name:    "ascend_promotions",
	Summary: "Read the Ascend POS promotions companion uploads (<ShortName>_<YYYYMMDD>_<HHMMSS>_promo.txt) from an FTP server.",
	Description: `Reads the promotions an Ascend POS uploads beside its inventory files: one row per (promotion, item),
in the newest complete promo file of every location the pipeline reads (same connection, locations, mode,
partial-upload and reject rules as the ascend source). Promotions of several multi-site locations combine by
(PromotionId, Sku): the first location in configured order wins. With archive_dir, each applied run moves the
promo files older than the one it applied out of the folder.

The read is a snapshot keyed by PromotionId and Sku, with the promo file's columns (PromotionId, PromotionName,
CreatedAt, StartDate, EndDate, Ecommerce, Sku, SalePrice: the promotions transform's defaults) plus ShortName and File (where the row comes from). CreatedAt is read in timezone
(store local time) and stored in UTC. Overlapping promotions are not resolved here: the promotions transform
picks, per item, the active eCommerce promotion created earliest.`,
	Fields: append(append([]spec.Field{}, connectionFields...),
		spec.Field{Name: "timezone", Type: spec.TypeString, Default: "UTC", Example: "America/Los_Angeles",
			Description: "The stores' IANA time zone: CreatedAt is store local time there."},
	),
	Example: `sources:
  promotions:
    type: ascend_promotions
    host: posftp.smartetailing.com
    user: "1234"
    password: ${ASCEND_FTP_PASSWORD}
    mode: single-site
    timezone: America/Los_Angeles
    locations:
      - {short_name: Downtown, status: single-site}`,
	Config: config{},
}

func init() {
	connectors.Sources.MustRegister(promotionsSpec, connectors.SourceOf(NewPromotionsSource))
}

// promotionsSchema is the schema of the ascend_promotions source.
// Its column names are §7.1's, the promotions transform's defaults.
var promotionsSchema = arrow.NewSchema([]arrow.Field{
	{Name: "PromotionId", Type: arrow.BinaryTypes.String},
	{Name: "Sku", Type: arrow.BinaryTypes.String},
	{Name: "PromotionName", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "CreatedAt", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}},
	{Name: "StartDate", Type: arrow.FixedWidthTypes.Date32},
	{Name: "EndDate", Type: arrow.FixedWidthTypes.Date32},
	{Name: "Ecommerce", Type: arrow.FixedWidthTypes.Boolean},
	{Name: "SalePrice", Type: arrow.PrimitiveTypes.Float64},
	{Name: "ShortName", Type: arrow.BinaryTypes.String},
	{Name: "File", Type: arrow.BinaryTypes.String},
}, nil)

// PromotionsSource reads the promo uploads of the locations a pipeline reads. It is safe for concurrent use.
type PromotionsSource struct {
	cfg  *config
	zone *time.Location
}

var (
	_ connectors.Source           = (*PromotionsSource)(nil)
	_ connectors.ConnectionTester = (*PromotionsSource)(nil)
)

// NewPromotionsSource builds an ascend_promotions source; it checks the configuration like NewSource.
func NewPromotionsSource(cfg spec.Config, env connectors.Env) (*PromotionsSource, error) {
	s, err := NewSource(cfg, env)
	if err != nil {
		return nil, err
	}
	return &PromotionsSource{cfg: s.cfg, zone: s.zone}, nil
}

// Schema returns the promotion record schema (fixed).
func (s *PromotionsSource) Schema() *arrow.Schema { return promotionsSchema }

// Check connects, logs in and lists the upload folder.
func (s *PromotionsSource) Check(ctx context.Context) error {
	return (&Source{cfg: s.cfg}).Check(ctx)
}

// Read reads the newest complete promo upload of each location read and returns its rows as a Snapshot keyed
// by PromotionId and Sku. Errors fail the read as for the ascend source.
func (s *PromotionsSource) Read(ctx context.Context, req connectors.ReadRequest) (connectors.Reader, error) {
	cl, sels, res, err := begin(ctx, s.cfg, req, []string{"PromotionId", "Sku"}, kindPromo, "")
	if err != nil {
		return nil, err
	}
	defer cl.close()
	var files []*promoFile
	for _, sel := range sels {
		if sel.base.Name == "" {
			continue
		}
		data, err := fetchUpload(ctx, cl, sel.base)
		if err != nil {
			return nil, err
		}
		f, err := parsePromotions(sel.base, data, s.zone)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", sel.base.Name, err)
		}
		if err := checkRejects(sel.base.Name, f.rows, s.cfg.MaxRejectPercent, f.rejects); err != nil {
			return nil, err
		}
		res.Rejects = append(res.Rejects, f.rejects...)
		if f.encoding != encUTF8 {
			res.Notes = append(res.Notes, fmt.Sprintf("%s: read as %s", sel.base.Name, f.encoding))
		}
		files = append(files, f)
	}
	promos := combinePromotions(files)
	res.Checkpoint = checkpointOf(sels)
	return newReader(promotionsSchema, req.Alloc, len(promos), func(b *array.RecordBuilder, i int) {
		appendPromotion(b, promos[i])
	}, res), nil
}

// combinePromotions merges the locations' promotion rows by (PromotionId, Sku), the first location winning,
// leaving out pairs with a rejected row at any location. Rows come sorted by PromotionId, then Sku.
func combinePromotions(files []*promoFile) []*promotion {
	withheld := map[promoKey]bool{}
	for _, f := range files {
		for k := range f.withheld {
			withheld[k] = true
		}
	}
	seen := map[promoKey]bool{}
	var out []*promotion
	for _, f := range files {
		for _, p := range f.promos {
			k := promoKey{p.id, p.sku}
			if withheld[k] || seen[k] {
				continue
			}
			seen[k] = true
			out = append(out, p)
		}
	}
	sortPromotions(out)
	return out
}

// appendPromotion appends one promotion row to a builder of promotionsSchema.
func appendPromotion(b *array.RecordBuilder, p *promotion) {
	b.Field(0).(*array.StringBuilder).Append(p.id)
	b.Field(1).(*array.StringBuilder).Append(p.sku)
	if p.name == "" {
		b.Field(2).(*array.StringBuilder).AppendNull()
	} else {
		b.Field(2).(*array.StringBuilder).Append(p.name)
	}
	b.Field(3).(*array.TimestampBuilder).Append(arrow.Timestamp(p.createdAt.UnixMicro()))
	b.Field(4).(*array.Date32Builder).Append(arrow.Date32(p.start))
	b.Field(5).(*array.Date32Builder).Append(arrow.Date32(p.end))
	b.Field(6).(*array.BooleanBuilder).Append(p.ecommerce)
	b.Field(7).(*array.Float64Builder).Append(p.salePrice)
	b.Field(8).(*array.StringBuilder).Append(p.file.ShortName)
	b.Field(9).(*array.StringBuilder).Append(p.file.Name)
}
