package layers

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/ggprior/ggprior/ggx"
	"github.com/ggprior/ggprior/internal/testbackend"
	"github.com/ggprior/ggprior/optimizers/expgolomb"
	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train"
	"github.com/stretchr/testify/require"
)

func ggValues(n int, beta float64, seed uint64) []float32 {
	d := ggx.FromStdDev(0.1, 1, beta)
	d.Src = rand.NewPCG(seed, 5)
	xs := make([]float32, n)
	for i := range xs {
		xs[i] = float32(d.Rand())
	}
	return xs
}

// runSite runs one step of an ACT site built by cfg on x, in training or
// inference mode, and returns the output and the regularization loss (NaN if none).
func runSite(t *testing.T, store *model.Store, training bool, cfg func(c *ACTConfig) *ACTConfig, x []float32) ([]float32, float64) {
	t.Helper()
	exec, err := model.NewExec(testbackend.Get(t), store, func(scope *model.Scope, xIn *Node) []*Node {
		g := xIn.Graph()
		scope.Store().SetTraining(g, training)
		out := cfg(ACT(scope.In("site"), xIn)).Done()
		reg := train.GetRegularizationLoss(g)
		if reg == nil {
			reg = Scalar(g, dtypes.Float32, math.NaN())
		}
		return []*Node{out, ConvertDType(reg, dtypes.Float64)}
	})
	require.NoError(t, err)
	res, err := exec.Call(x)
	require.NoError(t, err)
	return tensors.MustCopyFlatData[float32](res[0]), tensors.ToScalar[float64](res[1])
}

func zeroFraction(xs []float32) float64 {
	z := 0
	for _, x := range xs {
		if x == 0 {
			z++
		}
	}
	return float64(z) / float64(len(xs))
}

// TestProgressSchedules checks the ramp at key steps.
func TestProgressSchedules(t *testing.T) {
	backend := testbackend.Get(t)
	eval := func(step int64, start, end int, schedule Schedule) float64 {
		out := MustExecOnce(backend, func(s *Node) *Node { return Progress(s, start, end, schedule) }, step)
		return float64(tensors.ToScalar[float32](out))
	}
	for _, tc := range []struct {
		step     int64
		schedule Schedule
		want     float64
	}{
		{50, ScheduleLinear, 0}, {100, ScheduleLinear, 0}, {150, ScheduleLinear, 0.5}, {200, ScheduleLinear, 1}, {900, ScheduleLinear, 1},
		{150, ScheduleCosine, 0.5}, {125, ScheduleCosine, (1 - math.Cos(math.Pi/4)) / 2},
		{125, ScheduleStaged, 0.25}, {112, ScheduleStaged, (1 - math.Cos(math.Pi*0.48)) / 2 / 4}, {200, ScheduleStaged, 1},
	} {
		require.InDelta(t, tc.want, eval(tc.step, 100, 200, tc.schedule), 1e-6, "%s at %d", tc.schedule, tc.step)
	}
	require.Equal(t, 0.0, eval(9, 10, 10, ScheduleLinear))
	require.Equal(t, 1.0, eval(10, 10, 10, ScheduleLinear))
}

// TestACTExactZerosAndTarget: with a fixed constraint and statistics of all
// values (SampleSize(0)), the batch threshold hits
// the target sparsity to within the ties and bisection resolution, zeros are
// exact, the kept values unchanged; the GG threshold hits it within the fit's accuracy.
func TestACTExactZerosAndTarget(t *testing.T) {
	const n = 50_000
	x := ggValues(n, 0.8, 1)
	for _, mode := range []ThresholdSource{ThresholdBatch, ThresholdGG} {
		for _, target := range []float64{0.5, 0.9, 0.98} {
			store := model.NewStore()
			cfg := func(c *ACTConfig) *ACTConfig {
				return c.TargetSparsity(target).Ramp(0, 0).RateWeight(0).ThresholdFrom(mode).SampleSize(0) // Exact statistics.
			}
			out, reg := runSite(t, store, true, cfg, x)
			require.True(t, math.IsNaN(reg), "no rate term with lambda=0")
			got := zeroFraction(out)
			// batch: exact up to one value; gg: the data are GG, so the fitted
			// quantile is off only by the fit's sampling error (a few 1/sqrt(n)).
			tol := 2.0 / n
			if mode == ThresholdGG {
				tol = 6 * math.Sqrt(target*(1-target)/n) * 3
			}
			require.InDelta(t, target, got, tol, "mode=%s target=%g", mode, target)
			for i, v := range out {
				if v != 0 {
					require.Equal(t, x[i], v)
				}
			}
			sites, err := ReadMetrics(store)
			require.NoError(t, err)
			require.Len(t, sites, 1)
			require.Equal(t, "/site/act", sites[0].Site)
			require.InDelta(t, got, sites[0].Sparsity, 1e-6)
			require.InDelta(t, 0.8, sites[0].Beta, 0.05)
			require.InDelta(t, codedBits(out), sites[0].BitsPerActivation, 1e-6, "mode=%s target=%g", mode, target)
		}
	}
}

