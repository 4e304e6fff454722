//go:build mpi

package integration_test

// Data-parallel training over MPI: the tests launch this test binary under
// mpirun (2 ranks, loopback TCP), where TestMPIWorker trains a small model
// with GCT-compressed gradient exchange. Needs OpenMPI (Debian: openmpi-bin,
// libopenmpi-dev) and cgo:
//
//	go test -tags mpi ./integration_test/ -run MPI

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/ggprior/ggprior/backends"
	"github.com/ggprior/ggprior/optimizers"
	"github.com/ggprior/ggprior/optimizers/dataparallel"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/layers"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train/loss"
	"github.com/gomlx/gomlx/ml/train/optimizer"
	"github.com/stretchr/testify/require"
)

const (
	// mpiWorkerEnv selects the worker's behaviour under mpirun: "train" (all
	// ranks train and print weights_hash), "die" (rank 1 exits with code 3
	// before step mpiFailStep), "kill" (rank 1 sends itself SIGKILL there),
	// "hang" (rank 1 stops calling Step there).
	mpiWorkerEnv = "GGPRIOR_MPI_WORKER"
	// mpiTimeoutEnv is the communicator's per-call timeout, in seconds.
	mpiTimeoutEnv = "GGPRIOR_MPI_TIMEOUT"
	mpiSteps      = 8
	mpiFailStep   = 3
	mpiShard      = 16
)

// runMPI launches this test binary under mpirun with np ranks running
// TestMPIWorker in the given mode; it returns the combined output, the
// wall time and mpirun's error (nil when every rank exited 0).
func runMPI(t *testing.T, np int, mode string, commTimeout, limit time.Duration) (string, time.Duration, error) {
	t.Helper()
	mpirun, err := exec.LookPath("mpirun")
	if err != nil {
		t.Skip("mpirun not found: install OpenMPI (Debian: openmpi-bin libopenmpi-dev)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	args := []string{
		"--allow-run-as-root", "--oversubscribe", "-np", strconv.Itoa(np),
		"--mca", "btl", "self,tcp", "--mca", "btl_tcp_if_include", "lo", "--mca", "oob_tcp_if_include", "lo",
		"-x", mpiWorkerEnv + "=" + mode,
		"-x", fmt.Sprintf("%s=%g", mpiTimeoutEnv, commTimeout.Seconds()),
		os.Args[0], "-test.run", "^TestMPIWorker$", "-test.count", "1",
	}
	cmd := exec.CommandContext(ctx, mpirun, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) } // mpirun and its ranks.
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	err = cmd.Run()
	elapsed := time.Since(start)
	if ctx.Err() != nil {
		t.Fatalf("mpirun did not end within %s (killed); output:\n%s", limit, out.String())
	}
	return out.String(), elapsed, err
}

var hashLine = regexp.MustCompile(`rank=(\d+) weights_hash=([0-9a-f]{64})`)

// TestMPITraining: 2 MPI ranks train with GCT (2 bits) and end with the same weights.
func TestMPITraining(t *testing.T) {
	out, elapsed, err := runMPI(t, 2, "train", 60*time.Second, 3*time.Minute)
	require.NoError(t, err, "output:\n%s", out)
	matches := hashLine.FindAllStringSubmatch(out, -1)
	require.Len(t, matches, 2, "output:\n%s", out)
	require.NotEqual(t, matches[0][1], matches[1][1], "one line per rank")
	require.Equal(t, matches[0][2], matches[1][2], "every rank must hold the same weights; output:\n%s", out)
	t.Logf("%s: both ranks weights_hash=%s", elapsed, matches[0][2])
}

// TestMPIRankDies: rank 1 dies mid-run (exits with code 3, or is killed
// with SIGKILL); the job, rank 0 included, ends within the bound with a
// clear message, and no rank reports a result.
func TestMPIRankDies(t *testing.T) {
	const bound = 60 * time.Second
	for _, tc := range []struct{ mode, says, mpirunSays string }{
		{"die", "rank 1: exiting on purpose", "Exit code:    3"},
		{"kill", "rank 1: killing itself on purpose", "signal 9"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			out, elapsed, err := runMPI(t, 2, tc.mode, 20*time.Second, 2*time.Minute)
			require.Error(t, err, "mpirun must fail when a rank dies; output:\n%s", out)
			require.Less(t, elapsed, bound, "output:\n%s", out)
			require.Contains(t, out, tc.says)
			require.Contains(t, out, tc.mpirunSays, "mpirun names the failed rank's exit")
			require.NotRegexp(t, hashLine, out)
			t.Logf("ended after %s; output:\n%s", elapsed, out)
		})
	}
}

