package retailpos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"

	"github.com/possync/possync/connectors/internal/httpapi"
)

// api calls the X-Series API 2.0 endpoints the source reads.
type api struct {
	c        *httpapi.Client
	pageSize int
}

// versioned returns a copy of the API 2.0 client for the date-versioned API (orders-apis.md A.6): the same
// settings, its base path's last element (2.0) replaced by apiVersion.
func (a *api) versioned(apiVersion string) *httpapi.Client {
	w := *a.c
	base := *a.c.Base
	base.Path = path.Join(path.Dir(strings.TrimSuffix(base.Path, "/")), apiVersion)
	w.Base = &base
	return &w
}

// forCheck returns the api for a connection check: few retries, within seconds (httpapi.Client.ForCheck).
func (a *api) forCheck() *api { return &api{c: a.c.ForCheck(), pageSize: a.pageSize} }

// The API's JSON shapes, only the fields the source uses.

// page is one page of a version-paged collection.
type page[T any] struct {
	Data    []T `json:"data"`
	Version struct {
		Min *int64 `json:"min"`
		Max *int64 `json:"max"`
	} `json:"version"`
}

type product struct {
	ID                   string          `json:"id"`
	VariantParentID      string          `json:"variant_parent_id"`
	Handle               string          `json:"handle"`
	SKU                  string          `json:"sku"`
	Name                 string          `json:"name"`
	VariantName          string          `json:"variant_name"`
	Description          string          `json:"description"`
	Active               *bool           `json:"active"`
	IsActive             *bool           `json:"is_active"`
	EcwidEnabledWebstore *bool           `json:"ecwid_enabled_webstore"`
	HasInventory         *bool           `json:"has_inventory"`
	BrandID              string          `json:"brand_id"`
	Brand                *ref            `json:"brand"`
	Type                 *category       `json:"type"`
	ProductCategory      *category       `json:"product_category"`
	ProductCodes         []productCode   `json:"product_codes"`
	VariantOptions       []variantOption `json:"variant_options"`
	Images               []image         `json:"images"`
	PriceExcludingTax    *float64        `json:"price_excluding_tax"`
	Weight               *float64        `json:"weight"`
	WeightUnit           string          `json:"weight_unit"`
	Length               *float64        `json:"length"`
	Width                *float64        `json:"width"`
	Height               *float64        `json:"height"`
	DimensionsUnit       string          `json:"dimensions_unit"`
	UpdatedAt            string          `json:"updated_at"`
	DeletedAt            string          `json:"deleted_at"`
	Version              int64           `json:"version"`
}

type ref struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type category struct {
	Name         string `json:"name"`
	CategoryPath []ref  `json:"category_path"`
}

type productCode struct {
	Type string `json:"type"`
	Code string `json:"code"`
}

type variantOption struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type image struct {
	URL   string            `json:"url"`
	Sizes map[string]string `json:"sizes"`
}

type inventory struct {
	ProductID      string  `json:"product_id"`
	OutletID       string  `json:"outlet_id"`
	InventoryLevel float64 `json:"inventory_level"`
	DeletedAt      string  `json:"deleted_at"`
}

type outlet struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	DeletedAt string `json:"deleted_at"`
}

type brand struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// each pages through a version-cursor collection from after (exclusive): it requests after=<version.max of
// the previous page> until a page comes back empty, handing every page's items to fn. It returns the highest
// version seen (after itself when nothing came).
func each[T any](ctx context.Context, a *api, path string, query url.Values, after int64, fn func([]T) error) (int64, error) {
	q := url.Values{}
	for k, v := range query {
		q[k] = v
	}
	q.Set("page_size", strconv.Itoa(a.pageSize))
	for {
		q.Set("after", strconv.FormatInt(after, 10))
		var pg page[T]
		if err := a.get(ctx, path, q, &pg); err != nil {
			return after, err
		}
		if len(pg.Data) == 0 {
			return after, nil
		}
		if pg.Version.Max == nil || *pg.Version.Max <= after {
			return after, fmt.Errorf("GET %s after=%d: the page's version.max does not advance the cursor", path, after)
		}
		if err := fn(pg.Data); err != nil {
			return after, err
		}
		after = *pg.Version.Max
	}
}

// get sends one GET and decodes the JSON answer into out, with a clear error for a refused token.
func (a *api) get(ctx context.Context, path string, q url.Values, out any) error {
	err := a.c.Do(ctx, http.MethodGet, path, q, nil, out)
	var se *httpapi.StatusError
	if errors.As(err, &se) && (se.Status == http.StatusUnauthorized || se.Status == http.StatusForbidden) {
		return fmt.Errorf("the Retail POS refused the token (check the token setting, e.g. ${RETAILPOS_TOKEN}, and "+
			"that it may read products, inventory and outlets): %w", err)
	}
	return err
}

// product fetches one product; found is false on 404.
func (a *api) product(ctx context.Context, id string) (p product, found bool, err error) {
	var body struct {
		Data product `json:"data"`
	}
	err = a.get(ctx, "/products/"+url.PathEscape(id), nil, &body)
	var se *httpapi.StatusError
	if errors.As(err, &se) && se.Status == http.StatusNotFound {
		return p, false, nil
	}
	return body.Data, err == nil, err
}

// productInventory fetches the inventory records of one product at every outlet.
func (a *api) productInventory(ctx context.Context, id string) ([]inventory, error) {
	var body struct {
		Data []inventory `json:"data"`
	}
	err := a.get(ctx, "/products/"+url.PathEscape(id)+"/inventory", nil, &body)
	var se *httpapi.StatusError
	if errors.As(err, &se) && se.Status == http.StatusNotFound {
		return nil, nil
	}
	return body.Data, err
}

// outlets lists the outlets that are not deleted.
func (a *api) outlets(ctx context.Context) ([]outlet, error) {
	var out []outlet
	_, err := each(ctx, a, "/outlets", nil, 0, func(items []outlet) error {
		for _, o := range items {
			if o.DeletedAt == "" {
				out = append(out, o)
			}
		}
		return nil
	})
	return out, err
}

// brands maps brand IDs to names.
func (a *api) brands(ctx context.Context) (map[string]string, error) {
	out := map[string]string{}
	_, err := each(ctx, a, "/brands", nil, 0, func(items []brand) error {
		for _, b := range items {
			out[b.ID] = b.Name
		}
		return nil
	})
	return out, err
}

// decodeError reads the API's error body, {"error": "<title>", "message": "<detail>"} (the client masks the
// token in it). It keeps the explanation of the other shapes X-Series and its OAuth endpoint answer with:
// "details" or "error_description" for the detail, and an "error" that is an object with its own message.
// A body it cannot read is left to the client, which quotes its text.
func decodeError(_ int, body []byte) (string, string) {
	var e struct {
		Error       json.RawMessage `json:"error"`
		Message     string          `json:"message"`
		Details     string          `json:"details"`
		Description string          `json:"error_description"`
	}
	if json.Unmarshal(body, &e) != nil {
		return "", ""
	}
	var title string
	if json.Unmarshal(e.Error, &title) != nil {
		var inner struct {
			Code    any    `json:"code"`
			Message string `json:"message"`
		}
		if json.Unmarshal(e.Error, &inner) == nil && inner.Message != "" {
			if inner.Code != nil {
				title = fmt.Sprint(inner.Code)
			}
			return title, inner.Message
		}
	}
	for _, detail := range []string{e.Message, e.Details, e.Description} {
		if detail != "" {
			return title, detail
		}
	}
	return title, ""
}
