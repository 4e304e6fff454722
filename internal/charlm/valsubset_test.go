package charlm

import (
	"testing"

	"github.com/gomlx/compute/shapes"

	"github.com/stretchr/testify/require"
)

func TestValSubset(t *testing.T) {
	require.Nil(t, valSubset(886, 0), "0: every window")
	require.Nil(t, valSubset(886, 886))
	require.Nil(t, valSubset(10, 50))
	require.Equal(t, []int{0, 221, 443, 664}, valSubset(886, 4))
	idx := valSubset(886, 100)
	require.Len(t, idx, 100)
	for i := 1; i < len(idx); i++ {
		gap := idx[i] - idx[i-1]
		require.True(t, gap == 8 || gap == 9, "evenly spaced: gap %d at %d", gap, i)
	}
}

// TestValWindowsAt checks that the windows at given indices are packed like
// ValWindows packs all of them, with padding masked out, and that bad indices
// are errors.
func TestValWindowsAt(t *testing.T) {
	corpus, err := loadCorpus("")
	require.NoError(t, err)
	all, allMasks, err := corpus.ValWindowsAt(64, 128, nil)
	require.NoError(t, err)
	want, wantMasks, err := corpus.ValWindows(64, 128)
	require.NoError(t, err)
	require.Len(t, all, len(want))
	for i := range all {
		require.Equal(t, want[i].Value(), all[i].Value())
		require.Equal(t, wantMasks[i].Value(), allMasks[i].Value())
	}

	indices := []int{3, 100, 885}
	windows, masks, err := corpus.ValWindowsAt(64, 2, indices)
	require.NoError(t, err)
	require.Len(t, windows, 2)
	require.Equal(t, []float32{1, 1}, flatFloat32(t, masks[0]))
	require.Equal(t, []float32{1, 0}, flatFloat32(t, masks[1]))
	rows := append(windows[0].Value().([][]int32), windows[1].Value().([][]int32)...)
	for i, k := range indices {
		for p, b := range corpus.Val[64*k : 64*k+65] {
			require.Equal(t, int32(b), rows[i][p], "window %d byte %d", k, p)
		}
	}
	require.Equal(t, make([]int32, 65), rows[3], "padding")

	_, _, err = corpus.ValWindowsAt(64, 2, []int{886})
	require.ErrorContains(t, err, "out of range")
}

// TestValWindowsRun: a run with TrainConfig.ValWindows measures the
// validation loss on that many windows, says so in its results, and the
// loss equals the mean over those windows as measured one by one.
func TestValWindowsRun(t *testing.T) {
	tc := DefaultTrainConfig()
	tc.Steps, tc.EvalAt, tc.EvalBatch, tc.ValWindows = 1, nil, 4, 5
	tc.Data = tinyCorpusFile(t, "Light is refracted by a prism; colours differ in refrangibility. ", 60)
	exp, err := NewExperiment(backend(t), tinyConfig(ArchGPT), tc)
	require.NoError(t, err)
	total := exp.Corpus.NumValWindows(16)
	require.Greater(t, total, 5)
	r, err := exp.Run()
	require.NoError(t, err)
	require.Equal(t, 5, r.Config.Corpus.ValWindowsEvaluated)
	require.Equal(t, total, r.Config.Corpus.ValWindows)
	require.Equal(t, 5*16, r.Config.Corpus.ValTargets)
	require.Equal(t, 5, r.Config.Train.ValWindows)
	require.Contains(t, r.Note, "validation loss on 5 of the")

	// The subset's loss is the mean of its windows' losses (each measured
	// alone), and a subset as large as the split is the whole split.
	subsetLoss, err := exp.ValidationLoss()
	require.NoError(t, err)
	require.Equal(t, r.ValLoss["1"], subsetLoss)
	var sum float64
	for _, k := range valSubset(total, 5) {
		windows, masks, err := exp.Corpus.ValWindowsAt(16, tc.EvalBatch, []int{k})
		require.NoError(t, err)
		out, err := exp.evalExec.Call(windows[0], masks[0])
		require.NoError(t, err)
		sum += shapes.ConvertTo[float64](out[0].Value())
	}
	require.InDelta(t, sum/(5*16), subsetLoss, 1e-6)

	exp.evalExec, exp.Train.ValWindows = nil, 0
	allLoss, err := exp.ValidationLoss()
	require.NoError(t, err)
	exp.evalExec, exp.Train.ValWindows = nil, total
	sameLoss, err := exp.ValidationLoss()
	require.NoError(t, err)
	require.Equal(t, allLoss, sameLoss)
	require.NotEqual(t, allLoss, subsetLoss)
}

// TestValWindowsTooMany: asking for more validation windows than the split
// holds is an error (it silently used all of them).
func TestValWindowsTooMany(t *testing.T) {
	tc := DefaultTrainConfig()
	tc.Steps, tc.EvalAt, tc.ValWindows = 1, nil, 100_000
	tc.Data = tinyCorpusFile(t, "Light is refracted by a prism; colours differ in refrangibility. ", 60)
	_, err := NewExperiment(backend(t), tinyConfig(ArchGPT), tc)
	require.ErrorContains(t, err, "-val-windows 100000: the validation split holds ")
	require.ErrorContains(t, err, " windows of 17 bytes")
}
