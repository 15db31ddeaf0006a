// Package bench holds the benchmark tooling's scripts (check.sh, spread.sh); its test runs them on canned
// `go test -bench` output.
package bench

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestSpread: spread.sh passes the benchmark output through and ends it with each ratio metric's min, median
// and max per benchmark, over results given on the name's line and on a later one (a benchmark that prints
// its stage table), an even count's median being the mean of the middle two, and the runs over a target
// given in the environment; metrics that are not ratios (records/s, peak-MiB) are left out.
func TestSpread(t *testing.T) {
	in := `BenchmarkFirstSync/rows=100-2         	
possync apply (first sync): a stage table
       1	 710850049 ns/op	         2.5 cpu-x-plan	       204.0 peak-MiB	    140677 records/s	         2.0 x-plan
BenchmarkFirstSync/rows=100-2         	       1	 778838579 ns/op	         3.5 cpu-x-plan	       209.0 peak-MiB	    128397 records/s	         4.0 x-plan
BenchmarkFirstSync/rows=100-2         	
       1	 895982827 ns/op	         2.9 cpu-x-plan	       211.0 peak-MiB	    111610 records/s	         3.1 x-plan
BenchmarkFirstSync/rows=100-2         	       1	 895982827 ns/op	         2.0 cpu-x-plan	       211.0 peak-MiB	    111610 records/s	         2.9 x-plan
PASS
`
	cmd := exec.Command("bash", "spread.sh")
	cmd.Stdin = strings.NewReader(in)
	cmd.Env = append(os.Environ(), "TARGET_x_plan=3")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("spread.sh: %v\n%s", err, out)
	}
	got := string(out)
	if !strings.HasPrefix(got, in) {
		t.Errorf("the benchmark output is not passed through first:\n%s", got)
	}
	for _, want := range []string{
		"BenchmarkFirstSync/rows=100                  cpu-x-plan     2.00 / 2.70 / 3.50  (4 runs)\n",
		"BenchmarkFirstSync/rows=100                  x-plan         2.00 / 3.00 / 4.00  (4 runs)  2 of 4 over 3\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("spread.sh's summary lacks %q:\n%s", want, got[len(in):])
		}
	}
	for _, not := range []string{"peak-MiB", "records/s"} {
		if strings.Contains(got[len(in):], not) {
			t.Errorf("spread.sh's summary has %s, not a ratio:\n%s", not, got[len(in):])
		}
	}
}
