package optimizers

import (
	"math"
	"slices"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train/optimizer"
	"github.com/stretchr/testify/require"
)

func baselineStep(t *testing.T, store *model.Store, c Compressor, grad []float32) compressOut {
	w := GCT(optimizer.StochasticGradientDescent()).Compressor(c).ErrorFeedback(false).Done()
	return compressStep(t, store, w, grad)
}

func TestBaselines(t *testing.T) {
	const n = 4096
	grad := ggGradient(n, 0.7, 0.1, 21)
	maxAbs := 0.0
	meanAbs := 0.0
	for _, x := range grad {
		maxAbs = math.Max(maxAbs, math.Abs(float64(x)))
		meanAbs += math.Abs(float64(x)) / n
	}

	out := baselineStep(t, newStore(n), FP32(), grad)
	require.Equal(t, grad, out.decoded)
	require.Equal(t, float32(32*n), out.bits)

	out = baselineStep(t, newStore(n), BF16(), grad)
	require.Equal(t, float32(16*n), out.bits)
	for i, x := range grad {
		require.InDelta(t, x, out.decoded[i], math.Abs(float64(x))*math.Ldexp(1, -8))
	}

	out = baselineStep(t, newStore(n), Int8(), grad)
	require.Equal(t, float32(8*n+32), out.bits)
	require.InDelta(t, maxAbs/127, out.step, 1e-9)
	for i, x := range grad {
		require.LessOrEqual(t, math.Abs(float64(out.decoded[i]-x)), float64(out.step)/2*1.0001)
		require.LessOrEqual(t, math.Abs(float64(out.ints[i])), 127.0)
	}

	out = baselineStep(t, newStore(n), SignSGD(), grad)
	require.Equal(t, float32(n+32), out.bits)
	for i, x := range grad {
		require.InDelta(t, math.Copysign(meanAbs, float64(x)), out.decoded[i], 1e-6)
	}

	const frac = 0.01
	out = baselineStep(t, newStore(n), TopKSparse(frac), grad)
	k := int(math.Ceil(frac * n))
	require.Equal(t, float32(float64(k)*(32+12)), out.bits)
	mags := make([]float64, n)
	for i, x := range grad {
		mags[i] = math.Abs(float64(x))
	}
	slices.Sort(mags)
	threshold := mags[n-k]
	kept := 0
	for i, x := range grad {
		if math.Abs(float64(x)) >= threshold {
			require.Equal(t, x, out.decoded[i])
			kept++
		} else {
			require.Zero(t, out.decoded[i])
		}
	}
	require.Equal(t, k, kept)
}

// TestPowerSGD: on a rank-1 gradient, rank-1 PowerSGD with warm start recovers
// it after a couple of power iterations; its bits are 32 (rows+cols) r.
func TestPowerSGD(t *testing.T) {
	const rows, cols = 64, 48
	u := ggGradient(rows, 2, 1, 1)
	v := ggGradient(cols, 2, 1, 2)
	grad := make([]float32, rows*cols)
	for i := range rows {
		for j := range cols {
			grad[i*cols+j] = u[i] * v[j]
		}
	}
	store := model.NewStore()
	store.SetParam(model.ParamInitialSeed, int64(1))
	store.RootScope().VariableWithShape("w", shapes.Make(dtypes.Float32, rows, cols))
	var out compressOut
	for range 3 {
		out = baselineStep(t, store, PowerSGD(1), grad)
	}
	require.Equal(t, float32(32*(rows+cols)), out.bits)
	for i, x := range grad {
		require.InDelta(t, x, out.decoded[i], 1e-3*(1+math.Abs(float64(x))))
	}
}
