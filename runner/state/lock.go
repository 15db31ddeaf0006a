package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// Holder describes the process holding a pipeline's run lock.
type Holder struct {
	PID       int       `json:"pid"`
	Host      string    `json:"host"`
	RunID     string    `json:"run_id"`
	StartedAt time.Time `json:"started_at"`
}

// LockedError is returned when another process holds the run lock.
type LockedError struct {
	Pipeline string
	Holder   Holder // zero when the holder's details could not be read
}

func (e *LockedError) Error() string {
	h := e.Holder
	if h.PID == 0 {
		return fmt.Sprintf("pipeline %q is locked by another run (holder unknown)", e.Pipeline)
	}
	return fmt.Sprintf("pipeline %q is locked by another run: pid %d on host %s, run %s, started %s",
		e.Pipeline, h.PID, h.Host, h.RunID, h.StartedAt.UTC().Format(time.RFC3339))
}

// ErrLocked matches a *LockedError with errors.Is.
var ErrLocked = errors.New("pipeline locked")

// Is makes errors.Is(err, ErrLocked) true.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// FileLock is an exclusive, non-blocking lock on a file (flock(2)). The kernel drops it when the process
// dies, so a crashed run never leaves a stale lock behind. The holder's details are written into the file for
// the message the next contender shows.
type FileLock struct {
	f *os.File
}

// LockFile takes the lock at path for pipeline, or returns a *LockedError naming the holder.
func LockFile(path, pipeline string, h Holder) (*FileLock, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			le := &LockedError{Pipeline: pipeline}
			if b, rerr := os.ReadFile(path); rerr == nil {
				_ = json.Unmarshal(b, &le.Holder)
			}
			return nil, le
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	b, _ := json.Marshal(h)
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt(append(b, '\n'), 0)
		_ = f.Sync()
	}
	return &FileLock{f: f}, nil
}

// Unlock releases the lock. The file stays (removing it would race with a new contender).
func (l *FileLock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	_ = l.f.Truncate(0)
	err := syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	cerr := l.f.Close()
	l.f = nil
	return errors.Join(err, cerr)
}

// LockLostError is returned by a PgStore's writes (Commit, AddIntents, BeginRun, FinishRun, MarkExported)
// when this run no longer holds the pipeline: its lock session died (network partition, paused VM, the
// session terminated) or a newer run took the lock and bumped the fencing token. Nothing of the refused
// write is recorded. It matches ErrLocked, so the run exits 75 (retry later): changes it had sent are
// covered by the intents it recorded before sending, which the next run settles.
type LockLostError struct {
	Pipeline string
	// Fence is the token this run took; Current the token in the lock table (0 when unknown).
	Fence, Current int64
	// Reason says what was found.
	Reason string
	// Disconnected is set when the state database's connection itself was lost during the write, so the
	// fence could not be read: the write may or may not have reached the database before the connection
	// ended, and the next run (which settles this run's intents) finds out which.
	Disconnected bool
}

func (e *LockLostError) Error() string {
	if e.Disconnected {
		return fmt.Sprintf("pipeline %q: this run lost its connection to the state database (%s; fencing token %d): "+
			"the next run settles what this run sent", e.Pipeline, e.Reason, e.Fence)
	}
	return fmt.Sprintf("pipeline %q: this run lost its lock (%s; fencing token %d, current %d): nothing of this commit was recorded",
		e.Pipeline, e.Reason, e.Fence, e.Current)
}

// Is makes errors.Is(err, ErrLocked) true: a lost lock exits like a held one (75, retry later).
func (e *LockLostError) Is(target error) bool { return target == ErrLocked }
