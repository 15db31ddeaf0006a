package sqlt

import (
	"errors"
	"testing"

	"github.com/possync/possync/spec"
	"github.com/possync/possync/transforms"
)

func TestNew(t *testing.T) {
	q := spec.Expr{Text: "SELECT p.*, s.qty\nFROM products p JOIN stock s USING (sku)\n", Pos: spec.Pos{Line: 12, Col: 7}, Block: true}
	c, ctor, ok := transforms.Registry.Lookup("sql")
	if !ok {
		t.Fatal("sql is not registered")
	}
	if f, ok := c.Field("query"); !ok || f.Type != spec.TypeSQL || !f.Required {
		t.Errorf("query field = %+v, want a required sql field", f)
	}
	tr, err := ctor(spec.Config{Values: map[string]any{"query": q}}, transforms.Env{})
	if err != nil {
		t.Fatal(err)
	}
	s, ok := tr.(transforms.SQL)
	if !ok {
		t.Fatalf("%T is not a transforms.SQL", tr)
	}
	if s.Query() != q {
		t.Errorf("Query() = %+v, want %+v (text and position kept)", s.Query(), q)
	}
	if tr.Schema() != nil {
		t.Errorf("Schema() = %v, want nil (the runner finds it)", tr.Schema())
	}
	if _, ok := tr.(transforms.Batch); ok {
		t.Error("a sql step must not be a Batch transform")
	}
}

func TestNewEmpty(t *testing.T) {
	tests := []struct {
		name  string
		query any
		line  int
	}{
		{"blank expr", spec.Expr{Text: "  \n", Pos: spec.Pos{Line: 4, Col: 10}}, 4},
		{"blank string", "", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(spec.Config{Pos: spec.Pos{Line: 2, Col: 5}, Values: map[string]any{"query": tt.query}}, transforms.Env{})
			var d *spec.Diagnostic
			if !errors.As(err, &d) || d.Code != "sql_empty" || d.Line != tt.line {
				t.Errorf("err = %v, want sql_empty at line %d", err, tt.line)
			}
		})
	}
}
