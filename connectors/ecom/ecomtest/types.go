package ecomtest

import "encoding/json"

// Product is a product of the emulated store, shaped like the Ecwid REST API v3 product object (the subset
// the sink uses, plus the eCom-only merchandising fields a merchant edits by hand).
type Product struct {
	ID                 int64         `json:"id"`
	SKU                string        `json:"sku"`
	Name               string        `json:"name"`
	Description        string        `json:"description"`
	Subtitle           string        `json:"subtitle,omitempty"`
	Price              float64       `json:"price"`
	CompareToPrice     float64       `json:"compareToPrice,omitempty"`
	Quantity           int64         `json:"quantity"`
	Unlimited          bool          `json:"unlimited"`
	Enabled            bool          `json:"enabled"`
	WarningLimit       int64         `json:"warningLimit"`
	Weight             float64       `json:"weight,omitempty"`
	Dimensions         Dimensions    `json:"dimensions"`
	IsShippingRequired bool          `json:"isShippingRequired"`
	CategoryIDs        []int64       `json:"categoryIds"`
	DefaultCategoryID  int64         `json:"defaultCategoryId"`
	Attributes         []Attribute   `json:"attributes"`
	Options            []Option      `json:"options"`
	Combinations       []Combination `json:"combinations"`
	// OriginalImageURL is the main image; GalleryImages the others (the emulator keeps the URLs it was given,
	// where the real store re-hosts the files on its CDN).
	OriginalImageURL string         `json:"originalImageUrl,omitempty"`
	GalleryImages    []GalleryImage `json:"galleryImages"`
	Created          string         `json:"created,omitempty"`
	Updated          string         `json:"updated,omitempty"`
	CreateTimestamp  int64          `json:"createTimestamp,omitempty"`
	UpdateTimestamp  int64          `json:"updateTimestamp,omitempty"`
}

// Dimensions are a product's shipping dimensions.
type Dimensions struct {
	Length float64 `json:"length"`
	Width  float64 `json:"width"`
	Height float64 `json:"height"`
}

// Attribute is a product attribute; brand and UPC are attributes of type BRAND and UPC.
type Attribute struct {
	ID    int64  `json:"id,omitempty"`
	Name  string `json:"name"`
	Type  string `json:"type"`
	Value string `json:"value"`
	Show  string `json:"show,omitempty"`
}

// Option is a product option (the choices its combinations pick from).
type Option struct {
	Type          string   `json:"type"`
	Name          string   `json:"name"`
	Choices       []Choice `json:"choices"`
	DefaultChoice int      `json:"defaultChoice"`
	Required      bool     `json:"required"`
}

// Choice is one value of an option.
type Choice struct {
	Text              string  `json:"text"`
	PriceModifier     float64 `json:"priceModifier"`
	PriceModifierType string  `json:"priceModifierType"`
}

// OptionValue is the value a combination takes for one option.
type OptionValue struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// GalleryImage is an additional product image.
type GalleryImage struct {
	ID      int64  `json:"id"`
	URL     string `json:"url"`
	OrderBy int    `json:"orderBy"`
}

// Combination is a product variation. A nil Price or Weight is inherited from the product.
type Combination struct {
	ID                int64         `json:"id"`
	CombinationNumber int           `json:"combinationNumber"`
	Options           []OptionValue `json:"options"`
	SKU               string        `json:"sku,omitempty"`
	Quantity          int64         `json:"quantity"`
	Unlimited         bool          `json:"unlimited"`
	Price             *float64      `json:"price,omitempty"`
	Weight            *float64      `json:"weight,omitempty"`
	WarningLimit      int64         `json:"warningLimit"`
	Attributes        []Attribute   `json:"attributes"`
}

// Category is a store category; categories form a tree through ParentID (0 = top level).
type Category struct {
	ID       int64  `json:"id"`
	ParentID int64  `json:"parentId"`
	Name     string `json:"name"`
	Enabled  bool   `json:"enabled"`
}

// MarshalJSON writes the product as the API does: quantity omitted when unlimited, inStock computed.
func (p Product) MarshalJSON() ([]byte, error) {
	type plain Product
	w := struct {
		plain
		Quantity *int64 `json:"quantity,omitempty"`
		InStock  bool   `json:"inStock"`
	}{plain: plain(p), InStock: p.Unlimited || p.Quantity > 0}
	if !p.Unlimited {
		w.Quantity = &p.Quantity
	}
	for _, c := range p.Combinations {
		w.InStock = w.InStock || c.Unlimited || c.Quantity > 0
	}
	return json.Marshal(w)
}

// MarshalJSON writes the combination as the API does: quantity omitted when unlimited.
func (c Combination) MarshalJSON() ([]byte, error) {
	type plain Combination
	w := struct {
		plain
		Quantity *int64 `json:"quantity,omitempty"`
		InStock  bool   `json:"inStock"`
	}{plain: plain(c), InStock: c.Unlimited || c.Quantity > 0}
	if !c.Unlimited {
		w.Quantity = &c.Quantity
	}
	return json.Marshal(w)
}

// clone returns a deep copy of p.
func (p *Product) clone() *Product {
	q := *p
	q.CategoryIDs = append([]int64(nil), p.CategoryIDs...)
	q.Attributes = append([]Attribute(nil), p.Attributes...)
	q.GalleryImages = append([]GalleryImage(nil), p.GalleryImages...)
	q.Options = make([]Option, len(p.Options))
	for i, o := range p.Options {
		o.Choices = append([]Choice(nil), o.Choices...)
		q.Options[i] = o
	}
	q.Combinations = make([]Combination, len(p.Combinations))
	for i, c := range p.Combinations {
		c.Options = append([]OptionValue(nil), c.Options...)
		c.Attributes = append([]Attribute(nil), c.Attributes...)
		if c.Price != nil {
			v := *c.Price
			c.Price = &v
		}
		if c.Weight != nil {
			v := *c.Weight
			c.Weight = &v
		}
		q.Combinations[i] = c
	}
	return &q
}

// Envelope is the paged answer of the search endpoints.
type Envelope[T any] struct {
	Total  int `json:"total"`
	Count  int `json:"count"`
	Offset int `json:"offset"`
	Limit  int `json:"limit"`
	Items  []T `json:"items"`
}
