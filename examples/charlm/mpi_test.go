package main

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ggprior/ggprior/internal/charlm"
	"github.com/ggprior/ggprior/optimizers/dataparallel"
	"github.com/stretchr/testify/require"
)

// TestMPIEnvironment: launched by mpirun (OpenMPI's OMPI_COMM_WORLD_SIZE set),
// the command checks the job before it initializes MPI: at least 2
// processes, and -workers, if given, must be their number.
func TestMPIEnvironment(t *testing.T) {
	for _, tc := range []struct {
		size, workers, want string
	}{
		{"two", "", "not a number of processes"},
		{"1", "", "a data-parallel run needs at least 2"},
		{"2", "3", "-workers 3, but mpirun launched 2 processes"},
	} {
		t.Run(tc.size+"/"+tc.workers, func(t *testing.T) {
			t.Setenv(mpiWorldSizeEnv, tc.size)
			if tc.workers != "" {
				setFlags(t, map[string]string{"workers": tc.workers})
			}
			require.ErrorContains(t, run(), tc.want)
		})
	}
	t.Setenv(mpiWorldSizeEnv, "2")
	setFlags(t, map[string]string{"workers": "2"})
	size, err := mpiWorldSize()
	require.NoError(t, err)
	require.Equal(t, 2, size)
}

// TestRunWithCommunicator runs the command as the 2 ranks of a multi-process
// data-parallel job (what each process launched by mpirun does, here over
// in-process communicators, one goroutine per rank), then as the in-process
// run with -workers 2 and the same flags: rank 0 writes the same results
// (losses, validation, weights), and each rank checkpoints into its own
// directory.
func TestRunWithCommunicator(t *testing.T) {
	tinyModel(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "text.txt")
	require.NoError(t, os.WriteFile(data, []byte(strings.Repeat("Light is refracted by a prism. ", 100)), 0o644))
	flags := map[string]string{"steps": "4", "eval-at": "2", "data": data, "quiet": "true", "compress": "gct"}
	setFlags(t, flags)

	setFlags(t, map[string]string{"results": filepath.Join(dir, "ranks.json"), "checkpoint": filepath.Join(dir, "ckpt")})
	comms, err := dataparallel.NewInProcess(2, time.Minute)
	require.NoError(t, err)
	errs := make([]error, len(comms))
	var wg sync.WaitGroup
	for r, comm := range comms {
		wg.Go(func() {
			if errs[r] = runWith(comm); errs[r] != nil {
				_ = comm.Close()
			}
		})
	}
	wg.Wait()
	for r, err := range errs {
		require.NoError(t, err, "rank %d", r)
	}
	for r := range comms {
		names, err := charlm.ListCheckpoints(charlm.RankCheckpointDir(filepath.Join(dir, "ckpt"), r))
		require.NoError(t, err)
		require.NotEmpty(t, names, "rank %d checkpoints", r)
	}
	got := readResults(t, filepath.Join(dir, "ranks.json"))

	setFlags(t, map[string]string{"workers": "2", "results": filepath.Join(dir, "in-process.json"), "checkpoint": ""})
	require.NoError(t, run())
	want := readResults(t, filepath.Join(dir, "in-process.json"))
	require.Equal(t, 2, got.Workers)
	require.Equal(t, 2, got.Config.Train.Workers)
	require.Len(t, got.WeightsHash, 64)
	require.Equal(t, want.WeightsHash, got.WeightsHash)
	require.Equal(t, want.LossCurve, got.LossCurve)
	require.Equal(t, want.ValLoss, got.ValLoss)
	require.Len(t, got.ValLoss, 2)
	require.Equal(t, want.BytesSentPerWorkerPerStep, got.BytesSentPerWorkerPerStep)
	require.Greater(t, got.BytesSentPerWorkerPerStep, 0.0)
}
