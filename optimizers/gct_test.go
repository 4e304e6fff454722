package optimizers

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/ggprior/ggprior/ggx"
	"github.com/ggprior/ggprior/internal/testbackend"
	"github.com/ggprior/ggprior/optimizers/expgolomb"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train/optimizer"
	"github.com/stretchr/testify/require"
)

// ggGradient returns n GG(beta) values with the given std, seeded.
func ggGradient(n int, beta, std float64, seed uint64) []float32 {
	d := ggx.FromStdDev(0, std, beta)
	d.Src = rand.NewPCG(seed, 11)
	xs := make([]float32, n)
	for i := range xs {
		xs[i] = float32(d.Rand())
	}
	return xs
}

// compressOut is what one step of the wrapper's CompressGradients produced for
// the variable "/w": decoded gradient, step (delta), ints (all flattened) and bits.
type compressOut struct {
	decoded []float32
	step    float32
	ints    []int32
	bits    float32
}

func newStore(n int) *model.Store {
	store := model.NewStore()
	store.SetParam(model.ParamInitialSeed, int64(1))
	store.RootScope().VariableWithShape("w", shapes.Make(dtypes.Float32, n))
	return store
}

func compressStep(t *testing.T, store *model.Store, w *Wrapper, grad []float32) compressOut {
	t.Helper()
	exec, err := model.NewExec(testbackend.Get(t), store, func(scope *model.Scope, gradIn *Node) []*Node {
		wVar := store.GetVariable("/w")
		_ = wVar.NodeValue(gradIn.Graph())
		gradIn = Reshape(gradIn, wVar.Shape().Dimensions...) // Fed flat.
		vg := w.CompressGradients(scope, []*Node{gradIn})
		c := vg[0].Compressed
		outs := []*Node{Reshape(c.Decoded, -1), c.Bits}
		if c.Ints != nil {
			outs = append(outs, c.Step, Reshape(c.Ints, -1))
		}
		return outs
	})
	require.NoError(t, err)
	res, err := exec.Call(grad)
	require.NoError(t, err)
	out := compressOut{decoded: tensors.MustCopyFlatData[float32](res[0]), bits: tensors.ToScalar[float32](res[1])}
	if len(res) > 2 {
		out.step = tensors.ToScalar[float32](res[2])
		out.ints = tensors.MustCopyFlatData[int32](res[3])
	}
	return out
}

// TestGCTQuantization: |decoded - x| <= delta/2, decoded = q*delta, the bit
// count is the exact Exp-Golomb length (+32 for delta), and the realized rate
// is near the target on GG gradients.
func TestGCTQuantization(t *testing.T) {
	const n = 100_000
	for _, beta := range []float64{0.3, 0.7, 1.5} {
		for _, target := range []float64{1.5, 2, 4} {
			store := newStore(n)
			w := GCT(optimizer.StochasticGradientDescent()).BitsPerElement(target).ErrorFeedback(false).Done()
			grad := ggGradient(n, beta, 1e-3, uint64(beta*10+target))
			out := compressStep(t, store, w, grad)
			var sum, sum2 float64
			for i, x := range grad {
				require.LessOrEqual(t, math.Abs(float64(out.decoded[i]-x)), float64(out.step)/2*(1+1e-6)+1e-12)
				require.Equal(t, float32(out.ints[i])*out.step, out.decoded[i])
				l := float64(expgolomb.CodeLen(out.ints[i], 0))
				sum += l
				sum2 += l * l
			}
			require.Equal(t, float32(expgolomb.BitLen(out.ints, 0)+32), out.bits)
			// The rate misses the target only through the sampling error of the
			// mean code length and of the fitted (beta, alpha): allow 6 standard
			// errors of the mean code length, twice (the fit error is of the same order).
			mean := sum / n
			se := math.Sqrt((sum2/n - mean*mean) / n)
			require.InDelta(t, target, mean, 12*se+0.01, "beta=%g target=%g: %.4f bits/element", beta, target, mean)
			t.Logf("beta=%g target=%g: %.4f bits/element (se %.4f)", beta, target, mean, se)
		}
	}
}

// TestGCTErrorFeedbackUnbiased: with a constant gradient c, after N steps the
// sum of decoded gradients is N*c minus the last residual, which is at most
// half a quantization step per element: the update is unbiased over time.
// Without error feedback a small constant gradient is lost entirely.
func TestGCTErrorFeedbackUnbiased(t *testing.T) {
	const n, steps = 4096, 30
	grad := ggGradient(n, 0.5, 1e-2, 3)
	for _, ef := range []bool{true, false} {
		store := newStore(n)
		w := GCT(optimizer.StochasticGradientDescent()).BitsPerElement(1.3).ErrorFeedback(ef).Done()
		sum := make([]float64, n)
		maxStep := 0.0
		for range steps {
			out := compressStep(t, store, w, grad)
			for i, d := range out.decoded {
				sum[i] += float64(d)
			}
			maxStep = math.Max(maxStep, float64(out.step))
		}
		worst := 0.0
		for i, c := range grad {
			worst = math.Max(worst, math.Abs(sum[i]-steps*float64(c)))
		}
		if ef {
			require.LessOrEqual(t, worst, maxStep/2*1.001, "EF: |sum decoded - N c| <= delta/2")
		} else {
			require.Greater(t, worst, maxStep, "without EF the rounding bias accumulates")
		}
	}
}

