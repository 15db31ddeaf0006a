package spec

import (
	"go/ast"
	"go/doc"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDocComments: the doc comment of every exported declaration of the package names what it documents
// first (godoc shows a comment as its declaration's text, so one comment run into the next declaration's, as
// checkConfig's once ran into TagShared's, shows under the wrong name).
func TestDocComments(t *testing.T) {
	fset := token.NewFileSet()
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	for _, n := range names {
		if strings.HasSuffix(n, "_test.go") {
			continue
		}
		src, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, n, src, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	p, err := doc.NewFromFiles(fset, files, "github.com/possync/possync/spec")
	if err != nil {
		t.Fatal(err)
	}
	check := func(name, text string) {
		if text == "" {
			return
		}
		first, _, _ := strings.Cut(text, " ")
		if first == "A" || first == "An" || first == "The" {
			_, text, _ = strings.Cut(text, " ")
		}
		if !strings.HasPrefix(text, name) {
			t.Errorf("the doc of %s starts %q", name, firstLineOf(text))
		}
	}
	values := func(vs []*doc.Value) {
		for _, v := range vs {
			if len(v.Names) == 1 {
				check(v.Names[0], v.Doc)
			}
		}
	}
	values(p.Consts)
	values(p.Vars)
	for _, f := range p.Funcs {
		check(f.Name, f.Doc)
	}
	for _, ty := range p.Types {
		check(ty.Name, ty.Doc)
		values(ty.Consts)
		values(ty.Vars)
		for _, f := range append(ty.Funcs, ty.Methods...) {
			check(f.Name, f.Doc)
		}
	}
}

func firstLineOf(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
