//go:build linux

package engine

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// physicalMemory is the memory the process may use, in bytes: the machine's RAM, or its control group's
// memory limit when that is lower (a container's: Kubernetes' resources.limits.memory, docker --memory),
// which sysinfo does not see; 0 when neither can be read. The default and burst limits are fractions of
// it, so that a pipeline without state.memory_limit in a 1 GiB container gets 256 MiB and a 341 MiB burst,
// not the fractions of the host's RAM that would get it killed.
func physicalMemory() int64 {
	var ram int64
	var si syscall.Sysinfo_t
	if err := syscall.Sysinfo(&si); err == nil {
		ram = int64(si.Totalram) * int64(si.Unit)
	}
	return lowerLimit(ram, cgroupLimit("/sys/fs/cgroup"))
}

// lowerLimit is the lower of ram and limit, ignoring either when it is 0 (unknown).
func lowerLimit(ram, limit int64) int64 {
	switch {
	case limit <= 0:
		return ram
	case ram <= 0:
		return limit
	}
	return min(ram, limit)
}

// cgroupLimit is the memory limit of the process's control group under root (the cgroup file system's
// mount, /sys/fs/cgroup), in bytes: cgroup v2's memory.max, else cgroup v1's memory/memory.limit_in_bytes.
// It is 0 when there is none: no such file, "max" (v2's no limit), or v1's "no limit" (a value near
// 2^63), or a value that does not parse. The files read are those of the namespace's root, which a
// container sees as its own group.
func cgroupLimit(root string) int64 {
	for _, f := range []string{"memory.max", filepath.Join("memory", "memory.limit_in_bytes")} {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			continue
		}
		v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil || v <= 0 || v >= 1<<62 {
			return 0
		}
		return v
	}
	return 0
}
