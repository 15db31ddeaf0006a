package connectors

import (
	"github.com/apache/arrow-go/v18/arrow"

	"github.com/possync/possync/spec"
)

// Env is what a constructor gets besides its configuration.
type Env struct {
	// Pipeline is the pipeline's name; Dir is the folder of its YAML file (relative paths resolve there).
	Pipeline string
	Dir      string
	// Schema is, for a sink, the schema of the records the pipeline delivers to it.
	Schema *arrow.Schema
	// Key names the record key fields.
	Key []string
}

// NewSource builds a source from its validated configuration.
type NewSource func(cfg spec.Config, env Env) (Source, error)

// NewSink builds a sink from its validated configuration.
type NewSink func(cfg spec.Config, env Env) (Sink, error)

// Sources and Sinks are the registries of built-in connectors, filled by the connector packages' init
// functions (import connectors/all to get them all).
var (
	Sources = spec.NewRegistry[NewSource](spec.KindSource)
	Sinks   = spec.NewRegistry[NewSink](spec.KindSink)
)

// SourceOf adapts the constructor of a concrete source type to NewSource, so a package registers it as
// Sources.MustRegister(spec, SourceOf(NewX)). A failed constructor yields a nil Source, never an interface
// holding a nil pointer.
func SourceOf[S Source](f func(spec.Config, Env) (S, error)) NewSource {
	return func(cfg spec.Config, env Env) (Source, error) {
		s, err := f(cfg, env)
		if err != nil {
			return nil, err
		}
		return s, nil
	}
}

// SinkOf adapts the constructor of a concrete sink type to NewSink, as SourceOf does for sources.
func SinkOf[S Sink](f func(spec.Config, Env) (S, error)) NewSink {
	return func(cfg spec.Config, env Env) (Sink, error) {
		s, err := f(cfg, env)
		if err != nil {
			return nil, err
		}
		return s, nil
	}
}
