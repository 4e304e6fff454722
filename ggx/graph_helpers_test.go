package ggx

import (
	"math"
	"slices"
	"testing"

	"github.com/ggprior/ggprior/internal/testbackend"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/stretchr/testify/require"
)

// sampleHost draws n GG variates of the given dtype in the graph (on the test
// backend, testbackend.Get), seeded, and returns them as float64.
func sampleHost(t testing.TB, n int, dtype dtypes.DType, d Dist, seed int64) []float64 {
	t.Helper()
	backend := testbackend.Get(t)
	state, err := RNGStateFromSeed(seed)
	require.NoError(t, err)
	out, err := ExecOnce(backend, func(st *Node) *Node {
		_, v := SampleWithState(st, shapes.Make(dtype, n), d)
		return ConvertDType(v, dtypes.Float64)
	}, state)
	require.NoError(t, err)
	xs := tensors.MustCopyFlatData[float64](out)
	require.NoError(t, out.FinalizeAll())
	return xs
}

// ksCritical99 is the 99% critical value of the one-sample Kolmogorov-Smirnov
// distance for n samples (asymptotic, 1.63/sqrt(n)).
func ksCritical99(n int) float64 { return 1.63 / math.Sqrt(float64(n)) }

// meanVar returns the sample mean and (unbiased) variance.
func meanVar(xs []float64) (mean, variance float64) {
	for _, x := range xs {
		mean += x
	}
	mean /= float64(len(xs))
	for _, x := range xs {
		variance += (x - mean) * (x - mean)
	}
	variance /= float64(len(xs) - 1)
	return
}

func dtypesShape(dtype dtypes.DType, dims ...int) shapes.Shape { return shapes.Make(dtype, dims...) }

// sortedCopy returns a sorted copy of xs.
func sortedCopy(xs []float64) []float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s
}
