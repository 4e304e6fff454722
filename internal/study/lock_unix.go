//go:build unix

package study

import (
	"fmt"
	"os"
	"syscall"
)

// runLocks reports whether runs are locked (see Runner.Run) on this system.
const runLocks = true

// runLock is an exclusive advisory lock (flock) on a lock file, held by one
// process at a time.
type runLock struct {
	f    *os.File
	path string
}

// lockRun takes the exclusive lock on the file path (creating it). If
// another process holds it, lockRun calls busy (if not nil) and waits for
// it, or, with wait false, returns ErrRunBusy. The file is removed on
// unlock; a process that locked a file removed meanwhile locks the new one
// instead.
func lockRun(path string, wait bool, busy func()) (*runLock, error) {
	for {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == syscall.EWOULDBLOCK && !wait {
			_ = f.Close()
			return nil, ErrRunBusy
		}
		if err == syscall.EWOULDBLOCK {
			if busy != nil {
				busy()
				busy = nil
			}
			err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		}
		if err != nil {
			_ = f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		// The holder before us may have removed the file once done: then
		// the lock is on a file nobody else will open; start over.
		held, err1 := f.Stat()
		now, err2 := os.Stat(path)
		if err1 == nil && err2 == nil && os.SameFile(held, now) {
			return &runLock{f: f, path: path}, nil
		}
		_ = f.Close()
	}
}

// unlock removes the lock file and releases the lock.
func (l *runLock) unlock() {
	_ = os.Remove(l.path)
	_ = l.f.Close()
}
