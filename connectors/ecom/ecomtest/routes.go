package ecomtest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// maxLimit is the largest page the search endpoints return.
const maxLimit = 100

// dispatch executes one API request against the store (the caller holds the lock) and returns the status and
// the JSON answer. ticket is the batch ticket a sub-request belongs to ("" for a direct request).
func (s *Server) dispatch(method, path string, query url.Values, body []byte, ticket string) (int, any) {
	if method != http.MethodGet && !(method == http.MethodPost && path == "/batch") {
		status, out := s.route(method, path, query, body, ticket)
		s.writes = append(s.writes, Write{Method: method, Path: path, Status: status, Ticket: ticket,
			Body: json.RawMessage(append([]byte(nil), body...))})
		return status, out
	}
	return s.route(method, path, query, body, ticket)
}

func (s *Server) route(method, path string, query url.Values, body []byte, ticket string) (int, any) {
	seg := strings.Split(strings.Trim(path, "/"), "/")
	var out any
	var err *apiError
	switch {
	case seg[0] == "products":
		out, err = s.routeProducts(method, seg[1:], query, body)
	case len(seg) == 1 && seg[0] == "categories" && method == http.MethodGet:
		out, err = s.searchCategories(query)
	case len(seg) == 1 && seg[0] == "categories" && method == http.MethodPost:
		out, err = s.createCategory(body)
	case len(seg) == 1 && seg[0] == "profile" && method == http.MethodGet:
		out = map[string]any{"generalInfo": map[string]any{"storeId": s.opts.StoreID, "storeUrl": "https://example.com/shop"},
			"settings": map[string]any{"storeName": "possync emulated store", "closed": false}}
	case len(seg) == 1 && seg[0] == "batch" && ticket == "" && method == http.MethodPost:
		out, err = s.createBatch(query, body)
	case len(seg) == 1 && seg[0] == "batch" && ticket == "" && method == http.MethodGet:
		out, err = s.batchStatus(query)
	default:
		err = errorf(http.StatusNotFound, "NOT_FOUND", "No endpoint %s %s", method, path)
	}
	if err != nil {
		return err.Status, err
	}
	return http.StatusOK, out
}

func (s *Server) routeProducts(method string, seg []string, query url.Values, body []byte) (any, *apiError) {
	if len(seg) == 0 {
		switch method {
		case http.MethodGet:
			return s.searchProducts(query)
		case http.MethodPost:
			return s.createProduct(body)
		}
		return nil, errorf(http.StatusMethodNotAllowed, "WRONG_PARAMETER", "Method %s not allowed", method)
	}
	id, err := strconv.ParseInt(seg[0], 10, 64)
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "WRONG_PARAMETER", "Bad product id %q", seg[0])
	}
	p, ok := s.st.products[id]
	if !ok {
		return nil, productNotFound(id)
	}
	switch {
	case len(seg) == 1 && method == http.MethodGet:
		return p, nil
	case len(seg) == 1 && method == http.MethodPut:
		return s.updateProduct(p, body)
	case len(seg) == 1 && method == http.MethodDelete:
		s.st.remove(id)
		return map[string]int{"deleteCount": 1}, nil
	case len(seg) == 2 && seg[1] == "media" && method == http.MethodPut:
		return s.updateMedia(p, body)
	case len(seg) >= 2 && seg[1] == "combinations":
		return s.routeCombinations(method, p, seg[2:], body)
	}
	return nil, errorf(http.StatusNotFound, "NOT_FOUND", "No endpoint %s /products/%s", method, strings.Join(seg, "/"))
}

func (s *Server) searchProducts(query url.Values) (any, *apiError) {
	var items []*Product
	switch {
	case query.Get("productId") != "":
		for _, f := range strings.Split(query.Get("productId"), ",") {
			id, _ := strconv.ParseInt(strings.TrimSpace(f), 10, 64)
			if p, ok := s.st.products[id]; ok {
				items = append(items, p)
			}
		}
	case query.Has("sku"):
		if p, ok := s.st.findSKU(query.Get("sku")); ok {
			items = append(items, p)
		}
	default:
		items = s.st.list()
	}
	return page(items, query)
}

// page cuts one page of items by the offset and limit parameters.
func page[T any](items []T, query url.Values) (Envelope[T], *apiError) {
	offset, limit := 0, maxLimit
	if v := query.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return Envelope[T]{}, errorf(http.StatusBadRequest, "WRONG_PARAMETER", "Bad offset %q", v)
		}
		offset = n
	}
	if v := query.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return Envelope[T]{}, errorf(http.StatusBadRequest, "WRONG_PARAMETER", "Bad limit %q", v)
		}
		limit = min(n, maxLimit)
	}
	lo, hi := min(offset, len(items)), min(offset+limit, len(items))
	out := append(make([]T, 0, hi-lo), items[lo:hi]...)
	return Envelope[T]{Total: len(items), Count: len(out), Offset: offset, Limit: limit, Items: out}, nil
}

func (s *Server) createProduct(body []byte) (any, *apiError) {
	fields, err := decodeFields(body)
	if err != nil {
		return nil, err
	}
	p := &Product{ID: s.st.id(), Enabled: true, Unlimited: true, IsShippingRequired: true}
	if err := s.st.applyProduct(p, fields); err != nil {
		return nil, err
	}
	if err := s.st.validate(p); err != nil {
		return nil, err
	}
	s.st.touch(p, true)
	s.st.put(p)
	return map[string]int64{"id": p.ID}, nil
}

