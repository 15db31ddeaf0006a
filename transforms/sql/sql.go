// Package sqlt is the sql transform (folder transforms/sql): a DuckDB query that the runner executes.
//
//	type: sql
//	name: joined
//	query: |
//	  SELECT p.*, s.qty FROM products p JOIN stock s USING (sku)
//
// The query reads the pipeline's relations as tables: each source by its name (a single `source:` block is
// "source") and each earlier step by its `name`. This package only declares and carries the query; the runner
// checks it against DuckDB and finds its output schema.
package sqlt

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/possync/possync/spec"
	"github.com/possync/possync/transforms"
)

var component = spec.Component{
	Kind:    spec.KindTransform,
	Name:    "sql",
	Summary: "Runs a DuckDB SQL query over the pipeline's sources and earlier steps.",
	Description: "The query reads each source by its name (a single `source:` block is named source) and each " +
		"earlier step by its `name`, as tables. Use it for joins, aggregations and anything set-based; its " +
		"output schema is the query's result.",
	Fields: []spec.Field{
		{
			Name: "query", Type: spec.TypeSQL, Required: true,
			Description: "A DuckDB SELECT over the pipeline's relations.",
			Example:     "SELECT p.*, s.qty FROM products p JOIN stock s USING (sku)",
		},
	},
	Example: "type: sql\nname: joined\nquery: |\n  SELECT p.*, s.qty FROM products p JOIN stock s USING (sku)\n",
	Config:  config{},
}

func init() { transforms.Registry.MustRegister(component, New) }

type config struct {
	Query spec.Expr `spec:"query"`
}

// Step is a configured sql transform. It implements transforms.SQL and transforms.Transform.
type Step struct {
	query spec.Expr
}

var _ interface {
	transforms.SQL
	transforms.Transform
} = (*Step)(nil)

// New returns the step; it does not need env (the runner compiles the query). A blank query is a
// *spec.Diagnostic.
func New(cfg spec.Config, _ transforms.Env) (transforms.Transform, error) {
	var c config
	if err := cfg.Decode(&c); err != nil {
		return nil, fmt.Errorf("sql: %w", err)
	}
	if strings.TrimSpace(c.Query.Text) == "" {
		pos := c.Query.Pos
		if pos.Line == 0 {
			pos = cfg.Pos
		}
		return nil, spec.Errorf(pos, spec.CodeSQLEmpty, "write a SELECT over the pipeline's sources and earlier steps",
			"the sql step's query is empty")
	}
	return &Step{query: c.Query}, nil
}

// Query returns the query with its position in the pipeline file.
func (s *Step) Query() spec.Expr { return s.query }

// Schema returns nil: the runner finds the output schema by preparing the query in DuckDB.
func (s *Step) Schema() *arrow.Schema { return nil }
