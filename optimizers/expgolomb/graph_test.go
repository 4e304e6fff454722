package expgolomb

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/gobackend"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/stretchr/testify/require"
)

// graphCodeLens runs CodeLenGraph and BitLenGraph on the pure Go backend.
func graphCodeLens(t *testing.T, input *tensors.Tensor, k int) (lens []int32, total int64) {
	t.Helper()
	backend := gobackend.GetBackend()
	exec, err := graph.NewExec(backend, func(q *graph.Node) (*graph.Node, *graph.Node) {
		return CodeLenGraph(q, k), BitLenGraph(q, k)
	})
	require.NoError(t, err)
	defer exec.Finalize()
	outputs, err := exec.Call(input)
	require.NoError(t, err)
	require.Len(t, outputs, 2)
	require.Equal(t, dtypes.Int32, outputs[0].DType())
	require.Equal(t, dtypes.Int64, outputs[1].DType())
	require.Equal(t, 0, outputs[1].Rank())
	require.Equal(t, input.Shape().Dimensions, outputs[0].Shape().Dimensions)
	lens = tensors.MustCopyFlatData[int32](outputs[0])
	total = tensors.ToScalar[int64](outputs[1])
	return lens, total
}

// requireGraphMatchesHost checks the in-graph counts against CodeLen and BitLen of want, the
// int32 values the host would encode.
func requireGraphMatchesHost(t *testing.T, name string, input *tensors.Tensor, want []int32, k int) {
	t.Helper()
	lens, total := graphCodeLens(t, input, k)
	require.Equalf(t, BitLen(want, k), total, "%s k=%d: BitLenGraph", name, k)
	for i, q := range want {
		if int(lens[i]) != CodeLen(q, k) {
			require.Failf(t, "CodeLenGraph mismatch", "%s k=%d: element %d (q=%d): graph says %d bits, host %d",
				name, k, i, q, lens[i], CodeLen(q, k))
		}
	}
}

func TestGraphCodeLen(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	const n = 2000
	extremes := []int32{0, 1, -1, 2, -2, math.MaxInt32, math.MinInt32, math.MinInt32 + 1, math.MaxInt32 - 1,
		1 << 24, -(1 << 24), 1<<24 + 1, 1 << 30, -(1 << 30)}
	datasets := map[string][]int32{
		"gg":          quantize(generalizedGaussian(rng, n, 0.5), 0.05),
		"uniform":     uniformInts(rng, n),
		"log-uniform": append(logUniformInts(rng, n), extremes...),
	}
	for _, k := range []int{0, 1, 2, 3, 7, 16, 29, MaxK} {
		for name, qs := range datasets {
			// int32 input.
			requireGraphMatchesHost(t, name+"/int32", tensors.FromFlatDataAndDimensions(qs, 2, len(qs)/2), qs, k)

			// float64 and int64 inputs hold every int32 exactly.
			f64 := make([]float64, len(qs))
			i64 := make([]int64, len(qs))
			for i, q := range qs {
				f64[i], i64[i] = float64(q), int64(q)
			}
			requireGraphMatchesHost(t, name+"/float64", tensors.FromFlatDataAndDimensions(f64, len(f64)), qs, k)
			requireGraphMatchesHost(t, name+"/int64", tensors.FromFlatDataAndDimensions(i64, len(i64)), qs, k)

			// float32 holds integers up to 2^24 exactly; larger ones are rounded to float32 first.
			f32 := make([]float32, len(qs))
			want := make([]int32, len(qs))
			for i, q := range qs {
				f32[i] = float32(q)
				want[i] = int32(max(math.MinInt32, min(math.MaxInt32, float64(f32[i]))))
			}
			requireGraphMatchesHost(t, name+"/float32", tensors.FromFlatDataAndDimensions(f32, len(f32)), want, k)
		}
	}
}

func TestGraphCodeLenRoundingAndSaturation(t *testing.T) {
	f64 := []float64{0.4, -0.4, 0.5, 1.5, -2.5, 2.6, -7.49, 1e10, -1e10, math.Inf(1), math.Inf(-1), 3e9, -3e9,
		2147483647.0, 2147483648.0, -2147483648.0, -2147483649.0}
	want := []int32{0, 0, 0, 2, -2, 3, -7, math.MaxInt32, math.MinInt32, math.MaxInt32, math.MinInt32,
		math.MaxInt32, math.MinInt32, math.MaxInt32, math.MaxInt32, math.MinInt32, math.MinInt32}
	i64 := []int64{math.MaxInt64, math.MinInt64, 1 << 40, -(1 << 40), 1 << 31, -(1 << 31) - 1, 5}
	want64 := []int32{math.MaxInt32, math.MinInt32, math.MaxInt32, math.MinInt32, math.MaxInt32, math.MinInt32, 5}
	u32 := []uint32{0, 1, 1 << 31, math.MaxUint32}
	wantU32 := []int32{0, 1, math.MaxInt32, math.MaxInt32}
	i8 := []int8{-128, 127, 0, -1}
	for _, k := range []int{0, 3, MaxK} {
		requireGraphMatchesHost(t, "float64", tensors.FromFlatDataAndDimensions(f64, len(f64)), want, k)
		f32 := make([]float32, len(f64))
		for i, x := range f64 {
			f32[i] = float32(x)
		}
		requireGraphMatchesHost(t, "float32", tensors.FromFlatDataAndDimensions(f32, len(f32)), want, k)
		requireGraphMatchesHost(t, "int64", tensors.FromFlatDataAndDimensions(i64, len(i64)), want64, k)
		requireGraphMatchesHost(t, "uint32", tensors.FromFlatDataAndDimensions(u32, len(u32)), wantU32, k)
		requireGraphMatchesHost(t, "int8", tensors.FromFlatDataAndDimensions(i8, len(i8)), []int32{-128, 127, 0, -1}, k)
	}
	// Scalars and empty tensors.
	requireGraphMatchesHost(t, "scalar", tensors.FromValue(int32(-5)), []int32{-5}, 0)
	requireGraphMatchesHost(t, "empty", tensors.FromFlatDataAndDimensions([]float32{}, 0), nil, 2)
}

func TestGraphInvalidArguments(t *testing.T) {
	backend := gobackend.GetBackend()
	_, err := graph.CallOnce(backend, func(q *graph.Node) *graph.Node { return BitLenGraph(q, MaxK+1) }, []int32{1})
	require.Error(t, err)
	_, err = graph.CallOnce(backend, func(q *graph.Node) *graph.Node { return CodeLenGraph(q, -1) }, []int32{1})
	require.Error(t, err)
	_, err = graph.CallOnce(backend, func(q *graph.Node) *graph.Node { return CodeLenGraph(q, 0) }, []bool{true})
	require.Error(t, err)
}

func TestGraphGradientIsStopped(t *testing.T) {
	// A loss mixing a differentiable term and the code length: the gradient only sees the former.
	backend := gobackend.GetBackend()
	x := []float32{0.3, -1.7, 2.2, 0}
	grad, err := graph.CallOnce(backend, func(x *graph.Node) *graph.Node {
		bits := graph.ConvertDType(BitLenGraph(graph.DivScalar(x, 0.1), 0), dtypes.Float32)
		loss := graph.Add(graph.ReduceAllSum(graph.Square(x)), bits)
		return graph.Gradient(loss, x)[0]
	}, x)
	require.NoError(t, err)
	got := tensors.MustCopyFlatData[float32](grad)
	for i := range x {
		require.InDelta(t, 2*x[i], got[i], 1e-6)
	}
}