// TestACTRunningThresholdAndInference: the threshold is a running average,
// tau_1 = b_1 and tau_t = 0.9 tau_{t-1} + 0.1 b_t, b_t the batch's level
// below which a fraction 0.8 of |x| falls; at inference it is frozen:
// deterministic and batch-independent.
//
// b_t is found by bisection on [0, max|x|] to max|x| 2^-24, so it lies in
// (a_(k), a_(k) + max|x| 2^-24], a_(k) the k-th smallest |x|, k = ceil(0.8 n)
// (k - 1 to k + 1 here: 0.8 is not exact in float32). The batches have
// different scales, so that a wrong weight of the past moves tau by far more
// than these bounds.
func TestACTRunningThresholdAndInference(t *testing.T) {
	const n = 20_000
	store := model.NewStore()
	cfg := func(c *ACTConfig) *ACTConfig { return c.TargetSparsity(0.8).Ramp(0, 0).RateWeight(0).SampleSize(0) }
	var taus []float64
	var lo, hi float64 // Bounds of the expected tau.
	for step, scale := range []float32{1, 3, 0.5} {
		x := ggValues(n, 1, uint64(10+step))
		abs := make([]float64, n)
		for i := range x {
			x[i] *= scale
			abs[i] = math.Abs(float64(x[i]))
		}
		runSite(t, store, true, cfg, x)
		sites, err := ReadMetrics(store)
		require.NoError(t, err)
		taus = append(taus, sites[0].Threshold)

		slices.Sort(abs)
		k := int(math.Ceil(0.8 * n))
		bLo, bHi := abs[k-2], abs[k]+abs[n-1]*math.Ldexp(1, -24)
		if step == 0 {
			lo, hi = bLo, bHi
		} else {
			lo, hi = 0.9*lo+0.1*bLo, 0.9*hi+0.1*bHi
		}
		eps := 1e-6 * hi // float32 rounding of the average.
		require.True(t, taus[step] >= lo-eps && taus[step] <= hi+eps,
			"step %d: threshold %.7g, want it in [%.7g, %.7g]", step+1, taus[step], lo, hi)
	}
	tau := float32(taus[2])
	// Inference on a different batch: exactly the frozen threshold.
	x := ggValues(n, 1, 99)
	out1, _ := runSite(t, store, false, cfg, x)
	out2, _ := runSite(t, store, false, cfg, x[:n/2])
	for i, v := range x {
		if float32(math.Abs(float64(v))) < tau {
			require.Zero(t, out1[i])
		} else {
			require.Equal(t, v, out1[i])
		}
	}
	require.Equal(t, out1[:n/2], out2, "batch-independent")
	sites, _ := ReadMetrics(store)
	require.Equal(t, taus[2], sites[0].Threshold, "inference does not move the threshold")
}

// TestACTRateTerm: lambda_t * mean((|x|+eps)^beta_hat) is added to the loss.
func TestACTRateTerm(t *testing.T) {
	const n = 10_000
	x := ggValues(n, 1.2, 3)
	store := model.NewStore()
	cfg := func(c *ACTConfig) *ACTConfig { return c.TargetSparsity(0).RateWeight(0.5).Ramp(0, 0) }
	_, reg := runSite(t, store, true, cfg, x)
	sites, err := ReadMetrics(store)
	require.NoError(t, err)
	beta := sites[0].Beta
	want := 0.0
	for _, v := range x {
		want += math.Pow(math.Abs(float64(v))+1e-6, beta)
	}
	want = 0.5 * want / n
	require.InEpsilon(t, want, reg, 1e-4)
}

func TestACTBadHyperparameters(t *testing.T) {
	backend := testbackend.Get(t)
	for name, cfg := range map[string]func(c *ACTConfig) *ACTConfig{
		"sparsity=1":    func(c *ACTConfig) *ACTConfig { return c.TargetSparsity(1) },
		"sparsity<0":    func(c *ACTConfig) *ACTConfig { return c.TargetSparsity(-0.1) },
		"lambda<0":      func(c *ACTConfig) *ACTConfig { return c.RateWeight(-1) },
		"end<start":     func(c *ACTConfig) *ACTConfig { return c.Ramp(10, 5) },
		"schedule":      func(c *ACTConfig) *ACTConfig { return c.Schedule(ScheduleStaged + 1) },
		"threshold":     func(c *ACTConfig) *ACTConfig { return c.ThresholdFrom(-1) },
		"epsilon":       func(c *ACTConfig) *ACTConfig { return c.Epsilon(0) },
		"sparsity=NaN?": func(c *ACTConfig) *ACTConfig { return c.TargetSparsity(math.NaN()) },
	} {
		require.Panics(t, func() { runSiteNoRecover(backend, store(), cfg) }, name)
	}
}

func store() *model.Store { return model.NewStore() }

