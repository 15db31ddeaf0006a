// Package examples holds the example pipelines, one folder each (the pipeline YAML and its sample data),
// embedded so that the binary can run them (`possync demo`), and Start, which brings up what an example
// needs on this machine: the Retail POS and eCom API emulators, the FTP server the Ascend POS uploads to.
// The test here keeps every example valid and converging.
package examples

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/possync/possync/connectors/ascend/ftptest"
	"github.com/possync/possync/connectors/ecom/ecomtest"
	"github.com/possync/possync/connectors/orderurl/orderurltest"
	"github.com/possync/possync/connectors/retailpos/retailpostest"
)

//go:embed */*.yaml */data
var files embed.FS

// Names lists the examples, by folder name.
func Names() []string {
	entries, _ := fs.ReadDir(files, ".")
	var out []string
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out
}

// IsTestFile reports whether a YAML file of an example is a pipeline's test cases (NAME_test.yaml, run by
// `possync test`), not a pipeline.
func IsTestFile(name string) bool { return strings.HasSuffix(name, "_test.yaml") }

// Pipelines lists an example's pipeline files (relative to its folder), without their test files.
func Pipelines(example string) ([]string, error) {
	all, err := fs.Glob(files, example+"/*.yaml")
	var m []string
	for _, f := range all {
		if !IsTestFile(f) {
			m = append(m, path.Base(f))
		}
	}
	if err != nil || len(m) == 0 {
		return nil, fmt.Errorf("no example %q (examples: %s)", example, strings.Join(Names(), ", "))
	}
	return m, nil
}

// Extract writes an example's files (pipelines and data) under dir.
func Extract(example, dir string) error {
	sub, err := fs.Sub(files, example)
	if err != nil {
		return err
	}
	return fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		target := filepath.Join(dir, filepath.FromSlash(p))
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := fs.ReadFile(sub, p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
}

// Env is what an example runs against on this machine: the servers it needs and the environment variables
// its pipelines read (base URLs, tokens). Close stops the servers.
type Env struct {
	Vars      map[string]string
	RetailPOS *retailpostest.Server
	Ecom      *ecomtest.Server
	// FTP serves the Ascend POS uploads (the bikeshop example).
	FTP *ftptest.Server
	// Orders is the website's order export (the orders example).
	Orders *orderurltest.Server
	// statusCalls is how many UpdateStatus calls Orders had received when the demo command began (statusCommand).
	statusCalls int
	example     string
	closers     []func()
}

// Lookup reads a variable of the environment, then of the process; pass it as pipelines.Options.LookupEnv.
func (e *Env) Lookup(name string) (string, bool) {
	if v, ok := e.Vars[name]; ok {
		return v, true
	}
	return os.LookupEnv(name)
}

// Close stops the servers.
func (e *Env) Close() {
	for i := len(e.closers) - 1; i >= 0; i-- {
		e.closers[i]()
	}
	e.closers = nil
}

// Start brings up what the example needs, on loopback. Examples over local files need nothing.
func Start(example string) (*Env, error) {
	e := &Env{Vars: map[string]string{}, example: example}
	switch example {
	case "bikeshop":
		if err := e.startBikeshop(); err != nil {
			e.Close()
			return nil, fmt.Errorf("example bikeshop: %w", err)
		}
	case "orders":
		if err := e.startOrders(); err != nil {
			e.Close()
			return nil, fmt.Errorf("example orders: %w", err)
		}
	case "retail-ecom":
		pos := retailpostest.New(retailpostest.Options{})
		pos.LoadExample()
		shop := ecomtest.New(ecomtest.Options{})
		e.RetailPOS, e.Ecom = pos, shop
		e.closers = append(e.closers, pos.Close, shop.Close)
		e.Vars["RETAILPOS_BASE_URL"] = pos.URL()
		e.Vars["RETAILPOS_TOKEN"] = pos.Token()
		e.Vars["RETAILPOS_ECOM_OUTLET"] = "Main Street"
		e.Vars["ECOM_BASE_URL"] = strings.TrimSuffix(shop.URL(), "/")
		e.Vars["ECOM_STORE_ID"] = shop.StoreID()
		e.Vars["ECOM_TOKEN"] = shop.Token()
	}
	return e, nil
}
