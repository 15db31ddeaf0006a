package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// malformedInput is one malformed input and what possync must say about it.
type malformedInput struct {
	name string
	// file is the input under testdata/malformed (committed); gen builds it at test time instead (the
	// megabyte-sized ones, and those derived from a real plan document).
	file string
	gen  func(t *testing.T, f *fixture) []byte
	// as says what the input replaces: the pipeline file, a saved plan, the CSV or the JSON-lines input.
	as   string
	code int
	// want are substrings of stderr. csvStructure rows also assert the file's path.
	want         []string
	csvStructure bool
}

const (
	asPipeline = "pipeline"
	asPlan     = "plan"
	asCSV      = "csv"
	asJSONL    = "jsonl"
)

// megabytes10 is the size of the "huge" inputs: a 10 MB line.
const megabytes10 = 10 << 20

// TestMalformedInputs runs the built binary, as an operator would, on a pipeline whose state holds an applied
// catalog, with each malformed input in turn: a pipeline file, a saved plan or a source file that is
// truncated, empty, binary, in another encoding, with NUL bytes, duplicate keys, a YAML bomb, deep nesting or
// a 10 MB line. Each must fail with its exit code and a clear error (and no echo of a 10 MB line), and leave
// the state folder and the sink's output byte for byte as they were.
func TestMalformedInputs(t *testing.T) {
	rows := genRows(0, 40)
	f := newFixture(t, rows)
	goodCSV, err := os.ReadFile(f.path("data/products.csv"))
	if err != nil {
		t.Fatal(err)
	}
	jsonlPipeline := strings.Replace(pipelineYAML, "path: data/products.csv", "path: data/products.jsonl", 1)
	if err := os.WriteFile(f.path("pipeline-jsonl.yaml"), []byte(jsonlPipeline), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := f.run(t, nil, "apply", "pipeline.yaml"); r.code != 0 {
		t.Fatalf("first apply: %v", r)
	}
	if r := f.run(t, nil, "plan", "pipeline.yaml", "--out", "base-plan.json"); r.code != 0 {
		t.Fatalf("plan --out: %v", r)
	}
	basePlan, err := os.ReadFile(f.path("base-plan.json"))
	if err != nil {
		t.Fatal(err)
	}
	state := readState(t, f.state)
	sink := f.snapshot(t)

	for _, in := range malformedInputs(basePlan) {
		t.Run(in.name, func(t *testing.T) {
			var data []byte
			if in.gen != nil {
				data = in.gen(t, f)
			} else if data, err = os.ReadFile(filepath.Join("testdata", "malformed", in.file)); err != nil {
				t.Fatal(err)
			}
			var args []string
			var target string
			switch in.as {
			case asPipeline:
				target, args = "bad.yaml", []string{"apply", "bad.yaml"}
			case asPlan:
				target, args = "bad-plan.json", []string{"apply", "pipeline.yaml", "--plan", "bad-plan.json"}
			case asCSV:
				target, args = "data/products.csv", []string{"apply", "pipeline.yaml"}
				defer writeOrFail(t, f.path(target), goodCSV)
			case asJSONL:
				target, args = "data/products.jsonl", []string{"apply", "pipeline-jsonl.yaml"}
			}
			writeOrFail(t, f.path(target), data)
			r := f.run(t, nil, args...)
			if r.code != in.code {
				t.Errorf("exit code %d, want %d\n%s", r.code, in.code, clip(r.String()))
			}
			want := in.want
			if in.csvStructure {
				want = append([]string{f.path(target)}, in.want...)
			}
			for _, w := range want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr does not say %q:\n%s", w, clip(r.stderr))
				}
			}
			if len(r.stderr)+len(r.stdout) > 64<<10 {
				t.Errorf("%d bytes of output for one malformed input: %s", len(r.stderr)+len(r.stdout), clip(r.stderr))
			}
			if now := readState(t, f.state); !sameFiles(now, state) {
				t.Errorf("the state folder changed: %v before, %v now", names(state), names(now))
			}
			f.unchanged(t, sink)
		})
	}
}

