package engine

import (
	"context"
	"errors"
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

// currentLimit is the database's memory_limit as DuckDB reports it.
func currentLimit(t *testing.T, d *DB) string {
	t.Helper()
	var s string
	if err := d.QueryRow(context.Background(), "SELECT current_setting('memory_limit')").Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// WithBurstMemory raises the default limit to DefaultBurstLimit while fn runs (never below the default, at
// most DefaultBurstCap) and puts it back after, also when fn fails; a limit the pipeline set is never raised.
func TestWithBurstMemory(t *testing.T) {
	ctx := context.Background()
	for _, set := range []string{"", "200MiB"} {
		d, err := Open(ctx, Options{TempDir: t.TempDir(), MemoryLimit: set})
		if err != nil {
			t.Fatal(err)
		}
		before := currentLimit(t, d)
		var during string
		fnErr := errors.New("fn failed")
		err = d.WithBurstMemory(ctx, func() error {
			during = currentLimit(t, d)
			return fnErr
		})
		if !errors.Is(err, fnErr) {
			t.Errorf("limit %q: WithBurstMemory = %v, want fn's error", set, err)
		}
		if after := currentLimit(t, d); after != before {
			t.Errorf("limit %q: memory_limit %s after the burst, want %s as before", set, after, before)
		}
		want := before
		if set == "" {
			r, err := Open(ctx, Options{TempDir: t.TempDir(), MemoryLimit: DefaultBurstLimit()})
			if err != nil {
				t.Fatal(err)
			}
			want = currentLimit(t, r)
			r.Close()
			if ram := physicalMemory(); ram >= 3*DefaultBurstCap && want == before {
				t.Errorf("burst limit %s on %d MiB of RAM: no more than the default limit", want, ram>>20)
			}
		}
		if during != want {
			t.Errorf("limit %q: memory_limit %s during the burst, want %s", set, during, want)
		}
		d.Close()
	}
	if got := memoryLimitMiB(t, DefaultBurstLimit()); got > DefaultBurstCap>>20 || got < memoryLimitMiB(t, "") {
		t.Errorf("DefaultBurstLimit %.1f MiB, want between the default limit and %d MiB", got, DefaultBurstCap>>20)
	}
}

// StartBurst raises the default limit until end, and end puts the limit back also when the span's context
// is done by then (a step of the span cancelled), so that a caller keeping the database runs under the cap.
func TestStartBurstEndsWhenCancelled(t *testing.T) {
	d, err := Open(context.Background(), Options{TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	before := currentLimit(t, d)
	ctx, cancel := context.WithCancel(context.Background())
	end, err := d.StartBurst(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if during := currentLimit(t, d); during == before && physicalMemory() >= 3*DefaultBurstCap {
		t.Errorf("memory_limit %s during the burst, want it raised", during)
	}
	cancel()
	if err := end(ctx); err != nil {
		t.Errorf("end after the context was cancelled: %v", err)
	}
	if after := currentLimit(t, d); after != before {
		t.Errorf("memory_limit %s after the burst ended with a cancelled context, want %s", after, before)
	}
}

// The default and burst limits for the memory a process may use (physicalMemory: the RAM, or a container's
// limit when lower): a quarter of it and a third, capped at DefaultMemoryCap and DefaultBurstCap, the
// default at least 64 MiB and the burst never below the default; the caps when it is unknown.
func TestLimitsByMemory(t *testing.T) {
	const mi = 1 << 20
	for _, tc := range []struct {
		ram            int64
		limit, burstAt int64 // MiB
	}{
		{0, 256, 768},        // unknown
		{24 << 30, 256, 768}, // this project's machines
		{2 << 30, 256, 682},  // a 2 GiB container: the burst is a third
		{1 << 30, 256, 341},  // 1 GiB: the cap is exactly a quarter
		{512 * mi, 128, 170}, // a quarter, a third
		{128 * mi, 64, 64},   // the default's floor, and the burst not below it
	} {
		if got := defaultLimit(tc.ram) / mi; got != tc.limit {
			t.Errorf("default limit for %d MiB: %d MiB, want %d", tc.ram/mi, got, tc.limit)
		}
		if got := burstLimit(tc.ram) / mi; got != tc.burstAt {
			t.Errorf("burst limit for %d MiB: %d MiB, want %d", tc.ram/mi, got, tc.burstAt)
		}
	}
}
