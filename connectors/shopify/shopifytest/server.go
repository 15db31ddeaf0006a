// Package shopifytest is an in-process emulator of the Shopify Admin GraphQL API, for the shopify_orders
// source's tests and demos. It owns an order store and serves, over httptest, what the source uses:
//
//   - query orders(first, after, query, sortKey, reverse): cursor pages of at most 250 orders, filtered by
//     the search syntax's updated_at/created_at comparisons (an unquoted date-time keeps only its date, as on
//     Shopify), tag, name and id terms, sorted by UPDATED_AT, CREATED_AT, PROCESSED_AT or ID. A cursor
//     holds the sort value and id of its order, so an order updated during a read moves behind the pages
//     already served, as on Shopify; query order(id) and shop.
//   - mutation tagsAdd(id, tags) (adding a tag moves the order's updatedAt to now) and metafieldsSet
//     (at most 25 inputs, atomic: one invalid input saves none).
//   - the calculated query cost: a leaky bucket per server (1000 points, restoring 50 per second by
//     default, on an injectable clock), extensions.cost on every answer, THROTTLED errors (HTTP 200, or 429
//     when configured) when a query costs more than is available, and MAX_COST_EXCEEDED over the single
//     query limit (1000).
//   - the access token in X-Shopify-Access-Token (401 otherwise), recorded calls, and injected faults (an
//     HTTP status, a malformed body, a GraphQL error).
//
// The response is built by walking the query's selection over the object model, so a field the model lacks
// is an error (as a field outside the schema is on Shopify), and only what was asked is returned.
package shopifytest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options configure a Server. Zero values take the defaults.
type Options struct {
	// Token is the access token the server accepts (default DefaultToken).
	Token string
	// BucketSize and RestoreRate are the leaky bucket (default 1000 points, 50 per second).
	BucketSize, RestoreRate float64
	// MaxQueryCost is the single-query limit (default 1000).
	MaxQueryCost int
	// ThrottleStatus is the HTTP status of a THROTTLED answer (default 200; Shopify has been seen to send 429).
	ThrottleStatus int
	// Now is the clock of the bucket and of updatedAt changes (default time.Now).
	Now func() time.Time
	// ShopName is the shop's name (default "Acme Outdoor").
	ShopName string
}

// DefaultToken is the access token of a server built without Options.Token.
const DefaultToken = "shpat_emulator_0123456789abcdef"

// Fault is a failure injected into the next matching request.
type Fault struct {
	// Operation limits the fault to requests whose first top-level field is this (e.g. "orders",
	// "tagsAdd"); empty matches any request.
	Operation string
	// Status answers with this HTTP status and a JSON error body.
	Status int
	// Malformed answers 200 with a truncated JSON body.
	Malformed bool
	// GraphQLError answers 200 with this message in errors and no data.
	GraphQLError string
	// Code is the GraphQL error's extensions.code (default INTERNAL_SERVER_ERROR).
	Code string
}

// Call is one request the server received.
type Call struct {
	// Kind is "query" or "mutation"; Fields are the top-level fields (e.g. ["orders"], ["tagsAdd"]).
	Kind   string
	Fields []string
	// Query is the document; Variables its variables; Version the API version in the path.
	Query     string
	Variables map[string]any
	Version   string
	// Status is the HTTP status answered; Throttled says the answer was THROTTLED; Fault that an injected
	// fault answered.
	Status    int
	Throttled bool
	Fault     bool
	// Requested and Actual are the query's costs; Available is the bucket after the call; At the clock.
	Requested, Actual int
	Available         float64
	At                time.Time
}

// Server is a running emulator.
type Server struct {
	opts Options
	srv  *httptest.Server

	mu        sync.Mutex
	orders    map[int64]*Order
	available float64
	filled    time.Time
	faults    []Fault
	calls     []Call
	before    func(Call)
}

