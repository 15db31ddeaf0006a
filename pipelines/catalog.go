package pipelines

import (
	"github.com/possync/possync/connectors"
	"github.com/possync/possync/spec"
	"github.com/possync/possync/transforms"
)

// Catalog finds component declarations: the pipeline validator, the JSON Schema and the docs read the
// components a pipeline may use from it.
type Catalog interface {
	// Component returns the declaration of the component of the given kind registered under typ.
	Component(kind spec.Kind, typ string) (*spec.Component, bool)
	// Types returns the registered type names of a kind, sorted.
	Types(kind spec.Kind) []string
}

// DefaultCatalog returns the catalog backed by connectors.Sources, connectors.Sinks and transforms.Registry:
// the components of whatever packages the binary imported (connectors/all, transforms/all).
func DefaultCatalog() Catalog { return registries{} }

// registries is the Catalog over the global registries.
type registries struct{}

func (registries) Component(kind spec.Kind, typ string) (*spec.Component, bool) {
	var (
		c  *spec.Component
		ok bool
	)
	switch kind {
	case spec.KindSource:
		c, _, ok = connectors.Sources.Lookup(typ)
	case spec.KindSink:
		c, _, ok = connectors.Sinks.Lookup(typ)
	case spec.KindTransform:
		c, _, ok = transforms.Registry.Lookup(typ)
	}
	return c, ok
}

func (registries) Types(kind spec.Kind) []string {
	switch kind {
	case spec.KindSource:
		return connectors.Sources.Names()
	case spec.KindSink:
		return connectors.Sinks.Names()
	case spec.KindTransform:
		return transforms.Registry.Names()
	}
	return nil
}

// kinds lists the component kinds in the order docs and the schema present them.
var kinds = []spec.Kind{spec.KindSource, spec.KindSink, spec.KindTransform}
