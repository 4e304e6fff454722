package dataparallel

import (
	"bytes"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestInProcessAllGather: variable-length payloads (empty included) reach
// every rank in rank order, over many calls, and the traffic counts them.
func TestInProcessAllGather(t *testing.T) {
	const w, calls = 3, 50
	comms, err := NewInProcess(w, 10*time.Second)
	require.NoError(t, err)
	payload := func(rank, call int) []byte {
		return bytes.Repeat([]byte{byte(rank*31 + call)}, (rank*7+call)%5*rank) // Rank 0 always sends nothing.
	}
	var wg sync.WaitGroup
	errs := make([]error, w)
	for r, c := range comms {
		wg.Go(func() {
			buf := make([]byte, 0, 64)
			for call := range calls {
				buf = append(buf[:0], payload(r, call)...)
				all, err := c.AllGather(buf)
				if err != nil {
					errs[r] = err
					return
				}
				clear(buf) // The caller may reuse its buffer at once.
				if len(all) != w {
					errs[r] = fmt.Errorf("rank %d call %d: %d payloads", r, call, len(all))
					return
				}
				for from, p := range all {
					if !bytes.Equal(p, payload(from, call)) {
						errs[r] = fmt.Errorf("rank %d call %d: payload from %d is %v, want %v", r, call, from, p, payload(from, call))
						return
					}
				}
			}
		})
	}
	wg.Wait()
	for r, err := range errs {
		require.NoError(t, err, "rank %d", r)
	}
	for r, c := range comms {
		var sent, received int64
		for call := range calls {
			for from := range w {
				if from == r {
					sent += int64(len(payload(from, call)))
				} else {
					received += int64(len(payload(from, call)))
				}
			}
		}
		require.Equal(t, Traffic{Calls: calls, BytesSent: sent, BytesReceived: received}, c.Traffic())
		require.NoError(t, c.Close())
		require.NoError(t, c.Close()) // Twice is fine.
	}
	require.Empty(t, comms[0].hub.rounds, "completed rounds are freed")
}

// TestInProcessTimeout: a rank that never joins makes the others fail with
// ErrTimeout after the timeout, naming it; the group stays failed.
func TestInProcessTimeout(t *testing.T) {
	const timeout = 200 * time.Millisecond
	comms, err := NewInProcess(3, timeout)
	require.NoError(t, err)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	start := time.Now()
	for r := range 2 {
		wg.Go(func() { _, errs[r] = comms[r].AllGather([]byte{1}) })
	}
	wg.Wait()
	elapsed := time.Since(start)
	for r, err := range errs {
		require.ErrorIs(t, err, ErrTimeout, "rank %d", r)
	}
	require.Contains(t, errs[0].Error()+errs[1].Error(), "rank(s) [2]")
	require.GreaterOrEqual(t, elapsed, timeout)
	require.Less(t, elapsed, timeout+2*time.Second)
	// The late rank, and everyone after, fail at once.
	start = time.Now()
	_, err = comms[2].AllGather(nil)
	require.ErrorIs(t, err, ErrTimeout)
	require.Less(t, time.Since(start), timeout)
}

// TestInProcessClose: closing a rank makes the pending and later collectives
// of the others fail at once with ErrClosed; its own later calls fail too.
func TestInProcessClose(t *testing.T) {
	comms, err := NewInProcess(2, time.Minute)
	require.NoError(t, err)
	done := make(chan error)
	go func() {
		_, err := comms[0].AllGather([]byte("x"))
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	require.NoError(t, comms[1].Close())
	err = <-done
	require.ErrorIs(t, err, ErrClosed)
	require.Contains(t, err.Error(), "rank 1 closed")
	require.Less(t, time.Since(start), time.Second)
	_, err = comms[1].AllGather(nil)
	require.ErrorIs(t, err, ErrClosed)
	_, err = comms[0].AllGather(nil)
	require.ErrorIs(t, err, ErrClosed)

	_, err = NewInProcess(0, time.Second)
	require.Error(t, err)
}

// TestInProcessCloseAfterLastCall: a rank closing right after the last
// collective does not spoil that collective for a slower peer.
func TestInProcessCloseAfterLastCall(t *testing.T) {
	for range 20 {
		comms, err := NewInProcess(2, time.Minute)
		require.NoError(t, err)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for r, c := range comms {
			wg.Go(func() {
				_, errs[r] = c.AllGather([]byte{byte(r)})
				if r == 0 {
					_ = c.Close()
				}
			})
		}
		wg.Wait()
		require.NoError(t, errs[0])
		require.NoError(t, errs[1])
	}
}
