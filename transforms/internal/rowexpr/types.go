package rowexpr

import (
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/expr-lang/expr/ast"
	"github.com/possync/possync/record"
)

// Field type names (see record.TypeNames) that expressions produce.
const (
	TypeString    = "string"
	TypeInt       = "int"
	TypeFloat     = "float"
	TypeBool      = "bool"
	TypeDate      = "date"
	TypeTimestamp = "timestamp"
)

var timeType = reflect.TypeOf(time.Time{})

// zeroValue is a value of the Go type under which expressions see a column of type t.
func zeroValue(t arrow.DataType) any {
	switch record.TypeName(t) { // the type record.Value reads the column as
	case "int":
		return int64(0)
	case "float":
		return float64(0)
	case "bool":
		return false
	case "date", "timestamp":
		return time.Time{}
	}
	return "" // strings, and any other type as its text form
}

// typeName is the field type name of a Go type, or "" when it has none.
func typeName(t reflect.Type) string {
	if t == timeType {
		return TypeTimestamp
	}
	switch t.Kind() {
	case reflect.String:
		return TypeString
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return TypeInt
	case reflect.Float32, reflect.Float64:
		return TypeFloat
	case reflect.Bool:
		return TypeBool
	}
	return ""
}

// typeNil marks a branch that is the nil literal while inferring types.
const typeNil = "nil"

// inferType returns the field type name of an expression's result, or "". Beyond expr-lang's own inference,
// it sees through `a ?? b` and `c ? a : b` whose branches differ only as int and float (float) or where one
// branch is nil (the other's type): expr-lang types those as interface{}. A date field read as is stays a
// date (expressions see dates as time.Time, like timestamps).
func inferType(n ast.Node, dates map[string]bool) string {
	t := infer(n, dates)
	if t == typeNil {
		return ""
	}
	return t
}

func infer(n ast.Node, dates map[string]bool) string {
	branches := ""
	switch x := n.(type) {
	case *ast.NilNode:
		return typeNil
	case *ast.IdentifierNode:
		if dates[x.Value] {
			return TypeDate
		}
	case *ast.BinaryNode:
		if x.Operator == "??" {
			branches = merge(infer(x.Left, dates), infer(x.Right, dates))
		}
	case *ast.ConditionalNode:
		branches = merge(infer(x.Exp1, dates), infer(x.Exp2, dates))
	}
	if branches != "" {
		return branches
	}
	return typeName(n.Type())
}

func merge(a, b string) string {
	switch {
	case a == b:
		return a
	case a == typeNil:
		return b
	case b == typeNil:
		return a
	case (a == TypeInt && b == TypeFloat) || (a == TypeFloat && b == TypeInt):
		return TypeFloat
	case (a == TypeDate && b == TypeTimestamp) || (a == TypeTimestamp && b == TypeDate):
		return TypeTimestamp
	}
	return ""
}

// Compatible reports whether a result of the inferred type (possibly "") can be stored in a field of the
// declared type: the same type, an int in a float field, or a date or timestamp in a date or timestamp field.
func Compatible(declared, inferred string) bool {
	switch {
	case inferred == "" || declared == inferred:
		return true
	case declared == TypeFloat:
		return inferred == TypeInt
	case declared == TypeDate || declared == TypeTimestamp:
		return inferred == TypeDate || inferred == TypeTimestamp
	}
	return false
}

// Appender returns a function that appends expression results to b, a builder of the Arrow type of field type
// typ (see record.ArrowType). nil appends a NULL; an int is stored in a float field; a time in a date
// field keeps its calendar date in its own time zone; any other value of the wrong type is an error.
func Appender(typ string, b array.Builder) (func(any) error, error) {
	switch bb := b.(type) {
	case *array.StringBuilder:
		return func(v any) error {
			switch x := v.(type) {
			case nil:
				bb.AppendNull()
			case string:
				bb.Append(x) // copies the bytes: x may alias input memory
			default:
				return WrongType(typ, v)
			}
			return nil
		}, nil
	case *array.Int64Builder:
		return func(v any) error {
			if v == nil {
				bb.AppendNull()
				return nil
			}
			n, ok := asInt(v)
			if !ok {
				return WrongType(typ, v)
			}
			bb.Append(n)
			return nil
		}, nil
	case *array.Float64Builder:
		return func(v any) error {
			switch x := v.(type) {
			case nil:
				bb.AppendNull()
			case float64:
				bb.Append(x)
			case float32:
				bb.Append(float64(x))
			default:
				n, ok := asInt(v)
				if !ok {
					return WrongType(typ, v)
				}
				bb.Append(float64(n))
			}
			return nil
		}, nil
	case *array.BooleanBuilder:
		return func(v any) error {
			switch x := v.(type) {
			case nil:
				bb.AppendNull()
			case bool:
				bb.Append(x)
			default:
				return WrongType(typ, v)
			}
			return nil
		}, nil
	case *array.Date32Builder:
		return func(v any) error {
			switch x := v.(type) {
			case nil:
				bb.AppendNull()
			case time.Time:
				bb.Append(dateOf(x))
			default:
				return WrongType(typ, v)
			}
			return nil
		}, nil
	case *array.TimestampBuilder:
		unit := bb.Type().(*arrow.TimestampType).Unit
		return func(v any) error {
			switch x := v.(type) {
			case nil:
				bb.AppendNull()
			case time.Time:
				ts, err := arrow.TimestampFromTime(x, unit)
				if err != nil {
					return fmt.Errorf("store %s: %w", x, err)
				}
				bb.Append(ts)
			default:
				return WrongType(typ, v)
			}
			return nil
		}, nil
	}
	return nil, fmt.Errorf("no appender for a %s builder", b.Type())
}

// dateOf is the calendar date of t in its own time zone (arrow.Date32FromTime takes the UTC date), so that
// now() in a date field is the store's date.
func dateOf(t time.Time) arrow.Date32 {
	y, m, d := t.Date()
	return arrow.Date32(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / (24 * 60 * 60))
}

func asInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case int:
		return int64(x), true
	case int32:
		return int64(x), true
	case int16:
		return int64(x), true
	case int8:
		return int64(x), true
	case uint8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case uint32:
		return int64(x), true
	}
	return 0, false
}

// WrongType is the error of an expression result v that does not fit a field of type want.
func WrongType(want string, v any) error {
	have := typeName(reflect.TypeOf(v))
	if have == "" {
		have = fmt.Sprintf("%T", v)
	}
	return fmt.Errorf("expression gave %s %s, want %s %s", article(have), have, article(want), want)
}

func article(noun string) string {
	if noun != "" && strings.ContainsRune("aeiou", rune(noun[0])) {
		return "an"
	}
	return "a"
}
