package dotsum

import (
	"math"
	"testing"

	"github.com/ggprior/ggprior/internal/testbackend"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/support/exceptions"
	"github.com/stretchr/testify/require"
)

// TestSums: the sums over a [37, 29] tensor match float64 sums within float32
// rounding (a relative 1e-5, far above n * 2^-24 of the terms' magnitude);
// Abs matches |x|, NaN included; bad inputs panic with the function's name.
func TestSums(t *testing.T) {
	backend := testbackend.Get(t)
	const rows, cols = 37, 29
	x := make([][]float32, rows)
	y := make([][]float32, rows)
	var sum, sumSq, inner, sumAbs float64
	for i := range x {
		x[i], y[i] = make([]float32, cols), make([]float32, cols)
		for j := range x[i] {
			x[i][j] = float32(math.Sin(float64(i*cols+j)) * 3)
			y[i][j] = float32(math.Cos(float64(i*cols+j)*0.7) - 0.2)
			a, b := float64(x[i][j]), float64(y[i][j])
			sum, sumSq, inner, sumAbs = sum+a, sumSq+a*a, inner+a*b, sumAbs+math.Abs(a)
		}
	}
	got := graph.MustExecOnceN(backend, func(x, y *graph.Node) []*graph.Node {
		return []*graph.Node{Sum(x), Mean(x), SumSquares(x), Inner(x, y), Sum(Abs(x))}
	}, x, y)
	for i, want := range []float64{sum, sum / (rows * cols), sumSq, inner, sumAbs} {
		require.InDelta(t, want, float64(tensors.ToScalar[float32](got[i])), 1e-5*math.Max(1, math.Abs(want)), "output %d", i)
	}
	abs := graph.MustExecOnce(backend, Abs, []float32{-2, 0, 3, float32(math.NaN()), float32(math.Inf(-1))})
	values := tensors.MustCopyFlatData[float32](abs)
	require.Equal(t, []float32{2, 0, 3}, values[:3])
	require.True(t, math.IsNaN(float64(values[3])))
	require.True(t, math.IsInf(float64(values[4]), 1))

	for name, fn := range map[string]func(g *graph.Graph){
		"dotsum.Sum: x must be a float": func(g *graph.Graph) { Sum(graph.Zeros(g, shapes.Make(dtypes.Int32, 3))) },
		"dotsum.Sum: x is empty":        func(g *graph.Graph) { Sum(graph.Zeros(g, shapes.Make(dtypes.Float32, 0))) },
		"dotsum.Inner: shapes": func(g *graph.Graph) {
			Inner(graph.Zeros(g, shapes.Make(dtypes.Float32, 3)), graph.Zeros(g, shapes.Make(dtypes.Float32, 4)))
		},
	} {
		g := graph.NewGraph(backend, "test")
		err := exceptions.TryCatch[error](func() { fn(g) })
		require.ErrorContains(t, err, name)
	}
}
