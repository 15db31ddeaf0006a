package runner

import (
	"fmt"
	"testing"
	"time"

	"github.com/possync/possync/runner/internal/proctime"
)

// benchCycleWall is the full cycle's wall time per size, as BenchmarkCycle measured it in this process
// (BenchmarkCycle runs before BenchmarkFirstSync), so that the first sync's table can put both against the
// plan and the floor of the same run.
var benchCycleWall = map[int]time.Duration{}

// benchSyncRatios measures the reference the first sync and the full cycle are held to, in the same process:
// the plan of set's new rows against a state seeded with its old rows (plan + write, as BenchmarkPlan times
// it) and the DuckDB-only floor, then prints first sync / plan, cycle / plan and plan / floor (issue #15's
// targets: ≤ 3×, ≤ 1.5× and ≤ 1.4×) and reports them as metrics.
//
// On a shared machine the wall times swing with the other work; the processor times (the process's user +
// system seconds) swing less, so the ratios are printed for both.
func benchSyncRatios(b *testing.B, set benchSet, firstSync time.Duration, firstSyncCPU float64) {
	b.Helper()
	r, err := newBenchCase(b.Context(), set, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	c0 := proctime.Seconds()
	if err := r.runPlan(b.Context()); err != nil {
		b.Fatal(err)
	}
	planCPU := proctime.Seconds() - c0
	c0 = proctime.Seconds()
	if err := r.runFloor(b.Context()); err != nil {
		b.Fatal(err)
	}
	floorCPU := proctime.Seconds() - c0
	if err := r.check(); err != nil {
		b.Error(err)
	}
	planT, floorT := r.total().Seconds(), r.floor.Seconds()
	fmt.Printf("\n  same run: plan + write %.3f s, DuckDB-only floor %.3f s\n", planT, floorT)
	fmt.Printf("  first sync / plan: %.2fx (target <= 3); processor time %.1f s / %.1f s = %.2fx\n",
		firstSync.Seconds()/planT, firstSyncCPU, planCPU, firstSyncCPU/planCPU)
	if c, ok := benchCycleWall[set.Truth.Rows]; ok {
		fmt.Printf("  full cycle / plan: %.2fx (target <= 1.5; cycle %.3f s, measured earlier in this run)\n", c.Seconds()/planT, c.Seconds())
		b.ReportMetric(c.Seconds()/planT, "cycle-x-plan")
	}
	// The plan's own target is BenchmarkPlan's (make bench), each run in a process of its own: here both run
	// after a first sync of the same size, in its process, and the ratio is put beside the first sync's.
	fmt.Printf("  plan / floor:      %.2fx (BenchmarkPlan's target <= 1.4; here after the first sync); processor time %.1f s / %.1f s = %.2fx\n", planT/floorT, planCPU, floorCPU, planCPU/floorCPU)
	b.ReportMetric(firstSync.Seconds()/planT, "x-plan")
	b.ReportMetric(firstSyncCPU/planCPU, "cpu-x-plan")
	b.ReportMetric(planT/floorT, "plan-x-floor")
}
