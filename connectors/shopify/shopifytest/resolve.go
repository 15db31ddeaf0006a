package shopifytest

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
)

// maxPage is the most nodes a connection serves per page (first > 250 is an error, as on Shopify).
const maxPage = 250

// mutationCost is the requested and actual cost of each top-level mutation field.
const mutationCost = 10

// gqlError is a GraphQL error: a message and, in extensions, a code.
type gqlError struct {
	Message string
	Code    string
	Path    []any
}

func (e *gqlError) Error() string { return e.Message }

// execution resolves one operation: variables, and the actual cost counted as objects are returned.
type execution struct {
	vars   map[string]any
	actual int
}

// requestedCost is Shopify's calculated cost of a selection before it runs: scalars and enums cost 0, an
// object 1 plus its selection, a connection 2 plus first × (1 + the node's selection), pageInfo nothing. The
// cost of a mutation field is mutationCost.
func requestedCost(op *operation, vars map[string]any) int {
	if op.kind == "mutation" {
		return mutationCost * len(op.sel)
	}
	return selectionCost(op.sel, vars)
}

func selectionCost(sel []*field, vars map[string]any) int {
	total := 0
	for _, f := range sel {
		if f.sel == nil || f.name == "pageInfo" {
			continue
		}
		if n, ok := pageArg(f, vars); ok {
			total += 2 + n*(1+selectionCost(nodeSelection(f), vars))
			continue
		}
		total += 1 + selectionCost(f.sel, vars)
	}
	return total
}

// pageArg returns a connection field's first (or last) argument.
func pageArg(f *field, vars map[string]any) (int, bool) {
	for _, name := range []string{"first", "last"} {
		if v, ok := f.args[name]; ok {
			n, ok := toInt(resolveValue(v, vars))
			return n, ok
		}
	}
	return 0, false
}

// nodeSelection is what a connection field selects on each node (through nodes or edges.node).
func nodeSelection(f *field) []*field {
	var out []*field
	for _, s := range f.sel {
		switch s.name {
		case "nodes":
			out = append(out, s.sel...)
		case "edges":
			for _, e := range s.sel {
				if e.name == "node" {
					out = append(out, e.sel...)
				}
			}
		}
	}
	return out
}

// object resolves a selection on an object.
func (x *execution) object(n graphNode, sel []*field) (map[string]any, error) {
	out := make(map[string]any, len(sel))
	for _, f := range sel {
		if f.name == "__typename" {
			out[f.key()] = n["__typename"]
			continue
		}
		v, ok := n[f.name]
		if !ok {
			return nil, &gqlError{Message: fmt.Sprintf("Field '%s' doesn't exist on type '%s'", f.name, n["__typename"]),
				Code: "undefinedField"}
		}
		if fn, ok := v.(func(map[string]any) (any, error)); ok {
			var err error
			if v, err = fn(x.args(f)); err != nil {
				return nil, err
			}
		}
		r, err := x.value(v, f)
		if err != nil {
			return nil, err
		}
		out[f.key()] = r
	}
	return out, nil
}

func (x *execution) value(v any, f *field) (any, error) {
	switch v := v.(type) {
	case graphNode:
		if f.sel == nil {
			return nil, &gqlError{Message: fmt.Sprintf("Field must have selections (field '%s' returns an object)", f.name),
				Code: "selectionMismatch"}
		}
		x.actual++
		return x.object(v, f.sel)
	case []graphNode:
		if f.sel == nil {
			return nil, &gqlError{Message: fmt.Sprintf("Field must have selections (field '%s' returns objects)", f.name),
				Code: "selectionMismatch"}
		}
		list := make([]any, 0, len(v))
		for _, n := range v {
			x.actual++
			o, err := x.object(n, f.sel)
			if err != nil {
				return nil, err
			}
			list = append(list, o)
		}
		return list, nil
	case *connection:
		return x.connection(v, f)
	}
	if f.sel != nil && v != nil {
		return nil, &gqlError{Message: fmt.Sprintf("Selections can't be made on scalars (field '%s')", f.name),
			Code: "selectionMismatch"}
	}
	return v, nil
}

