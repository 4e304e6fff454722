package charlm

import (
	"os"
	"sync"
	"testing"
	"time"

	"github.com/ggprior/ggprior/optimizers/dataparallel"
	"github.com/stretchr/testify/require"
)

// rankExperiments creates the ranks of a data-parallel run of the tiny gpt
// with NewDataParallelRank, one per communicator, each in its own goroutine
// (the constructor is a collective), as the processes of a multi-process run
// would. It returns each rank's DataParallel and error, by rank.
func rankExperiments(t *testing.T, comms []*dataparallel.InProcess, tc TrainConfig, settings string) ([]*DataParallel, []error) {
	t.Helper()
	ranks := make([]*DataParallel, len(comms))
	errs := make([]error, len(comms))
	var wg sync.WaitGroup
	for r, comm := range comms {
		wg.Go(func() {
			ranks[r], errs[r] = newDataParallelRank(backend(t), tinyConfig(ArchGPT), tc, comm)
			if errs[r] == nil {
				_, errs[r] = parseSettings(ranks[r].Ranks[0].Store, settings)
			}
			if errs[r] != nil {
				_ = comm.Close() // Don't leave the others waiting.
			}
		})
	}
	wg.Wait()
	return ranks, errs
}

// TestDataParallelRankMatchesInProcess: the ranks of a data-parallel run
// created one by one with NewDataParallelRank (each holding only its own
// rank, as the processes of an MPI job do; here over in-process
// communicators, each driven by its own goroutine) train exactly as
// NewDataParallel's in-process workers do: the same weights bit for bit, the
// same losses and payload sizes. Rank 0 alone validates; each rank
// checkpoints into its own directory, and ranks that would resume from
// different steps are an error.
func TestDataParallelRankMatchesInProcess(t *testing.T) {
	data := tinyCorpusFile(t, pangram, 20)
	const steps, settings = 6, "learning_rate=1e-2;warmup_steps=2"
	gct := func(tc *TrainConfig) { tc.Compress = "gct" }
	inProcess := parallelExperiment(t, data, steps, 2, "", gct, settings)
	want, err := inProcess.Run()
	require.NoError(t, err)

	tc := DefaultTrainConfig()
	tc.Steps, tc.EvalAt, tc.Data, tc.LogEvery, tc.EvalBatch = steps, []int{steps / 2}, data, 1, 8
	tc.Compress, tc.Checkpoint = "gct", t.TempDir()
	comms, err := dataparallel.NewInProcess(2, time.Minute)
	require.NoError(t, err)
	ranks, errs := rankExperiments(t, comms, tc, settings)
	for r, err := range errs {
		require.NoError(t, err, "rank %d", r)
		require.Len(t, ranks[r].Ranks, 1)
		require.Equal(t, r, ranks[r].Ranks[0].Rank())
		require.Equal(t, 2, ranks[r].Ranks[0].Train.Workers, "Workers 0 becomes the communicator's size")
	}
	results := make([]*Results, len(ranks))
	var wg sync.WaitGroup
	for r, d := range ranks {
		wg.Go(func() { results[r], errs[r] = d.Run() })
	}
	wg.Wait()
	for r := range ranks {
		require.NoError(t, errs[r], "rank %d", r)
		require.Equal(t, want.WeightsHash, ranks[r].WeightsHashes()[0], "rank %d: the in-process run's weights", r)
		require.Equal(t, want.WeightsHash, results[r].WeightsHash)
		require.Equal(t, want.LossCurve, results[r].LossCurve, "rank %d", r)
		require.Equal(t, want.ParallelResults.BytesSentPerWorkerPerStep, results[r].BytesSentPerWorkerPerStep)
		require.Equal(t, 2, results[r].Workers)
	}
	require.Equal(t, want.ValLoss, results[0].ValLoss)
	require.Len(t, want.ValLoss, 2)
	require.Empty(t, results[1].ValLoss, "rank 0 alone validates")

	// Each rank checkpoints into its own directory; resuming from checkpoints
	// of different steps is an error on every rank.
	for r := range ranks {
		names, err := ListCheckpoints(RankCheckpointDir(tc.Checkpoint, r))
		require.NoError(t, err)
		require.NotEmpty(t, names, "rank %d", r)
	}
	require.NoError(t, os.RemoveAll(RankCheckpointDir(tc.Checkpoint, 1)))
	comms, err = dataparallel.NewInProcess(2, time.Minute)
	require.NoError(t, err)
	_, errs = rankExperiments(t, comms, tc, "")
	for r, err := range errs {
		require.ErrorContains(t, err, "worker 1 resumes at step 0", "rank %d", r)
		require.ErrorContains(t, err, "must be from the same step", "rank %d", r)
	}
}

// TestDataParallelRankBadCommunicator: NewDataParallelRank refuses a missing
// communicator, a single rank, and a worker count the communicator disagrees with.
func TestDataParallelRankBadCommunicator(t *testing.T) {
	tc := DefaultTrainConfig()
	tc.Data = tinyCorpusFile(t, pangram, 20)
	_, err := newDataParallelRank(backend(t), tinyConfig(ArchGPT), tc, nil)
	require.ErrorContains(t, err, "nil communicator")
	one, err := dataparallel.NewInProcess(1, time.Minute)
	require.NoError(t, err)
	_, err = newDataParallelRank(backend(t), tinyConfig(ArchGPT), tc, one[0])
	require.ErrorContains(t, err, "at least 2 workers")
	two, err := dataparallel.NewInProcess(2, time.Minute)
	require.NoError(t, err)
	tc.Workers = 3
	_, err = newDataParallelRank(backend(t), tinyConfig(ArchGPT), tc, two[0])
	require.ErrorContains(t, err, "configured for 3 workers, but the communicator connects 2 ranks")
}
