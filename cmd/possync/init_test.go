package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/possync/possync/connectors"
)

// initPair runs `possync init` for a source and a sink into dir and returns the file.
func initPair(t *testing.T, dir, source, sink string) string {
	t.Helper()
	path := filepath.Join(dir, source+"-"+sink+".yaml")
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"init", "--source", source, "--sink", sink, "-o", path}, &out, &errb); code != 0 {
		t.Fatalf("init %s %s: exit %d: %s", source, sink, code, errb.String())
	}
	return path
}

type validation struct {
	Valid       bool `json:"valid"`
	Diagnostics []struct {
		Code, Path, Message string
		Severity            string
	} `json:"diagnostics"`
}

func validateNoEnv(t *testing.T, path string) validation {
	t.Helper()
	var out, errb bytes.Buffer
	run(context.Background(), []string{"validate", "--no-env", "--json", path}, &out, &errb)
	var v validation
	if err := json.Unmarshal(out.Bytes(), &v); err != nil {
		t.Fatalf("validate --json %s: %v\n%s%s", path, err, out.String(), errb.String())
	}
	return v
}

// TestInitScaffoldsEveryPair scaffolds every source × sink pair and validates each with --no-env. Every
// source's and every sink's block is valid configuration: each source with the file sink (which takes any
// records) validates with no finding, and so do the pairs whose records fit the sink. The other pairs (say
// promotions into an order sink) differ only in the records the sink receives: their findings are all the
// sink's record checks (at /sink, naming what to feed it), never the scaffold's own fields, and the scaffold
// carries them as a TODO where the transforms go.
func TestInitScaffoldsEveryPair(t *testing.T) {
	dir := t.TempDir()
	// The pairs that must validate as scaffolded: every source into the file sink, and the pairs the
	// examples run whose records fit the sink as read.
	mustValidate := map[string]bool{"order_url/retailpos_orders": true, "shopify_orders/retailpos_orders": true}
	valid := 0
	for _, src := range connectors.Sources.Names() {
		mustValidate[src+"/file"] = true
		for _, snk := range connectors.Sinks.Names() {
			path := initPair(t, dir, src, snk)
			b, _ := os.ReadFile(path)
			text := string(b)
			if !strings.HasPrefix(text, "# yaml-language-server: $schema=") {
				t.Errorf("%s/%s: no schema modeline:\n%s", src, snk, text)
			}
			for _, l := range strings.Split(text, "\n") {
				if strings.Contains(l, "token:") || strings.Contains(l, "password:") || strings.Contains(l, "url_key:") {
					if v := strings.TrimSpace(strings.SplitN(l, ":", 2)[1]); !strings.HasPrefix(strings.TrimPrefix(l, "  "), "#") && !strings.HasPrefix(v, "${") {
						t.Errorf("%s/%s: a secret is not a ${VAR}: %q", src, snk, l)
					}
				}
			}
			v := validateNoEnv(t, path)
			if v.Valid {
				valid++
				continue
			}
			if mustValidate[src+"/"+snk] {
				t.Errorf("%s/%s: scaffold does not validate: %+v", src, snk, v.Diagnostics)
				continue
			}
			for _, d := range v.Diagnostics {
				if d.Severity == "error" && (d.Path != "/sink" || d.Code != "component_error" || !strings.Contains(d.Message, "sink "+snk)) {
					t.Errorf("%s/%s: a finding that is not about the records the sink receives: %+v", src, snk, d)
				}
				// The scaffold says so where the transforms go, with the sink's own words.
				if d.Severity == "error" && (!strings.Contains(text, "# TODO: the "+snk+" sink does not take the "+src+" source's records as read") ||
					!strings.Contains(text, "#   "+strings.Join(strings.Fields(d.Message), " "))) {
					t.Errorf("%s/%s: the scaffold does not carry the sink's finding %q:\n%s", src, snk, d.Message, text)
				}
			}
		}
	}
	t.Logf("%d of %d pairs validate as scaffolded", valid, len(connectors.Sources.Names())*len(connectors.Sinks.Names()))
}

// TestInitRefusesToOverwrite: init never replaces an existing file, and names it.
func TestInitRefusesToOverwrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.yaml")
	if err := os.WriteFile(path, []byte("mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"init", "--source", "retailpos", "--sink", "ecom", "-o", path}, &out, &errb)
	if b, _ := os.ReadFile(path); code != 1 || string(b) != "mine\n" || !strings.Contains(errb.String(), "exists") {
		t.Fatalf("exit %d, file %q, stderr %q", code, b, errb.String())
	}
	// Unknown types are refused with the list to choose from.
	errb.Reset()
	if code := run(context.Background(), []string{"init", "--source", "retailpso", "--sink", "ecom"}, &out, &errb); code != 2 ||
		!strings.Contains(errb.String(), "retailpos_customers") {
		t.Fatalf("unknown source: exit %d: %s", code, errb.String())
	}
}

// TestInitScaffoldContent: the retailpos → ecom scaffold carries the source's example fields (domain_prefix,
// which the source needs when base_url is not set), the secrets as the components' ${VAR}s, the key sku
// the ecom sink keys products by, and a modeline relative to the checkout's schema when written inside it.
func TestInitScaffoldContent(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"init", "--source", "retailpos", "--sink", "ecom", "--name", "acme"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	text := out.String()
	for _, want := range []string{"\nname: acme\n", "\nkey: sku ", "  token: ${RETAILPOS_TOKEN}\n", "  token: ${ECOM_TOKEN}\n",
		"  domain_prefix: acme-outdoor # TODO", "  type: retailpos\n", "  type: ecom\n", "# yaml-language-server: $schema=../../schemas/pipeline.schema.json\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("scaffold lacks %q:\n%s", want, text)
		}
	}
	// Outside a checkout the modeline names the published schema.
	out.Reset()
	path := filepath.Join(dir, "p.yaml")
	if code := run(context.Background(), []string{"init", "--source", "file", "--sink", "file", "-o", path}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if b, _ := os.ReadFile(path); !strings.HasPrefix(string(b), "# yaml-language-server: $schema="+schemaURL+"\n") {
		t.Errorf("modeline outside a checkout:\n%s", b)
	}
}
