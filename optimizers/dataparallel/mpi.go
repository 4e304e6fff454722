//go:build mpi && cgo

package dataparallel

/*
#cgo pkg-config: ompi
#include <stdlib.h>
#include <mpi.h>

// MPI's handles are macros that cgo can't use: wrap what we need.

static int ggdp_init(int *provided) {
	int rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_MULTIPLE, provided);
	if (rc != MPI_SUCCESS) return rc;
	// Errors are returned to us, instead of aborting the job inside MPI.
	return MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
}

static int ggdp_rank_size(int *rank, int *size) {
	int rc = MPI_Comm_rank(MPI_COMM_WORLD, rank);
	if (rc != MPI_SUCCESS) return rc;
	return MPI_Comm_size(MPI_COMM_WORLD, size);
}

static int ggdp_allgather_sizes(long long mine, long long *all) {
	return MPI_Allgather(&mine, 1, MPI_LONG_LONG, all, 1, MPI_LONG_LONG, MPI_COMM_WORLD);
}

static int ggdp_allgatherv(void *send, int n, void *recv, int *counts, int *displs) {
	return MPI_Allgatherv(send, n, MPI_BYTE, recv, counts, displs, MPI_BYTE, MPI_COMM_WORLD);
}

static void ggdp_abort(int code) { MPI_Abort(MPI_COMM_WORLD, code); }

static int ggdp_finalize(void) { return MPI_Finalize(); }

static void ggdp_error_string(int code, char *buf, int size) {
	int n = 0;
	if (MPI_Error_string(code, buf, &n) != MPI_SUCCESS) n = 0;
	buf[n < size ? n : size - 1] = 0;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"sync"
	"time"
	"unsafe"
)

// MPIAvailable reports whether this binary was built with MPI support (the
// "mpi" build tag).
const MPIAvailable = true

// mpiAbortGrace is how long, after a collective timed out, the watchdog
// waits for the program to call Close (which aborts at once) before it aborts
// the MPI job itself; mpiExitGrace how long it then waits for MPI_Abort to
// end the process before exiting.
const (
	mpiAbortGrace = 5 * time.Second
	mpiExitGrace  = 10 * time.Second
	mpiAbortCode  = 17
)

// mpiState guards MPI's one initialization per process.
var mpiState struct {
	mu     sync.Mutex
	inited bool
}

// mpiComm is the Communicator over MPI_COMM_WORLD. Every MPI call runs on one
// goroutine locked to the OS thread that initialized MPI; the caller's
// goroutine waits for it with a timeout (the watchdog).
type mpiComm struct {
	rank, size int
	timeout    time.Duration
	calls      chan func() // Work for the MPI thread.
	seq        uint64
	traffic    Traffic

	mu       sync.Mutex
	broken   error // Set when a collective failed or timed out.
	closed   bool
	aborting bool
}

// NewMPI initializes MPI (MPI_Init_thread; once per process) and returns the
// communicator over all the job's processes (MPI_COMM_WORLD): run the program
// with mpirun, one process per worker. timeout (<= 0: DefaultTimeout) bounds
// every collective: when a peer dies or hangs, AllGather returns an error
// wrapping ErrTimeout, and, MPI having no way to cancel the stuck collective,
// the communicator aborts the whole job (MPI_Abort, after a clear message on
// standard error) when Close is called, or by itself 5 s later. When a peer
// process exits, mpirun usually ends the job first: see the package
// documentation.
func NewMPI(timeout time.Duration) (Communicator, error) {
	mpiState.mu.Lock()
	defer mpiState.mu.Unlock()
	if mpiState.inited {
		return nil, errors.New("dataparallel.NewMPI: MPI is already initialized in this process (one communicator per process)")
	}
	c := &mpiComm{timeout: effectiveTimeout(timeout), calls: make(chan func())}
	initErr := make(chan error, 1)
	go c.mpiThread(initErr)
	if err := <-initErr; err != nil {
		return nil, err
	}
	mpiState.inited = true
	return c, nil
}

// mpiThread initializes MPI and runs every MPI call on one locked OS thread.
func (c *mpiComm) mpiThread(initErr chan<- error) {
	runtime.LockOSThread() // Never unlocked: the thread belongs to MPI.
	var provided C.int
	if rc := C.ggdp_init(&provided); rc != C.MPI_SUCCESS {
		initErr <- fmt.Errorf("dataparallel.NewMPI: MPI_Init_thread: %s", mpiError(rc))
		return
	}
	var rank, size C.int
	if rc := C.ggdp_rank_size(&rank, &size); rc != C.MPI_SUCCESS {
		initErr <- fmt.Errorf("dataparallel.NewMPI: MPI_Comm_rank/size: %s", mpiError(rc))
		return
	}
	c.rank, c.size = int(rank), int(size)
	initErr <- nil
	for fn := range c.calls {
		fn()
	}
}

func mpiError(rc C.int) string {
	buf := (*C.char)(C.malloc(C.MPI_MAX_ERROR_STRING + 1))
	defer C.free(unsafe.Pointer(buf))
	C.ggdp_error_string(rc, buf, C.MPI_MAX_ERROR_STRING+1)
	return fmt.Sprintf("%s (code %d)", C.GoString(buf), int(rc))
}

// Rank implements Communicator.
func (c *mpiComm) Rank() int { return c.rank }

// Size implements Communicator.
func (c *mpiComm) Size() int { return c.size }

// Traffic implements TrafficCounter.
func (c *mpiComm) Traffic() Traffic { return c.traffic }

// run executes fn on the MPI thread and waits for it at most the timeout. On
// timeout it marks the communicator broken and starts the abort watchdog.
func (c *mpiComm) run(what string, fn func()) error {
	done := make(chan struct{})
	c.calls <- func() { fn(); close(done) }
	timer := time.NewTimer(c.timeout)
	defer timer.Stop()
	select {
	case <-done:
		return nil
	case <-timer.C:
	}
	err := fmt.Errorf("%w: rank %d of %d waited %s in %s #%d: a peer rank died or hung (MPI can't cancel the call; "+
		"the job will be aborted)", ErrTimeout, c.rank, c.size, c.timeout, what, c.seq)
	c.mu.Lock()
	if c.broken == nil {
		c.broken = err
	}
	c.mu.Unlock()
	go func() {
		time.Sleep(mpiAbortGrace)
		c.abort(err)
	}()
	return err
}

// abort ends the whole MPI job with a message naming the cause (once).
func (c *mpiComm) abort(cause error) {
	c.mu.Lock()
	if c.aborting {
		c.mu.Unlock()
		return
	}
	c.aborting = true
	c.mu.Unlock()
	fmt.Fprintf(os.Stderr, "dataparallel: rank %d: aborting the MPI job: %v\n", c.rank, cause)
	go func() {
		time.Sleep(mpiExitGrace)
		fmt.Fprintf(os.Stderr, "dataparallel: rank %d: MPI_Abort did not end the process; exiting\n", c.rank)
		os.Exit(mpiAbortCode)
	}()
	C.ggdp_abort(mpiAbortCode) // From this thread: the MPI thread is stuck in the collective.
}

// AllGather implements Communicator: MPI_Allgather of the payload sizes, then
// MPI_Allgatherv of the bytes. Payloads are limited to 2 GiB - 1 (MPI's int counts).
func (c *mpiComm) AllGather(payload []byte) ([][]byte, error) {
	c.mu.Lock()
	broken, closed := c.broken, c.closed
	c.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("%w: rank %d called AllGather after Close", ErrClosed, c.rank)
	}
	if broken != nil {
		return nil, fmt.Errorf("dataparallel: rank %d: communicator unusable after an earlier error: %w", c.rank, broken)
	}
	if len(payload) > math.MaxInt32 {
		return nil, fmt.Errorf("dataparallel: rank %d: payload of %d bytes, MPI counts are limited to %d", c.rank, len(payload), math.MaxInt32)
	}
	sizes := make([]C.longlong, c.size)
	var rc C.int
	if err := c.run("AllGather (sizes)", func() {
		rc = C.ggdp_allgather_sizes(C.longlong(len(payload)), &sizes[0])
	}); err != nil {
		return nil, err
	}
	if rc != C.MPI_SUCCESS {
		return nil, c.fail(fmt.Errorf("dataparallel: rank %d: MPI_Allgather #%d: %s", c.rank, c.seq, mpiError(rc)))
	}
	counts := make([]C.int, c.size)
	displs := make([]C.int, c.size)
	total := 0
	for r, s := range sizes {
		if s < 0 || s > math.MaxInt32 || total+int(s) > math.MaxInt32 {
			return nil, c.fail(fmt.Errorf("dataparallel: rank %d: rank %d announced a payload of %d bytes (total %d): too large for MPI counts",
				c.rank, r, int64(s), total))
		}
		counts[r], displs[r] = C.int(s), C.int(total)
		total += int(s)
	}
	recv := make([]byte, total+1) // +1: never a nil pointer.
	send := unsafe.Pointer(&dummyByte[0])
	if len(payload) > 0 {
		send = unsafe.Pointer(&payload[0])
	}
	if err := c.run("AllGather (bytes)", func() {
		rc = C.ggdp_allgatherv(send, C.int(len(payload)), unsafe.Pointer(&recv[0]), &counts[0], &displs[0])
	}); err != nil {
		return nil, err
	}
	if rc != C.MPI_SUCCESS {
		return nil, c.fail(fmt.Errorf("dataparallel: rank %d: MPI_Allgatherv #%d: %s", c.rank, c.seq, mpiError(rc)))
	}
	out := make([][]byte, c.size)
	for r := range out {
		out[r] = recv[displs[r] : displs[r]+counts[r] : displs[r]+counts[r]]
		if r == c.rank {
			c.traffic.BytesSent += int64(counts[r]) + 8
		} else {
			c.traffic.BytesReceived += int64(counts[r]) + 8
		}
	}
	c.traffic.Calls++
	c.seq++
	return out, nil
}

// dummyByte is the send buffer of an empty payload (MPI wants a valid pointer).
var dummyByte [1]byte

// fail marks the communicator broken with err and returns it.
func (c *mpiComm) fail(err error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.broken == nil {
		c.broken = err
	}
	return err
}

// Close implements Communicator: MPI_Finalize, bounded by the timeout. If a
// collective failed (a peer died or hung), it aborts the MPI job instead,
// after printing the cause on standard error: a shutdown would hang.
func (c *mpiComm) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	broken := c.broken
	c.mu.Unlock()
	if broken != nil {
		c.abort(broken)
		return broken // Not reached: MPI_Abort ends the process.
	}
	var rc C.int
	if err := c.run("MPI_Finalize", func() { rc = C.ggdp_finalize() }); err != nil {
		c.abort(err)
		return err
	}
	close(c.calls)
	if rc != C.MPI_SUCCESS {
		return fmt.Errorf("dataparallel: rank %d: MPI_Finalize: %s", c.rank, mpiError(rc))
	}
	return nil
}