// TestGCTWarmup: the first steps are sent uncompressed (32 bits per element).
func TestGCTWarmup(t *testing.T) {
	const n = 1000
	grad := ggGradient(n, 0.7, 1, 5)
	store := newStore(n)
	w := GCT(optimizer.StochasticGradientDescent()).WarmupSteps(2).Done()
	for step := 1; step <= 3; step++ {
		out := compressStep(t, store, w, grad)
		if step <= 2 {
			require.Equal(t, grad, out.decoded)
			require.Equal(t, float32(32*n), out.bits)
		} else {
			require.NotEqual(t, grad, out.decoded)
			require.Less(t, out.bits, float32(8*n))
		}
	}
}

// TestGCTHyperparametersFromScope: gct_bits and gct_error_feedback are read from the scope.
func TestGCTHyperparametersFromScope(t *testing.T) {
	const n = 50_000
	store := newStore(n)
	store.SetParam(ParamBits, 3.0)
	w := GCT(optimizer.StochasticGradientDescent()).Done()
	require.Equal(t, "gct:3bits", w.CompressorName(store.RootScope()))
	out := compressStep(t, store, w, ggGradient(n, 1, 1, 9))
	require.InDelta(t, 3.0, float64(out.bits)/n, 0.1)
	m, err := ReadMetrics(store)
	require.NoError(t, err)
	require.InDelta(t, float64(out.bits)/n, m.BitsPerElement, 1e-5)
	require.InDelta(t, float64(out.bits)/n, m.BitsByVariable["/w"], 1e-5)
	require.Greater(t, m.ZeroFraction, 0.0)
	require.InDelta(t, 1.0, m.Beta, 0.1)
}

// TestGCTRateConstraint: with RateWeight(lambda), each step's gradient g
// becomes g + lambda*h*sign(g), h = 0.9*h_prev + 0.1*clip(dg/dw, 0, 1e4) the
// smoothed secant curvature (dg, dw the changes of the gradient and the
// weight since the previous step; no secant where the weight did not move),
// and h = 0 at the first step. The weight moves between the steps as an
// optimizer would move it; the expected values are derived by hand, per
// element, for lambda = 0.5:
//
//	0: w 0.25, 0.75, 1.25;  g 1, 2, 2.25:   secants 2, 0.5;      h 0.2, 0.23
//	1: w 0.5, -0.5, -1.5;   g 0, -3, -4:    secants 3, 1;        h 0.3, 0.37 (g < 0: subtracted)
//	2: w 0.5, 1.5, 2.5;     g 1, 0.5, 0.25: secants < 0, clipped to 0: g unchanged
//	3: w 0, 1e-6, 2e-6;     g 0, 1, 1.5:    secants >= 5e5, clipped to 1e4: h 1000, 1900
//	4: w 0.3, 0.3, 0.3;     g 1, 5, -2:     h 0 at the first step (a secant against the zero memory
//	                                        would be 3.3), and the weight never moves: g unchanged
//	5: w 0.25, 0.75, 0.75;  g -1, 0, 1:     secant 2 (h 0.2, but sign(0) = 0), then none: h 0.18
func TestGCTRateConstraint(t *testing.T) {
	const n = 6
	store := newStore(n)
	w := GCT(optimizer.StochasticGradientDescent()).Compressor(FP32()).ErrorFeedback(false).RateWeight(0.5).Done()
	steps := []struct{ w, g, want []float32 }{
		{w: []float32{0.25, 0.5, 0.5, 0, 0.3, 0.25}, g: []float32{1, 0, 1, 0, 1, -1},
			want: []float32{1, 0, 1, 0, 1, -1}},
		{w: []float32{0.75, -0.5, 1.5, 1e-6, 0.3, 0.75}, g: []float32{2, -3, 0.5, 1, 5, 0},
			want: []float32{2 + 0.5*0.2, -3 - 0.5*0.3, 0.5, 1 + 0.5*1000, 5, 0}},
		{w: []float32{1.25, -1.5, 2.5, 2e-6, 0.3, 0.75}, g: []float32{2.25, -4, 0.25, 1.5, -2, 1},
			want: []float32{2.25 + 0.5*0.23, -4 - 0.5*0.37, 0.25, 1.5 + 0.5*1900, -2, 1 + 0.5*0.18}},
	}
	for i, st := range steps {
		require.NoError(t, store.GetVariable("/w").SetValue(tensors.FromValue(st.w)))
		out := compressStep(t, store, w, st.g)
		for j, want := range st.want {
			require.InDelta(t, want, out.decoded[j], 1e-5*max(1, math.Abs(float64(want))), "step %d, element %d", i+1, j)
		}
	}
}

func TestGCTBadConfig(t *testing.T) {
	require.Panics(t, func() { GCT(nil) })
	require.Panics(t, func() { GCT(optimizer.StochasticGradientDescent()).BitsPerElement(1).Coder(CoderExpGolomb).Done() })
	require.Panics(t, func() { GCT(optimizer.StochasticGradientDescent()).BitsPerElement(-1).Done() })
	require.Panics(t, func() { GCT(optimizer.StochasticGradientDescent()).RateWeight(-1).Done() })
	require.Panics(t, func() { GCT(optimizer.StochasticGradientDescent()).RateWeight(math.NaN()).Done() })
	require.Panics(t, func() { GCT(noGradients{}).Done() })
	require.Panics(t, func() { FixedStep(0, 0) })
	require.Panics(t, func() { TopKSparse(0) })
	require.Panics(t, func() { PowerSGD(0) })
	_, err := ParseCompressor("topk", 2)
	require.Error(t, err)
	_, err = ParseCompressor("zip", 2)
	require.ErrorContains(t, err, "unknown compressor")
	c, err := ParseCompressor("powersgd:4", 2)
	require.NoError(t, err)
	require.Equal(t, "powersgd:4", c.Name())
}

type noGradients struct{}

func (noGradients) UpdateGraph(*model.Scope, *Graph, *Node) {}
func (noGradients) Clear(*model.Scope) error                { return nil }
