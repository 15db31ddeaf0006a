package ecom

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/connectors/internal/httpapi"
)

// op is one API request made for a change. done interprets its result: it settles the change's outcome on
// a refusal, or returns the requests that follow (a lookup after a conflict, the images after a creation,
// the variants waiting for their new product).
type op struct {
	ch     int
	method string
	path   string
	query  url.Values
	body   any
	done   func(r result) []op
}

// result is an answer: err is nil for 2xx, a *httpapi.StatusError for a refusal (4xx other than 401/403),
// or a *httpapi.UncertainError for a POST lost in transport; body is the answer's JSON.
type result struct {
	err  error
	body json.RawMessage
}

// progress is what Apply knows about one change.
type progress struct {
	done    bool  // outcome settled (a refusal or an unknown fate)
	outcome error // when done
	open    int   // requests queued or in flight
	sent    bool  // a write went out
	waiting bool  // a variant waiting for its product's creation in this call
	planned bool  // its first requests were made (or found unneeded)
}

// applier applies the changes of one Apply call.
type applier struct {
	s       *Sink
	changes []connectors.Change
	items   []*item
	st      []progress
	batch   bool
	cats    map[string]int64
	// creates maps the SKUs of the products this call creates to their change index + 1; waiters holds the
	// variant creations waiting for those products' ids.
	creates map[string]int
	waiters map[string][]int
	// outage is the first failure that says the store is failing rather than refusing (a creation lost or
	// answered 5xx again after its lookup, a batch request answered 5xx): the sink stops sending after it.
	outage error
}

// Apply applies the changes and returns one outcome each: nil when the store acknowledged it; a
// *connectors.ChangeError when the store refused it (400, 402, 404 on an update, 409 other than a duplicate
// SKU), or the record cannot be sent (bad images or options JSON, a variant whose product is missing);
// connectors.ErrNotAttempted (possibly wrapped) for a change not sent, or only partly sent, before the sink
// stopped; any other error when a request's fate is unknown (lost in transport, the API failing after
// retries), which the runner settles with Reconcile on the next run. A store failing (5xx, timeouts) is
// never reported as refusing a change.
//
// err is non-nil when the sink stops: the store refused the token (401/403), the API kept failing (a
// request failing after its retries, a creation failing again after its lookup, a batch request answered
// 5xx), or ctx ended. More than batch_threshold changes go through batch tickets.
func (s *Sink) Apply(ctx context.Context, changes []connectors.Change) ([]error, error) {
	if s.m == nil {
		return nil, fmt.Errorf("ecom sink: the records' schema is unknown, so nothing can be mapped")
	}
	a := &applier{s: s, changes: changes, items: make([]*item, len(changes)), st: make([]progress, len(changes)),
		batch: len(changes) > s.cfg.BatchThreshold, cats: map[string]int64{}, creates: map[string]int{}, waiters: map[string][]int{}}
	for i := range changes {
		it, err := s.m.parseItem(&changes[i])
		if err != nil {
			a.settle(i, &connectors.ChangeError{Reason: err.Error()})
			continue
		}
		a.items[i] = it
		if it.parent == "" && changes[i].Action == connectors.Create {
			a.creates[it.sku] = i + 1
		}
	}
	if err := ctx.Err(); err != nil {
		return a.stopAll(), err
	}
	if err := s.resolve(ctx, a.skus()); err != nil {
		return a.stopAll(), refused(err)
	}
	if err := a.resolveCategories(ctx); err != nil {
		return a.stopAll(), refused(err)
	}
	// Products first, so that the variants' products exist (or are being created) when they are planned.
	var ops []op
	for _, variants := range []bool{false, true} {
		for i, it := range a.items {
			if it != nil && !a.st[i].done && (it.parent != "") == variants {
				a.st[i].planned = true
				ops = append(ops, a.follow(a.plan(i))...)
			}
		}
	}
	if err := a.run(ctx, ops); err != nil {
		return a.stopAll(), err
	}
	return a.outcomes(), nil
}

