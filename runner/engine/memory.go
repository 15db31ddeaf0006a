package engine

import "fmt"

// DefaultMemoryCap is the most memory DuckDB may use when the pipeline sets no state.memory_limit. DuckDB's
// own default (80% of RAM) let a first sync of 1M records peak at about 1.4 GiB, most of it DuckDB's
// buffer pool holding the diff, the snapshot and the state file's new blocks; with 256 MiB DuckDB spills to
// state.dir/tmp instead and the whole process peaks at 685-721 MiB (384 MiB: 763), for 1.2-1.5x the
// processor time; a plan of 1M records costs about 1.1x (issue #15, BENCHMARKS.md "First sync, 1M
// creates"). Every step's SQL must spill for this to be safe (the match step's does).
const DefaultMemoryCap = 256 << 20

// DefaultMemoryLimit is the memory_limit used when none is set: a quarter of the machine's RAM (or of its
// container's memory limit, when lower: physicalMemory), at most DefaultMemoryCap (and DefaultMemoryCap when
// neither can be read), in DuckDB's syntax.
func DefaultMemoryLimit() string {
	return mib(defaultLimit(physicalMemory()))
}

// defaultLimit is DefaultMemoryLimit's bytes for ram bytes of memory (0: unknown): a quarter, at least 64
// MiB, at most DefaultMemoryCap.
func defaultLimit(ram int64) int64 {
	if ram > 0 && ram/4 < DefaultMemoryCap {
		return max(ram/4, 64<<20)
	}
	return DefaultMemoryCap
}

// mib is n bytes in DuckDB's syntax, in whole MiB.
func mib(n int64) string { return fmt.Sprintf("%dMiB", n>>20) }

// DefaultBurstCap is the most memory DuckDB may use during a burst (DB.WithBurstMemory, DB.StartBurst) when
// the pipeline sets no state.memory_limit: 3x DefaultMemoryCap. A plan against the state takes it while its
// desired table lives (from the transform to the diff, which drops it). It is sized for a plan of 3M
// records: a desired table of about 550 MiB as DuckDB holds tables in memory, beside the diff's join of the
// snapshot's keys and hashes (about 180 MiB). Under the cap alone the transform spills most of that table
// and the diff reads it back, and since a block read back leaves its temp file, every block the diff brings
// in evicts another one, compressed and written again: zstd and temp-file copies were a third of the
// diff's processor time at 3M (issue #15, BENCHMARKS.md "#15, fourth pass").
const DefaultBurstCap = 3 * DefaultMemoryCap

// DefaultBurstLimit is the memory_limit of a burst when none is set: a third of the machine's RAM (or of its
// container's memory limit, when lower: physicalMemory), at most DefaultBurstCap and at least
// DefaultMemoryLimit, in DuckDB's syntax.
func DefaultBurstLimit() string {
	return mib(burstLimit(physicalMemory()))
}

// burstLimit is DefaultBurstLimit's bytes for ram bytes of memory (0: unknown): a third, at most
// DefaultBurstCap, never below defaultLimit's.
func burstLimit(ram int64) int64 {
	limit := int64(DefaultBurstCap)
	if ram > 0 && ram/3 < limit {
		limit = ram / 3
	}
	return max(limit, defaultLimit(ram))
}

// DuckDBDefaultMemoryLimit is DuckDB's own default, 80% of the machine's RAM ("" when the RAM cannot be
// read), for a caller that must measure DuckDB as it is out of the box (the benchmarks' DuckDB-only floor).
func DuckDBDefaultMemoryLimit() string {
	ram := physicalMemory()
	if ram <= 0 {
		return ""
	}
	return mib(ram * 8 / 10)
}
