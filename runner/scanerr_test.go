package runner_test

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/possync/possync/runner"
	"github.com/possync/possync/spec"
)

// Broken CSV gives one error naming file:line and what to do, in possync's terms (issue 16).
func TestFileSourceErrors(t *testing.T) {
	wide := strings.Replace(csvPipeline, "    - {name: price, type: float}",
		"    - {name: price, type: float}\n    - {name: x, type: int}\n    - {name: y, type: int}\n    - {name: z, type: int}", 1)
	for _, tc := range []struct {
		name, pipeline, input, want string
	}{
		{"a quote never closed", csvPipeline, "sku,name,price\nA,\"anchor,3\nB,bottle,2.5\nC,cup,1\n",
			`input.csv:2: a quoted field that starts on this line is never closed (it runs to line 4): a closing " is missing, ` +
				`or a " inside the field is not doubled (""); the file may also be cut short`},
		{"cut inside a quoted field", csvPipeline, "sku,name,price\nA,anchor,3\nB,\"bot",
			`input.csv:3:7: a quoted field is not closed properly: a " inside it is not doubled (""), text follows its closing ", or the file is cut short here`},
		{"one truncated row is one malformed row", wide, "sku,name,price,x,y,z\nA,anchor,3,1,2,3\nB,bo",
			"1 malformed row(s); nothing was planned:\n  DIR/input.csv:3:2: the row has 2 field(s), the header 6 (if this is the last line, the file may be cut short)"},
		{"too many fields", csvPipeline, "sku,name,price\nA,anchor,3,4\nB,bottle,2.5\n",
			"1 malformed row(s); nothing was planned:\n  DIR/input.csv:2:4: the row has more fields than the header's 3 (a delimiter inside a field that is not quoted?)"},
		{"binary garbage", csvPipeline, "sku,name,price\nA,anchor,3\n\x00\x01\x02\xff\xfe\x80garbage\x00,\x00\nC,cup,1\n",
			"1 malformed row(s); nothing was planned:\n  DIR/input.csv:3:1: the text is not UTF-8 (another encoding, or binary data): " +
				"for a POS or spreadsheet export set encoding: windows-1252 (or latin-1) on the source"},
		{"Windows-1252 text", csvPipeline, "sku,name,price\nA,caf\xe9,3\n",
			"1 malformed row(s); nothing was planned:\n  DIR/input.csv:2:2: the text is not UTF-8 (another encoding, or binary data): " +
				"for a POS or spreadsheet export set encoding: windows-1252 (or latin-1) on the source"},
		{"semicolons", csvPipeline, "sku;name;price\nA;anchor;3\n",
			`input.csv:1: no column "sku" in the header (it has sku;name;price); with delimiter ';' the header has every declared column: set delimiter: ';' on the source`},
		{"tabs", csvPipeline, "sku\tname\tprice\nA\tanchor\t3\n",
			`input.csv:1: no column "sku" in the header (it has sku	name	price); the file is tab-delimited: set format: tsv on the source`},
		{"a header without the column", csvPipeline, "id,name,price\nA,anchor,3\n",
			`input.csv:1: no column "sku" in the header (it has id, name, price)`},
		{"JSON lines cut short", strings.Replace(csvPipeline, "input.csv", "input.jsonl", 1),
			"{\"sku\":\"A\",\"name\":\"anchor\",\"price\":3}\n{\"sku\":\"B\",\"na",
			`input.jsonl:2: not a JSON object: unexpected EOF (the last line ends inside the object: the file may be cut short)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := csvCase(t, tc.input)
			writeFile(t, filepath.Join(dir, "pipeline.yaml"), tc.pipeline)
			if strings.Contains(tc.pipeline, "input.jsonl") {
				writeFile(t, filepath.Join(dir, "input.jsonl"), tc.input)
			}
			_, err := runner.Plan(context.Background(), loadAt(t, dir), runner.Options{})
			if err == nil {
				t.Fatal("plan succeeded")
			}
			got := strings.ReplaceAll(err.Error(), dir, "DIR")
			if !strings.HasSuffix(got, tc.want) || strings.Count(got, "\n") != strings.Count(tc.want, "\n") {
				t.Errorf("error\n%s\nwant it to end with\n%s", got, tc.want)
			}
		})
	}
}

// A Windows-1252 file read with encoding: windows-1252 plans its text as written.
func TestFileSourceEncoding(t *testing.T) {
	dir := csvCase(t, "sku,name,price\nA,caf\xe9 cr\xe8me \x80,3\n")
	writeFile(t, filepath.Join(dir, "pipeline.yaml"), strings.Replace(csvPipeline, "  path: input.csv\n", "  path: input.csv\n  encoding: windows-1252\n", 1))
	pl, err := runner.Plan(context.Background(), loadAt(t, dir), runner.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pl.Changes) != 1 || fields(pl.Changes[0])["title"] != "CAFÉ CRÈME €" {
		t.Errorf("changes %+v, want A created with title CAFÉ CRÈME €", pl.Changes)
	}
}

// A file far smaller than the last applied one, or with another header, deletes nothing until it is the
// intended file: the plan says why (for a header, that --allow-mass-change accepts a new one), creates and
// updates go through, the next run holds again, and --allow-mass-change plans the deletions.
func TestSuspectFileHoldsDeletions(t *testing.T) {
	var rows strings.Builder
	rows.WriteString("sku,name,price\n")
	for i := 0; i < 10; i++ {
		fmt.Fprintf(&rows, "S%d,item,%d\n", i, i+1)
	}
	for _, tc := range []struct {
		name, next, held string
		deletes          int
	}{
		{"far fewer rows", "sku,name,price\nS0,item,1\nS1,item,99\nS2,item,3\n",
			"input.csv has 3 record(s), 30% of the 10 of the last applied read (min_rows_percent 50)", 7},
		{"another header", "sku,name,price,cost\nS0,item,1,0\nS1,item,99,0\nS2,item,3,0\nS3,item,4,0\nS4,item,5,0\nS5,item,6,0\nS6,item,7,0\nS7,item,8,0\nS8,item,9,0\n",
			"input.csv has another header than the last applied read (sku,name,price,cost, was sku,name,price): check the export. " +
				"Fix the input, and the next run plans them if they are still missing; or, if the input is right (a new header, a " +
				"smaller catalog), apply with --allow-mass-change to plan them and take it as the baseline", 1},
	} {
		// A file in another encoding than UTF-8 is read by the source itself, not DuckDB: it is checked alike.
		for _, enc := range []string{"utf-8", "windows-1252"} {
			t.Run(tc.name+"/"+enc, func(t *testing.T) {
				dir := csvCase(t, rows.String())
				pipeline := strings.Replace(csvPipeline, "  path: input.csv\n", "  path: input.csv\n  encoding: "+enc+"\n", 1)
				writeFile(t, filepath.Join(dir, "pipeline.yaml"), pipeline+"guards:\n  max_delete_percent: 80\n")
				mustApply(t, loadAt(t, dir), runner.Options{})
				writeFile(t, filepath.Join(dir, "input.csv"), tc.next)
				for run := 1; run <= 2; run++ {
					p := loadAt(t, dir)
					pl := mustPlan(t, p)
					if pl.Summary.Delete != 0 || noteKind(pl, tc.held) != spec.NoteHeldRemoval {
						t.Fatalf("run %d: %+v, notes %q; want no deletion and a note %q", run, pl.Summary, pl.NoteTexts(), tc.held)
					}
					mustApply(t, p, runner.Options{})
				}
				p := loadAt(t, dir)
				// The override's note says why the input is suspect, not what the hold (not done) would do.
				pl, err := runner.Plan(context.Background(), p, runner.Options{AllowMassChange: true})
				if err != nil {
					t.Fatal(err)
				}
				if !notesWith(pl, "planned although the input is suspect") || notesWith(pl, "not deleted") {
					t.Errorf("plan with --allow-mass-change: notes %q; want the override, not that records are not deleted", pl.NoteTexts())
				}
				rep := mustApply(t, p, runner.Options{AllowMassChange: true})
				if rep.Applied.Delete != tc.deletes {
					t.Errorf("with --allow-mass-change: applied %+v, want %d deletions", rep.Applied, tc.deletes)
				}
				if pl := mustPlan(t, p); pl.Summary.Total() != 0 || notesWith(pl, "held") {
					t.Errorf("after the allowed change: %+v, notes %q", pl.Summary, pl.NoteTexts())
				}
			})
		}
	}
}

// A Windows-1252 file (read by the source itself) cut inside its last row, where the last applied read's
// file ended with a line end, plans nothing either.
func TestDecodedFileCutInsideItsLastRow(t *testing.T) {
	dir := csvCase(t, "sku,name,price\nA1,Caf\xe9,10\nA2,Beta,129.95\n")
	writeFile(t, filepath.Join(dir, "pipeline.yaml"), strings.Replace(csvPipeline, "  path: input.csv\n", "  path: input.csv\n  encoding: windows-1252\n", 1))
	mustApply(t, loadAt(t, dir), runner.Options{})
	writeFile(t, filepath.Join(dir, "input.csv"), "sku,name,price\nA1,Caf\xe9,11\nA2,Beta,12")
	_, err := runner.Plan(context.Background(), loadAt(t, dir), runner.Options{})
	if err == nil || !strings.Contains(err.Error(), "input.csv:3: the file ends inside its last row") {
		t.Fatalf("plan of the cut file: %v, want the cut last row named", err)
	}
	pl, err := runner.Plan(context.Background(), loadAt(t, dir), runner.Options{AllowMassChange: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(changesOf(pl), ", "); got != "update A1, update A2" {
		t.Errorf("with --allow-mass-change: changes %q, want both read as they are", got)
	}
}

// jsonlKeysPipeline reads JSON lines at path into products whose price comes from the key "price".
const jsonlKeysPipeline = `version: 1
name: t1
merchant: acme
key: sku
source: {type: file, path: %s, columns: [{name: sku, type: string}, {name: name, type: string}, {name: price, type: float}, {name: active, type: bool}]}
transforms:
  - {type: map, name: products, fields: {sku: sku, name: trim(name), price: price, enabled: active}}
sink: {type: file, path: out/p.csv}
diff: {active_field: enabled}
`

// jsonlProducts is a JSON-lines file of the SKUs A1..An, priced 10, with the price under priceKey; keyless
// lists the SKUs whose line has no price.
func jsonlProducts(n int, priceKey string, keyless ...string) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		sku := fmt.Sprintf("A%d", i)
		price := fmt.Sprintf(`,%q:10.0`, priceKey)
		if slices.Contains(keyless, sku) {
			price = ""
		}
		fmt.Fprintf(&b, `{"sku":%q,"name":"Alpha"%s,"active":true}`+"\n", sku, price)
	}
	return b.String()
}

// A JSON-lines key renamed or dropped in every line of a file is an error naming the file and the key, not
// a null price planned for every record (which the ecom sink sends as 0); a key missing from some lines only
// is an optional field, null there.
func TestJSONLinesKeyInNoLine(t *testing.T) {
	for _, tc := range []struct {
		name, path, file string
	}{
		{"one file", "data/p.jsonl", "data/p.jsonl"},
		{"the second file of a glob", "data/*.jsonl", "data/p2.jsonl"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "pipeline.yaml"), fmt.Sprintf(jsonlKeysPipeline, tc.path))
			writeFile(t, filepath.Join(dir, tc.file), jsonlProducts(4, "price"))
			if tc.file != "data/p.jsonl" { // a first file that keeps its price
				writeFile(t, filepath.Join(dir, "data", "p1.jsonl"), `{"sku":"B1","name":"Beta","price":5.0,"active":true}`+"\n")
			}
			if rep := mustApply(t, loadAt(t, dir), runner.Options{}); rep.Applied.Create < 4 {
				t.Fatalf("first apply: %+v", rep.Applied)
			}
			writeFile(t, filepath.Join(dir, tc.file), jsonlProducts(4, "retail_price"))
			want := `DIR/` + tc.file + `: no line has the key "price", declared in columns (the first line has sku, name, retail_price, active): ` +
				"a renamed or dropped key would read as null in every record; fix the export, or the column's name in the source's columns"
			for what, run := range map[string]func() error{
				"plan": func() error {
					_, err := runner.Plan(context.Background(), loadAt(t, dir), runner.Options{})
					return err
				},
				"apply": func() error {
					_, err := runner.Apply(context.Background(), loadAt(t, dir), runner.Options{}, nil)
					return err
				},
			} {
				err := run()
				if err == nil {
					t.Fatalf("%s succeeded", what)
				}
				if got := strings.ReplaceAll(err.Error(), dir, "DIR"); !strings.HasSuffix(got, want) {
					t.Errorf("%s error\n%s\nwant it to end with\n%s", what, got, want)
				}
			}
			// Optional: a price in some lines only is null in the others.
			writeFile(t, filepath.Join(dir, tc.file), jsonlProducts(4, "price", "A2", "A4"))
			pl := mustPlan(t, loadAt(t, dir))
			got := map[string]string{}
			for _, c := range pl.Changes {
				got[fmt.Sprint(c.Key["sku"])] = fmt.Sprintf("%s %s", c.Action, fields(c)["price"])
			}
			if want := map[string]string{"A2": "update 10 → null", "A4": "update 10 → null"}; !reflect.DeepEqual(got, want) {
				t.Errorf("changes %v, want %v (nothing else: the apply that failed applied nothing)", got, want)
			}
		})
	}
}

// A CSV file cut inside its last row's last field, where the last applied read's file ended with a line end,
// plans nothing: the error names the file, the line and the row's key, whether the file is read through a
// view or loaded first. --allow-mass-change reads it as it is and takes it as the baseline.
func TestFileCutInsideItsLastRow(t *testing.T) {
	const full = "sku,name,price,qty\nA1,Alpha,10.0,1\nA2,Beta,129.95,12\n"
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "pipeline.yaml"), deferPipeline(true, ""))
	input := filepath.Join(dir, "input.csv")
	writeFile(t, input, full)
	mustApply(t, loadAt(t, dir), runner.Options{})

	writeFile(t, input, "sku,name,price,qty\nA1,Alpha,11.0,1\nA2,Beta,129.95,1")
	_, _, derr, lerr, viewed := planBoth(t, dir)
	if !viewed {
		t.Error("the file was not read through a view")
	}
	want := `file source "source": DIR/input.csv:3: the file ends inside its last row (sku "A2": "A2,Beta,129.95,1") without a line end, ` +
		"where the last applied read's ended with one: the upload or copy was probably cut short, and the row's last field with it; " +
		"nothing was planned. Upload the file again; if it is complete, end it with a line end, or run once with --allow-mass-change to read it as it is"
	for what, err := range map[string]error{"read through a view": derr, "loaded first": lerr} {
		if err == nil || !strings.HasSuffix(strings.ReplaceAll(err.Error(), dir, "DIR"), want) {
			t.Errorf("%s: error %v, want one ending with\n%s", what, err, want)
		}
	}
	if _, err := runner.Apply(context.Background(), loadAt(t, dir), runner.Options{}, nil); err == nil {
		t.Fatal("apply succeeded")
	}

	// --allow-mass-change: the row is read as it is, the plan says why, and the file becomes the baseline.
	p := loadAt(t, dir)
	pl, err := runner.Plan(context.Background(), p, runner.Options{AllowMassChange: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(changesOf(pl), ", "); got != "update A1, update A2" || !notesWith(pl, "input.csv ends without a line end") {
		t.Fatalf("with --allow-mass-change: changes %q, notes %q", got, pl.NoteTexts())
	}
	mustApply(t, p, runner.Options{AllowMassChange: true})
	writeFile(t, input, "sku,name,price,qty\nA1,Alpha,12.0,1\nA2,Beta,129.95,1")
	if got := strings.Join(changesOf(mustPlan(t, loadAt(t, dir))), ", "); got != "update A1" {
		t.Errorf("after the allowed read, a file without a line end plans %q, want update A1", got)
	}
}