// skus lists the SKUs the changes need located: their own and their variants' products.
func (a *applier) skus() []string {
	var out []string
	for _, it := range a.items {
		if it != nil {
			out = append(out, it.sku)
			if it.parent != "" {
				out = append(out, it.parent)
			}
		}
	}
	return out
}

// resolveCategories finds (or creates) the category of every product created, or whose category changes. A
// category the store refuses to create refuses the changes that need it.
func (a *applier) resolveCategories(ctx context.Context) error {
	if !a.s.m.has["category"] {
		return nil
	}
	need := map[string][]int{}
	for i, c := range a.changes {
		it := a.items[i]
		if it == nil || a.st[i].done || it.parent != "" || c.After == nil {
			continue
		}
		if c.Action == connectors.Create || slices.Contains(c.Fields, "category") {
			if p := categoryPath(orZero(str(c.After, "category"))); p != "" {
				need[p] = append(need[p], i)
			}
		}
	}
	paths := make([]string, 0, len(need))
	for p := range need {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		id, err := a.s.categoryID(ctx, p)
		var se *httpapi.StatusError
		if errors.As(err, &se) && !se.Temporary() && !isAuth(err) {
			for _, i := range need[p] {
				a.settle(i, &connectors.ChangeError{Status: se.Status, Reason: fmt.Sprintf("category %q: %v", p, se)})
			}
			continue
		}
		if err != nil {
			return err
		}
		a.cats[p] = id
	}
	return nil
}

// run sends the requests, round after round (a round's follow-ups form the next), directly or, in batch
// mode, through batch tickets.
func (a *applier) run(ctx context.Context, ops []op) error {
	for len(ops) > 0 {
		var next []op
		var err error
		if a.batch && len(ops) > 1 {
			next, err = a.runBatch(ctx, ops)
		} else {
			next, err = a.runDirect(ctx, ops)
		}
		if err != nil {
			return err
		}
		ops = next
	}
	return nil
}

