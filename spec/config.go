package spec

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Expr is an expression (expr-lang or SQL) from a pipeline file, with where its text starts so that a
// compile error can point at the exact line and column.
type Expr struct {
	Text string
	// Pos is the position of the first character of Text.
	Pos Pos
	// Block is true for YAML block scalars (| or >): every line of Text starts at column Pos.Col.
	Block bool
}

// At returns the file position of the 1-based line and column inside the expression text.
func (e Expr) At(line, col int) Pos {
	p := e.Pos
	if line <= 1 {
		p.Col += col - 1
		return p
	}
	p.Line += line - 1
	if e.Block {
		p.Col += col - 1
	} else {
		p.Col = col
	}
	return p
}

// Config is the validated configuration of one component instance: values already interpolated, type-checked
// and defaulted. Values are string, int64, float64, bool, time.Duration, Secret, Expr, []any or map[string]any.
type Config struct {
	// Pos is the position of the component's block in the pipeline file.
	Pos    Pos
	Values map[string]any
}

// Decode copies the configuration into dst, a pointer to a struct whose fields carry `spec:"name"` tags.
// Supported field types: string, bool, int, int64, float64, time.Duration, Secret, Expr, structs, pointers to
// structs, slices and maps with string keys of any of these. Fields without a tag are left alone, except an
// embedded (anonymous) struct field without a tag, whose tagged fields are decoded from the same level, as if
// written in dst itself (several components sharing a group of settings keep their YAML flat).
func (c Config) Decode(dst any) error {
	v := reflect.ValueOf(dst)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("decode config: need a pointer to a struct, got %T", dst)
	}
	return decodeStruct(c.Values, v.Elem(), "")
}

var (
	durationType = reflect.TypeOf(time.Duration(0))
	secretType   = reflect.TypeOf(Secret{})
	exprType     = reflect.TypeOf(Expr{})
)

func decodeStruct(values map[string]any, v reflect.Value, path string) error {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		if embeddedStruct(t.Field(i)) {
			if err := decodeStruct(values, v.Field(i), path); err != nil {
				return err
			}
			continue
		}
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("spec"), ",")
		if name == "" || name == "-" {
			continue
		}
		raw, ok := values[name]
		if !ok || raw == nil {
			continue
		}
		if err := decodeValue(raw, v.Field(i), path+"/"+name); err != nil {
			return err
		}
	}
	return nil
}

// embeddedStruct reports whether sf is an embedded struct field (not a pointer) without a `spec` tag: its
// tagged fields belong to the enclosing struct's level.
func embeddedStruct(sf reflect.StructField) bool {
	_, tagged := sf.Tag.Lookup("spec")
	return sf.Anonymous && !tagged && sf.Type.Kind() == reflect.Struct
}

