package dataparallel

import (
	"fmt"
	"slices"
	"sync"
	"time"
)

// InProcess is one rank of a group of communicators that share memory, created
// by NewInProcess: W workers in one process, each driven by its own goroutine.
// AllGather copies the payload (as a transport would), so the caller may reuse
// its buffer as soon as the call returns.
type InProcess struct {
	hub     *hub
	rank    int
	seq     uint64 // Index of this rank's next collective.
	closed  bool
	traffic Traffic
}

var _ Communicator = (*InProcess)(nil)

// hub is the memory the ranks of one group share.
type hub struct {
	size    int
	timeout time.Duration

	mu     sync.Mutex
	rounds map[uint64]*round // Collectives in flight, by sequence number.
	failed error             // Set once (a timeout or a Close): every later call fails with it.
	failCh chan struct{}     // Closed when failed is set.
}

// round is one collective: the payloads gathered so far.
type round struct {
	payloads [][]byte
	arrived  []bool
	count    int           // Ranks arrived.
	taken    int           // Ranks that took the result.
	done     chan struct{} // Closed when all ranks arrived.
}

// NewInProcess returns the w communicators (ranks 0..w-1, in order) of one
// in-process group. Each must be driven by its own goroutine. A rank that
// does not join a collective within timeout (<= 0: DefaultTimeout) makes the
// others' AllGather fail with an error wrapping ErrTimeout that names it; a
// rank's Close makes the others' pending and later collectives fail at once
// with ErrClosed.
func NewInProcess(w int, timeout time.Duration) ([]*InProcess, error) {
	if w < 1 {
		return nil, fmt.Errorf("dataparallel.NewInProcess: %d workers, want at least 1", w)
	}
	h := &hub{
		size:    w,
		timeout: effectiveTimeout(timeout),
		rounds:  make(map[uint64]*round),
		failCh:  make(chan struct{}),
	}
	comms := make([]*InProcess, w)
	for r := range comms {
		comms[r] = &InProcess{hub: h, rank: r}
	}
	return comms, nil
}

// Rank implements Communicator.
func (c *InProcess) Rank() int { return c.rank }

// Size implements Communicator.
func (c *InProcess) Size() int { return c.hub.size }

// Timeout returns the per-call timeout.
func (c *InProcess) Timeout() time.Duration { return c.hub.timeout }

// Traffic implements TrafficCounter.
func (c *InProcess) Traffic() Traffic { return c.traffic }

// fail records the group's first failure and wakes every waiting rank. Call with mu held.
func (h *hub) fail(err error) {
	if h.failed == nil {
		h.failed = err
		close(h.failCh)
	}
}

// AllGather implements Communicator.
func (c *InProcess) AllGather(payload []byte) ([][]byte, error) {
	if c.closed {
		return nil, fmt.Errorf("%w: rank %d called AllGather after its own Close", ErrClosed, c.rank)
	}
	h := c.hub
	seq := c.seq
	h.mu.Lock()
	if h.failed != nil {
		err := h.failed
		h.mu.Unlock()
		return nil, fmt.Errorf("dataparallel: rank %d, AllGather #%d: %w", c.rank, seq, err)
	}
	r := h.rounds[seq]
	if r == nil {
		r = &round{payloads: make([][]byte, h.size), arrived: make([]bool, h.size), done: make(chan struct{})}
		h.rounds[seq] = r
	}
	r.payloads[c.rank] = slices.Clone(payload)
	if r.payloads[c.rank] == nil {
		r.payloads[c.rank] = []byte{}
	}
	r.arrived[c.rank] = true
	r.count++
	if r.count == h.size {
		close(r.done)
	}
	h.mu.Unlock()

	if err := c.wait(r, seq); err != nil {
		return nil, err
	}
	out := slices.Clone(r.payloads)
	h.mu.Lock()
	r.taken++
	if r.taken == h.size {
		delete(h.rounds, seq)
	}
	h.mu.Unlock()
	c.seq++
	c.traffic.Calls++
	for i, p := range out {
		if i == c.rank {
			c.traffic.BytesSent += int64(len(p))
		} else {
			c.traffic.BytesReceived += int64(len(p))
		}
	}
	return out, nil
}

// wait blocks until round r is complete, the group fails, or the timeout
// passes (which fails the group).
func (c *InProcess) wait(r *round, seq uint64) error {
	h := c.hub
	select {
	case <-r.done: // A complete round wins over a failure that came after it.
		return nil
	default:
	}
	timer := time.NewTimer(h.timeout)
	defer timer.Stop()
	select {
	case <-r.done:
		return nil
	case <-h.failCh:
		select {
		case <-r.done:
			return nil
		default:
		}
		h.mu.Lock()
		err := h.failed
		h.mu.Unlock()
		return fmt.Errorf("dataparallel: rank %d, AllGather #%d: %w", c.rank, seq, err)
	case <-timer.C:
		h.mu.Lock()
		defer h.mu.Unlock()
		select {
		case <-r.done:
			return nil
		default:
		}
		var missing []int
		for rank, ok := range r.arrived {
			if !ok {
				missing = append(missing, rank)
			}
		}
		err := fmt.Errorf("%w: rank %d waited %s in AllGather #%d for rank(s) %v, which never joined (dead or hung?)",
			ErrTimeout, c.rank, h.timeout, seq, missing)
		h.fail(err)
		return err
	}
}

// Close implements Communicator: the other ranks' pending and later
// collectives fail at once with an error wrapping ErrClosed. Closing twice is
// a no-op.
func (c *InProcess) Close() error {
	if c.closed {
		return nil
	}
	c.closed = true
	h := c.hub
	h.mu.Lock()
	h.fail(fmt.Errorf("%w: rank %d closed the communicator", ErrClosed, c.rank))
	h.mu.Unlock()
	return nil
}
