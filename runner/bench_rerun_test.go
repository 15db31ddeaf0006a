package runner

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkRerun times the no-change rerun against the plan's time in the same run (issue 15: ≤ 0.2×):
// the plan of the new catalog against the seeded state, then its apply, then with nothing changed: a plan,
// the same plan forced in full (--full-plan, what every rerun cost before the shortcut), and an apply.
// `make bench-rerun` runs it at 1M; its `x-plan` metric is the rerun apply's time over the plan's, and
// `x-plan-cycle` the full cycle's (plan + apply of the changes, issue 15: ≤ 1.5×).
func BenchmarkRerun(b *testing.B) {
	benchEachSize(b, func(b *testing.B, n int, set benchSet) {
		r, err := newBenchCase(b.Context(), set, b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		if err := r.runPlan(b.Context()); err != nil {
			b.Fatal(err)
		}
		planTime := r.planWall
		_, _, cycle, _ := benchApply(b, r.p, false) // the full cycle: plan + apply of the new catalog's changes

		timePlan := func(opts Options) (time.Duration, string, int) {
			benchQuiesce()
			var stages []Stage
			opts.Stats = &stages
			t0 := time.Now()
			pl, err := Plan(b.Context(), r.p, opts)
			d := time.Since(t0)
			if err != nil {
				b.Fatal(err)
			}
			return d, pl.Shortcut, pl.Summary.Total()
		}
		full, fullShort, fullN := timePlan(Options{FullPlan: true})
		short, shortWhy, shortN := timePlan(Options{})
		rep, stages, rerun, peak := benchApply(b, r.p, true)

		fmt.Printf("\npossync no-change rerun: %s rows (the plan of the new catalog: %.3f s)\n", benchGroup(int64(n)), planTime.Seconds())
		fmt.Printf("  %-34s %9s %9s\n", "", "seconds", "x plan")
		fmt.Printf("  %-34s %9.3f %9.2f\n", "full cycle (plan + apply)", cycle.Seconds(), cycle.Seconds()/planTime.Seconds())
		fmt.Printf("  %-34s %9.3f %9.2f\n", "plan, forced in full (before)", full.Seconds(), full.Seconds()/planTime.Seconds())
		fmt.Printf("  %-34s %9.3f %9.2f\n", "plan, short-circuited", short.Seconds(), short.Seconds()/planTime.Seconds())
		fmt.Printf("  %-34s %9.3f %9.2f\n", "apply (run), short-circuited", rerun.Seconds(), rerun.Seconds()/planTime.Seconds())
		printStages(stages, rerun, peak)
		if fullShort != "" || shortWhy == "" || fullN != 0 || shortN != 0 || rep.Planned.Total() != 0 {
			b.Errorf("full plan: %d changes, shortcut %q; plan: %d changes, shortcut %q; apply: %d changes; want no change, only the second short-circuited",
				fullN, fullShort, shortN, shortWhy, rep.Planned.Total())
		}
		b.ReportMetric(rerun.Seconds()/planTime.Seconds(), "x-plan")
		b.ReportMetric(full.Seconds()/planTime.Seconds(), "x-plan-full")
		b.ReportMetric(cycle.Seconds()/planTime.Seconds(), "x-plan-cycle")
	})
}