func (s *Server) updateProduct(old *Product, body []byte) (any, *apiError) {
	fields, err := decodeFields(body)
	if err != nil {
		return nil, err
	}
	p := old.clone()
	if err := s.st.applyProduct(p, fields); err != nil {
		return nil, err
	}
	if err := s.st.validate(p); err != nil {
		return nil, err
	}
	s.st.touch(p, false)
	s.st.put(p)
	return map[string]int{"updateCount": 1}, nil
}

// updateMedia replaces the product's images: mainMedia.imageUrl becomes the main image (mainMedia without
// imageUrl removes it; a missing or null mainMedia keeps it), galleryMedia replaces the gallery (missing or
// null keeps it).
func (s *Server) updateMedia(old *Product, body []byte) (any, *apiError) {
	var req struct {
		MainMedia *struct {
			ImageURL string `json:"imageUrl"`
		} `json:"mainMedia"`
		GalleryMedia *[]struct {
			ImageURL string `json:"imageUrl"`
		} `json:"galleryMedia"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, errorf(http.StatusBadRequest, "WRONG_PARAMETER", "Request body is not a media object")
	}
	p := old.clone()
	result := map[string]any{}
	if req.MainMedia != nil {
		p.OriginalImageURL = req.MainMedia.ImageURL
		result["mainMedia"] = map[string]any{"success": true, "id": "0"}
	}
	if req.GalleryMedia != nil {
		p.GalleryImages = nil
		var res []any
		for i, m := range *req.GalleryMedia {
			img := GalleryImage{ID: s.st.id(), URL: m.ImageURL, OrderBy: i}
			p.GalleryImages = append(p.GalleryImages, img)
			res = append(res, map[string]any{"success": true, "id": strconv.FormatInt(img.ID, 10)})
		}
		result["galleryMedia"] = res
	}
	s.st.touch(p, false)
	s.st.put(p)
	return result, nil
}

func (s *Server) routeCombinations(method string, p *Product, seg []string, body []byte) (any, *apiError) {
	if len(seg) == 0 {
		switch method {
		case http.MethodGet:
			return p.Combinations, nil
		case http.MethodPost:
			return s.createCombination(p, body)
		}
		return nil, errorf(http.StatusMethodNotAllowed, "WRONG_PARAMETER", "Method %s not allowed", method)
	}
	cid, _ := strconv.ParseInt(seg[0], 10, 64)
	idx := -1
	for i, c := range p.Combinations {
		if c.ID == cid {
			idx = i
		}
	}
	if idx < 0 || len(seg) > 1 {
		return nil, errorf(http.StatusNotFound, "COMBINATION_NOT_FOUND", "Combination #%s of product #%d is not found", seg[0], p.ID)
	}
	switch method {
	case http.MethodGet:
		return p.Combinations[idx], nil
	case http.MethodDelete:
		q := p.clone()
		q.Combinations = append(q.Combinations[:idx], q.Combinations[idx+1:]...)
		s.st.touch(q, false)
		s.st.put(q)
		return map[string]int{"deleteCount": 1}, nil
	case http.MethodPut:
		fields, err := decodeFields(body)
		if err != nil {
			return nil, err
		}
		q := p.clone()
		c := &q.Combinations[idx]
		if err := s.st.applyCombination(c, fields); err != nil {
			return nil, err
		}
		ensureOptions(q, c.Options)
		if err := s.st.validate(q); err != nil {
			return nil, err
		}
		s.st.touch(q, false)
		s.st.put(q)
		return map[string]int{"updateCount": 1}, nil
	}
	return nil, errorf(http.StatusMethodNotAllowed, "WRONG_PARAMETER", "Method %s not allowed", method)
}

func (s *Server) createCombination(p *Product, body []byte) (any, *apiError) {
	fields, err := decodeFields(body)
	if err != nil {
		return nil, err
	}
	q := p.clone()
	c := Combination{ID: s.st.id(), CombinationNumber: len(q.Combinations) + 1, Unlimited: true}
	if err := s.st.applyCombination(&c, fields); err != nil {
		return nil, err
	}
	if len(c.Options) == 0 {
		return nil, errorf(http.StatusBadRequest, "WRONG_PARAMETER", "A combination needs options")
	}
	for _, other := range q.Combinations {
		if sameOptions(other.Options, c.Options) {
			return nil, errorf(http.StatusBadRequest, "WRONG_PARAMETER", "Combination #%d already has these options", other.ID)
		}
	}
	q.Combinations = append(q.Combinations, c)
	ensureOptions(q, c.Options)
	if err := s.st.validate(q); err != nil {
		return nil, err
	}
	s.st.touch(q, false)
	s.st.put(q)
	return map[string]int64{"id": c.ID}, nil
}

func (s *Server) searchCategories(query url.Values) (any, *apiError) {
	items := make([]Category, 0, len(s.st.catOrder))
	parent := query.Get("parent")
	for _, id := range s.st.catOrder {
		c := s.st.categories[id]
		if parent == "" || strconv.FormatInt(c.ParentID, 10) == parent {
			items = append(items, *c)
		}
	}
	return page(items, query)
}

func (s *Server) createCategory(body []byte) (any, *apiError) {
	var req struct {
		Name     string `json:"name"`
		ParentID int64  `json:"parentId"`
	}
	if err := json.Unmarshal(body, &req); err != nil || strings.TrimSpace(req.Name) == "" {
		return nil, errorf(http.StatusBadRequest, "WRONG_PARAMETER", "Category name is required")
	}
	if _, ok := s.st.categories[req.ParentID]; req.ParentID != 0 && !ok {
		return nil, errorf(http.StatusNotFound, "CATEGORIES_NOT_FOUND", "Parent category #%d is not found", req.ParentID)
	}
	return map[string]int64{"id": s.st.addCategory(req.ParentID, req.Name)}, nil
}
