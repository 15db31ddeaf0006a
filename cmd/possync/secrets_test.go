package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// secretPipelineYAML is an invalid pipeline (secret.yaml in the tests) whose secret token $TOK is also the
// name of the only field of its records, so the key check's hint would list the secret; its ecom sink points
// at a port nothing serves.
const secretPipelineYAML = `version: 1
name: secret-test
merchant: test-merchant
key: sku
` + productsSourceYAML + `transforms:
  - type: sql
    query: select sku as ${TOK} from source
sink:
  type: ecom
  store_id: "1"
  token: ${TOK}
  base_url: http://127.0.0.1:9
`

// writeSecretPipeline writes secretPipelineYAML to the fixture's secret.yaml.
func (f *fixture) writeSecretPipeline(t *testing.T) {
	t.Helper()
	if err := os.WriteFile(f.path("secret.yaml"), []byte(secretPipelineYAML), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestSecretsRedactedAndInvalidExitCodes runs the commands on a pipeline whose secret token also names the
// only field of the records (so the key check's hint would list it): every output shows *** instead, and an
// invalid pipeline exits 2 from validate and run but 1 from plan (whose 2 means changes).
func TestSecretsRedactedAndInvalidExitCodes(t *testing.T) {
	const secret = "s3cr3ttokenvalue"
	f := newFixture(t, genRows(0, 3))
	f.writeSecretPipeline(t)
	env := []string{"TOK=" + secret}
	for _, c := range []struct {
		args []string
		code int
	}{
		{[]string{"validate", "secret.yaml"}, 2},
		{[]string{"validate", "--json", "secret.yaml"}, 2},
		{[]string{"plan", "secret.yaml"}, 1},
		{[]string{"run", "secret.yaml"}, 2},
	} {
		r := f.run(t, env, c.args...)
		out := r.stdout + r.stderr
		if r.code != c.code || !strings.Contains(out, "key_not_found") {
			t.Errorf("possync %s: want exit %d and key_not_found, got %s", strings.Join(c.args, " "), c.code, r)
		}
		if strings.Contains(out, secret) || !strings.Contains(out, "the last step's fields are: ***") {
			t.Errorf("possync %s shows the secret, or no mask:\n%s", strings.Join(c.args, " "), out)
		}
		if c.args[1] == "--json" {
			var doc struct {
				Valid       bool              `json:"valid"`
				Diagnostics []json.RawMessage `json:"diagnostics"`
			}
			if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || doc.Valid || len(doc.Diagnostics) != 1 {
				t.Errorf("validate --json: valid %v, %d diagnostics (%v); want invalid, 1:\n%s", doc.Valid,
					len(doc.Diagnostics), err, r.stdout)
			}
		}
		if c.args[0] == "run" {
			if rep := parseReport(t, r); rep.ExitReason != "invalid_config" || rep.ExitCode != 2 {
				t.Errorf("run report: exit_reason %q, exit_code %d; want invalid_config, 2", rep.ExitReason, rep.ExitCode)
			}
		}
	}
}
