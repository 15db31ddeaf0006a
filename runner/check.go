package runner

import (
	"context"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/pipelines"
)

// ConnectionResult is the outcome of testing one connector's connection.
type ConnectionResult struct {
	Kind, Name, Type string
	// Supported is false for connectors with nothing to test.
	Supported bool
	Err       error
}

// CheckConnections tests connectivity and credentials of every source and the sink, without reading or
// writing data (connectors implementing connectors.ConnectionTester).
func CheckConnections(ctx context.Context, p *pipelines.Pipeline) []ConnectionResult {
	var out []ConnectionResult
	test := func(kind string, c *pipelines.Component, x any, err error) {
		r := ConnectionResult{Kind: kind, Name: c.Name, Type: c.Type, Err: err}
		if t, ok := x.(connectors.ConnectionTester); ok && err == nil {
			r.Supported = true
			r.Err = t.Check(ctx)
		}
		out = append(out, r)
	}
	env := connectors.Env{Pipeline: p.Name, Dir: p.Dir, Key: p.Key}
	for _, c := range p.Sources {
		_, ctor, _ := connectors.Sources.Lookup(c.Type)
		src, err := ctor(c.Config, env)
		test("source", c, src, err)
	}
	if _, ctor, ok := connectors.Sinks.Lookup(p.Sink.Type); ok {
		sink, err := ctor(p.Sink.Config, env)
		test("sink", p.Sink, sink, err)
		if sink != nil {
			_ = sink.Close()
		}
	}
	return out
}
