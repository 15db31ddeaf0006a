package spec

import (
	"fmt"
	"reflect"
	"strings"
)

// TagShared is the option of a `spec` tag (`spec:"name,shared"`) marking a field of a config struct that
// several components decode into and only some of them declare (an inventory-only setting in a struct the
// promotions source shares). Register skips it for a component that does not declare it; a component that
// does is checked as usual, so a misspelling is still caught there.
const TagShared = "shared"

// checkConfig checks that the struct a component decodes its Config into matches its declared fields, both
// ways: every declared field has a struct field tagged `spec:"name"` (else a misspelled tag silently decodes
// nothing), and every tagged struct field is declared (else it can never be set). Objects, and the items of
// lists and maps of objects, are checked against their nested structs. Scalar fields must also have a Go
// type they decode into.
func checkConfig(c *Component) error {
	if c.Config == nil {
		if len(c.Fields) > 0 {
			return fmt.Errorf("%s %q: declares fields but no Config (the struct its constructor decodes into)", c.Kind, c.Name)
		}
		return nil
	}
	t := structType(reflect.TypeOf(c.Config))
	if t == nil {
		return fmt.Errorf("%s %q: Config is a %T, want a struct or a pointer to one", c.Kind, c.Name, c.Config)
	}
	return matchStruct(c, "", c.Fields, t)
}

// structType returns t, or what t points to, when that is a struct; else nil.
func structType(t reflect.Type) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	return t
}

func matchStruct(c *Component, prefix string, fields []Field, t reflect.Type) error {
	tagged := map[string]reflect.StructField{}
	if err := collectTagged(c, fields, t, t, tagged); err != nil {
		return err
	}
	for i := range fields {
		f := &fields[i]
		path := prefix + f.Name
		sf, ok := tagged[f.Name]
		if !ok {
			return fmt.Errorf("%s %q: declared field %q has no field tagged `spec:%q` in config struct %s%s",
				c.Kind, c.Name, path, f.Name, t, tagHint(f.Name, tagged))
		}
		if err := matchType(c, path, f, sf.Type); err != nil {
			return err
		}
	}
	for name, sf := range tagged {
		if _, ok := FindField(fields, name); !ok {
			return fmt.Errorf("%s %q: config field %s.%s is tagged `spec:%q`, which is not a declared field%s",
				c.Kind, c.Name, t, sf.Name, prefix+name, declHint(name, fields))
		}
	}
	return nil
}

// collectTagged adds the tagged fields of t to tagged, those of its embedded untagged structs too (Decode
// reads them from the same level); top is the config struct named in errors.
func collectTagged(c *Component, fields []Field, top, t reflect.Type, tagged map[string]reflect.StructField) error {
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if embeddedStruct(sf) {
			if err := collectTagged(c, fields, top, sf.Type, tagged); err != nil {
				return err
			}
			continue
		}
		name, opt, _ := strings.Cut(sf.Tag.Get("spec"), ",")
		if name == "" || name == "-" {
			continue
		}
		if opt == TagShared {
			if _, declared := FindField(fields, name); !declared {
				continue // a field of another component sharing this struct
			}
		}
		if _, dup := tagged[name]; dup {
			return fmt.Errorf("%s %q: config struct %s tags two fields `spec:%q`", c.Kind, c.Name, top, name)
		}
		tagged[name] = sf
	}
	return nil
}

// matchType checks that a declared field can decode into a Go type (what Config.Decode accepts for it).
func matchType(c *Component, path string, f *Field, gt reflect.Type) error {
	bad := func(want string) error {
		return fmt.Errorf("%s %q: declared field %q is of type %s but its config field is a %s (want %s)",
			c.Kind, c.Name, path, f.Type, gt, want)
	}
	base := gt
	for base.Kind() == reflect.Pointer {
		base = base.Elem()
	}
	if base.Kind() == reflect.Interface {
		return nil // takes any value
	}
	switch f.Type {
	case TypeBool:
		if base.Kind() != reflect.Bool {
			return bad("a bool")
		}
	case TypeInt:
		switch base.Kind() {
		case reflect.Int, reflect.Int32, reflect.Int64, reflect.Float32, reflect.Float64, reflect.String:
		default:
			return bad("an integer")
		}
		if base == durationType {
			return bad("an integer")
		}
	case TypeFloat:
		switch base.Kind() {
		case reflect.Float32, reflect.Float64, reflect.String:
		default:
			return bad("a float")
		}
	case TypeDuration:
		if base != durationType && base.Kind() != reflect.String {
			return bad("a time.Duration")
		}
	case TypeString, TypeExpr, TypeSQL:
		if base.Kind() != reflect.String && base != secretType && base != exprType {
			return bad("a string, Secret or Expr")
		}
	case TypeStringOrList:
		if base.Kind() != reflect.Slice && base.Kind() != reflect.String {
			return bad("a slice or a string")
		}
	case TypeObject:
		st := structType(base)
		if st == nil {
			if base.Kind() == reflect.Map {
				return nil // an open object decoded as a map
			}
			return bad("a struct")
		}
		return matchStruct(c, path+".", f.Fields, st)
	case TypeList, TypeMap:
		if f.Type == TypeList && base.Kind() != reflect.Slice {
			return bad("a slice")
		}
		if f.Type == TypeMap && base.Kind() != reflect.Map {
			return bad("a map")
		}
		if f.Items != nil {
			return matchType(c, path+"[]", f.Items, base.Elem())
		}
	}
	return nil
}

// tagHint suggests the tag closest to a declared name that has no struct field.
func tagHint(name string, tagged map[string]reflect.StructField) string {
	names := make([]string, 0, len(tagged))
	for n := range tagged {
		names = append(names, n)
	}
	if best, ok := Closest(name, names); ok {
		return fmt.Sprintf(" (is the tag `spec:%q` misspelled?)", best)
	}
	return ""
}

// declHint suggests the declared field closest to a tag that names none.
func declHint(name string, fields []Field) string {
	if best, ok := Closest(name, FieldNames(fields)); ok && !strings.EqualFold(best, name) {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return ""
}
