package all

import (
	"go/parser"
	"go/token"
	"reflect"
	"regexp"
	"testing"

	"github.com/possync/possync/transforms"
)

func TestAllRegistered(t *testing.T) {
	if got, want := transforms.Registry.Names(), []string{"filter", "map", "match", "order_match", "order_status", "promotions", "reserve", "sql"}; !reflect.DeepEqual(got, want) {
		t.Errorf("registered transforms = %v, want %v", got, want)
	}
}

// TestDocListsAll keeps the package comment's list of transforms complete: every registered transform is named.
func TestDocListsAll(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "all.go", nil, parser.ParseComments|parser.PackageClauseOnly)
	if err != nil {
		t.Fatal(err)
	}
	doc := f.Doc.Text()
	for _, name := range transforms.Registry.Names() {
		if !regexp.MustCompile(`\b` + regexp.QuoteMeta(name) + `\b`).MatchString(doc) {
			t.Errorf("package comment does not list the %s transform: %q", name, doc)
		}
	}
}
