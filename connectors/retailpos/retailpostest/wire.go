package retailpostest

import (
	"fmt"
	"hash/fnv"
	"time"
)

// The JSON shapes of API 2.0, as in the public documentation's examples.

type wireProduct struct {
	ID                   string        `json:"id"`
	SourceID             *string       `json:"source_id"`
	Source               string        `json:"source"`
	VariantParentID      *string       `json:"variant_parent_id"`
	FamilyID             string        `json:"family_id"`
	Handle               string        `json:"handle"`
	SKU                  string        `json:"sku"`
	ProductCodes         []wireCode    `json:"product_codes"`
	Name                 string        `json:"name"`
	VariantName          string        `json:"variant_name"`
	VariantOptions       []wireOption  `json:"variant_options"`
	HasVariants          bool          `json:"has_variants"`
	VariantCount         int           `json:"variant_count"`
	Description          *string       `json:"description"`
	Active               bool          `json:"active"`
	IsActive             bool          `json:"is_active"`
	EcwidEnabledWebstore *bool         `json:"ecwid_enabled_webstore,omitempty"`
	HasInventory         bool          `json:"has_inventory"`
	IsComposite          bool          `json:"is_composite"`
	BrandID              *string       `json:"brand_id,omitempty"`
	Brand                any           `json:"brand,omitempty"`
	Supplier             struct{}      `json:"supplier"`
	SupplierCode         string        `json:"supplier_code"`
	SupplyPrice          float64       `json:"supply_price"`
	PriceExcludingTax    float64       `json:"price_excluding_tax"`
	PriceIncludingTax    float64       `json:"price_including_tax"`
	ProductTypeID        *string       `json:"product_type_id"`
	Type                 any           `json:"type"`
	ProductCategory      *wireCategory `json:"product_category"`
	Categories           []struct{}    `json:"categories"`
	TagIDs               []string      `json:"tag_ids"`
	Attributes           []struct{}    `json:"attributes"`
	ImageURL             string        `json:"image_url"`
	ImageThumbnailURL    string        `json:"image_thumbnail_url"`
	Images               []wireImage   `json:"images"`
	Weight               *float64      `json:"weight"`
	WeightUnit           *string       `json:"weight_unit"`
	Length               *float64      `json:"length"`
	Width                *float64      `json:"width"`
	Height               *float64      `json:"height"`
	DimensionsUnit       *string       `json:"dimensions_unit"`
	CreatedAt            string        `json:"created_at"`
	UpdatedAt            string        `json:"updated_at"`
	DeletedAt            *string       `json:"deleted_at"`
	Version              int64         `json:"version"`
}

type wireCode struct {
	ID   string `json:"id"`
	Type string `json:"type"`
	Code string `json:"code"`
}

type wireOption struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Value string `json:"value"`
}

type wireRef struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Version int64  `json:"version"`
}

type wirePathItem struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type wireCategory struct {
	ID               string         `json:"id"`
	Name             string         `json:"name"`
	CategoryPath     []wirePathItem `json:"category_path"`
	LeafCategory     bool           `json:"leaf_category"`
	ParentCategoryID *string        `json:"parent_category_id"`
	RootCategoryID   string         `json:"root_category_id"`
	Version          int64          `json:"version,omitempty"`
}

type wireImage struct {
	ID      string            `json:"id"`
	URL     string            `json:"url"`
	Sizes   map[string]string `json:"sizes"`
	Version int64             `json:"version"`
}

type wireInventory struct {
	ID             string  `json:"id"`
	ProductID      string  `json:"product_id"`
	OutletID       string  `json:"outlet_id"`
	InventoryLevel float64 `json:"inventory_level"`
	CurrentAmount  float64 `json:"current_amount"`
	ReorderPoint   float64 `json:"reorder_point"`
	ReorderAmount  float64 `json:"reorder_amount"`
	DeletedAt      *string `json:"deleted_at"`
	Version        int64   `json:"version"`
}

type wireOutlet struct {
	ID                string  `json:"id"`
	Name              string  `json:"name"`
	TimeZone          string  `json:"time_zone"`
	Currency          string  `json:"currency"`
	CurrencySymbol    string  `json:"currency_symbol"`
	DisplayPrices     string  `json:"display_prices"`
	PhysicalAddress1  string  `json:"physical_address_1"`
	PhysicalCity      string  `json:"physical_city"`
	PhysicalCountryID string  `json:"physical_country_id"`
	DeletedAt         *string `json:"deleted_at"`
	Version           int64   `json:"version"`
}

type wireBrand struct {
	ID        string  `json:"id"`
	Name      string  `json:"name"`
	DeletedAt *string `json:"deleted_at"`
	Version   int64   `json:"version"`
}

// placeholderImage is what the API serves as image_url for a product without images.
const placeholderImage = "https://secure.retail.lightspeed.app/images/placeholder/product/no-image-white-standard.png"