// runSiteNoRecover builds the site directly on backend (panics escape, unlike
// Exec).
func runSiteNoRecover(backend compute.Backend, s *model.Store, cfg func(c *ACTConfig) *ACTConfig) {
	g := NewGraph(backend, "bad")
	x := Parameter(g, "x", shapesF32(4))
	s.SetTraining(g, true)
	cfg(ACT(s.RootScope(), x)).Done()
}

// TestACTGradient: the training graph has a gradient (the fitted beta_hat is a
// constant for it), and it is the mask's plus the rate term's: for
// L = sum(ACT(x)) + lambda * mean((|x|+eps)^beta_hat),
// dL/dx_i = [x_i kept] + lambda * beta_hat * (|x_i|+eps)^(beta_hat-1) * sign(x_i) / n.
func TestACTGradient(t *testing.T) {
	const n, lambda = 2_000, 0.5
	x := ggValues(n, 1.2, 4)
	store := model.NewStore()
	exec, err := model.NewExec(testbackend.Get(t), store, func(scope *model.Scope, xIn *Node) []*Node {
		g := xIn.Graph()
		scope.Store().SetTraining(g, true)
		out := ACT(scope.In("site"), xIn).TargetSparsity(0.5).RateWeight(lambda).Ramp(0, 0).Done()
		loss := Add(ReduceAllSum(out), train.GetRegularizationLoss(g))
		return []*Node{out, Gradient(loss, xIn)[0]}
	})
	require.NoError(t, err)
	res, err := exec.Call(x)
	require.NoError(t, err)
	out, grad := tensors.MustCopyFlatData[float32](res[0]), tensors.MustCopyFlatData[float32](res[1])
	sites, err := ReadMetrics(store)
	require.NoError(t, err)
	beta := sites[0].Beta
	for i, v := range x {
		a := math.Abs(float64(v))
		want := lambda * beta * math.Pow(a+1e-6, beta-1) * math.Copysign(1, float64(v)) / n
		if out[i] != 0 {
			want++
		}
		require.InDelta(t, want, float64(grad[i]), 1e-5*math.Max(1, math.Abs(want)), "x[%d]=%g", i, v)
	}
}

// TestACTSampleCoversAll: the statistics' sample of a [10, 100] tensor with
// SampleSize(300) is every 7th value (7 is the first stride >= 1000/300 that is
// coprime with 100), 143 of them, and any 7 successive steps sample every value.
func TestACTSampleCoversAll(t *testing.T) {
	x := make([]float32, 1000)
	for i := range x {
		x[i] = float32(i)
	}
	seen := make([]int, len(x))
	for step := int64(1); step <= 7; step++ {
		out := MustExecOnce(testbackend.Get(t), func(x, step *Node) *Node {
			return sampleValues(Reshape(x, 10, 100), step, 300)
		}, x, step)
		sample := tensors.MustCopyFlatData[float32](out)
		require.Len(t, sample, 143)
		require.Equal(t, float32(step%7), sample[0])
		for _, v := range sample {
			seen[int(v)]++
		}
	}
	for i, n := range seen {
		require.GreaterOrEqual(t, n, 1, "value %d never sampled", i)
	}
}

// TestACTSampledTarget: with the default sample (m = 15,385 of 200,000
// values here), the batch threshold is the sample's quantile: the sparsity
// metric (measured on the sample) is the target up to ties, and the whole
// output's fraction of zeros differs from it by the sample quantile's
// sampling error, whose standard deviation is sqrt(s(1-s)/m) = 0.0024 at
// s = 0.9; we allow 5 of them.
func TestACTSampledTarget(t *testing.T) {
	const n, target, m = 200_000, 0.9, 15_385
	x := ggValues(n, 0.8, 7)
	store := model.NewStore()
	out, _ := runSite(t, store, true, func(c *ACTConfig) *ACTConfig {
		return c.TargetSparsity(target).Ramp(0, 0).RateWeight(0)
	}, x)
	sites, err := ReadMetrics(store)
	require.NoError(t, err)
	require.InDelta(t, target, sites[0].Sparsity, 2.0/m)
	require.InDelta(t, target, zeroFraction(out), 5*math.Sqrt(target*(1-target)/m))
}

// codedBits returns the host codec's size, in bits per value, of values
// quantized to int8 as ACT's metric quantizes them: the shorter of the
// per-value code (order 0) and the zero-run code with its best orders.
func codedBits(values []float32) float64 {
	var maxAbs float32
	for _, v := range values {
		maxAbs = max(maxAbs, float32(math.Abs(float64(v))))
	}
	scale := max(maxAbs/127, 1e-30)
	qs := make([]int32, len(values))
	for i, v := range values {
		qs[i] = int32(max(-127, min(127, math.RoundToEven(float64(v/scale)))))
	}
	_, _, runBits := expgolomb.BestRunK(qs)
	return float64(min(expgolomb.BitLen(qs, 0), runBits)) / float64(len(values))
}
