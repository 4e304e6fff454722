package main

import (
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/ggprior/ggprior/internal/charlm"
)

// defaultWatchdog is long enough for the first step's graph compilation and for
// an evaluation on a slow machine.
const defaultWatchdog = 10 * time.Minute

// startWatchdog aborts the process with a clear message if neither a training
// step nor a validation batch completes for `limit` (the Go backend's worker
// pool can deadlock silently). It returns a function that stops it.
func startWatchdog(exp *charlm.Experiment, limit time.Duration) (stop func()) {
	var last atomic.Int64
	last.Store(time.Now().UnixNano())
	previous := exp.Heartbeat
	exp.Heartbeat = func() {
		last.Store(time.Now().UnixNano())
		if previous != nil {
			previous()
		}
	}
	done := make(chan struct{})
	go func() {
		ticker := time.NewTicker(min(limit/10, 10*time.Second))
		defer ticker.Stop()
		for {
			select {
			case <-done:
				return
			case <-ticker.C:
				if idle := time.Since(time.Unix(0, last.Load())); idle > limit {
					fmt.Fprintf(os.Stderr, "\ncharlm: watchdog: no training step or validation batch completed for %s (step %d): "+
						"the backend looks stuck (the Go backend's worker pool can deadlock); aborting. "+
						"Raise -watchdog if steps are really this slow.\n", idle.Round(time.Second), exp.GlobalStep())
					os.Exit(3)
				}
			}
		}
	}()
	return func() { close(done) }
}