// New starts a server.
func New(opts Options) *Server {
	if opts.Token == "" {
		opts.Token = DefaultToken
	}
	if opts.BucketSize == 0 {
		opts.BucketSize = 1000
	}
	if opts.RestoreRate == 0 {
		opts.RestoreRate = 50
	}
	if opts.MaxQueryCost == 0 {
		opts.MaxQueryCost = 1000
	}
	if opts.ThrottleStatus == 0 {
		opts.ThrottleStatus = http.StatusOK
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ShopName == "" {
		opts.ShopName = "Acme Outdoor"
	}
	s := &Server{opts: opts, orders: map[int64]*Order{}, available: opts.BucketSize}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// URL is the shop's root URL; the API is at URL()/admin/api/<version>/graphql.json.
func (s *Server) URL() string { return s.srv.URL }

// Token is the access token the server accepts.
func (s *Server) Token() string { return s.opts.Token }

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// AddOrder adds an order or replaces the order with its ID.
func (s *Server) AddOrder(o Order) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := o
	s.orders[o.ID] = &c
}

// UpdateOrder changes an order in place and sets its updatedAt to at (the clock's now when zero). It
// reports whether the order exists.
func (s *Server) UpdateOrder(id int64, at time.Time, edit func(*Order)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[id]
	if !ok {
		return false
	}
	edit(o)
	if at.IsZero() {
		at = s.opts.Now()
	}
	o.UpdatedAt = at.UTC()
	return true
}

// Order returns a copy of an order.
func (s *Server) Order(id int64) (Order, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[id]
	if !ok {
		return Order{}, false
	}
	return *o, true
}

// Fail queues a fault; each fault answers one matching request.
func (s *Server) Fail(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, f)
}

// BeforeServe sets a function called with each request (its Kind, Fields, Query and Variables filled) before
// the server handles it, outside the server's lock: a test may change orders there, between two pages.
func (s *Server) BeforeServe(f func(Call)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.before = f
}

// Calls returns the requests received so far.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// Available is the bucket's points now.
func (s *Server) Available() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refill()
	return s.available
}

// SetAvailable sets the bucket's points now (a test draining the bucket, as another app of the same store
// would not: Shopify's bucket is per app and store).
func (s *Server) SetAvailable(points float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refill()
	s.available = points
}

func (s *Server) refill() {
	now := s.opts.Now()
	if !s.filled.IsZero() && now.After(s.filled) {
		s.available = math.Min(s.opts.BucketSize, s.available+now.Sub(s.filled).Seconds()*s.opts.RestoreRate)
	}
	s.filled = now
}

var apiPath = regexp.MustCompile(`^/admin/api/([0-9]{4}-[0-9]{2}|unstable)/graphql\.json$`)

type request struct {
	Query         string         `json:"query"`
	Variables     map[string]any `json:"variables"`
	OperationName string         `json:"operationName"`
}

type costInfo struct {
	RequestedQueryCost int            `json:"requestedQueryCost"`
	ActualQueryCost    *int           `json:"actualQueryCost"`
	ThrottleStatus     throttleStatus `json:"throttleStatus"`
}

