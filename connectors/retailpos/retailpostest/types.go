package retailpostest

import "time"

// Product is one X-Series product (each variant is its own product). The server serves it in the API 2.0
// JSON shape; zero values become the API's empty forms (null, {} or []).
type Product struct {
	// ID is assigned by Upsert when empty.
	ID string
	// VariantParentID is the ID of the family's parent product; empty for a parent or a standalone product.
	VariantParentID string
	Handle          string
	SKU             string
	Name            string
	// VariantName is e.g. "Bravo / Black / M"; empty for a product without variants.
	VariantName    string
	VariantOptions []VariantOption
	Description    string
	// Active is the POS "active" flag.
	Active bool
	// Online is ecwid_enabled_webstore; nil leaves the field out of the JSON (as API 3.0 responses do).
	Online       *bool
	HasInventory bool
	// BrandID names a brand added with AddBrand; the product embeds it as {id, name, version}.
	BrandID string
	// Type is the product type (now "product category" in the UI), served as type and product_type_id.
	Type *Category
	// Category is the product_category object.
	Category     *Category
	ProductCodes []ProductCode
	// Images are image URLs; each is served as an image object with its size variants.
	Images            []string
	PriceExcludingTax float64
	PriceIncludingTax float64
	SupplyPrice       float64
	SupplierCode      string
	TagIDs            []string
	// Weight is in WeightUnit (CT, G, OZ, LB, KG); nil is served as null.
	Weight     *float64
	WeightUnit string
	// Length, Width and Height are in DimensionsUnit (IN, CM, MM, YD).
	Length, Width, Height *float64
	DimensionsUnit        string
	// CreatedAt is set by the first Upsert when zero; UpdatedAt and Version by every change.
	CreatedAt, UpdatedAt time.Time
	// DeletedAt is set by Delete; zero means not deleted.
	DeletedAt time.Time
	Version   int64
}

// VariantOption is one attribute of a variant, e.g. Color = Black.
type VariantOption struct {
	Name, Value string
}

// ProductCode is one barcode or code of a product; Type is one of CUSTOM, EAN, ISBN, ITF, JAN, UPC.
type ProductCode struct {
	Type, Code string
}

// Category is a product type or product category: its name and its path from the root (names, the last
// being the category itself; empty means just Name).
type Category struct {
	Name string
	Path []string
}

// Outlet is a store location.
type Outlet struct {
	// ID is assigned by AddOutlet when empty.
	ID       string
	Name     string
	TimeZone string
	Currency string
	Version  int64
}

// Brand is a product brand.
type Brand struct {
	// ID is assigned by AddBrand when empty.
	ID      string
	Name    string
	Version int64
}

// Inventory is the stock of one product at one outlet.
type Inventory struct {
	ID             string
	ProductID      string
	OutletID       string
	InventoryLevel float64
	ReorderPoint   float64
	ReorderAmount  float64
	Version        int64
}

// Request is one request the server received, as recorded by Requests.
type Request struct {
	Method string
	// Path is relative to the API root, e.g. "/products" or "/products/{id}/inventory".
	Path  string
	Query string
	// Status is the HTTP status the server answered.
	Status int
	// Body is the request body (empty for GET).
	Body string
}

// Bool returns a pointer to b (for Product.Online).
func Bool(b bool) *bool { return &b }

// Float returns a pointer to f (for weights and dimensions).
func Float(f float64) *float64 { return &f }
