package charlm

import (
	"errors"
	"testing"

	"github.com/ggprior/ggprior/optimizers/dataparallel"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/stretchr/testify/require"
)

// TestDataParallelVerifyEvery diverges rank 1 on purpose (after step 1, one of
// its weights is nudged) and checks that the weights check catches it at the
// first multiple of VerifyEvery (step 3 with VerifyEvery 3, not step 2), with
// an error that names the step and the rank; with VerifyEvery 0, only at the
// end of the run; and that an undisturbed run passes its checks.
func TestDataParallelVerifyEvery(t *testing.T) {
	data := tinyCorpusFile(t, pangram, 20)
	for _, c := range []struct {
		name        string
		verifyEvery int
		diverge     bool
		want        string // In the error; "" for none.
	}{
		{"every-3", 3, true, "after step 3, rank(s) [1]"},
		{"only-at-end", 0, true, "weights differ at global step 4"},
		{"in-step", 2, false, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := parallelExperiment(t, data, 4, 2, "", func(tc *TrainConfig) {
				tc.Batch, tc.EvalAt, tc.VerifyEvery = 4, nil, c.verifyEvery
			}, "")
			lastStep := 0
			d.Ranks[0].OnStep = append(d.Ranks[0].OnStep, func(_ *Experiment, info StepInfo) error {
				lastStep = info.Step
				return nil
			})
			if c.diverge {
				d.Ranks[1].OnStep = append(d.Ranks[1].OnStep, func(exp *Experiment, info StepInfo) error {
					if info.Step == 1 {
						nudgeOneWeight(t, exp)
					}
					return nil
				})
			}
			err := d.TrainTo(4)
			if c.want == "" {
				require.NoError(t, err)
				require.Equal(t, 4, lastStep)
				return
			}
			require.Error(t, err)
			t.Logf("error: %v", err)
			require.True(t, errors.Is(err, dataparallel.ErrMismatch), "%v", err)
			require.ErrorContains(t, err, c.want)
			if c.verifyEvery > 0 {
				require.Equal(t, 2, lastStep, "stopped in step 3")
				require.ErrorContains(t, err, "-verify-every")
			} else {
				require.Equal(t, 4, lastStep, "trained to the end")
			}
		})
	}
}

// nudgeOneWeight adds 1e-3 to the first element of the token embedding.
func nudgeOneWeight(t *testing.T, exp *Experiment) {
	t.Helper()
	for v := range exp.Store.IterVariables() {
		if !v.Trainable || v.Shape().Rank() != 2 {
			continue
		}
		value, err := v.Value()
		require.NoError(t, err)
		x, err := value.LocalClone()
		require.NoError(t, err)
		tensors.MustMutableFlatData(x, func(flat []float32) { flat[0] += 1e-3 })
		require.NoError(t, v.SetValue(x))
		return
	}
	t.Fatal("no weight matrix")
}
