package retailpostest

import (
	"net/http"
	"strconv"
)

// cursor is a collection request's version window and page size.
type cursor struct {
	after, before int64
	size          int
	deleted       bool
}

// parseCursor reads after, before, page_size and deleted; it answers 400 and returns false when one is bad.
func (s *Server) parseCursor(w http.ResponseWriter, r *http.Request) (cursor, bool) {
	q := r.URL.Query()
	c := cursor{size: DefaultPageSize}
	for name, dst := range map[string]*int64{"after": &c.after, "before": &c.before} {
		if v := q.Get(name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				writeError(w, http.StatusBadRequest, "Bad Request", name+" must be a non-negative integer")
				return c, false
			}
			*dst = n
		}
	}
	if v := q.Get("page_size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, "Bad Request", "page_size must be a positive integer")
			return c, false
		}
		c.size = min(n, s.opts.MaxPageSize)
	}
	c.deleted = q.Get("deleted") == "true" || q.Get("deleted") == "1"
	return c, true
}

// collection is a page of a version-paged collection.
type collection[T any] struct {
	Data    []T      `json:"data"`
	Version versions `json:"version"`
}

type versions struct {
	Min *int64 `json:"min"`
	Max *int64 `json:"max"`
}

// writePage answers items, whose versions are given by version, as a collection page.
func writePage[T any](w http.ResponseWriter, items []T, version func(*T) int64) {
	page := collection[T]{Data: items}
	if len(items) > 0 {
		lo, hi := version(&items[0]), version(&items[len(items)-1])
		page.Version = versions{Min: &lo, Max: &hi}
	} else {
		page.Data = []T{}
	}
	writeJSON(w, http.StatusOK, page)
}

// servePage answers one version-cursor page of t: the items keep lets through (nil: all), converted by wire
// while the server's lock is held.
func servePage[T, W any](s *Server, w http.ResponseWriter, r *http.Request, t *table[T], keep func(cursor, T) bool,
	wire func(*T) W, version func(*W) int64) {
	c, ok := s.parseCursor(w, r)
	if !ok {
		return
	}
	var k func(T) bool
	if keep != nil {
		k = func(x T) bool { return keep(c, x) }
	}
	s.mu.Lock()
	items := t.page(c.after, c.before, c.size, k)
	out := make([]W, len(items))
	for i := range items {
		out[i] = wire(&items[i])
	}
	s.mu.Unlock()
	writePage(w, out, version)
}

func (s *Server) listProducts(w http.ResponseWriter, r *http.Request) {
	sku := r.URL.Query().Get("sku")
	servePage(s, w, r, s.products, func(c cursor, p Product) bool {
		return (c.deleted || p.DeletedAt.IsZero()) && (sku == "" || p.SKU == sku)
	},
		s.wire, func(p *wireProduct) int64 { return p.Version })
}

func (s *Server) getProduct(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	p, ok := s.products.get(r.PathValue("id"))
	var out wireProduct
	if ok {
		out = s.wire(&p)
	}
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, "Not Found", "The product "+r.PathValue("id")+" does not exist.")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": out})
}

// productInventory answers the inventory records of one product at every outlet.
func (s *Server) productInventory(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s.mu.Lock()
	_, ok := s.products.get(id)
	var out []wireInventory
	if ok {
		for _, o := range s.outlets.all() {
			if inv, found := s.inventory.get(inventoryKey(id, o.ID)); found {
				out = append(out, inv.wire())
			}
		}
	}
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, "Not Found", "The product "+id+" does not exist.")
		return
	}
	if out == nil {
		out = []wireInventory{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": out})
}

func (s *Server) listInventory(w http.ResponseWriter, r *http.Request) {
	servePage(s, w, r, s.inventory, nil, (*Inventory).wire, func(x *wireInventory) int64 { return x.Version })
}

func (s *Server) listOutlets(w http.ResponseWriter, r *http.Request) {
	servePage(s, w, r, s.outlets, nil, (*Outlet).wire, func(x *wireOutlet) int64 { return x.Version })
}

func (s *Server) listBrands(w http.ResponseWriter, r *http.Request) {
	servePage(s, w, r, s.brands, nil, (*Brand).wire, func(x *wireBrand) int64 { return x.Version })
}
