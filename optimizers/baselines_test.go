package optimizers

import (
	"math"
	"slices"
	"testing"

	"github.com/ggprior/ggprior/internal/testbackend"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
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

// TestBaselineWireForms: the wire forms that the baselines declare decode
// exactly to Decoded: Top-k's Decoded is zero outside Mask and its bits count
// Mask's elements at 32 + SparseIndexBits(n) each; sign's Decoded is -Step
// where Mask and +Step elsewhere; PowerSGD's Decoded is LowRankDecode(P, Q)
// (recomputed in another graph, bit for bit) and its bits count P and Q.
func TestBaselineWireForms(t *testing.T) {
	const rows, cols = 40, 24
	grad := ggGradient(rows*cols, 0.7, 0.1, 5)
	grad[3], grad[7] = 0, float32(math.Copysign(0, -1)) // Zeros are never kept, and count as positive.
	backend := testbackend.Get(t)
	for _, c := range []Compressor{TopKSparse(0.05), SignSGD(), PowerSGD(2)} {
		store := model.NewStore()
		store.SetParam(model.ParamInitialSeed, int64(1))
		v := store.RootScope().VariableWithShape("w", shapes.Make(dtypes.Float32, rows, cols))
		var coding Coding
		exec, err := model.NewExec(backend, store, func(scope *model.Scope, x *Node) []*Node {
			out := c.Compress(scope.In("state"), v, x)
			coding = out.Coding
			switch out.Coding {
			case CodingSparse, CodingSign:
				step := out.Step
				if step == nil {
					step = ScalarZero(x.Graph(), x.DType())
				}
				return []*Node{out.Decoded, out.Bits, out.Mask, step}
			case CodingLowRank:
				return []*Node{out.Decoded, out.Bits, out.P, out.Q}
			}
			t.Fatalf("%s: coding %q", c.Name(), out.Coding)
			return nil
		})
		require.NoError(t, err)
		for range 2 {
			res, err := exec.Call(tensors.FromFlatDataAndDimensions(grad, rows, cols))
			require.NoError(t, err)
			decoded := tensors.MustCopyFlatData[float32](res[0])
			bits := tensors.ToScalar[float32](res[1])
			switch coding {
			case CodingSparse:
				mask := tensors.MustCopyFlatData[bool](res[2])
				kept := 0
				for i, m := range mask {
					if m {
						kept++
						require.Equal(t, grad[i], decoded[i])
						require.NotZero(t, grad[i])
					} else {
						require.Equal(t, uint32(0), math.Float32bits(decoded[i]), "element %d", i)
					}
				}
				require.Equal(t, int(math.Ceil(0.05*rows*cols)), kept)
				require.Equal(t, float32(kept*(32+SparseIndexBits(rows*cols))), bits)
			case CodingSign:
				mask := tensors.MustCopyFlatData[bool](res[2])
				step := tensors.ToScalar[float32](res[3])
				for i, m := range mask {
					require.Equal(t, grad[i] < 0, m, "element %d", i)
					want := step
					if m {
						want = -step
					}
					require.Equal(t, math.Float32bits(want), math.Float32bits(decoded[i]), "element %d", i)
				}
				require.Equal(t, float32(rows*cols+32), bits)
			case CodingLowRank:
				require.Equal(t, []int{rows, 2}, res[2].Shape().Dimensions)
				require.Equal(t, []int{cols, 2}, res[3].Shape().Dimensions)
				again, err := ExecOnce(backend, func(p, q *Node) *Node { return LowRankDecode(p, q, rows, cols) }, res[2], res[3])
				require.NoError(t, err)
				require.Equal(t, decoded, tensors.MustCopyFlatData[float32](again))
				for i, x := range tensors.MustCopyFlatData[float32](again) {
					require.Equal(t, math.Float32bits(decoded[i]), math.Float32bits(x), "element %d", i)
				}
				require.Equal(t, float32(32*(rows+cols)*2), bits)
			}
		}
	}
}

// TestSparseIndexBits: ceil(log2 n), the bits that hold every index below n.
func TestSparseIndexBits(t *testing.T) {
	for n, want := range map[int]int{1: 0, 2: 1, 3: 2, 4: 2, 5: 3, 4096: 12, 4097: 13, 1 << 20: 20} {
		require.Equal(t, want, SparseIndexBits(n), "n=%d", n)
		if n > 1 {
			require.Equal(t, int(math.Ceil(math.Log2(float64(n)))), SparseIndexBits(n), "n=%d", n)
		}
	}
	rows, cols := LowRankMatrixDims([]int{2, 3, 5})
	require.Equal(t, [2]int{6, 5}, [2]int{rows, cols})
}
