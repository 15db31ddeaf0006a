//go:build linux

package engine

import (
	"os"
	"path/filepath"
	"testing"
)

// TestCgroupLimit: a container's memory limit is read from cgroup v2's memory.max or v1's
// memory.limit_in_bytes; "max", v1's no-limit value, a missing or unreadable file give none (0).
func TestCgroupLimit(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  int64
	}{
		{"v2 limit", map[string]string{"memory.max": "1073741824\n"}, 1 << 30},
		{"v2 no limit", map[string]string{"memory.max": "max\n"}, 0},
		{"v1 limit", map[string]string{"memory/memory.limit_in_bytes": "536870912\n"}, 512 << 20},
		{"v1 no limit", map[string]string{"memory/memory.limit_in_bytes": "9223372036854771712\n"}, 0},
		{"v2 before v1", map[string]string{"memory.max": "2147483648", "memory/memory.limit_in_bytes": "536870912"}, 2 << 30},
		{"garbage", map[string]string{"memory.max": "lots"}, 0},
		{"none", nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			for name, body := range tc.files {
				p := filepath.Join(root, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if got := cgroupLimit(root); got != tc.want {
				t.Errorf("cgroupLimit = %d, want %d", got, tc.want)
			}
		})
	}
}

// TestLowerLimit: the memory the defaults are fractions of is the lower of the RAM and the container's
// limit, each ignored when unknown.
func TestLowerLimit(t *testing.T) {
	for _, tc := range []struct{ ram, limit, want int64 }{
		{24 << 30, 1 << 30, 1 << 30},
		{24 << 30, 0, 24 << 30},
		{1 << 30, 24 << 30, 1 << 30},
		{0, 1 << 30, 1 << 30},
		{0, 0, 0},
	} {
		if got := lowerLimit(tc.ram, tc.limit); got != tc.want {
			t.Errorf("lowerLimit(%d, %d) = %d, want %d", tc.ram, tc.limit, got, tc.want)
		}
	}
}
