package expgolomb

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/ggprior/ggprior/internal/testbackend"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/stretchr/testify/require"
)

// graphCodeLens runs CodeLenGraph and BitLenGraph on the test backend
// (testbackend.Get).
func graphCodeLens(t *testing.T, input *tensors.Tensor, k int) (lens []int32, total int64) {
	t.Helper()
	backend := testbackend.Get(t)
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
	backend := testbackend.Get(t)
	_, err := graph.CallOnce(backend, func(q *graph.Node) *graph.Node { return BitLenGraph(q, MaxK+1) }, []int32{1})
	require.Error(t, err)
	_, err = graph.CallOnce(backend, func(q *graph.Node) *graph.Node { return CodeLenGraph(q, -1) }, []int32{1})
	require.Error(t, err)
	_, err = graph.CallOnce(backend, func(q *graph.Node) *graph.Node { return CodeLenGraph(q, 0) }, []bool{true})
	require.Error(t, err)
}

func TestGraphGradientIsStopped(t *testing.T) {
	// A loss mixing a differentiable term and the code length: the gradient only sees the former.
	backend := testbackend.Get(t)
	x := []float32{0.3, -1.7, 0, 2.2, 0}
	for name, bitLen := range map[string]func(q *graph.Node) *graph.Node{
		"BitLenGraph":        func(q *graph.Node) *graph.Node { return BitLenGraph(q, 0) },
		"RunBitLenGraph":     func(q *graph.Node) *graph.Node { return RunBitLenGraph(q, 1, 2) },
		"BestRunBitLenGraph": BestRunBitLenGraph,
	} {
		grad, err := graph.CallOnce(backend, func(x *graph.Node) *graph.Node {
			bits := graph.ConvertDType(bitLen(graph.DivScalar(x, 0.1)), dtypes.Float32)
			loss := graph.Add(graph.ReduceAllSum(graph.Square(x)), bits)
			return graph.Gradient(loss, x)[0]
		}, x)
		require.NoError(t, err, name)
		got := tensors.MustCopyFlatData[float32](grad)
		for i := range x {
			require.InDelta(t, 2*x[i], got[i], 1e-6, name)
		}
	}
}

// graphRunBitLens runs RunBitLenGraph with each pair of orders, and BestRunBitLenGraph, on the
// test backend (testbackend.Get).
func graphRunBitLens(t *testing.T, input *tensors.Tensor, orders [][2]int) (totals []int64, best int64) {
	t.Helper()
	exec, err := graph.NewExec(testbackend.Get(t), func(q *graph.Node) []*graph.Node {
		outputs := []*graph.Node{BestRunBitLenGraph(q)}
		for _, k := range orders {
			outputs = append(outputs, RunBitLenGraph(q, k[0], k[1]))
		}
		return outputs
	})
	require.NoError(t, err)
	defer exec.Finalize()
	outputs, err := exec.Call(input)
	require.NoError(t, err)
	require.Len(t, outputs, 1+len(orders))
	for _, out := range outputs {
		require.Equal(t, dtypes.Int64, out.DType())
		require.Equal(t, 0, out.Rank())
	}
	for _, out := range outputs[1:] {
		totals = append(totals, tensors.ToScalar[int64](out))
	}
	return totals, tensors.ToScalar[int64](outputs[0])
}

// requireRunGraphMatchesHost checks RunBitLenGraph and BestRunBitLenGraph against RunBitLen of
// want, the int32 values the host would encode (input flattened in row-major order), with every
// order pair of orders and, for the best, all orders in the graph's range.
func requireRunGraphMatchesHost(t *testing.T, name string, input *tensors.Tensor, want []int32, orders [][2]int) {
	t.Helper()
	totals, best := graphRunBitLens(t, input, orders)
	for i, k := range orders {
		require.Equalf(t, RunBitLen(want, k[0], k[1]), totals[i], "%s kr=%d kv=%d: RunBitLenGraph", name, k[0], k[1])
	}
	wantBest := int64(math.MaxInt64)
	for kr := 0; kr <= BestRunGraphMaxKR; kr++ {
		for kv := 0; kv <= BestRunGraphMaxKV; kv++ {
			wantBest = min(wantBest, RunBitLen(want, kr, kv))
		}
	}
	require.Equalf(t, wantBest, best, "%s: BestRunBitLenGraph", name)
	if kr, kv, nbits := BestRunK(want); kr <= BestRunGraphMaxKR && kv <= BestRunGraphMaxKV {
		require.Equalf(t, nbits, best, "%s: BestRunBitLenGraph against BestRunK", name)
	}
}

