// Package spec declares the configuration of pipeline components (sources, sinks and transforms) once, as
// data. From one Component declaration come the validation of a pipeline's YAML, the JSON Schema of the
// pipeline file (schemas/pipeline.schema.json) and the human docs printed by `possync connectors`.
//
// A component package declares its Component, registers it with a constructor, and receives, at construction
// time, a Config: the already validated, interpolated and defaulted values, which it decodes into its own typed
// struct with Config.Decode (Register checks that struct against the declared fields). Secret fields decode
// into Secret, whose every printed form is masked. The package also holds the one catalogue of diagnostic
// codes (codes.go) that loading, components and the runner report.
package spec

import (
	"fmt"
	"sort"
)

// Kind says what role a component plays in a pipeline.
type Kind string

// Component kinds.
const (
	KindSource    Kind = "source"
	KindSink      Kind = "sink"
	KindTransform Kind = "transform"
)

// Type is the type of a configuration field.
type Type string

// Field types. Expr and SQL are strings that are compiled at validate time; Duration is a Go duration string
// ("30s", "5m"); Object has Fields; List has Items; Map has string keys and Items values.
const (
	TypeString   Type = "string"
	TypeInt      Type = "int"
	TypeFloat    Type = "float"
	TypeBool     Type = "bool"
	TypeDuration Type = "duration"
	TypeExpr     Type = "expr"
	TypeSQL      Type = "sql"
	TypeObject   Type = "object"
	TypeList     Type = "list"
	TypeMap      Type = "map"
	// StringOrList accepts a string or a list of strings (e.g. a key that may be composite).
	TypeStringOrList Type = "string_or_list"
	// Any accepts any YAML value; the component validates it itself.
	TypeAny Type = "any"
)

// Field declares one configuration field.
type Field struct {
	Name        string
	Type        Type
	Description string
	Required    bool
	// Default is used when the field is absent. It must be of the field's type.
	Default any
	// Enum, when set, lists the only values allowed (for String fields).
	Enum []string
	// Secret marks a value that must never be printed: it decodes into Secret and is masked everywhere.
	Secret bool
	// HTTPURL marks a String field whose value must be an absolute http:// or https:// URL.
	HTTPURL bool
	// Example is a YAML-ready example value, shown in docs.
	Example any
	// Fields are the fields of an Object, or of each item of a List or Map whose Items.Type is Object.
	Fields []Field
	// Items describes the elements of a List or the values of a Map.
	Items *Field
	// Advanced fields are documented after the others.
	Advanced bool
}

// Component is the declaration of a source, sink or transform.
type Component struct {
	Kind        Kind
	Name        string
	Summary     string
	Description string
	Fields      []Field
	// Example is a complete YAML snippet of the component's configuration block, shown in docs.
	Example string
	// Config is a value of the struct type (or a pointer to it) that the constructor decodes its Config into.
	// Register matches its `spec` tags against Fields both ways, so a misspelled tag fails at start-up instead of
	// silently decoding nothing. Required when Fields is not empty.
	Config any
}

// Field returns the declared field with the given name.
func (c *Component) Field(name string) (*Field, bool) {
	return FindField(c.Fields, name)
}

// FindField returns the field of fields called name.
func FindField(fields []Field, name string) (*Field, bool) {
	for i := range fields {
		if fields[i].Name == name {
			return &fields[i], true
		}
	}
	return nil, false
}

// FieldNames returns the names of fields, in declaration order.
func FieldNames(fields []Field) []string {
	out := make([]string, len(fields))
	for i, f := range fields {
		out[i] = f.Name
	}
	return out
}

// Check reports declaration mistakes (duplicate names, defaults of the wrong type, missing Items). Registries
// call it so that a broken declaration fails at start-up, not when a user's pipeline happens to use it.
func (c *Component) Check() error {
	if c.Name == "" || c.Kind == "" {
		return fmt.Errorf("component declaration needs a name and a kind")
	}
	return checkFields(c.Kind, c.Name, "", c.Fields)
}

