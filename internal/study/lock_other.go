//go:build !unix

package study

// runLocks reports whether runs are locked (see Runner.Run) on this system.
const runLocks = false

// runLock does nothing where flock is not available: runs are not guarded
// against a second process training the same run.
type runLock struct{}

func lockRun(string, bool, func()) (*runLock, error) { return &runLock{}, nil }

func (*runLock) unlock() {}
