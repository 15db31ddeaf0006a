#!/usr/bin/env bash
# bench/check.sh: `make bench-check`. Runs the benchmarks at small sizes and prints every ratio they report
# (each benchmark metric whose unit starts with "x-": measured against something timed in the same run, so
# comparable across noisy machines) next to the ratio committed in BENCHMARKS.md, as
#   <!-- bench-check: <benchmark>/<sizes> <metric>=<value> -->
# markers (the plan's older `bench-check: rows=100000 ratio=...` marker is read too). Informational: it
# never fails on timing, only when a benchmark fails or reports nothing.
#
# Environment: GO (default go), TAGS (default duckdb_arrow), BENCH_CHECK_PATTERN (the benchmarks to run),
# and the benchmarks' own sizes (BENCH_SIZES, BENCH_API_CHANGES, BENCH_API_SCALE, BENCH_ASCEND_ROWS).
set -euo pipefail

GO="${GO:-go}"
TAGS="${TAGS:-duckdb_arrow}"
PATTERN="${BENCH_CHECK_PATTERN:-^Benchmark(Plan|Cycle|FirstSync|Rerun|APIBudget|AscendChain)$}"
export BENCH_SIZES="${BENCH_SIZES:-100000}"
export BENCH_API_CHANGES="${BENCH_API_CHANGES:-10000}"
export BENCH_ASCEND_ROWS="${BENCH_ASCEND_ROWS:-50000}"
root="$(cd "$(dirname "$0")/.." && pwd)"
marks="$root/BENCHMARKS.md"

out="$("$GO" test -tags "$TAGS" -run '^$' -bench "$PATTERN" -benchtime 1x -count=1 -timeout 60m ./runner 2>&1)" || {
	echo "$out"
	echo "bench-check: a benchmark failed" >&2
	exit 1
}
# The plan's stage table, as before.
echo "$out" | sed -n '/possync plan:/,/possync \/ floor/p'

committed="$(sed -n 's/.*bench-check: \([^ ]*\) \(x-[a-z-]*\)=\([0-9.]*\).*/\1 \2 \3/p' "$marks")"
legacy="$(sed -n 's/.*bench-check: rows=100000 ratio=\([0-9.]*\).*/\1/p' "$marks")"

echo "$out" | awk -v committed="$committed" -v legacy="$legacy" '
BEGIN {
	n = split(committed, lines, "\n")
	for (i = 1; i <= n; i++) { split(lines[i], f, " "); if (f[1] != "") was[f[1] " " f[2]] = f[3] }
	if (legacy != "" && !(("BenchmarkPlan/rows=100000 x-floor") in was)) was["BenchmarkPlan/rows=100000 x-floor"] = legacy
	printf "bench-check: ratios measured now against the committed ones (BENCHMARKS.md)\n"
	printf "  %-40s %-16s %9s %10s %7s\n", "benchmark", "ratio", "now", "committed", "change"
}
/^Benchmark/ && /ns\/op/ {
	name = $1; sub(/-[0-9]+$/, "", name)
	for (i = 4; i <= NF; i++) {
		if ($i !~ /^x-/ && $i != "429s") continue
		now = $(i - 1); key = name " " $i; seen++
		if (key in was) {
			d = (now - was[key]) / was[key] * 100
			printf "  %-40s %-16s %9.3f %10.3f %+6.0f%%%s\n", name, $i, now, was[key], d, (d > 25 ? "  <-- higher than committed" : "")
		} else {
			printf "  %-40s %-16s %9.3f %10s\n", name, $i, now, "-"
		}
	}
}
END { if (!seen) { print "bench-check: the benchmarks reported no ratio" > "/dev/stderr"; exit 1 } }'
