package ggx

import (
	"math"
	"testing"

	"github.com/ggprior/ggprior/internal/testbackend"
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/stretchr/testify/require"
)

// TestTables: Table and Table2D reproduce their points, are exact on
// functions linear along each axis (what linear and bilinear interpolation
// reproduce), clamp outside their grid, and Lookup (in the graph, both
// dtypes) agrees with At (on the host).
func TestTables(t *testing.T) {
	f := func(x float64) float64 { return 2 - 3*x }
	t1 := &Table{X0: -1, H: 0.5, Y: []float64{f(-1), f(-0.5), f(0), f(0.5), f(1)}}
	// f2 is bilinear: linear in x for fixed y and in y for fixed x.
	f2 := func(x, y float64) float64 { return 1 + 2*x - y + 0.5*x*y }
	t2 := &Table2D{X0: 1, HX: 0.25, Y0: -2, HY: 1, NX: 3}
	for i := range t2.NX {
		for j := range 4 {
			t2.Z = append(t2.Z, f2(1+0.25*float64(i), -2+float64(j)))
		}
	}
	xs := []float64{-1, -0.7, 0, 0.3, 1, -5, 5}
	want1 := []float64{f(-1), f(-0.7), f(0), f(0.3), f(1), f(-1), f(1)} // Clamped to [-1, 1].
	ys := []float64{-2, 0.5, 1, -1.25, 0, -9, 9}
	x2 := []float64{1, 1.1, 1.5, 1.3, 0, 2, 1.2}
	want2 := make([]float64, len(ys))
	for i := range ys {
		want2[i] = f2(min(max(x2[i], 1), 1.5), min(max(ys[i], -2), 1)) // Clamped to [1, 1.5] x [-2, 1].
	}
	for i := range xs {
		require.InDelta(t, want1[i], t1.At(xs[i]), 1e-12, "Table.At(%g)", xs[i])
		require.InDelta(t, want2[i], t2.At(x2[i], ys[i]), 1e-12, "Table2D.At(%g, %g)", x2[i], ys[i])
	}
	backend := testbackend.Get(t)
	for _, dtype := range []dtypes.DType{dtypes.Float32, dtypes.Float64} {
		out := MustExecOnce(backend, func(x, x2, y *Node) *Node {
			x, x2, y = ConvertDType(x, dtype), ConvertDType(x2, dtype), ConvertDType(y, dtype)
			return ConvertDType(Stack([]*Node{t1.Lookup(x), t2.Lookup(x2, y)}, 0), dtypes.Float64)
		}, xs, x2, ys)
		got := tensors.MustCopyFlatData[float64](out)
		tol := 1e-12
		if dtype == dtypes.Float32 {
			tol = 1e-5
		}
		for i := range xs {
			require.InDelta(t, want1[i], got[i], tol*math.Max(1, math.Abs(want1[i])), "%s Table.Lookup(%g)", dtype, xs[i])
			require.InDelta(t, want2[i], got[len(xs)+i], tol*math.Max(1, math.Abs(want2[i])), "%s Table2D.Lookup(%g, %g)", dtype, x2[i], ys[i])
		}
	}
	require.Panics(t, func() { (&Table2D{NX: 2, Z: []float64{1, 2}}).At(0, 0) }, "one column")
	require.Panics(t, func() { (&Table2D{NX: 2, Z: []float64{1, 2, 3}}).At(0, 0) }, "ragged")
}
