package retailpostest

import "fmt"

// IDs of the example catalog's outlets and brand (LoadExample).
const (
	OutletMainStreet = "0adaafb3-6583-11e5-fb60-d5b67a0b7e2d"
	OutletWarehouse  = "0adaafb3-6583-11e5-fb60-d5b67a0c9f31"
	BrandPeak        = "0adaafb3-6583-11e5-fb60-d5b67a17df2f"
	// ProductBravo is the parent of the Bravo family (SKU 787878).
	ProductBravo = "b8ca3a65-0183-11e4-fbb5-7988a6ed80f8"
)

// LoadExample adds a small catalog shaped like the public documentation's examples: outlets "Main Street"
// and "Warehouse"; brand "Peak Performance"; the Bravo family (parent 787878 Black/M, variants 787879
// Black/L and 787880 White/M, with Color/Size options, images, a UPC, 250 G and 30×20×5 CM); Product 0003;
// a gift card without inventory tracking (GIFT-50); an in-store-only mug (MUG-01, ecwid_enabled_webstore
// false); an inactive cap (CAP-OLD); a 1.5 LB bottle in inches (BOT-750). Inventory is set at both outlets,
// with one negative level (787880 at the Warehouse).
func (s *Server) LoadExample() {
	s.AddOutlet(Outlet{ID: OutletMainStreet, Name: "Main Street"})
	s.AddOutlet(Outlet{ID: OutletWarehouse, Name: "Warehouse"})
	s.AddBrand(Brand{ID: BrandPeak, Name: "Peak Performance"})
	apparel := &Category{Name: "Tops", Path: []string{"Apparel", "Tops"}}
	general := &Category{Name: "General"}
	img := "https://vendimageuploadcdn.global.ssl.fastly.net/1920,fit/vend-images/product/original/f/0/f0ebadbc30947444d438678a4a7bd6d996f392fc.jpg"
	bravo := func(id, parent, sku, color, size, upc string) Product {
		return Product{ID: id, VariantParentID: parent, Handle: "bravo", SKU: sku, Name: "Bravo",
			VariantName: "Bravo / " + color + " / " + size, Description: "<p>The best product ever, except for the next one.</p>",
			VariantOptions: []VariantOption{{"Color", color}, {"Size", size}}, Active: true, Online: Bool(true),
			HasInventory: true, BrandID: BrandPeak, Type: general, Category: apparel,
			ProductCodes: []ProductCode{{"UPC", upc}, {"CUSTOM", "BRAVO-" + sku}}, Images: []string{img},
			PriceExcludingTax: 110, PriceIncludingTax: 126.5, SupplyPrice: 100, SupplierCode: "123456",
			Weight: Float(250), WeightUnit: "G", Length: Float(30), Width: Float(20), Height: Float(5), DimensionsUnit: "CM"}
	}
	products := []Product{
		bravo(ProductBravo, "", "787878", "Black", "M", "012345678905"),
		bravo("b8ca3a65-0183-11e4-fbb5-7988a6ed80f9", ProductBravo, "787879", "Black", "L", "012345678912"),
		bravo("b8ca3a65-0183-11e4-fbb5-7988a6ed80fa", ProductBravo, "787880", "White", "M", "012345678929"),
		{ID: "b8ca3a65-0183-11e4-fbb5-9776c5cd0240", Handle: "0003", SKU: "0003", Name: "Product 0003",
			VariantName: "Product 0003", Active: true, HasInventory: true, Type: general,
			PriceExcludingTax: 2.63158, PriceIncludingTax: 3.02632},
		{ID: "c1a2b3c4-0183-11e4-fbb5-000000000001", Handle: "gift-card-50", SKU: "GIFT-50", Name: "Gift Card $50",
			Active: true, Online: Bool(true), HasInventory: false, PriceExcludingTax: 50, PriceIncludingTax: 50},
		{ID: "c1a2b3c4-0183-11e4-fbb5-000000000002", Handle: "enamel-mug", SKU: "MUG-01", Name: "Enamel Mug",
			Active: true, Online: Bool(false), HasInventory: true, Category: &Category{Name: "Camp Kitchen", Path: []string{"Gear", "Camp Kitchen"}},
			PriceExcludingTax: 12, PriceIncludingTax: 13.2, ProductCodes: []ProductCode{{"EAN", "4006381333931"}}},
		{ID: "c1a2b3c4-0183-11e4-fbb5-000000000003", Handle: "trucker-cap", SKU: "CAP-OLD", Name: "Trucker Cap",
			Active: false, Online: Bool(true), HasInventory: true, BrandID: BrandPeak, PriceExcludingTax: 18, PriceIncludingTax: 19.8},
		{ID: "c1a2b3c4-0183-11e4-fbb5-000000000004", Handle: "trail-bottle", SKU: "BOT-750", Name: "Trail Bottle 750 ml",
			Description: "Insulated steel bottle.", Active: true, Online: Bool(true), HasInventory: true, BrandID: BrandPeak,
			Category: &Category{Name: "Hydration", Path: []string{"Gear", "Hydration"}}, PriceExcludingTax: 24.5, PriceIncludingTax: 26.95,
			Images: []string{"https://cdn.example.com/trail-bottle-front.jpg", "https://cdn.example.com/trail-bottle-side.jpg"},
			Weight: Float(1.5), WeightUnit: "LB", Length: Float(3), Width: Float(3), Height: Float(10), DimensionsUnit: "IN"},
	}
	levels := map[string][2]float64{"787878": {4, 6}, "787879": {2, 0}, "787880": {3, -2}, "0003": {10, 0},
		"MUG-01": {7, 1}, "CAP-OLD": {0, 5}, "BOT-750": {12, 30}}
	for _, p := range products {
		p = s.Upsert(p)
		if l, ok := levels[p.SKU]; ok {
			s.SetInventory(p.ID, OutletMainStreet, l[0])
			s.SetInventory(p.ID, OutletWarehouse, l[1])
		}
	}
}

