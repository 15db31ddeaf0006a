package pipelines_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/possync/possync/connectors/all"
	"github.com/possync/possync/pipelines"
	_ "github.com/possync/possync/transforms/all"
)

// FuzzParse feeds arbitrary pipeline files to Parse (YAML load, ${VAR} interpolation, validation against the
// real components of the binary). It must not panic or hang; a refused file gets at least one error
// diagnostic, each naming the file, with a code, a message and a line inside the file; a file it accepts
// parses again to the same configuration hash.
func FuzzParse(f *testing.F) {
	var seeds []string
	for _, glob := range []string{"../examples/*/*.yaml", "../runner/testdata/plan/*/pipeline.yaml", "testdata/*.yaml"} {
		m, _ := filepath.Glob(glob)
		seeds = append(seeds, m...)
	}
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b)
		}
	}
	for _, s := range []string{
		"", "version: 1\n", "{}", "[]", "null", "version: 1\nname: x\nkey: sku\n",
		"a: &a [*a]\n", "a: &a x\nb: [*a, *a, *a]\n", "<<: {x: 1}\n", "version: ${V:-1}\nname: ${NAME}\n",
		"version: 1\nname: t\nmerchant: m\nkey: sku\nsource: {type: file, path: a.csv, columns: [{name: sku}]}\n" +
			"transforms: [{type: map, fields: {sku: 'sku + \"x\"'}}]\nsink: {type: file, path: out.csv}\n",
		"version: 1\nname: t\nkey: [sku, sku]\nsource: {type: file, path: '${MISSING}'}\nsink: {type: file, path: $}\n",
		"\xef\xbb\xbfversion: 1\n", "version: 1\n\x00\n", "version: 1\r\nname: \xff\xfe\r\n", "\t- a\n",
	} {
		f.Add([]byte(s))
	}
	env := map[string]string{"V": "1", "NAME": "n", "TOKEN": "tok-0123456789", "DIR": "/tmp/x"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	f.Fuzz(func(t *testing.T, data []byte) {
		const file = "conf/p.yaml"
		p, diags := pipelines.Parse(file, data, pipelines.Options{LookupEnv: lookup})
		lines := yamlLines(data)
		for _, d := range diags {
			if d.Code == "" || d.Message == "" {
				t.Fatalf("diagnostic without code or message: %#v", d)
			}
			if d.File != file {
				t.Fatalf("diagnostic %q names file %q, want %q", d.Error(), d.File, file)
			}
			if d.Line < 0 || d.Line > lines+1 {
				t.Fatalf("diagnostic %q at line %d of a %d-line file", d.Error(), d.Line, lines)
			}
		}
		if p == nil {
			if !diags.HasErrors() {
				t.Fatalf("no pipeline and no error diagnostic (%d diagnostics)", len(diags))
			}
			return
		}
		if diags.HasErrors() {
			t.Fatalf("a pipeline together with errors: %v", diags)
		}
		if p.Hash == "" || p.Name == "" || len(p.Key) == 0 || p.Sink == nil || len(p.Sources) == 0 || p.TimeZone == nil {
			t.Fatalf("accepted pipeline is incomplete: %+v", p)
		}
		again, _ := pipelines.Parse(file, data, pipelines.Options{LookupEnv: lookup})
		if again == nil || again.Hash != p.Hash {
			t.Fatalf("parsing the same file twice gives different configurations")
		}
	})
}

// yamlLines counts the lines of data as YAML does: a line ends at LF, CR LF, a lone CR, NEL, LS or PS.
func yamlLines(data []byte) int {
	s := strings.ReplaceAll(string(data), "\r\n", "\n")
	n := 1
	for _, sep := range []string{"\n", "\r", "\u0085", "\u2028", "\u2029"} {
		n += strings.Count(s, sep)
	}
	return n
}
