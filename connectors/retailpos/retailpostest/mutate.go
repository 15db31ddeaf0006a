package retailpostest

import (
	"fmt"
	"slices"
)

// Upsert creates or replaces a product (matched by ID; an empty ID creates one with a new ID) and returns it
// as stored: CreatedAt kept (or set), UpdatedAt set to now and a new Version. The product is copied, so the
// caller may reuse its slices.
func (s *Server) Upsert(p Product) Product {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.upsert(p)
}

// upsert is Upsert with the lock held.
func (s *Server) upsert(p Product) Product {
	p = clone(p)
	now := s.opts.Now().UTC()
	if p.ID == "" {
		p.ID = s.newID()
	}
	if old, ok := s.products.get(p.ID); ok {
		s.countFamily(&old, -1)
		if p.CreatedAt.IsZero() {
			p.CreatedAt = old.CreatedAt
		}
	}
	if p.CreatedAt.IsZero() {
		p.CreatedAt = now
	}
	p.UpdatedAt, p.Version = now, s.nextVersion()
	s.countFamily(&p, +1)
	s.products.put(p.ID, p, p.Version)
	return clone(p)
}

// Delete soft-deletes a product (deleted_at set, new version), as the POS does. It reports whether the
// product existed and was not deleted already.
func (s *Server) Delete(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.products.get(id)
	if !ok || !p.DeletedAt.IsZero() {
		return false
	}
	s.countFamily(&p, -1)
	p.DeletedAt = s.opts.Now().UTC()
	p.UpdatedAt, p.Version = p.DeletedAt, s.nextVersion()
	s.products.put(p.ID, p, p.Version)
	return true
}

// SetInventory sets the inventory level of a product at an outlet (a new version of its inventory record)
// and returns the record. It panics when the product or the outlet does not exist: that is a test bug.
func (s *Server) SetInventory(productID, outletID string, level float64) Inventory {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.setInventory(productID, outletID, level)
}

func (s *Server) setInventory(productID, outletID string, level float64) Inventory {
	if _, ok := s.products.get(productID); !ok {
		panic(fmt.Sprintf("retailpostest: SetInventory: no product %q", productID))
	}
	if _, ok := s.outlets.get(outletID); !ok {
		panic(fmt.Sprintf("retailpostest: SetInventory: no outlet %q", outletID))
	}
	key := inventoryKey(productID, outletID)
	inv, ok := s.inventory.get(key)
	if !ok {
		inv = Inventory{ID: s.newID(), ProductID: productID, OutletID: outletID}
	}
	inv.InventoryLevel, inv.Version = level, s.nextVersion()
	s.inventory.put(key, inv, inv.Version)
	return inv
}

// AddOutlet creates or replaces an outlet (an empty ID gets a new one) and returns it as stored.
func (s *Server) AddOutlet(o Outlet) Outlet {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o.ID == "" {
		o.ID = s.newID()
	}
	if o.TimeZone == "" {
		o.TimeZone = "America/Los_Angeles"
	}
	if o.Currency == "" {
		o.Currency = "USD"
	}
	o.Version = s.nextVersion()
	s.outlets.put(o.ID, o, o.Version)
	return o
}

// AddBrand creates or replaces a brand (an empty ID gets a new one) and returns it as stored.
func (s *Server) AddBrand(b Brand) Brand {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b.ID == "" {
		b.ID = s.newID()
	}
	b.Version = s.nextVersion()
	s.brands.put(b.ID, b, b.Version)
	return b
}

// Product returns a product as stored (deleted ones included).
func (s *Server) Product(id string) (Product, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.products.get(id)
	return clone(p), ok
}

// Products returns every product (deleted ones included), in version order.
func (s *Server) Products() []Product {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.products.all()
	for i := range out {
		out[i] = clone(out[i])
	}
	return out
}

// Outlets returns every outlet, in version order.
func (s *Server) Outlets() []Outlet {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.outlets.all()
}

// InventoryLevel returns the level of a product at an outlet and whether a record exists.
func (s *Server) InventoryLevel(productID, outletID string) (float64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	inv, ok := s.inventory.get(inventoryKey(productID, outletID))
	return inv.InventoryLevel, ok
}

// Version is the current global version (the highest version of any item).
func (s *Server) Version() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.version
}

// countFamily adds d to the member count of p's family unless p is deleted; the lock is held.
func (s *Server) countFamily(p *Product, d int) {
	if !p.DeletedAt.IsZero() {
		return
	}
	f := p.ID
	if p.VariantParentID != "" {
		f = p.VariantParentID
	}
	if s.families[f] += d; s.families[f] <= 0 {
		delete(s.families, f)
	}
}

func inventoryKey(productID, outletID string) string { return productID + "/" + outletID }

// clone deep-copies the slices and pointers of p.
func clone(p Product) Product {
	p.VariantOptions = slices.Clone(p.VariantOptions)
	p.ProductCodes = slices.Clone(p.ProductCodes)
	p.Images = slices.Clone(p.Images)
	p.TagIDs = slices.Clone(p.TagIDs)
	p.Online = clonePtr(p.Online)
	p.Weight, p.Length, p.Width, p.Height = clonePtr(p.Weight), clonePtr(p.Length), clonePtr(p.Width), clonePtr(p.Height)
	if p.Type != nil {
		c := *p.Type
		c.Path = slices.Clone(c.Path)
		p.Type = &c
	}
	if p.Category != nil {
		c := *p.Category
		c.Path = slices.Clone(c.Path)
		p.Category = &c
	}
	return p
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}
