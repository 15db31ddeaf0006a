#!/usr/bin/env bash
# bench/spread.sh: reads `go test -bench` output on stdin, passes it through, and ends it with the spread of
# every ratio metric (unit "x-..." or "...-x-...": measured against something timed in the same run) per
# benchmark and size, over the runs of -count: min, median and max, and how many runs exceeded a target
# given as TARGET_<metric with - as _>, e.g. TARGET_x_plan=3. One run on a shared machine says little (the
# first sync's ratio to its plan moved 2.5-3.5x between back-to-back runs, BENCHMARKS.md); the median of
# several, alternating in the same minutes, is what BENCHMARKS.md reports.
set -euo pipefail
awk '
{ print }
# A benchmark that prints (its stage table) has its name on a line of its own and its results on a later one.
/^Benchmark[^ \t]*-[0-9]+([ \t]|$)/ { last = $1; sub(/-[0-9]+$/, "", last) }
/ ns\/op/ && last != "" {
	name = last; at = 0
	for (i = 1; i <= NF; i++) if ($i == "ns/op") at = i
	for (i = at + 1; i < NF; i += 2) {
		unit = $(i + 1)
		if (unit ~ /(^|-)x-/) { k = name " " unit; v[k] = v[k] " " $i; if (!(k in order)) order[k] = ++n }
	}
}
END {
	if (n == 0) exit
	print "\nspread over the runs (min / median / max):"
	for (k in order) keys[order[k]] = k
	for (j = 1; j <= n; j++) {
		k = keys[j]
		m = split(substr(v[k], 2), xs, " ")
		# insertion sort: a handful of runs
		for (a = 2; a <= m; a++) { x = xs[a]; b = a - 1; while (b > 0 && xs[b] + 0 > x + 0) { xs[b + 1] = xs[b]; b-- } xs[b + 1] = x }
		med = (m % 2) ? xs[(m + 1) / 2] : (xs[m / 2] + xs[m / 2 + 1]) / 2
		split(k, parts, " "); unit = parts[2]; env = "TARGET_" unit; gsub(/-/, "_", env)
		over = ""
		if (env in ENVIRON && ENVIRON[env] != "") {
			c = 0; for (a = 1; a <= m; a++) if (xs[a] + 0 > ENVIRON[env] + 0) c++
			over = sprintf("  %d of %d over %s", c, m, ENVIRON[env])
		}
		printf "  %-44s %-14s %.2f / %.2f / %.2f  (%d runs)%s\n", parts[1], unit, xs[1], med, xs[m], m, over
	}
}'
