package bisect

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/ggprior/ggprior/internal/testbackend"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/stretchr/testify/require"
)

// TestCountBelow checks the bracket's invariants and its exact count on
// distinct values, on ties, and for targets at and beyond the ends.
func TestCountBelow(t *testing.T) {
	exec := MustNewExec(testbackend.Get(t), func(a, target *Node) []*Node {
		lo, hi := CountBelow(a, target, 32)
		return []*Node{lo, hi}
	})
	rng := rand.New(rand.NewPCG(1, 2))
	distinct := make([]float32, 5000)
	for i := range distinct {
		distinct[i] = float32(rng.ExpFloat64())
	}
	ties := []float32{0, 0, 0, 1, 1, 2, 2, 2, 2, 3}
	count := func(a []float32, pred func(float32) bool) int {
		n := 0
		for _, x := range a {
			if pred(x) {
				n++
			}
		}
		return n
	}
	for _, tc := range []struct {
		a      []float32
		target float32
	}{
		{distinct, 1}, {distinct, 50}, {distinct, 4950}, {distinct, 4999}, {distinct, 2500.5},
		{ties, 3}, {ties, 4}, {ties, 9},
	} {
		out := exec.MustCall(tc.a, tc.target)
		lo, hi := out[0].Value().(float32), out[1].Value().(float32)
		require.LessOrEqual(t, lo, hi)
		require.Less(t, float64(count(tc.a, func(x float32) bool { return x < lo })), float64(tc.target), "target %g", tc.target)
		require.GreaterOrEqual(t, float64(count(tc.a, func(x float32) bool { return x < hi })), float64(tc.target), "target %g", tc.target)
		if &tc.a[0] == &distinct[0] {
			sorted := slices.Sorted(slices.Values(tc.a))
			k := len(tc.a) - int(float32ceil(tc.target))
			require.Equal(t, k, count(tc.a, func(x float32) bool { return x >= hi }), "target %g", tc.target)
			require.Greater(t, hi, sorted[len(sorted)-k-1])
		}
	}
	// All zeros: the bracket collapses at 0.
	out := exec.MustCall([]float32{0, 0, 0, 0}, float32(2))
	require.Equal(t, float32(0), out[1].Value().(float32))
}

func float32ceil(x float32) float32 {
	i := float32(int(x))
	if i < x {
		return i + 1
	}
	return i
}
