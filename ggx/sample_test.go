package ggx

import (
	"fmt"
	"math"
	"testing"

	"github.com/ggprior/ggprior/internal/testbackend"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/stretchr/testify/require"
)

var testBetas = []float64{0.3, 0.5, 1, 1.5, 2, 3, 4}

// TestQuantileTableAccuracy checks the interpolation error of the in-graph
// quantile table against the exact quantile, between grid points (where it is largest).
func TestQuantileTableAccuracy(t *testing.T) {
	for _, beta := range []float64{0.1, 0.3, 0.5, 1, 2, 4, 10} {
		for _, dtype := range []dtypes.DType{dtypes.Float32, dtypes.Float64} {
			tab := quantileTableFor(beta, dtype)
			worst := 0.0
			for i := 0; i+1 < len(tab.ratio.Y); i += 97 {
				x := tab.ratio.X0 + (float64(i)+0.5)*tab.ratio.H
				exact := magnitudeRatio(beta, math.Exp(x))
				got := tab.ratio.At(x)
				worst = math.Max(worst, math.Abs(got-exact)/exact)
			}
			require.Less(t, worst, 2e-6, "beta=%g dtype=%s: worst relative error %g", beta, dtype, worst)
		}
	}
}

// TestSampleKS: KS distance below the 99% critical value at n = 1e5 for every beta.
func TestSampleKS(t *testing.T) {
	const n = 100_000
	for i, beta := range testBetas {
		for _, dtype := range []dtypes.DType{dtypes.Float32, dtypes.Float64} {
			t.Run(fmt.Sprintf("beta=%g/%s", beta, dtype), func(t *testing.T) {
				d := Dist{Mu: 0.5, Alpha: 2, Beta: beta}
				xs := sampleHost(t, n, dtype, d, int64(1000+i))
				ks := KS(xs, d)
				require.Less(t, ks, ksCritical99(n), "KS=%g", ks)
			})
		}
	}
}

// TestSampleMoments: mean and variance within 5 standard errors of the
// distribution's, with the standard errors from the distribution's moments.
func TestSampleMoments(t *testing.T) {
	const n = 200_000
	for i, beta := range testBetas {
		d := FromStdDev(-1, 0.7, beta)
		xs := sampleHost(t, n, dtypes.Float64, d, int64(77+i))
		mean, variance := meanVar(xs)
		seMean := d.StdDev() / math.Sqrt(n)
		// Var of the sample variance: (mu4 - sigma^4)/n = sigma^4 (kurtosis - 1)/n.
		seVar := d.Variance() * math.Sqrt((d.ExKurtosis()+2)/n)
		require.InDelta(t, d.Mean(), mean, 5*seMean, "beta=%g mean", beta)
		require.InDelta(t, d.Variance(), variance, 5*seVar, "beta=%g variance", beta)
	}
}

// TestSampleSymmetry: the two signs are equiprobable (binomial, 5 standard errors).
func TestSampleSymmetry(t *testing.T) {
	const n = 200_000
	xs := sampleHost(t, n, dtypes.Float32, Dist{Alpha: 1, Beta: 0.5}, 5)
	pos := 0
	for _, x := range xs {
		if x > 0 {
			pos++
		}
	}
	require.InDelta(t, 0.5, float64(pos)/n, 5*0.5/math.Sqrt(n))
}

// TestSampleNeverNonFinite: no NaN or Inf over 1e7 draws, for the heaviest and
// lightest tails.
func TestSampleNeverNonFinite(t *testing.T) {
	if testing.Short() {
		t.Skip("1e7 draws per beta")
	}
	const n = 10_000_000
	backend := testbackend.Get(t)
	for _, beta := range []float64{0.1, 0.3, 4, 10} {
		for _, dtype := range []dtypes.DType{dtypes.Float32, dtypes.BFloat16} {
			state, err := RNGStateFromSeed(int64(beta * 1000))
			require.NoError(t, err)
			out, err := ExecOnce(backend, func(st *Node) *Node {
				_, v := SampleWithState(st, shapes.Make(dtype, n), Dist{Alpha: 1, Beta: beta})
				bad := LogicalNot(IsFinite(ConvertDType(v, dtypes.Float32)))
				return ReduceAllSum(ConvertDType(bad, dtypes.Int64))
			}, state)
			require.NoError(t, err)
			require.Equal(t, int64(0), tensors.ToScalar[int64](out), "beta=%g dtype=%s", beta, dtype)
		}
	}
}