func decodeValue(raw any, v reflect.Value, path string) error {
	switch {
	case v.Type() == durationType:
		d, ok := raw.(time.Duration)
		if !ok {
			return fmt.Errorf("decode config %s: want a duration, have %T", path, raw)
		}
		v.SetInt(int64(d))
		return nil
	case v.Type() == secretType:
		switch s := raw.(type) {
		case Secret:
			v.Set(reflect.ValueOf(s))
		case string:
			v.Set(reflect.ValueOf(NewSecret(s)))
		default:
			return fmt.Errorf("decode config %s: want a secret string, have %T", path, raw)
		}
		return nil
	case v.Type() == exprType:
		switch e := raw.(type) {
		case Expr:
			v.Set(reflect.ValueOf(e))
		case string:
			v.Set(reflect.ValueOf(Expr{Text: e, Pos: Pos{Path: path}}))
		default:
			return fmt.Errorf("decode config %s: want an expression, have %T", path, raw)
		}
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		switch s := raw.(type) {
		case string:
			v.SetString(s)
		case Expr:
			v.SetString(s.Text)
		case Secret:
			v.SetString(s.Reveal())
		default:
			v.SetString(fmt.Sprint(raw))
		}
	case reflect.Bool:
		b, ok := raw.(bool)
		if !ok {
			return fmt.Errorf("decode config %s: want a bool, have %T", path, raw)
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64, reflect.Int32:
		n, ok := raw.(int64)
		if !ok {
			return fmt.Errorf("decode config %s: want an integer, have %T", path, raw)
		}
		v.SetInt(n)
	case reflect.Float64, reflect.Float32:
		switch n := raw.(type) {
		case float64:
			v.SetFloat(n)
		case int64:
			v.SetFloat(float64(n))
		default:
			return fmt.Errorf("decode config %s: want a number, have %T", path, raw)
		}
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		if err := decodeValue(raw, p.Elem(), path); err != nil {
			return err
		}
		v.Set(p)
	case reflect.Struct:
		m, ok := raw.(map[string]any)
		if !ok {
			return fmt.Errorf("decode config %s: want an object, have %T", path, raw)
		}
		return decodeStruct(m, v, path)
	case reflect.Slice:
		items, ok := raw.([]any)
		if !ok {
			// A single value where a list is accepted (string_or_list).
			items = []any{raw}
		}
		s := reflect.MakeSlice(v.Type(), len(items), len(items))
		for i, it := range items {
			if err := decodeValue(it, s.Index(i), path+"/"+strconv.Itoa(i)); err != nil {
				return err
			}
		}
		v.Set(s)
	case reflect.Map:
		m, ok := raw.(map[string]any)
		if !ok {
			return fmt.Errorf("decode config %s: want a mapping, have %T", path, raw)
		}
		out := reflect.MakeMapWithSize(v.Type(), len(m))
		for k, it := range m {
			ev := reflect.New(v.Type().Elem()).Elem()
			if err := decodeValue(it, ev, path+"/"+escapePointer(k)); err != nil {
				return err
			}
			out.SetMapIndex(reflect.ValueOf(k), ev)
		}
		v.Set(out)
	case reflect.Interface:
		v.Set(reflect.ValueOf(raw))
	default:
		return fmt.Errorf("decode config %s: unsupported field kind %s", path, v.Kind())
	}
	return nil
}

// escapePointer escapes a JSON-pointer reference token (RFC 6901).
func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// PointerJoin appends reference tokens to a JSON pointer, escaping them.
func PointerJoin(base string, tokens ...string) string {
	for _, t := range tokens {
		base += "/" + escapePointer(t)
	}
	return base
}

// coerce converts a Go default value (as written in a declaration) to the value a Config holds.
func coerce(f *Field, v any) (any, error) {
	switch f.Type {
	case TypeString, TypeExpr, TypeSQL:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("want a string, have %T", v)
		}
		if len(f.Enum) > 0 && !slices.Contains(f.Enum, s) {
			return nil, fmt.Errorf("%q is not one of %s", s, strings.Join(f.Enum, ", "))
		}
		return s, nil
	case TypeInt:
		switch n := v.(type) {
		case int:
			return int64(n), nil
		case int64:
			return n, nil
		}
	case TypeFloat:
		switch n := v.(type) {
		case int:
			return float64(n), nil
		case int64:
			return float64(n), nil
		case float64:
			return n, nil
		}
	case TypeBool:
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case TypeDuration:
		switch d := v.(type) {
		case time.Duration:
			return d, nil
		case string:
			return time.ParseDuration(d)
		}
	case TypeStringOrList:
		switch s := v.(type) {
		case string:
			return []any{s}, nil
		case []string:
			out := make([]any, len(s))
			for i := range s {
				out[i] = s[i]
			}
			return out, nil
		}
	case TypeList, TypeMap, TypeObject, TypeAny:
		return v, nil
	}
	return nil, fmt.Errorf("want a %s, have %T", f.Type, v)
}

// DefaultValue returns the field's default as a Config value, or nil when it has none.
func (f *Field) DefaultValue() any {
	if f.Default == nil {
		return nil
	}
	v, err := coerce(f, f.Default)
	if err != nil {
		return nil
	}
	return v
}
