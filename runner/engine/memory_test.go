package engine

import (
	"context"
	"regexp"
	"strconv"
	"testing"
)

// memoryLimitMiB is the database's memory_limit as DuckDB reports it, in MiB.
func memoryLimitMiB(t *testing.T, limit string) float64 {
	t.Helper()
	ctx := context.Background()
	d, err := Open(ctx, Options{TempDir: t.TempDir(), MemoryLimit: limit})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var s string
	if err := d.QueryRow(ctx, "SELECT current_setting('memory_limit')").Scan(&s); err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`^([0-9.]+) ?(KiB|MiB|GiB|TiB)$`).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("memory_limit %q: unexpected form", s)
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	switch m[2] {
	case "KiB":
		v /= 1024
	case "GiB":
		v *= 1024
	case "TiB":
		v *= 1024 * 1024
	}
	return v
}

// A pipeline without state.memory_limit gets the runner's cap, not DuckDB's 80% of RAM (issue #15); an
// explicit limit is used as given.
func TestDefaultMemoryLimit(t *testing.T) {
	def := memoryLimitMiB(t, "")
	if def > DefaultMemoryCap>>20 || def < 64 {
		t.Errorf("default memory_limit %.1f MiB, want 64..%d MiB", def, DefaultMemoryCap>>20)
	}
	if ram := physicalMemory(); ram >= 4*DefaultMemoryCap && def != DefaultMemoryCap>>20 {
		t.Errorf("default memory_limit %.1f MiB on %d MiB of RAM, want %d MiB", def, ram>>20, DefaultMemoryCap>>20)
	}
	if got := memoryLimitMiB(t, "2GiB"); got != 2048 {
		t.Errorf("memory_limit 2GiB: DuckDB reports %.1f MiB", got)
	}
}
