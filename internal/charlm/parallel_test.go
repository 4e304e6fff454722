package charlm

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/stretchr/testify/require"
)

// parallelExperiment returns a data-parallel run of the tiny gpt (see methodExperiment).
func parallelExperiment(t *testing.T, data string, steps, workers int, checkpoint string, fn func(tc *TrainConfig), settings string) *DataParallel {
	t.Helper()
	tc := DefaultTrainConfig()
	tc.Steps, tc.EvalAt, tc.Data, tc.Checkpoint, tc.LogEvery, tc.EvalBatch = steps, []int{steps / 2}, data, checkpoint, 1, 8
	tc.Workers = workers
	if fn != nil {
		fn(&tc)
	}
	d, err := newDataParallel(backend(t), tinyConfig(ArchGPT), tc)
	require.NoError(t, err)
	for _, exp := range d.Ranks {
		_, err = parseSettings(exp.Store, settings)
		require.NoError(t, err)
	}
	return d
}

// TestDataParallelMatchesSingleWorker: 2 workers on 2 windows each, exchanging
// plain fp32 gradients, end with the weights of one worker on batches of 4
// windows (the same stream of batches), up to float32 rounding: the mean
// gradient is summed in another order, (sum_1/2 + sum_2/2)/2 against
// sum/4, a few ulps (2^-24 relative) per step, which Adam's normalization
// passes on to the updates (about lr * 1e-6 per step); after 8 steps the
// weights agree to ~1e-7. We allow 1e-6 absolute (the weights are ~0.02).
// Except the attention's key bias: it adds q.b to every score of a query,
// which softmax ignores, so its true gradient is 0 and what it gets is
// rounding noise, which Adam scales up to steps of about the learning rate
// either way. The loss curves agree to float32 rounding too; the ranks'
// weights are equal bit for bit.
func TestDataParallelMatchesSingleWorker(t *testing.T) {
	data := tinyCorpusFile(t, pangram, 20)
	const steps = 8
	batch4 := func(tc *TrainConfig) { tc.Batch = 4 }
	single := methodExperiment(t, data, steps, "", batch4, "learning_rate=1e-2;warmup_steps=2")
	want, err := single.Run()
	require.NoError(t, err)

	d := parallelExperiment(t, data, steps, 2, "", batch4, "learning_rate=1e-2;warmup_steps=2")
	got, err := d.Run()
	require.NoError(t, err)
	hashes := d.WeightsHashes()
	require.Equal(t, hashes[0], hashes[1])
	require.Equal(t, hashes[0], got.WeightsHash)
	require.NotEqual(t, want.WeightsHash, got.WeightsHash, "not bit for bit: the sums' order differs")

	maxDiff := 0.0
	width := single.Config.Width
	for v := range single.Store.IterVariables() {
		if !v.Trainable {
			continue
		}
		other := d.Ranks[0].Store.GetVariable(v.Path())
		require.NotNil(t, other, v.Path())
		a := tensors.MustCopyFlatData[float32](v.MustValue())
		b := tensors.MustCopyFlatData[float32](other.MustValue())
		for i := range a {
			if v.Path() == "/block_000/attn/qkv/biases" && i >= width && i < 2*width {
				continue // The key bias: its gradient is rounding noise, see above.
			}
			maxDiff = math.Max(maxDiff, math.Abs(float64(a[i]-b[i])))
		}
	}
	t.Logf("max weight difference to the single worker: %.2g", maxDiff)
	require.Less(t, maxDiff, 1e-6)
	require.Len(t, got.LossCurve, steps)
	for i, p := range want.LossCurve {
		require.InDelta(t, p[1], got.LossCurve[i][1], 1e-5, "step %d", i+1)
	}
	for step, loss := range want.ValLoss {
		require.InDelta(t, loss, got.ValLoss[step], 1e-5, "validation at %s", step)
	}

	// Results: fp32 sends 4 bytes per parameter, plus the framing.
	require.NotNil(t, got.ParallelResults)
	require.Equal(t, 2, got.Workers)
	params := float64(single.NumParams())
	require.InDelta(t, 4*params, got.CodedBytesPerWorkerPerStep, 1e-6*params)
	require.Greater(t, got.BytesSentPerWorkerPerStep, 4*params)
	require.Less(t, got.BytesSentPerWorkerPerStep, 4*params*1.05)
	require.Greater(t, got.StepTimeSplit.Compute, 0.0)
	require.Nil(t, got.GradientResults, "-compress none: no GCT metrics")
}

// TestDataParallelGCT: 2 workers exchanging GCT-coded gradients (2 bits per
// element) end with bit-identical weights (Run checks it, and we do), and
// send about 2/32 of fp32's bytes.
func TestDataParallelGCT(t *testing.T) {
	data := tinyCorpusFile(t, pangram, 20)
	d := parallelExperiment(t, data, 6, 2, "", func(tc *TrainConfig) { tc.Compress = "gct" }, "")
	r, err := d.Run()
	require.NoError(t, err)
	hashes := d.WeightsHashes()
	require.Equal(t, hashes[0], hashes[1])
	require.Less(t, r.LossCurve[5][1], r.LossCurve[0][1], "training moves the weights")
	require.NotNil(t, r.GradBitsPerElement)
	t.Logf("weights_hash=%s bits per element %.3f, sent %.0f bytes per worker per step (coded %.0f), split %+v",
		hashes[0][:16], *r.GradBitsPerElement, r.BytesSentPerWorkerPerStep, r.CodedBytesPerWorkerPerStep, r.StepTimeSplit)
	require.InDelta(t, 2, *r.GradBitsPerElement, 0.15) // As in TestGCTBitsNearTarget.
	params := float64(d.Ranks[0].NumParams())
	require.InDelta(t, *r.GradBitsPerElement*params/8, r.CodedBytesPerWorkerPerStep, 0.05*params/8,
		"coded bytes are the bits per element (averaged over the workers)")
	require.Less(t, r.BytesSentPerWorkerPerStep, 4*params*3/32)
	require.Len(t, r.Outputs[outputGradBits], 6)
}

// TestDataParallelResume: a data-parallel run with GCT and ACT (each worker
// with its own residuals and thresholds) resumes from its workers' checkpoints
// bit for bit.
func TestDataParallelResume(t *testing.T) {
	data := tinyCorpusFile(t, pangram, 20)
	methods := func(tc *TrainConfig) { tc.Compress, tc.ACTSites = "gct", []string{SiteMLPHidden} }
	straight := parallelExperiment(t, data, 8, 2, "", methods, "act_start=1;act_end=4")
	_, err := straight.Run()
	require.NoError(t, err)

	dir := t.TempDir()
	first := parallelExperiment(t, data, 8, 2, dir, methods, "act_start=1;act_end=4")
	require.NoError(t, first.TrainTo(4)) // Evaluates and saves at step 4.
	for _, d := range []string{dir, filepath.Join(dir, "rank-1")} {
		names, err := ListCheckpoints(d)
		require.NoError(t, err)
		require.Len(t, names, 1, d)
	}

	resumed := parallelExperiment(t, data, 8, 2, dir, methods, "")
	require.Equal(t, 4, resumed.Ranks[1].GlobalStep())
	r, err := resumed.Run()
	require.NoError(t, err)
	for rank := range 2 {
		requireSameVariables(t, straight.Ranks[rank].Store, resumed.Ranks[rank].Store)
	}
	require.Equal(t, straight.Ranks[0].History(), resumed.Ranks[0].History())
	require.Equal(t, straight.Ranks[0].Results().ACTResults, r.ACTResults)
}
