package runner

import (
	"context"
	"sort"
	"sync"

	"github.com/possync/possync/connectors/apistats"
)

// APICalls are one connector's API requests, retries and rate-limit answers in a run (Report.API).
type APICalls struct {
	// Connector is "source NAME" or "sink"; Type its component type.
	Connector string `json:"connector"`
	Type      string `json:"type"`
	apistats.Snapshot
}

// apiCounters holds a session's per-connector counters.
type apiCounters struct {
	mu    sync.Mutex
	order []string
	by    map[string]*apiEntry
}

type apiEntry struct {
	typ string
	c   apistats.Counters
}

// apiCtx returns ctx counting the API calls made with it for connector (of type typ).
func (s *session) apiCtx(ctx context.Context, connector, typ string) context.Context {
	a := &s.api
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.by == nil {
		a.by = map[string]*apiEntry{}
	}
	e, ok := a.by[connector]
	if !ok {
		e = &apiEntry{typ: typ}
		a.by[connector] = e
		a.order = append(a.order, connector)
	}
	return apistats.With(ctx, &e.c)
}

// sinkCtx is apiCtx for the sink.
func (s *session) sinkCtx(ctx context.Context) context.Context {
	return s.apiCtx(ctx, "sink", s.p.Sink.Type)
}

// apiCalls lists the connectors that made API requests, by connector.
func (s *session) apiCalls() []APICalls {
	a := &s.api
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []APICalls
	for _, name := range a.order {
		e := a.by[name]
		if snap := e.c.Read(); snap.Requests > 0 {
			out = append(out, APICalls{Connector: name, Type: e.typ, Snapshot: snap})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Connector < out[j].Connector })
	return out
}