// TestSampleHalfPrecision: BFloat16 and Float16 outputs, sampled through Float32.
func TestSampleHalfPrecision(t *testing.T) {
	const n = 50_000
	for _, dtype := range []dtypes.DType{dtypes.BFloat16, dtypes.Float16} {
		d := Dist{Alpha: 1, Beta: 1.5}
		xs := sampleHost(t, n, dtype, d, 9)
		// Rounding to 8 (bf16) or 11 (f16) significant bits moves each value by at
		// most 2^-8 relative: the KS distance grows by at most the probability mass
		// of that band, bounded by maxDensity * 2^-8 * max|x| ~ small; allow it on top.
		mean, _ := meanVar(xs)
		require.InDelta(t, 0, mean, 5*d.StdDev()/math.Sqrt(n))
		ks := KS(xs, d)
		require.Less(t, ks, ksCritical99(n)+d.Prob(0)*math.Ldexp(1, -8)*2, "dtype=%s KS=%g", dtype, ks)
	}
}

func TestSampleBadInput(t *testing.T) {
	backend := testbackend.Get(t)
	state, err := RNGStateFromSeed(1)
	require.NoError(t, err)
	for _, d := range []Dist{{Alpha: 0, Beta: 1}, {Alpha: 1, Beta: -1}, {Alpha: 1, Beta: math.NaN()}, {Mu: math.Inf(1), Alpha: 1, Beta: 1}} {
		_, err := ExecOnce(backend, func(st *Node) *Node {
			_, v := SampleWithState(st, shapes.Make(dtypes.Float32, 3), d)
			return v
		}, state)
		require.Error(t, err, "dist %+v", d)
	}
	_, err = ExecOnce(backend, func(st *Node) *Node {
		_, v := SampleWithState(st, shapes.Make(dtypes.Int32, 3), Dist{Alpha: 1, Beta: 1})
		return v
	}, state)
	require.ErrorContains(t, err, "dtype")
}

// BenchmarkSample compares Sample with RandomNormal of the same 1024x1024
// Float32 shape, on the test backend (testbackend.Get: the pure-Go backend
// unless GGPRIOR_TEST_BACKEND names another); it reports the ratio of the two.
func BenchmarkSample(b *testing.B) {
	backend := testbackend.Get(b)
	shape := shapes.Make(dtypes.Float32, 1024, 1024)
	state, err := RNGStateFromSeed(1)
	require.NoError(b, err)
	normal := MustNewExec(backend, func(st *Node) (*Node, *Node) { return RandomNormal(st, shape) })
	gg := MustNewExec(backend, func(st *Node) (*Node, *Node) {
		return SampleWithState(st, shape, Dist{Alpha: 1, Beta: 0.7})
	})
	timeIt := func(e *Exec, iters int) float64 {
		st := state
		var total float64
		for range iters {
			start := nanotime()
			outs := e.MustCall(st)
			total += float64(nanotime() - start)
			st = outs[0]
			require.NoError(b, outs[1].FinalizeAll())
		}
		return total / float64(iters)
	}
	timeIt(normal, 2) // Warm up (compile).
	timeIt(gg, 2)
	b.ResetTimer()
	var nsNormal, nsGG float64
	for range b.N {
		nsNormal += timeIt(normal, 1)
		nsGG += timeIt(gg, 1)
	}
	b.ReportMetric(nsNormal/float64(b.N)/1e6, "ms/RandomNormal")
	b.ReportMetric(nsGG/float64(b.N)/1e6, "ms/Sample")
	b.ReportMetric(nsGG/nsNormal, "ratio")
}
