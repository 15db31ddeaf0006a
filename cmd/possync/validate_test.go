package main

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// exampleFiles are the repository's example pipelines (every examples/*/*.yaml but the *_test.yaml case
// files), which name secrets and variables with ${VAR}. Found by glob, so a new example is checked too.
var exampleFiles = func() []string {
	all, _ := filepath.Glob("../../examples/*/*.yaml")
	var files []string
	for _, f := range all {
		if !strings.HasSuffix(f, "_test.yaml") {
			files = append(files, f)
		}
	}
	return files
}()

// validate runs `possync validate args...` in dir with only the given environment (plus PATH and TMPDIR).
func validate(t *testing.T, dir, tmp string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"validate"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "TMPDIR=" + tmp, "NO_COLOR=1"}, env...)
	return runCmd(t, cmd)
}

// tree lists the files and folders under dir with their sizes and modification times.
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		out = append(out, rel+" "+fi.Mode().String()+" "+fi.ModTime().String()+" "+string(rune(fi.Size())))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// TestValidateHasNoSideEffects validates the examples from an empty working folder, with the default state
// folder (./.possync): the working folder, the temporary folder and the examples' folders are left as they
// were.
func TestValidateHasNoSideEffects(t *testing.T) {
	work, tmp := t.TempDir(), t.TempDir()
	if len(exampleFiles) < 5 {
		t.Fatalf("found %d example pipelines (%v), want every examples/*/*.yaml", len(exampleFiles), exampleFiles)
	}
	var files []string
	before := map[string][]string{}
	for _, f := range exampleFiles {
		abs, err := filepath.Abs(f)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, abs)
		before[filepath.Dir(abs)] = tree(t, filepath.Dir(abs))
	}
	env := []string{"ECOM_STORE_ID=1", "ECOM_TOKEN=secret-token", "RETAILPOS_TOKEN=secret-token",
		"ASCEND_FTP_USER=1234", "ASCEND_FTP_PASSWORD=pw", "ORDER_URL=https://orders.example/export",
		"ORDER_MERCHANT=1234", "ORDER_URL_KEY=url-key", "RETAILPOS_BASE_URL=https://pos.example/api", "RETAILPOS_USER_ID=0af7b240-ab24-11e9-a2a3-2a2ae2dbcce4"}
	r := validate(t, work, tmp, env, files...)
	if r.code != 0 {
		t.Fatalf("validate of the examples: %s", r)
	}
	for _, dir := range []string{work, tmp} {
		if got := tree(t, dir); len(got) != 1 { // the folder itself
			t.Errorf("validate left files behind in %s:\n%s", dir, strings.Join(got[1:], "\n"))
		}
	}
	for dir, want := range before {
		if got := tree(t, dir); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("validate changed %s:\n%s\nwas\n%s", dir, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}

// TestValidateNoEnv checks pipeline files as CI would, without their secrets: unset variables are errors
// without --no-env, placeholders with it, and the other findings of a file are still reported.
func TestValidateNoEnv(t *testing.T) {
	work, tmp := t.TempDir(), t.TempDir()
	for _, f := range exampleFiles {
		abs, err := filepath.Abs(f)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(filepath.Base(filepath.Dir(abs))+"/"+filepath.Base(abs), func(t *testing.T) {
			r := validate(t, work, tmp, nil, abs)
			hasVars := strings.Contains(readFile(t, abs), "${")
			if hasVars && (r.code != 2 || !strings.Contains(r.stderr, "unset_variable")) {
				t.Errorf("without --no-env and its variables: want exit 2 with unset_variable, got %s", r)
			}
			r = validate(t, work, tmp, nil, "--no-env", abs)
			if r.code != 0 || !strings.Contains(r.stdout, "1 pipeline file(s) valid") || r.stderr != "" {
				t.Errorf("validate --no-env: want exit 0 and valid, got %s", r)
			}
		})
	}

	t.Run("other findings still reported", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "p.yaml")
		src := strings.Join([]string{
			"version: 1",
			"name: ci-lint",
			"merchant: acme",
			"key: sku",
			"source:",
			"  type: file",
			"  path: ${DATA_DIR}/products.csv",
			"  columns: [{name: sku, type: string}, {name: price, type: float}]",
			"transforms:",
			"  - type: map",
			"    fields: {sku: sku, price: prce * 2}",
			"sink:",
			"  type: ecom",
			"  store_id: ${ECOM_STORE_ID}",
			"  token: ${ECOM_TOKEN}",
			"  requests_per_minute: ${RPM}",
			"  batch_sise: 100",
			"",
		}, "\n")
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		r := validate(t, work, tmp, nil, "--no-env", path)
		// The misspelled sink field (a structural error) does not hide the expression's unknown field.
		if r.code != 2 || !strings.Contains(r.stderr, "p.yaml:11:") || !strings.Contains(r.stderr, "expr_unknown_field") ||
			!strings.Contains(r.stderr, "p.yaml:17:3: error[unknown_field]") || strings.Contains(r.stderr, "unset_variable") {
			t.Errorf("want exit 2 with the expression's unknown field at line 11, the sink's at line 17, and no unset_variable; got %s", r)
		}
	})
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