func TestGraphRunBitLen(t *testing.T) {
	rng := rand.New(rand.NewPCG(35, 36))
	orders := [][2]int{{0, 0}, {1, 0}, {0, 1}, {2, 3}, {4, 2}, {7, 0}, {13, 5}, {MaxK, MaxK}}
	// Runs whose lengths cross powers of two (2^m - 2^k is where the order-k code grows), at the
	// start, inside and at the end.
	crossing := make([]int32, 0, 3000)
	for _, r := range []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 14, 15, 16, 17, 30, 31, 32, 33, 63, 64, 65, 127, 128, 129, 255, 256, 257, 1023, 1024} {
		crossing = append(append(crossing, make([]int32, r)...), int32(r)-500)
	}
	crossing = append(crossing, make([]int32, 511)...)
	oneRun := make([]int32, 5000)
	oneRun[2047] = -3
	extremes := []int32{math.MinInt32, 0, math.MaxInt32, 0, 0, math.MinInt32 + 1, 1, -1, 0, 1 << 30}
	datasets := map[string][]int32{
		"all zeros":   make([]int32, 1000),
		"no zeros":    sparsify(rng, logUniformInts(rng, 1000), 0),
		"one zero":    {0},
		"one value":   {-7},
		"two values":  {5, 0},
		"crossing":    crossing,
		"one run":     oneRun,
		"extremes":    extremes,
		"uniform":     sparsify(rng, uniformInts(rng, 2000), 0.9),
		"sparse 50%":  sparsify(rng, logUniformInts(rng, 2000), 0.5),
		"sparse 99%":  sparsify(rng, logUniformInts(rng, 4000), 0.99),
		"sparse int8": sparseInts(4000, 1, 0.95),
	}
	// The int8 data has runs shorter than 2^16: BestRunK's orders are in the graph's range.
	kr, kv, _ := BestRunK(datasets["sparse int8"])
	require.LessOrEqual(t, kr, BestRunGraphMaxKR)
	require.LessOrEqual(t, kv, BestRunGraphMaxKV)
	for name, qs := range datasets {
		requireRunGraphMatchesHost(t, name+"/int32", tensors.FromFlatDataAndDimensions(qs, len(qs)), qs, orders)
		f64 := make([]float64, len(qs))
		for i, q := range qs {
			f64[i] = float64(q)
		}
		requireRunGraphMatchesHost(t, name+"/float64", tensors.FromFlatDataAndDimensions(f64, len(f64)), qs, orders)
		if len(qs)%2 == 0 { // Rank 2, flattened in row-major order.
			requireRunGraphMatchesHost(t, name+"/int32[2,n/2]", tensors.FromFlatDataAndDimensions(qs, 2, len(qs)/2), qs, orders)
		}
	}
	// Random tensors of random shapes, sparsities and orders.
	for range 30 {
		rows, cols := 1+rng.IntN(20), 1+rng.IntN(60)
		qs := sparsify(rng, logUniformInts(rng, rows*cols), rng.Float64())
		k := [][2]int{{rng.IntN(MaxK + 1), rng.IntN(MaxK + 1)}, {rng.IntN(5), rng.IntN(5)}}
		requireRunGraphMatchesHost(t, "random", tensors.FromFlatDataAndDimensions(qs, rows, cols), qs, k)
	}
	// Rounding and saturation as in CodeLenGraph; scalars and empty tensors.
	f32 := []float32{0.4, -0.4, 0.5, 1.5, -2.5, 0, 0, 3e9, -3e9, 0.49, 0, 2.6}
	requireRunGraphMatchesHost(t, "float32", tensors.FromFlatDataAndDimensions(f32, 3, 4),
		[]int32{0, 0, 0, 2, -2, 0, 0, math.MaxInt32, math.MinInt32, 0, 0, 3}, orders)
	requireRunGraphMatchesHost(t, "int8", tensors.FromFlatDataAndDimensions([]int8{-128, 0, 0, 127, 0}, 5),
		[]int32{-128, 0, 0, 127, 0}, orders)
	requireRunGraphMatchesHost(t, "scalar", tensors.FromValue(int32(-5)), []int32{-5}, orders)
	requireRunGraphMatchesHost(t, "scalar zero", tensors.FromValue(float32(0.2)), []int32{0}, orders)
	requireRunGraphMatchesHost(t, "empty", tensors.FromFlatDataAndDimensions([]int32{}, 0), nil, orders)
	requireRunGraphMatchesHost(t, "empty 2-D", tensors.FromFlatDataAndDimensions([]float32{}, 3, 0), nil, orders)
}

func TestGraphRunInvalidArguments(t *testing.T) {
	backend := testbackend.Get(t)
	_, err := graph.CallOnce(backend, func(q *graph.Node) *graph.Node { return RunBitLenGraph(q, MaxK+1, 0) }, []int32{1})
	require.Error(t, err)
	_, err = graph.CallOnce(backend, func(q *graph.Node) *graph.Node { return RunBitLenGraph(q, 0, -1) }, []int32{1})
	require.Error(t, err)
	_, err = graph.CallOnce(backend, func(q *graph.Node) *graph.Node { return BestRunBitLenGraph(q) }, []bool{true})
	require.Error(t, err)
}
