package ggx

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/ggprior/ggprior/internal/testbackend"
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/stretchr/testify/require"
)

// fitGraphHost runs FitGraph on xs (converted to dtype) and returns beta, alpha.
func fitGraphHost(t *testing.T, xs []float64, dtype dtypes.DType) (beta, alpha float64) {
	t.Helper()
	backend := testbackend.Get(t)
	outs, err := MustNewExec(backend, func(x *Node) (*Node, *Node) {
		b, a := FitGraph(ConvertDType(x, dtype))
		return ConvertDType(b, dtypes.Float64), ConvertDType(a, dtypes.Float64)
	}).Call(xs)
	require.NoError(t, err)
	return tensors.ToScalar[float64](outs[0]), tensors.ToScalar[float64](outs[1])
}

// TestFitGraphAgreesWithFit: the in-graph fit agrees with the host Fit to 1e-3
// (relative) on the same data, in Float64 and Float32.
func TestFitGraphAgreesWithFit(t *testing.T) {
	const n = 100_000
	for i, beta := range []float64{0.2, 0.3, 0.5, 1, 1.5, 2, 3, 4, 8} {
		d := Dist{Mu: 0.1, Alpha: 0.5, Beta: beta, Src: rand.NewPCG(uint64(i), 3)}
		xs := make([]float64, n)
		for j := range xs {
			xs[j] = d.Rand()
		}
		want, err := Fit(xs)
		require.NoError(t, err)
		for _, dtype := range []dtypes.DType{dtypes.Float64, dtypes.Float32} {
			b, a := fitGraphHost(t, xs, dtype)
			require.InEpsilon(t, want.Beta, b, 1e-3, "beta=%g dtype=%s", beta, dtype)
			require.InEpsilon(t, want.Alpha, a, 1e-3, "beta=%g dtype=%s alpha", beta, dtype)
		}
	}
}

// TestFitGraphEdgeCases: constant input gives the flat bound and alpha 0, no
// NaN; extreme peakiness is clamped to GraphBetaMin.
func TestFitGraphEdgeCases(t *testing.T) {
	b, a := fitGraphHost(t, []float64{3, 3, 3, 3}, dtypes.Float32)
	require.InDelta(t, GraphBetaMax, b, 1e-3)
	require.Equal(t, 0.0, a)

	spiky := make([]float64, 400_000)
	spiky[0] = 1 // One outlier among n zeros: rho ~ n/4, beyond rho(GraphBetaMin).
	b, a = fitGraphHost(t, spiky, dtypes.Float64)
	require.InDelta(t, GraphBetaMin, b, 1e-6)
	require.False(t, math.IsNaN(a) || math.IsInf(a, 0))
}

func TestFitGraphBadInput(t *testing.T) {
	backend := testbackend.Get(t)
	_, err := ExecOnce(backend, func(x *Node) *Node { b, _ := FitGraph(x); return b }, []int32{1, 2, 3})
	require.ErrorContains(t, err, "float")
	_, err = ExecOnce(backend, func(g *Graph) *Node {
		b, _ := FitGraph(Zeros(g, dtypesShape(dtypes.Float32, 0)))
		return b
	})
	require.ErrorContains(t, err, "empty")
}
