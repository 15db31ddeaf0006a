package spec

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// catalogue reads codes.go: constant name → code, checking that each has a doc line and a unique snake_case
// value.
func catalogue(t *testing.T) map[string]string {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "codes.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{}
	values := map[string]string{}
	snake := regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, s := range gd.Specs {
			vs := s.(*ast.ValueSpec)
			for i, n := range vs.Names {
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					t.Errorf("%s: a code must be a string literal", n.Name)
					continue
				}
				v, _ := strconv.Unquote(lit.Value)
				switch {
				case !strings.HasPrefix(n.Name, "Code"):
					t.Errorf("%s: catalogue constants are named Code...", n.Name)
				case vs.Doc == nil || !strings.HasPrefix(vs.Doc.Text(), n.Name+":") && !strings.HasPrefix(vs.Doc.Text(), n.Name+" "):
					t.Errorf("%s: needs a doc line starting with its name", n.Name)
				case !snake.MatchString(v):
					t.Errorf("%s = %q: codes are snake_case", n.Name, v)
				case values[v] != "":
					t.Errorf("%s and %s are both %q", values[v], n.Name, v)
				}
				names[n.Name], values[v] = v, n.Name
			}
		}
	}
	if len(names) < 20 {
		t.Fatalf("catalogue has %d codes; codes.go not parsed right?", len(names))
	}
	return names
}

// moduleRoot is the folder of go.mod above the test's folder.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test folder")
		}
		dir = parent
	}
}

// TestCodeCatalogue scans every non-test Go file of the module: a diagnostic code must be a catalogue constant
// (never a string literal where a code goes, never a code constant declared elsewhere), and every catalogue
// entry must be reported somewhere.
func TestCodeCatalogue(t *testing.T) {
	codes := catalogue(t)
	used := map[string]int{}
	root := moduleRoot(t)
	fset := token.NewFileSet()
	var files []*ast.File
	var paths []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); path != root && (strings.HasPrefix(n, ".") || n == "testdata" || n == "bin") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		files, paths = append(files, f), append(paths, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// Functions and methods with a parameter named code take a diagnostic code there (spec.Errorf, the loader's
	// errorf helpers), in packages that import spec: folder + "." + name → argument index.
	importsSpec := func(f *ast.File) bool {
		for _, imp := range f.Imports {
			if strings.HasSuffix(imp.Path.Value, `/possync/spec"`) {
				return true
			}
		}
		return f.Name.Name == "spec"
	}
	codeParam := map[string]int{}
	for k, f := range files {
		if !importsSpec(f) {
			continue
		}
		dir := filepath.Dir(paths[k])
		for _, decl := range f.Decls {
			fd, ok := decl.(*ast.FuncDecl)
			if !ok {
				continue
			}
			i := 0
			for _, field := range fd.Type.Params.List {
				for _, n := range field.Names {
					if n.Name == "code" {
						codeParam[dir+"."+fd.Name.Name] = i
					}
					i++
				}
				if len(field.Names) == 0 {
					i++
				}
			}
		}
	}

	isSpec := func(path string) bool { return strings.HasPrefix(path, "spec/") }
	literal := func(path string, e ast.Expr, where string) {
		if lit, ok := e.(*ast.BasicLit); ok && lit.Kind == token.STRING {
			t.Errorf("%s: diagnostic code %s written as a literal %s; use (or add) a constant of spec/codes.go",
				fset.Position(lit.Pos()), lit.Value, where)
		}
	}
	for i, f := range files {
		path := paths[i]
		if path == "spec/codes.go" || !importsSpec(f) {
			continue
		}
		dir := filepath.Dir(path)
		ast.Inspect(f, func(n ast.Node) bool {
			switch x := n.(type) {
			case *ast.SelectorExpr:
				if id, ok := x.X.(*ast.Ident); ok && id.Name == "spec" {
					if _, ok := codes[x.Sel.Name]; ok {
						used[x.Sel.Name]++
					}
				}
			case *ast.Ident:
				if _, ok := codes[x.Name]; ok && isSpec(path) {
					used[x.Name]++
				}
			case *ast.ValueSpec: // no code constants outside the catalogue
				for j, name := range x.Names {
					if j < len(x.Values) && strings.HasPrefix(strings.ToLower(name.Name), "code") {
						if lit, ok := x.Values[j].(*ast.BasicLit); ok && lit.Kind == token.STRING {
							t.Errorf("%s: code constant %s declared outside the catalogue (spec/codes.go)",
								fset.Position(name.Pos()), name.Name)
						}
					}
				}
			case *ast.CompositeLit: // Diagnostic{Code: ...}
				typ := x.Type
				if sel, ok := typ.(*ast.SelectorExpr); ok {
					typ = sel.Sel
				}
				if id, ok := typ.(*ast.Ident); ok && id.Name == "Diagnostic" {
					for _, el := range x.Elts {
						if kv, ok := el.(*ast.KeyValueExpr); ok {
							if k, ok := kv.Key.(*ast.Ident); ok && k.Name == "Code" {
								literal(path, kv.Value, "in a Diagnostic")
							}
						}
					}
				}
			case *ast.AssignStmt: // d.Code = ...
				for j, lhs := range x.Lhs {
					if sel, ok := lhs.(*ast.SelectorExpr); ok && sel.Sel.Name == "Code" && j < len(x.Rhs) {
						literal(path, x.Rhs[j], "assigned to .Code")
					}
				}
			case *ast.CallExpr:
				var name string // folder.function of the callee, as far as syntax tells
				switch fn := x.Fun.(type) {
				case *ast.Ident:
					name = dir + "." + fn.Name
				case *ast.SelectorExpr:
					name = dir + "." + fn.Sel.Name // a method of this package
					if id, ok := fn.X.(*ast.Ident); ok && id.Name == "spec" {
						name = "spec." + fn.Sel.Name
					}
				}
				if idx, ok := codeParam[name]; ok && idx < len(x.Args) {
					literal(path, x.Args[idx], "passed to "+name)
				}
			}
			return true
		})
	}
	for name, code := range codes {
		if used[name] == 0 {
			t.Errorf("catalogue entry %s (%q) is never used: report it somewhere or remove it", name, code)
		}
	}
}