// runDirect sends each request on its own, in order.
func (a *applier) runDirect(ctx context.Context, ops []op) ([]op, error) {
	var next []op
	for _, o := range ops {
		if a.st[o.ch].done {
			a.st[o.ch].open--
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var body json.RawMessage
		err := a.s.client.Do(ctx, o.method, o.path, o.query, o.body, &body)
		follow, fatal := a.handle(ctx, o, result{err: err, body: body}, true)
		if fatal == nil && isUncertain(err) {
			// Settle this write (its lookup, maybe one more attempt) before sending others: a store that
			// fails shows here, and the sink stops before failing every change the same way.
			for len(follow) > 0 && fatal == nil {
				follow, fatal = a.runDirect(ctx, follow)
			}
		}
		next = append(next, follow...)
		if fatal == nil {
			fatal = a.failing()
		}
		if fatal != nil {
			return nil, fatal
		}
	}
	return next, nil
}

// handle interprets the answer to o. It returns the follow-up requests, and a fatal error when the sink must
// stop: the token refused, ctx ended, or (for a direct request, which the client already retried) the API
// failing or unreachable.
func (a *applier) handle(ctx context.Context, o op, r result, direct bool) ([]op, error) {
	st := &a.st[o.ch]
	st.open--
	if o.method != http.MethodGet && !neverSent(r.err) {
		st.sent = true
	}
	if st.done {
		return nil, nil
	}
	var se *httpapi.StatusError
	var ue *httpapi.UncertainError
	switch err := r.err; {
	case err == nil, errors.As(err, &ue):
		return a.follow(o.done(r)), nil
	case ctx.Err() != nil && errors.Is(err, ctx.Err()):
		a.settle(o.ch, a.unknown(o, fmt.Errorf("%s %s interrupted: %w", o.method, o.path, err)))
		return nil, err
	case isAuth(err):
		a.settle(o.ch, fmt.Errorf("%w: %v", connectors.ErrNotAttempted, err))
		return nil, refused(err)
	case errors.As(err, &se) && !se.Temporary():
		return a.follow(o.done(r)), nil
	default:
		a.settle(o.ch, a.unknown(o, err))
		if direct {
			return nil, fmt.Errorf("the store API is failing: %w", err)
		}
		a.noteOutage(err) // a batch request is not retried: stop once the ticket's answers are handled
		return nil, nil
	}
}

// noteOutage records the first failure that shows the store failing.
func (a *applier) noteOutage(err error) {
	if a.outage == nil {
		a.outage = err
	}
}

// failing is the error that stops the sink after an outage was noted, or nil.
func (a *applier) failing() error {
	if a.outage == nil {
		return nil
	}
	return fmt.Errorf("the store API is failing (stopped sending; the next run reconciles what it met): %w", a.outage)
}

// unknown is the outcome of a request whose fate is unknown: the error for a write, "not attempted" (or
// partly attempted) for a read or a write that never left (the store unreachable).
func (a *applier) unknown(o op, err error) error {
	if o.method == http.MethodGet || neverSent(err) {
		return a.stopped(o.ch)
	}
	return err
}

// neverSent reports whether err says the request never reached the store: a refused connection, an
// unknown host, a failed TLS handshake.
func neverSent(err error) bool {
	var te *httpapi.TransportError
	return errors.As(err, &te) && !te.Temporary()
}

// follow counts the requests as open for their changes.
func (a *applier) follow(ops []op) []op {
	for _, o := range ops {
		a.st[o.ch].open++
	}
	return ops
}

// settle decides a change's outcome (the first one wins). A product creation that fails takes down the
// variants waiting for it: refused with it, or not attempted when its own fate is unknown.
func (a *applier) settle(i int, err error) {
	st := &a.st[i]
	if st.done {
		return
	}
	st.done, st.outcome = true, err
	it := a.items[i]
	if it == nil || a.creates[it.sku] != i+1 {
		return
	}
	for _, w := range a.waiters[it.sku] {
		a.st[w].waiting = false
		a.settle(w, parentFailed(it.sku, err))
	}
	delete(a.waiters, it.sku)
}

// parentFailed is the outcome of a variant whose product's creation failed with err: refused with it, or
// not attempted when the product's fate is unknown.
func parentFailed(sku string, err error) error {
	var ce *connectors.ChangeError
	if errors.As(err, &ce) {
		return &connectors.ChangeError{Status: ce.Status, Reason: fmt.Sprintf("product %s was not created: %s", sku, ce.Reason)}
	}
	return fmt.Errorf("product %s was not created: %w", sku, connectors.ErrNotAttempted)
}

// reject settles a change with the store's refusal (a *connectors.ChangeError) or an unknown fate. A write
// whose outcome stayed unknown after its lookup (lost, or answered 408/5xx, twice) is no refusal: the store
// is failing, so the change is left to reconcile and the sink stops.
func (a *applier) reject(i int, err error) []op {
	var se *httpapi.StatusError
	if isUncertain(err) {
		a.settle(i, err)
		a.noteOutage(err)
		return nil
	}
	if errors.As(err, &se) {
		a.settle(i, &connectors.ChangeError{Status: se.Status, Reason: se.Error()})
	} else {
		a.settle(i, err)
	}
	return nil
}

// stopped is the outcome of a change the sink stopped before finishing.
func (a *applier) stopped(i int) error {
	if a.st[i].sent {
		return fmt.Errorf("stopped after part of the change was sent: %w", connectors.ErrNotAttempted)
	}
	return connectors.ErrNotAttempted
}

// stopAll settles every unfinished change as stopped and returns the outcomes.
func (a *applier) stopAll() []error {
	for i := range a.st {
		if st := &a.st[i]; !st.done && (!st.planned || st.open > 0 || st.waiting) {
			a.settle(i, a.stopped(i))
		}
	}
	return a.outcomes()
}

// outcomes returns the outcome of every change: nil for those not settled.
func (a *applier) outcomes() []error {
	out := make([]error, len(a.st))
	for i, st := range a.st {
		out[i] = st.outcome
	}
	return out
}
