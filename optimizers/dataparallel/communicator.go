package dataparallel

import (
	"errors"
	"time"
)

// DefaultTimeout is the per-call timeout of a communicator created with a
// timeout <= 0: how long AllGather waits for the slowest rank before it gives
// up. It must exceed the longest step time (compute plus the first step's
// graph compilation) of any rank.
const DefaultTimeout = 60 * time.Second

// Errors the communicators and the Trainer return (wrapped, with the rank, the
// call and the peers involved). Test for them with errors.Is.
var (
	// ErrTimeout means a collective did not complete within the communicator's
	// timeout: a peer rank died, hung, or is much slower than the timeout allows.
	ErrTimeout = errors.New("dataparallel: collective timed out")

	// ErrClosed means the communicator, or a peer's, was closed: no further
	// collective can complete.
	ErrClosed = errors.New("dataparallel: communicator closed")

	// ErrCorrupt means a payload received from a peer failed its checks (a
	// CRC-32C mismatch, a malformed header, a size that disagrees with the
	// model): it was not applied.
	ErrCorrupt = errors.New("dataparallel: corrupted payload")

	// ErrMismatch means the ranks disagree: on the step number, on the model's
	// variables, or, when verification is on, on the weights.
	ErrMismatch = errors.New("dataparallel: ranks disagree")
)

// Communicator connects the W workers ("ranks") of a data-parallel job.
//
// All ranks must call the collectives in the same order (a collective is
// matched by its position in each rank's sequence of calls). One rank's
// methods are not safe for concurrent use: call them from one goroutine at a
// time, as MPI requires.
//
// Implementations: NewInProcess (W ranks in one process, for tests and for
// simulating W workers on one machine) and NewMPI (one rank per process,
// OpenMPI, with the "mpi" build tag).
type Communicator interface {
	// Rank is this worker's index, in [0, Size()).
	Rank() int

	// Size is the number of workers W.
	Size() int

	// AllGather sends payload (of any length, possibly empty) to every rank and
	// returns every rank's payload, in rank order (the result at index Rank() is
	// this rank's own payload). The returned slices are read-only and valid until
	// the next call.
	//
	// It never hangs: if not every rank joins the call within the
	// communicator's timeout, it returns an error wrapping ErrTimeout that names
	// the rank, the call and the timeout (and, where known, the missing ranks).
	// After an error the communicator is unusable: later calls fail at once.
	AllGather(payload []byte) ([][]byte, error)

	// Close releases the communicator. Peers blocked in, or later calling, a
	// collective get an error wrapping ErrClosed (in-process) or are ended by
	// the MPI runtime; Close of a communicator whose collective failed aborts
	// the MPI job rather than hang in its shutdown.
	Close() error
}

// Traffic counts what a communicator moved, for byte accounting. Bytes are
// the logical payload bytes of the collectives: BytesSent is what this rank
// contributed (each contribution reaches every other rank), BytesReceived the
// sum of the other ranks' contributions. How many times a byte crosses a link
// depends on the transport's all-gather algorithm (a ring sends each
// contribution over W-1 links); see the package documentation.
type Traffic struct {
	// Calls is the number of completed collectives.
	Calls int64

	// BytesSent is the sum of this rank's payload sizes, plus, for MPI, the
	// 8-byte size announcement of each call.
	BytesSent int64

	// BytesReceived is the sum of the other ranks' payload sizes (plus their
	// 8-byte size announcements for MPI).
	BytesReceived int64
}

// TrafficCounter is implemented by communicators that count their traffic
// (both of this package's communicators do).
type TrafficCounter interface {
	Traffic() Traffic
}

func effectiveTimeout(timeout time.Duration) time.Duration {
	if timeout <= 0 {
		return DefaultTimeout
	}
	return timeout
}