// malformedInputs is the table: the committed corpus under testdata/malformed, then the inputs generated at
// test time (from base, a real saved plan of the pipeline, for the plan documents).
func malformedInputs(base []byte) []malformedInput {
	yamlErr := func(file, at string, want ...string) malformedInput {
		return malformedInput{name: file, file: file, as: asPipeline, code: 2, want: append([]string{"bad.yaml:" + at + ": error["}, want...)}
	}
	planErr := func(file string, want ...string) malformedInput {
		return malformedInput{name: file, file: file, as: asPlan, code: 1, want: append([]string{"read plan bad-plan.json: "}, want...)}
	}
	dataErr := func(file, as string, want ...string) malformedInput {
		return malformedInput{name: file, file: file, as: as, code: 1, want: want}
	}
	// structure rows: the file source's own one-line diagnosis (file:line and what to do), not DuckDB's dump.
	structure := func(file, as string, want ...string) malformedInput {
		return malformedInput{name: file, file: file, as: as, code: 1, csvStructure: true, want: want}
	}
	tests := []malformedInput{
		// Pipeline files (exit code 2: invalid configuration).
		yamlErr("p-empty.yaml", "1:1", "have an empty file", "start with `version: 1`"),
		yamlErr("p-comments-only.yaml", "1:1", "have an empty file"),
		yamlErr("p-binary.yaml", "1:1", "error[bad_encoding]", "the file is not text: byte 0x"),
		yamlErr("p-nul.yaml", "3:16", "error[bad_encoding]", "a NUL byte at line 3, column 16"),
		yamlErr("p-utf16.yaml", "1:1", "error[bad_encoding]", "looks like UTF-16 without a byte order mark"),
		yamlErr("p-latin1.yaml", "3:14", "error[bad_encoding]", `byte 0xE9 at line 3, column 14 ("é" in Latin-1`, "save the file as UTF-8"),
		yamlErr("p-truncated.yaml", "12:1", "invalid YAML: did not find expected ',' or '}'"),
		yamlErr("p-unclosed-quote.yaml", "23:1", "error[yaml_syntax]", "the quote at line 2, column 7 is not closed on its line"),
		yamlErr("p-duplicate-key.yaml", "5:1", "error[duplicate_key]", "key `key` appears twice", "the first `key` is on line 4"),
		yamlErr("p-tabs.yaml", "7:1", "error[yaml_syntax]", "found character that cannot start any token"),
		yamlErr("p-wrong-type.yaml", "1:10", "error[wrong_type]", "want an integer, have a string (at /version)"),
		yamlErr("p-two-documents.yaml", "34:1", "a pipeline file holds one YAML document"),
		yamlErr("p-bad-interpolation.yaml", "8:9", "unterminated ${", "write $${ for a literal ${"),
		yamlErr("p-undefined-alias.yaml", "1:1", "unknown anchor 'sku_field' referenced"),
		yamlErr("p-flow-unclosed.yaml", "13:1", "did not find expected ',' or '}'"),
		yamlErr("p-not-a-mapping.yaml", "1:1", "want a mapping, have a list"),
		yamlErr("p-yaml-bomb.yaml", "3:1", "unknown field `lol0`"),
		{name: "p-deeply-nested-flow (generated)", as: asPipeline, code: 2,
			gen: func(*testing.T, *fixture) []byte {
				return withKey("key: " + strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000))
			},
			want: []string{"bad.yaml:4:1: error[yaml_syntax]", "exceeded max depth of 10000"}},
		{name: "p-deeply-nested-block (generated)", as: asPipeline, code: 2,
			gen: func(*testing.T, *fixture) []byte {
				var b strings.Builder
				for i := range 5000 {
					b.WriteString(strings.Repeat(" ", i+2) + "level:\n")
				}
				return []byte(strings.Replace(pipelineYAML, "guards:\n", "guards:\n  nested:\n"+b.String(), 1))
			},
			want: []string{"error[unknown_field]", "unknown field `nested` (at /guards/nested)"}},
		{name: "p-10MB-unclosed-quote (generated)", as: asPipeline, code: 2,
			gen:  func(*testing.T, *fixture) []byte { return withKey(`merchant: "` + strings.Repeat("m", megabytes10)) },
			want: []string{"error[yaml_syntax]", "invalid YAML"}},
		{name: "p-10MB-unknown-field (generated)", as: asPipeline, code: 2,
			gen: func(*testing.T, *fixture) []byte {
				return []byte(pipelineYAML + "notes: " + strings.Repeat("n", megabytes10) + "\n")
			},
			want: []string{"unknown field `notes`"}},

		// Saved plans given to apply --plan (exit code 1).
		planErr("pl-empty.json", "not a plan document: the file is empty"),
		planErr("pl-binary.json", "not a plan document: not JSON at line 1, column 1"),
		planErr("pl-array.json", "not a plan document: want a JSON object, have an array"),
		planErr("pl-nul.json", "not a plan document: not JSON at line 1, column 26", `'\x00'`),
		planErr("pl-utf16.json", "not a plan document: the file is UTF-16 text"),
		planErr("pl-other-version.json", `format version "2.0", this possync reads 1.1`),
		planErr("pl-duplicate-keys.json", `format version "9.1", this possync reads 1.1`),
		planErr("pl-truncated.json", "not a plan document: the file ends in the middle of the document"),
		{name: "pl-real-plan-cut-in-half (generated)", as: asPlan, code: 1,
			gen:  func(*testing.T, *fixture) []byte { return base[:len(base)/2] },
			want: []string{"not a plan document: the file ends in the middle of the document"}},
		{name: "pl-real-plan-edited (generated)", as: asPlan, code: 1,
			gen: func(t *testing.T, _ *fixture) []byte {
				edited := regexp.MustCompile(`"serial": [0-9]+`).ReplaceAll(base, []byte(`"serial": 97`))
				if bytes.Equal(edited, base) {
					t.Fatal("the plan has no serial to edit")
				}
				return edited
			},
			want: []string{"its hash does not match its content (edited or truncated)"}},
		{name: "pl-10MB-note (generated)", as: asPlan, code: 1,
			gen: func(*testing.T, *fixture) []byte {
				return bytes.Replace(base, []byte(`"key": [`), []byte(`"notes": ["`+strings.Repeat("n", megabytes10)+`"],`+"\n  "+`"key": [`), 1)
			},
			want: []string{"its hash does not match its content"}},
		{name: "pl-deeply-nested (generated)", as: asPlan, code: 1,
			gen:  func(*testing.T, *fixture) []byte { return []byte(`{"notes": ` + strings.Repeat("[", 100_000)) },
			want: []string{"not a plan document: not JSON at line 1", "exceeded max depth"}},

		// Source files.
		dataErr("d-bad-number.csv", asCSV, "products.csv:13:3: column price", `"eleven"`),
		dataErr("d-nul.csv", asCSV, "products.csv:7:3: column price"),
		dataErr("d-duplicate-keys.csv", asCSV, "key(s) appear more than once", "sku=SKU-000007 (2 records)", "nothing was planned"),
		{name: "d-header-only.csv", file: "d-header-only.csv", as: asCSV, code: 3,
			want: []string{"blocked by guard, nothing was applied", "max_delete_percent: 40 of 40 records"}},
		dataErr("d-no-key-column.csv", asCSV, `no column "sku" in the header`),
		dataErr("d-latin1.csv", asCSV, "products.csv:4:2: the text is not UTF-8", "set encoding: windows-1252"),
		structure("d-empty.csv", asCSV, "empty file, want a header row"),
		structure("d-binary.csv", asCSV, "products.csv:1: byte 0xA6 is not UTF-8 text", "set encoding: windows-1252"),
		structure("d-unclosed-quote.csv", asCSV, "products.csv:5: a quoted field that starts on this line is never closed"),
		structure("d-truncated-row.csv", asCSV, "1 malformed row(s)", "products.csv:41:2: the row has 2 field(s), the header 5", "may be cut short"),
		structure("d-truncated-midquote.csv", asCSV, "products.csv:42:27: a quoted field is not closed properly"),
		structure("d-utf16.csv", asCSV, "products.csv:1: byte 0xFF is not UTF-8 text"),
		structure("d-semicolon.csv", asCSV, "set delimiter: ';' on the source"),
		structure("d-extra-field.csv", asCSV, "products.csv:11:6: the row has more fields than the header's 5"),
		structure("j-not-json.jsonl", asJSONL, "products.jsonl:5: not a JSON object"),
		structure("j-array.jsonl", asJSONL, "products.jsonl:7: not a JSON object"),
		structure("j-truncated.jsonl", asJSONL, "products.jsonl:41: not a JSON object", "may be cut short"),
		structure("j-nul.jsonl", asJSONL, "products.jsonl:9: a NUL byte"),
		structure("j-binary.jsonl", asJSONL, "products.jsonl:1: byte 0x91 is not UTF-8 text"),
		{name: "d-10MB-field (generated)", as: asCSV, code: 1, csvStructure: true, want: []string{"the line is longer than 2000000 bytes"},
			gen: func(t *testing.T, f *fixture) []byte {
				b, err := os.ReadFile(f.path("data/products.csv"))
				if err != nil {
					t.Fatal(err)
				}
				return bytes.Replace(b, []byte("SKU-000003,"), []byte("SKU-000003,"+strings.Repeat("x", megabytes10)+" "), 1)
			}},
		{name: "j-10MB-line (generated)", as: asJSONL, code: 1, csvStructure: true, want: []string{"the line is longer than 2000000 bytes"},
			gen: func(*testing.T, *fixture) []byte {
				return []byte(`{"sku":"SKU-000001","name":"` + strings.Repeat("j", megabytes10) + "\n")
			}},
	}
	return tests
}

// withKey is the test pipeline with its `key: sku` line replaced by line.
func withKey(line string) []byte {
	return []byte(strings.Replace(pipelineYAML, "key: sku\n", line+"\n", 1))
}

func writeOrFail(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// readState returns the contents of every regular file in the state folder (the pipeline's DuckDB file, its
// write-ahead log if any, its lock), by name; the folder DuckDB spills to is left out.
func readState(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = b
	}
	return out
}

func sameFiles(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for name, content := range a {
		if other, ok := b[name]; !ok || !bytes.Equal(content, other) {
			return false
		}
	}
	return true
}

func names(files map[string][]byte) []string {
	var out []string
	for name, b := range files {
		out = append(out, name+" ("+strconv.Itoa(len(b))+" bytes)")
	}
	return out
}

// clip shortens text for a failure message.
func clip(s string) string {
	if len(s) > 2000 {
		return s[:2000] + "…"
	}
	return s
}