// TestMPIRankHangs: rank 1 stops calling Step (alive, but silent); rank 0's
// collective times out, it says so and aborts the job, within the bound.
func TestMPIRankHangs(t *testing.T) {
	const commTimeout, bound = 3 * time.Second, 60 * time.Second
	out, elapsed, err := runMPI(t, 2, "hang", commTimeout, 2*time.Minute)
	require.Error(t, err, "output:\n%s", out)
	require.Less(t, elapsed, bound, "output:\n%s", out)
	require.Contains(t, out, "rank 1: hanging on purpose")
	require.Contains(t, out, "collective timed out: rank 0 of 2 waited 3s")
	require.Contains(t, out, "dataparallel: rank 0: aborting the MPI job")
	require.NotRegexp(t, hashLine, out)
	t.Logf("ended after %s; output:\n%s", elapsed, out)
}

// TestMPIWorker is one rank of the job that the tests above launch; run by
// itself (outside mpirun) it skips.
func TestMPIWorker(t *testing.T) {
	mode := os.Getenv(mpiWorkerEnv)
	if mode == "" {
		t.Skip("a rank of the MPI tests: run under mpirun by TestMPITraining and friends")
	}
	timeout, err := strconv.ParseFloat(os.Getenv(mpiTimeoutEnv), 64)
	require.NoError(t, err)
	comm, err := dataparallel.NewMPI(time.Duration(timeout * float64(time.Second)))
	require.NoError(t, err)
	rank, size := comm.Rank(), comm.Size()
	fail := func(err error) {
		fmt.Fprintf(os.Stderr, "rank %d: %v\n", rank, err)
		_ = comm.Close() // Aborts the job: a collective failed.
		t.Fatal(err)
	}

	store := model.NewStore()
	store.SetParam(model.ParamInitialSeed, int64(rank+1)) // Different: rank 0's weights are broadcast.
	opt := optimizers.GCT(optimizer.Adam().LearningRate(0.01).Done()).BitsPerElement(2).Done()
	modelFn := func(scope *model.Scope, x *Node) *Node {
		h := Tanh(layers.Dense(scope.In("hidden"), x, true, 32))
		return layers.Dense(scope.In("out"), h, true, 1)
	}
	tr, err := dataparallel.NewTrainer(backends.Go(), store, modelFn, loss.MeanSquaredError, opt, comm).VerifyEvery(4).Done()
	require.NoError(t, err)

	rng := rand.New(rand.NewPCG(uint64(rank), 5)) // Each rank its own shard.
	for step := 1; step <= mpiSteps; step++ {
		if step == mpiFailStep && rank == 1 {
			switch mode {
			case "die":
				fmt.Println("rank 1: exiting on purpose")
				os.Exit(3)
			case "kill":
				fmt.Println("rank 1: killing itself on purpose")
				_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
				time.Sleep(time.Hour)
			case "hang":
				fmt.Println("rank 1: hanging on purpose")
				time.Sleep(time.Hour)
			}
		}
		xs := make([][]float32, mpiShard)
		ys := make([][]float32, mpiShard)
		for i := range xs {
			xs[i] = []float32{float32(rng.NormFloat64()), float32(rng.NormFloat64()), float32(rng.NormFloat64())}
			ys[i] = []float32{xs[i][0]*xs[i][1] - 0.5*xs[i][2]}
		}
		x, y := tensors.FromValue(xs), tensors.FromValue(ys)
		stats, err := tr.Step([]*tensors.Tensor{x}, []*tensors.Tensor{y})
		x.MustFinalizeAll()
		y.MustFinalizeAll()
		if err != nil {
			fail(err)
		}
		if rank == 0 {
			fmt.Printf("rank 0 of %d: %s\n", size, stats)
		}
	}
	fmt.Printf("rank=%d weights_hash=%s\n", rank, dataparallel.WeightsHash(store))
	require.NoError(t, comm.Close())
}