// wire renders p; the server's lock is held.
func (s *Server) wire(p *Product) wireProduct {
	w := wireProduct{
		ID: p.ID, Source: "USER", Handle: p.Handle, SKU: p.SKU, Name: p.Name, VariantName: p.VariantName,
		Active: p.Active, IsActive: p.Active, EcwidEnabledWebstore: p.Online, HasInventory: p.HasInventory,
		SupplierCode: p.SupplierCode, SupplyPrice: p.SupplyPrice, PriceExcludingTax: p.PriceExcludingTax,
		PriceIncludingTax: p.PriceIncludingTax, TagIDs: p.TagIDs, Categories: []struct{}{}, Attributes: []struct{}{},
		ProductCodes: []wireCode{}, VariantOptions: []wireOption{}, Images: []wireImage{},
		ImageURL: placeholderImage, ImageThumbnailURL: placeholderImage,
		Weight: p.Weight, WeightUnit: optional(p.WeightUnit), Length: p.Length, Width: p.Width, Height: p.Height,
		DimensionsUnit: optional(p.DimensionsUnit), CreatedAt: stamp(p.CreatedAt), UpdatedAt: stamp(p.UpdatedAt),
		Version: p.Version, Type: struct{}{},
	}
	if w.TagIDs == nil {
		w.TagIDs = []string{}
	}
	w.FamilyID = p.ID
	if p.VariantParentID != "" {
		w.VariantParentID, w.FamilyID = &p.VariantParentID, p.VariantParentID
	}
	if n := s.families[w.FamilyID]; n > 1 {
		w.HasVariants, w.VariantCount = true, n
	}
	if p.Description != "" {
		w.Description = &p.Description
	}
	if !p.DeletedAt.IsZero() {
		d := stamp(p.DeletedAt)
		w.DeletedAt = &d
	}
	for _, c := range p.ProductCodes {
		w.ProductCodes = append(w.ProductCodes, wireCode{ID: hashID("code", p.ID, c.Code), Type: c.Type, Code: c.Code})
	}
	for _, o := range p.VariantOptions {
		w.VariantOptions = append(w.VariantOptions, wireOption{ID: hashID("attribute", o.Name), Name: o.Name, Value: o.Value})
	}
	for _, u := range p.Images {
		w.Images = append(w.Images, wireImage{ID: hashID("image", u), URL: u, Version: p.Version,
			Sizes: map[string]string{"original": u, "standard": u + "?size=standard", "thumb": u + "?size=thumb"}})
	}
	if len(p.Images) > 0 {
		w.ImageURL, w.ImageThumbnailURL = p.Images[0]+"?size=standard", p.Images[0]+"?size=thumb"
	}
	w.Brand = struct{}{}
	if b, ok := s.brands.get(p.BrandID); ok {
		w.BrandID = &b.ID
		if !s.opts.BrandIDsOnly {
			w.Brand = wireRef{ID: b.ID, Name: b.Name, Version: b.Version}
		} else {
			w.Brand = nil
		}
	}
	if p.Type != nil {
		c := category(p.Type)
		w.Type, w.ProductTypeID = c, &c.ID
	}
	if p.Category != nil {
		w.ProductCategory = category(p.Category)
	}
	return w
}

// category renders a category with IDs derived from its path.
func category(c *Category) *wireCategory {
	path := c.Path
	if len(path) == 0 {
		path = []string{c.Name}
	}
	w := &wireCategory{Name: c.Name, LeafCategory: true}
	for i := range path {
		w.CategoryPath = append(w.CategoryPath, wirePathItem{ID: hashID(append([]string{"category"}, path[:i+1]...)...), Name: path[i]})
	}
	w.ID = w.CategoryPath[len(path)-1].ID
	w.RootCategoryID = w.CategoryPath[0].ID
	if len(path) > 1 {
		w.ParentCategoryID = &w.CategoryPath[len(path)-2].ID
	}
	return w
}

func (inv *Inventory) wire() wireInventory {
	return wireInventory{ID: inv.ID, ProductID: inv.ProductID, OutletID: inv.OutletID, InventoryLevel: inv.InventoryLevel,
		CurrentAmount: inv.InventoryLevel, ReorderPoint: inv.ReorderPoint, ReorderAmount: inv.ReorderAmount, Version: inv.Version}
}

func (o *Outlet) wire() wireOutlet {
	return wireOutlet{ID: o.ID, Name: o.Name, TimeZone: o.TimeZone, Currency: o.Currency, CurrencySymbol: "$",
		DisplayPrices: "exclusive", PhysicalAddress1: "1 Main Street", PhysicalCity: "Springfield",
		PhysicalCountryID: "US", Version: o.Version}
}

func (b *Brand) wire() wireBrand { return wireBrand{ID: b.ID, Name: b.Name, Version: b.Version} }

// stamp formats a time as the API does: UTC with a +00:00 offset.
func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05+00:00")
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// hashID derives a stable UUID-shaped ID from parts.
func hashID(parts ...string) string {
	h := fnv.New128a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	b := h.Sum(nil)
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