// connection serves one page of a connection: first nodes after the cursor.
func (x *execution) connection(c *connection, f *field) (any, error) {
	args := x.args(f)
	first, ok := toInt(args["first"])
	switch {
	case !ok:
		return nil, &gqlError{Message: fmt.Sprintf("you must provide one of first or last (field '%s')", f.name),
			Code: "argumentLiteralsIncompatible"}
	case first < 0 || first > maxPage:
		return nil, &gqlError{Message: fmt.Sprintf("The first argument of '%s' must be between 0 and %d, not %d",
			f.name, maxPage, first), Code: "argumentLiteralsIncompatible"}
	}
	cursorOf := c.cursor
	if cursorOf == nil {
		cursorOf = func(i int) string { return base64.StdEncoding.EncodeToString([]byte("pos:" + strconv.Itoa(i))) }
	}
	start := 0
	if after, _ := args["after"].(string); after != "" {
		var err error
		if c.startAfter != nil {
			start, err = c.startAfter(after)
		} else {
			start, err = positional(after)
		}
		if err != nil {
			return nil, &gqlError{Message: fmt.Sprintf("Invalid cursor for '%s': %v", f.name, err), Code: "badCursor"}
		}
	}
	count, nodeAt := len(c.nodes), func(i int) graphNode { return c.nodes[i] }
	if c.node != nil {
		count, nodeAt = c.n, c.node
	}
	start = min(start, count)
	end := min(start+first, count)
	x.actual += 2
	out := map[string]any{}
	for _, s := range f.sel {
		switch s.name {
		case "nodes":
			list := make([]any, 0, end-start)
			for i := start; i < end; i++ {
				x.actual++
				o, err := x.object(nodeAt(i), s.sel)
				if err != nil {
					return nil, err
				}
				list = append(list, o)
			}
			out[s.key()] = list
		case "edges":
			list := make([]any, 0, end-start)
			for i := start; i < end; i++ {
				edge := map[string]any{}
				for _, e := range s.sel {
					switch e.name {
					case "cursor":
						edge[e.key()] = cursorOf(i)
					case "node":
						x.actual++
						o, err := x.object(nodeAt(i), e.sel)
						if err != nil {
							return nil, err
						}
						edge[e.key()] = o
					default:
						return nil, &gqlError{Message: fmt.Sprintf("Field '%s' doesn't exist on the edge type", e.name),
							Code: "undefinedField"}
					}
				}
				list = append(list, edge)
			}
			out[s.key()] = list
		case "pageInfo":
			info := graphNode{"__typename": "PageInfo", "hasNextPage": end < count, "hasPreviousPage": start > 0,
				"startCursor": nil, "endCursor": nil}
			if end > start {
				info["startCursor"], info["endCursor"] = cursorOf(start), cursorOf(end-1)
			}
			o, err := x.object(info, s.sel)
			if err != nil {
				return nil, err
			}
			out[s.key()] = o
		case "__typename":
			out[s.key()] = "Connection"
		default:
			return nil, &gqlError{Message: fmt.Sprintf("Field '%s' doesn't exist on the connection '%s'", s.name, f.name),
				Code: "undefinedField"}
		}
	}
	return out, nil
}

// positional decodes a positional cursor and returns the index after it.
func positional(cursor string) (int, error) {
	b, err := base64.StdEncoding.DecodeString(cursor)
	if err != nil || !strings.HasPrefix(string(b), "pos:") {
		return 0, fmt.Errorf("not a cursor of this connection")
	}
	i, err := strconv.Atoi(strings.TrimPrefix(string(b), "pos:"))
	if err != nil {
		return 0, fmt.Errorf("not a cursor of this connection")
	}
	return i + 1, nil
}

// args returns a field's arguments with variables substituted.
func (x *execution) args(f *field) map[string]any {
	out := make(map[string]any, len(f.args))
	for k, v := range f.args {
		out[k] = resolveValue(v, x.vars)
	}
	return out
}

func resolveValue(v any, vars map[string]any) any {
	switch v := v.(type) {
	case variableRef:
		return vars[string(v)]
	case enumValue:
		return string(v)
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = resolveValue(e, vars)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = resolveValue(e, vars)
		}
		return out
	}
	return v
}

func toInt(v any) (int, bool) {
	switch v := v.(type) {
	case int64:
		return int(v), true
	case int:
		return v, true
	case float64:
		if v == float64(int(v)) {
			return int(v), true
		}
	}
	return 0, false
}