type throttleStatus struct {
	MaximumAvailable   float64 `json:"maximumAvailable"`
	CurrentlyAvailable float64 `json:"currentlyAvailable"`
	RestoreRate        float64 `json:"restoreRate"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func errorsBody(errs ...map[string]any) map[string]any { return map[string]any{"errors": errs} }

func errorEntry(msg, code string, extra map[string]any) map[string]any {
	ext := map[string]any{"code": code}
	for k, v := range extra {
		ext[k] = v
	}
	return map[string]any{"message": msg, "extensions": ext}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	m := apiPath.FindStringSubmatch(r.URL.Path)
	if m == nil {
		writeJSON(w, http.StatusNotFound, map[string]any{"errors": "Not Found"})
		return
	}
	if r.Method != http.MethodPost {
		writeJSON(w, http.StatusMethodNotAllowed, map[string]any{"errors": "Use POST"})
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var req request
	if err == nil {
		err = json.Unmarshal(body, &req)
	}
	call := Call{Query: req.Query, Variables: req.Variables, Version: m[1]}
	op, perr := parse(req.Query)
	if op != nil {
		call.Kind = op.kind
		for _, f := range op.sel {
			call.Fields = append(call.Fields, f.name)
		}
	}
	if r.Header.Get("X-Shopify-Access-Token") != s.opts.Token {
		s.record(call, http.StatusUnauthorized)
		writeJSON(w, http.StatusUnauthorized, map[string]any{
			"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"})
		return
	}
	if err != nil || req.Query == "" {
		s.record(call, http.StatusBadRequest)
		writeJSON(w, http.StatusBadRequest, map[string]any{"errors": map[string]any{"query": "Required parameter missing or invalid"}})
		return
	}
	s.mu.Lock()
	before := s.before
	s.mu.Unlock()
	if before != nil {
		before(call)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	call.At = s.opts.Now()
	status, out := s.answer(&call, op, perr)
	call.Status = status
	s.calls = append(s.calls, call)
	if raw, ok := out.(string); ok {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, raw)
		return
	}
	writeJSON(w, status, out)
}

// answer handles one parsed request under the lock and returns the HTTP status and the body (a value to
// encode, or a raw string).
func (s *Server) answer(call *Call, op *operation, perr error) (int, any) {
	if f, ok := s.takeFault(call); ok {
		call.Fault = true
		switch {
		case f.Status != 0:
			return f.Status, errorsBody(errorEntry(http.StatusText(f.Status), "INTERNAL_SERVER_ERROR", nil))
		case f.Malformed:
			return http.StatusOK, `{"data":{"orders":{"nodes":[{"id":"gid://shopify/Or`
		default:
			code := f.Code
			if code == "" {
				code = "INTERNAL_SERVER_ERROR"
			}
			return http.StatusOK, errorsBody(errorEntry(f.GraphQLError, code, nil))
		}
	}
	if perr != nil {
		return http.StatusOK, errorsBody(map[string]any{"message": perr.Error()})
	}
	s.refill()
	requested := requestedCost(op, call.Variables)
	call.Requested = requested
	status := func() throttleStatus {
		return throttleStatus{MaximumAvailable: s.opts.BucketSize, CurrentlyAvailable: math.Floor(s.available),
			RestoreRate: s.opts.RestoreRate}
	}
	if requested > s.opts.MaxQueryCost {
		call.Available = s.available
		body := errorsBody(errorEntry(fmt.Sprintf("Query cost is %d, which exceeds the single query max cost limit (%d).",
			requested, s.opts.MaxQueryCost), "MAX_COST_EXCEEDED", map[string]any{"cost": requested, "maxCost": s.opts.MaxQueryCost}))
		body["extensions"] = map[string]any{"cost": costInfo{RequestedQueryCost: requested, ThrottleStatus: status()}}
		return http.StatusOK, body
	}
	if float64(requested) > s.available {
		call.Throttled, call.Available = true, s.available
		body := errorsBody(errorEntry("Throttled", "THROTTLED",
			map[string]any{"documentation": "https://shopify.dev/api/usage/rate-limits"}))
		body["extensions"] = map[string]any{"cost": costInfo{RequestedQueryCost: requested, ThrottleStatus: status()}}
		return s.opts.ThrottleStatus, body
	}
	s.available -= float64(requested)
	x := &execution{vars: call.Variables}
	root := s.queryRoot()
	if op.kind == "mutation" {
		root = s.mutationRoot()
	}
	data, err := x.object(root, op.sel)
	actual := x.actual
	if op.kind == "mutation" {
		actual = requested
	}
	if err != nil {
		actual = 0
	}
	actual = min(actual, requested)
	s.available = math.Min(s.opts.BucketSize, s.available+float64(requested-actual))
	call.Actual, call.Available = actual, s.available
	ext := map[string]any{"cost": costInfo{RequestedQueryCost: requested, ActualQueryCost: &actual, ThrottleStatus: status()}}
	if err != nil {
		e := map[string]any{"message": err.Error()}
		if ge, ok := err.(*gqlError); ok && ge.Code != "" {
			e["extensions"] = map[string]any{"code": ge.Code}
		}
		return http.StatusOK, map[string]any{"errors": []any{e}, "extensions": ext}
	}
	return http.StatusOK, map[string]any{"data": data, "extensions": ext}
}

// record keeps a call answered before it reached the bucket.
func (s *Server) record(call Call, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	call.At, call.Status = s.opts.Now(), status
	s.calls = append(s.calls, call)
}

func (s *Server) takeFault(call *Call) (Fault, bool) {
	for i, f := range s.faults {
		if f.Operation == "" || (len(call.Fields) > 0 && call.Fields[0] == f.Operation) {
			s.faults = slices.Delete(s.faults, i, i+1)
			return f, true
		}
	}
	return Fault{}, false
}

// queryRoot is the QueryRoot object over the store (called under the lock).
func (s *Server) queryRoot() graphNode {
	return graphNode{
		"__typename": "QueryRoot",
		"shop":       graphNode{"__typename": "Shop", "name": s.opts.ShopName, "currencyCode": "USD"},
		"orders": func(args map[string]any) (any, error) {
			return s.ordersConnection(args)
		},
		"order": func(args map[string]any) (any, error) {
			id, _ := args["id"].(string)
			n, ok := orderID(id)
			if !ok {
				return nil, &gqlError{Message: fmt.Sprintf("Invalid global id '%s'", id), Code: "argumentLiteralsIncompatible"}
			}
			o, ok := s.orders[n]
			if !ok {
				return nil, nil
			}
			return o.graph(), nil
		},
	}
}

var orderGID = regexp.MustCompile(`^gid://shopify/Order/([0-9]+)$`)

func orderID(gid string) (int64, bool) {
	m := orderGID.FindStringSubmatch(gid)
	if m == nil {
		return 0, false
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	return n, err == nil
}

// sortValue is an order's value for a sort key.
func sortValue(o *Order, key string) int64 {
	switch key {
	case "UPDATED_AT":
		return o.updated().UnixMicro()
	case "CREATED_AT":
		return o.CreatedAt.UnixMicro()
	case "PROCESSED_AT":
		if o.ProcessedAt.IsZero() {
			return o.CreatedAt.UnixMicro()
		}
		return o.ProcessedAt.UnixMicro()
	}
	return o.ID
}

type orderCursor struct {
	Key   string `json:"k"`
	Value int64  `json:"v"`
	ID    int64  `json:"id"`
}

// ordersConnection filters and sorts the orders; its cursors hold the sort value and id of their order.
func (s *Server) ordersConnection(args map[string]any) (*connection, error) {
	key, _ := args["sortKey"].(string)
	if key == "" {
		key = "ID"
	}
	switch key {
	case "ID", "UPDATED_AT", "CREATED_AT", "PROCESSED_AT":
	default:
		return nil, &gqlError{Message: fmt.Sprintf("Argument 'sortKey' has an invalid value (%s).", key),
			Code: "argumentLiteralsIncompatible"}
	}
	reverse, _ := args["reverse"].(bool)
	q, _ := args["query"].(string)
	terms, err := parseSearch(q)
	if err != nil {
		return nil, &gqlError{Message: err.Error(), Code: "badSearch"}
	}
	type entry struct {
		v, id int64
		o     *Order
	}
	var list []entry
	for _, o := range s.orders {
		ok, err := match(o, terms)
		if err != nil {
			return nil, &gqlError{Message: err.Error(), Code: "badSearch"}
		}
		if ok {
			list = append(list, entry{sortValue(o, key), o.ID, o})
		}
	}
	less := func(av, aid, bv, bid int64) bool { return av < bv || (av == bv && aid < bid) }
	sort.Slice(list, func(i, j int) bool {
		if reverse {
			return less(list[j].v, list[j].id, list[i].v, list[i].id)
		}
		return less(list[i].v, list[i].id, list[j].v, list[j].id)
	})
	c := &connection{n: len(list), node: func(i int) graphNode { return list[i].o.graph() }}
	c.cursor = func(i int) string {
		b, _ := json.Marshal(orderCursor{Key: key, Value: list[i].v, ID: list[i].id})
		return base64.StdEncoding.EncodeToString(b)
	}
	c.startAfter = func(cur string) (int, error) {
		b, err := base64.StdEncoding.DecodeString(cur)
		var oc orderCursor
		if err == nil {
			err = json.Unmarshal(b, &oc)
		}
		if err != nil || oc.Key != key {
			return 0, fmt.Errorf("not a cursor of orders sorted by %s", key)
		}
		for i, e := range list {
			if (!reverse && less(oc.Value, oc.ID, e.v, e.id)) || (reverse && less(e.v, e.id, oc.Value, oc.ID)) {
				return i, nil
			}
		}
		return len(list), nil
	}
	return c, nil
}

// userError is an entry of a mutation's userErrors.
func userError(field []string, msg, code string) graphNode {
	n := graphNode{"__typename": "UserError", "field": field, "message": msg}
	if code != "" {
		n["code"] = code
	}
	return n
}

// mutationRoot is the Mutation object over the store (called under the lock).
func (s *Server) mutationRoot() graphNode {
	root := s.statusMutations()
	for k, v := range s.markMutations() {
		root[k] = v
	}
	return root
}

// markMutations are the mutations that mark an order imported.
func (s *Server) markMutations() graphNode {
	return graphNode{
		"__typename": "Mutation",
		"tagsAdd": func(args map[string]any) (any, error) {
			id, _ := args["id"].(string)
			var tags []string
			switch v := args["tags"].(type) {
			case []any:
				for _, t := range v {
					if str, ok := t.(string); ok {
						tags = append(tags, str)
					}
				}
			case string: // a single string is coerced to a list, as GraphQL does
				tags = []string{v}
			}
			res := graphNode{"__typename": "TagsAddPayload", "node": nil, "userErrors": []graphNode{}}
			n, ok := orderID(id)
			o := s.orders[n]
			if !ok || o == nil {
				res["userErrors"] = []graphNode{userError([]string{"id"}, "Order does not exist", "")}
				return res, nil
			}
			var clean []string
			for _, t := range tags {
				if t = strings.TrimSpace(t); t != "" {
					clean = append(clean, t)
				}
			}
			if len(clean) == 0 {
				res["userErrors"] = []graphNode{userError([]string{"tags"}, "Tags can't be blank", "")}
				return res, nil
			}
			changed := false
			for _, t := range clean {
				if !slices.ContainsFunc(o.Tags, func(have string) bool { return strings.EqualFold(have, t) }) {
					o.Tags, changed = append(o.Tags, t), true
				}
			}
			if changed {
				o.UpdatedAt = s.opts.Now().UTC()
			}
			res["node"] = graphNode{"__typename": "Order", "id": GID("Order", o.ID), "tags": slices.Clone(o.Tags)}
			return res, nil
		},
		"metafieldsSet": func(args map[string]any) (any, error) {
			inputs, _ := args["metafields"].([]any)
			if len(inputs) > 25 {
				return nil, &gqlError{Message: fmt.Sprintf("The input array size of %d is greater than the maximum allowed of 25.",
					len(inputs)), Code: "MAX_INPUT_SIZE_EXCEEDED"}
			}
			res := graphNode{"__typename": "MetafieldsSetPayload", "metafields": []graphNode{}, "userErrors": []graphNode{}}
			type set struct {
				o *Order
				m Metafield
			}
			var sets []set
			var errs []graphNode
			for i, in := range inputs {
				m, _ := in.(map[string]any)
				str := func(k string) string { v, _ := m[k].(string); return v }
				at := func(f string) []string { return []string{"metafields", strconv.Itoa(i), f} }
				n, ok := orderID(str("ownerId"))
				o := s.orders[n]
				switch {
				case !ok || o == nil:
					errs = append(errs, userError(at("ownerId"), "Owner does not exist.", "INVALID"))
				case len(str("namespace")) < 3:
					errs = append(errs, userError(at("namespace"), "Namespace is too short (minimum is 3 characters)", "TOO_SHORT"))
				case len(str("key")) < 2:
					errs = append(errs, userError(at("key"), "Key is too short (minimum is 2 characters)", "TOO_SHORT"))
				case str("type") == "":
					errs = append(errs, userError(at("type"), "Type can't be blank", "BLANK"))
				case str("value") == "":
					errs = append(errs, userError(at("value"), "Value can't be blank", "BLANK"))
				default:
					sets = append(sets, set{o, Metafield{Namespace: str("namespace"), Key: str("key"), Type: str("type"),
						Value: str("value"), UpdatedAt: s.opts.Now().UTC()}})
				}
			}
			if len(errs) > 0 {
				res["userErrors"] = errs
				return res, nil
			}
			var out []graphNode
			for _, st := range sets {
				if st.o.Metafields == nil {
					st.o.Metafields = map[string]Metafield{}
				}
				st.o.Metafields[st.m.Namespace+"."+st.m.Key] = st.m
				out = append(out, graphNode{"__typename": "Metafield", "namespace": st.m.Namespace, "key": st.m.Key,
					"value": st.m.Value, "type": st.m.Type, "ownerId": GID("Order", st.o.ID)})
			}
			res["metafields"] = out
			return res, nil
		},
	}
}
