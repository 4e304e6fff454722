package charlm

import (
	"bytes"
	"testing"

	"github.com/ggprior/ggprior/optimizers"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/stretchr/testify/require"
)

const pangram = "the quick brown fox jumps over the lazy dog. "

// tinyExperiment returns an experiment of the tiny model on a repeated sentence.
func tinyExperiment(t *testing.T, arch, data string, steps int, evalAt []int, checkpoint string) *Experiment {
	t.Helper()
	tc := DefaultTrainConfig()
	tc.Steps, tc.EvalAt, tc.Data, tc.Checkpoint, tc.LogEvery, tc.EvalBatch = steps, evalAt, data, checkpoint, 1, 8
	exp, err := NewExperiment(backend(t), tinyConfig(arch), tc)
	require.NoError(t, err)
	return exp
}

// TestOverfitTinyCorpus trains the tiny models for 100 steps on a 450-byte corpus
// (one 45-byte sentence repeated): the next byte is then a function of the
// previous ones, and the loss must fall from ln(256) = 5.5 to a small fraction
// of a nat. With a 10-step warmup to lr 1e-2 both reach about 0.1; 0.5 leaves
// room for other seeds while being far below what unigram statistics allow
// (the sentence's byte entropy is about 4 bits = 2.8 nats).
func TestOverfitTinyCorpus(t *testing.T) {
	data := tinyCorpusFile(t, pangram, 10)
	for _, arch := range []string{ArchGPT, ArchLlama} {
		t.Run(arch, func(t *testing.T) {
			exp := tinyExperiment(t, arch, data, 100, nil, "")
			_, err := parseSettings(exp.Store, "learning_rate=1e-2;warmup_steps=10")
			require.NoError(t, err)
			results, err := exp.Run()
			require.NoError(t, err)
			curve := results.LossCurve
			require.Len(t, curve, 100)
			first, last := curve[0][1], curve[len(curve)-1][1]
			t.Logf("training loss: step 1 %.3f, step 100 %.3f; validation %.3f", first, last, results.ValLoss["100"])
			require.InDelta(t, 5.55, first, 0.1)
			require.Less(t, last, 0.5)
			require.Less(t, results.ValLoss["100"], 0.5, "the validation split is the same sentence")
			require.Equal(t, tinyConfig(arch).NumParams(), results.Params)
		})
	}
}

// TestCheckpointResume checks that 4 steps, a checkpoint, a new process state
// (fresh Experiment and Store) resuming it, and 4 more steps give bit-for-bit the
// same variables (weights, optimizer moments, counters, and GCT's and ACT's
// state), losses, validation losses and method metrics as 8 uninterrupted
// steps: with plain AdamW, with GCT (error-feedback residuals, secant memory;
// with the rANS/auto coder also the rate control's per-variable correction,
// in Adam's geometry with one step for all tensors the global one),
// with ACT at every site (step counters, running thresholds) and with both.
func TestCheckpointResume(t *testing.T) {
	data := tinyCorpusFile(t, pangram, 40)
	for name, variant := range map[string]struct {
		train    func(tc *TrainConfig)
		settings string
		state    string // A state variable the variant must checkpoint.
	}{
		"adamw": {state: "/AdamW/step"},
		"gct":   {train: func(tc *TrainConfig) { tc.Compress = "gct" }, settings: "gct_lambda=1e-4", state: "/gct/step"},
		"act": {train: func(tc *TrainConfig) {
			tc.ACTSites, tc.ACTRamp = ActivationSites, map[string][2]int{SiteMLPHidden: {0, 0}}
		}, settings: "act_start=2;act_end=6",
			state: "/block_000/attn/attn_in/act/threshold"},
		"gct-auto": {train: func(tc *TrainConfig) { tc.Compress = "gct" }, settings: "gct_coder=auto;gct_bits=1",
			state: "/gct/_block_000_attn_qkv_weights/" + optimizers.RateCorrectionVar},
		"gct-adam-rd": {train: func(tc *TrainConfig) { tc.Compress = "gct" }, settings: "gct_coder=auto;gct_bits=1;gct_geometry=adam;gct_allocation=rd",
			state: "/gct/" + optimizers.AllocationCorrectionVar},
		"gct+act": {train: func(tc *TrainConfig) { tc.Compress, tc.ACTSites = "gct", []string{SiteMLPHidden} },
			state: "/block_000/mlp/mlp_hidden/act/step"},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			straight := methodExperiment(t, data, 8, "", variant.train, variant.settings)
			require.NoError(t, straight.TrainTo(8))
			require.NotNil(t, straight.Store.GetVariable(variant.state), variant.state)

			first := methodExperiment(t, data, 8, dir, variant.train, variant.settings)
			require.NoError(t, first.TrainTo(4)) // Evaluates and saves at step 4.
			names, err := ListCheckpoints(dir)
			require.NoError(t, err)
			require.Len(t, names, 1)

			resumed := methodExperiment(t, data, 8, dir, variant.train, "") // Settings come from the checkpoint.
			require.Equal(t, names[0], resumed.ResumedFrom)
			require.Equal(t, 4, resumed.GlobalStep())
			require.NoError(t, resumed.TrainTo(8))
			names, err = ListCheckpoints(dir)
			require.NoError(t, err)
			require.Len(t, names, 2, "a checkpoint at step 4 and one at the end")

			requireSameVariables(t, straight.Store, resumed.Store)
			require.Equal(t, straight.History(), resumed.History())
			require.Len(t, resumed.History().ValLoss, 2)
			want, got := straight.Results(), resumed.Results()
			require.Equal(t, want.GradientResults, got.GradientResults)
			require.Equal(t, want.ACTResults, got.ACTResults)
			require.Equal(t, want.WeightsHash, got.WeightsHash)

			// Another run (a different seed, or other methods) must not resume this one.
			tc := resumed.Train
			tc.Seed++
			_, err = NewExperiment(backend(t), tinyConfig(ArchGPT), tc)
			require.ErrorContains(t, err, "belongs to another run")
			tc.Seed--
			tc.Compress, tc.ACTSites, tc.ACTRamp = "int8", nil, nil
			_, err = NewExperiment(backend(t), tinyConfig(ArchGPT), tc)
			require.ErrorContains(t, err, "belongs to another run")
		})
	}
}

// requireSameVariables checks that two stores hold the same variables with
// bit-identical values and the same trainable flags.
func requireSameVariables(t *testing.T, want, got *model.Store) {
	t.Helper()
	n := 0
	for v := range want.IterVariables() {
		other := got.GetVariable(v.Path())
		require.NotNil(t, other, "variable %s missing", v.Path())
		require.Equal(t, v.Trainable, other.Trainable, v.Path())
		var a, b []byte
		require.NoError(t, v.MustValue().ConstBytes(func(data []byte) { a = bytes.Clone(data) }))
		require.NoError(t, other.MustValue().ConstBytes(func(data []byte) { b = bytes.Clone(data) }))
		require.True(t, bytes.Equal(a, b), "variable %s differs", v.Path())
		n++
	}
	require.Equal(t, want.NumVariables(), got.NumVariables())
	require.Greater(t, n, 20)
}