// Generate adds n products in families of familySize (a parent and familySize-1 variants with Color and
// Size options; 1 means no variants), with SKUs GEN-000001, GEN-000002, ..., ten brands, a few categories,
// weights and dimensions in varying units, and an inventory record at every outlet (levels from -2 to 47). It
// adds an outlet "Main Outlet" first when there is none. It returns the products as stored.
func (s *Server) Generate(n, familySize int) []Product {
	if len(s.Outlets()) == 0 {
		s.AddOutlet(Outlet{Name: "Main Outlet"})
	}
	outlets := s.Outlets()
	brands := make([]Brand, 10)
	for i := range brands {
		brands[i] = s.AddBrand(Brand{Name: fmt.Sprintf("Brand %02d", i+1)})
	}
	cats := []*Category{
		{Name: "Tops", Path: []string{"Apparel", "Tops"}}, {Name: "Footwear", Path: []string{"Apparel", "Footwear"}},
		{Name: "Tents", Path: []string{"Gear", "Tents"}}, {Name: "Accessories"},
	}
	colors, sizes := []string{"Black", "White", "Red", "Blue"}, []string{"S", "M", "L", "XL", "XXL"}
	weightUnits, dimUnits := []string{"G", "KG", "LB", "OZ"}, []string{"CM", "IN", "MM"}
	familySize = max(familySize, 1)
	out := make([]Product, 0, n)
	s.mu.Lock()
	defer s.mu.Unlock()
	var parent Product
	for i := range n {
		member := i % familySize
		family := i / familySize
		p := Product{SKU: fmt.Sprintf("GEN-%06d", i+1), Handle: fmt.Sprintf("gen-%06d", family+1),
			Name: fmt.Sprintf("Generated product %d", family+1), Description: "<p>Generated for load tests.</p>",
			Active: i%50 != 7, Online: Bool(i%40 != 3), HasInventory: i%100 != 11,
			BrandID: brands[family%len(brands)].ID, Category: cats[family%len(cats)],
			ProductCodes:      []ProductCode{{"UPC", fmt.Sprintf("%012d", 400000000000+i)}},
			Images:            []string{fmt.Sprintf("https://cdn.example.com/gen/%06d.jpg", family+1)},
			PriceExcludingTax: float64(10+family%90) + 0.99, SupplyPrice: float64(5 + family%40),
			Weight: Float(float64(1 + i%20)), WeightUnit: weightUnits[i%len(weightUnits)],
			Length: Float(10), Width: Float(float64(5 + i%7)), Height: Float(2), DimensionsUnit: dimUnits[i%len(dimUnits)]}
		p.PriceIncludingTax = p.PriceExcludingTax * 1.1
		if familySize > 1 {
			c, sz := colors[member%len(colors)], sizes[member/len(colors)%len(sizes)]
			p.VariantOptions = []VariantOption{{"Color", c}, {"Size", sz}}
			p.VariantName = p.Name + " / " + c + " / " + sz
			if member > 0 {
				p.VariantParentID = parent.ID
			}
		}
		p = s.upsert(p)
		if member == 0 {
			parent = p
		}
		for j, o := range outlets {
			s.setInventory(p.ID, o.ID, float64((i*7+j*13)%50-2))
		}
		out = append(out, p)
	}
	return out
}

// ProductBySKU returns the first product (in version order) with the SKU, deleted ones included.
func (s *Server) ProductBySKU(sku string) (Product, bool) {
	for _, p := range s.Products() {
		if p.SKU == sku {
			return p, true
		}
	}
	return Product{}, false
}
