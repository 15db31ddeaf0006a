package ecom

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/possync/possync/connectors/internal/httpapi"
)

// category is a store category.
type category struct {
	ID       int64  `json:"id"`
	ParentID int64  `json:"parentId"`
	Name     string `json:"name"`
}

// categories caches the store's category tree, read once (GET /categories) and extended by the sink.
type categories struct {
	loaded bool
	byID   map[int64]category
}

// load reads every category of the store.
func (s *Sink) loadCategories(ctx context.Context) error {
	byID := map[int64]category{}
	for offset := 0; ; {
		var page struct {
			Total int        `json:"total"`
			Items []category `json:"items"`
		}
		q := url.Values{"offset": {strconv.Itoa(offset)}, "limit": {strconv.Itoa(pageSize)}}
		if err := s.client.Do(ctx, http.MethodGet, "/categories", q, nil, &page); err != nil {
			return fmt.Errorf("list categories: %w", err)
		}
		for _, c := range page.Items {
			byID[c.ID] = c
		}
		offset += len(page.Items)
		if len(page.Items) == 0 || offset >= page.Total {
			break
		}
	}
	s.cats = categories{loaded: true, byID: byID}
	return nil
}

// path returns the category path "Parent > Child" of id ("" for none or an unknown id).
func (c *categories) path(id int64) string {
	var parts []string
	for seen := 0; id != 0 && seen < 64; seen++ {
		cat, ok := c.byID[id]
		if !ok {
			break
		}
		parts = append([]string{cat.Name}, parts...)
		id = cat.ParentID
	}
	return strings.Join(parts, " > ")
}

// child returns the id of the category called name under parent.
func (c *categories) child(parent int64, name string) (int64, bool) {
	for id, cat := range c.byID {
		if cat.ParentID == parent && cat.Name == name {
			return id, true
		}
	}
	return 0, false
}

// categoryID returns the id of a normalised category path, creating the levels the store lacks
// (POST /categories). A creation lost in transport is settled by reading the categories again.
func (s *Sink) categoryID(ctx context.Context, path string) (int64, error) {
	if !s.cats.loaded {
		if err := s.loadCategories(ctx); err != nil {
			return 0, err
		}
	}
	var parent int64
	for _, name := range strings.Split(path, " > ") {
		if id, ok := s.cats.child(parent, name); ok {
			parent = id
			continue
		}
		var out struct {
			ID int64 `json:"id"`
		}
		err := s.client.Do(ctx, http.MethodPost, "/categories", nil, map[string]any{"name": name, "parentId": parent, "enabled": true}, &out)
		var ue *httpapi.UncertainError
		if errors.As(err, &ue) {
			if lerr := s.loadCategories(ctx); lerr != nil {
				return 0, lerr
			}
			if id, ok := s.cats.child(parent, name); ok {
				parent = id
				continue
			}
		}
		if err != nil {
			return 0, fmt.Errorf("create category %q: %w", name, err)
		}
		s.cats.byID[out.ID] = category{ID: out.ID, ParentID: parent, Name: name}
		parent = out.ID
	}
	return parent, nil
}