func checkFields(kind Kind, comp, prefix string, fields []Field) error {
	seen := map[string]bool{}
	for _, f := range fields {
		path := prefix + f.Name
		if f.Name == "" {
			return fmt.Errorf("%s %q: field with no name under %q", kind, comp, prefix)
		}
		if seen[f.Name] {
			return fmt.Errorf("%s %q: field %q declared twice", kind, comp, path)
		}
		seen[f.Name] = true
		if (f.Type == TypeList || f.Type == TypeMap) && f.Items == nil {
			return fmt.Errorf("%s %q: field %q of type %s needs Items", kind, comp, path, f.Type)
		}
		if f.Required && f.Default != nil {
			return fmt.Errorf("%s %q: field %q is required and has a default", kind, comp, path)
		}
		if f.Default != nil {
			if _, err := coerce(&f, f.Default); err != nil {
				return fmt.Errorf("%s %q: default of field %q: %v", kind, comp, path, err)
			}
		}
		sub := f.Fields
		if f.Items != nil && f.Items.Type == TypeObject {
			sub = f.Items.Fields
		}
		if err := checkFields(kind, comp, path+".", sub); err != nil {
			return err
		}
	}
	return nil
}

// Registry holds component declarations and their constructors, keyed by name. It is a value: the program
// fills one per component family in init functions, and tests may build their own.
type Registry[C any] struct {
	kind    Kind
	entries map[string]entry[C]
}

type entry[C any] struct {
	spec Component
	ctor C
}

// NewRegistry returns an empty registry of components of one kind.
func NewRegistry[C any](kind Kind) *Registry[C] {
	return &Registry[C]{kind: kind, entries: map[string]entry[C]{}}
}

// Register adds a component. It fails on a duplicate name, a kind mismatch, a broken declaration, or a
// Config struct whose `spec` tags do not match the declared fields both ways (the message names the component
// and the field).
func (r *Registry[C]) Register(s Component, ctor C) error {
	if s.Kind != r.kind {
		return fmt.Errorf("register %q: kind %s in a %s registry", s.Name, s.Kind, r.kind)
	}
	if err := s.Check(); err != nil {
		return err
	}
	if err := checkConfig(&s); err != nil {
		return err
	}
	if _, dup := r.entries[s.Name]; dup {
		return fmt.Errorf("register %s %q: already registered", s.Kind, s.Name)
	}
	r.entries[s.Name] = entry[C]{spec: s, ctor: ctor}
	return nil
}

// MustRegister is Register that panics on error; for init functions.
func (r *Registry[C]) MustRegister(s Component, ctor C) {
	if err := r.Register(s, ctor); err != nil {
		panic(err)
	}
}

// Lookup returns the declaration and constructor of a component.
func (r *Registry[C]) Lookup(name string) (*Component, C, bool) {
	e, ok := r.entries[name]
	if !ok {
		var zero C
		return nil, zero, false
	}
	return &e.spec, e.ctor, true
}

// Names returns the registered names, sorted.
func (r *Registry[C]) Names() []string {
	names := make([]string, 0, len(r.entries))
	for n := range r.entries {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Secret is a configuration value that must never be printed. Every formatting path (fmt verbs, JSON, YAML)
// prints it masked; Reveal returns the value for the one place that needs it (an Authorization header, a
// login call).
type Secret struct{ v string }

// NewSecret wraps a value.
func NewSecret(v string) Secret { return Secret{v: v} }

// Reveal returns the secret value. Call it only where the value leaves for its intended recipient.
func (s Secret) Reveal() string { return s.v }

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s.v == "" }

// Mask is what every printed form of a Secret shows.
const Mask = "***"

// String implements fmt.Stringer.
func (s Secret) String() string { return Mask }

// GoString implements fmt.GoStringer.
func (s Secret) GoString() string { return Mask }

// Format implements fmt.Formatter, so that no verb (%v, %+v, %#v, %s, %q, %x) prints the value.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(Mask)) }

// MarshalJSON implements json.Marshaler.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + Mask + `"`), nil }

// MarshalText implements encoding.TextMarshaler.
func (s Secret) MarshalText() ([]byte, error) { return []byte(Mask), nil }
