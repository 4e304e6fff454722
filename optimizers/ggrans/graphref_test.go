package ggrans

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/ggprior/ggprior/internal/testbackend"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/stretchr/testify/require"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/support/exceptions"
)

// frameBitsGraphRef is FrameBitsGraph as it was before its histogram-only escape count: every
// element's symbol and escape code in Int64. The tests check that FrameBitsGraph gives the same
// Float32 count, bit for bit.
func frameBitsGraphRef(q, beta, alpha, step *Node) *Node {
	g := q.Graph()
	for _, p := range []struct {
		name string
		n    *Node
	}{{"beta", beta}, {"alpha", alpha}, {"step", step}} {
		if !p.n.DType().IsFloat() || p.n.Rank() != 0 {
			exceptions.Panicf("ggrans.FrameBitsGraph: %s must be a float scalar, got %s", p.name, p.n.Shape())
		}
	}
	n := q.Shape().Size()
	if n == 0 {
		return Scalar(g, dtypes.Float32, 8*FrameOverhead)
	}
	q = StopGradient(q)
	qs := int64RangeGraph(Reshape(q, n))
	f32 := func(x *Node) *Node { return ConvertDType(StopGradient(x), dtypes.Float32) }
	b := ClipScalar(f32(beta), MinBeta, MaxBeta)
	c := ClipScalar(Div(f32(step), f32(alpha)), MinC, MaxC)
	freqs, k := freqsGraphRef(b, c)

	// The symbol of each value: q+MaxMagnitude for |q| <= K, 2*MaxMagnitude+1 for an escape.
	k64 := ConvertDType(k, dtypes.Int64)
	absQ := Abs(qs)
	inAlphabet := LessOrEqual(absQ, k64)
	escSym := int64(2*MaxMagnitude + 1)
	sym := Where(inAlphabet, AddScalar(qs, MaxMagnitude), Scalar(g, dtypes.Int64, escSym))
	counts := ScatterSum(Zeros(g, shapes.Make(dtypes.Int32, 2*MaxMagnitude+2)), ExpandAxes(ConvertDType(sym, dtypes.Int32), -1),
		Ones(g, shapes.Make(dtypes.Int32, n)), false, false)
	ff := ConvertDType(freqs, dtypes.Float32)
	cost := Where(GreaterThan(freqs, ZerosLike(freqs)), Sub(ConstAs(ff, ProbBits), MulScalar(Log(Max(ff, OnesLike(ff))), 1/math.Ln2)), ZerosLike(ff))
	mainBits := ReduceAllSum(Mul(ConvertDType(counts, dtypes.Float32), cost))

	// Escapes: u = 2(|q|-K-1) + [q < 0], coded with Exp-Golomb of the order escapeOrder picks.
	isEsc := LogicalNot(inAlphabet)
	u := Add(MulScalar(Sub(absQ, AddScalar(k64, 1)), 2), ConvertDType(LessThan(qs, ZerosLike(qs)), dtypes.Int64))
	u = Where(isEsc, u, ZerosLike(u))
	nEsc := ReduceAllSum(ConvertDType(isEsc, dtypes.Int64))
	mean := Div(ReduceAllSum(u), Max(nEsc, OnesLike(nEsc)))
	order := ClipScalar(AddScalar(bitLenGraph(mean), -1), 0, 30)
	v := Add(u, BitwiseShiftLeft(OnesLike(u), order))
	codeBits := Sub(MulScalar(ReduceAllSum(Where(isEsc, bitLenGraph(v), ZerosLike(v))), 2), Mul(nEsc, AddScalar(order, 1)))

	total := Add(mainBits, ConvertDType(codeBits, dtypes.Float32))
	return StopGradient(AddScalar(total, FrameFixedBits))
}

// freqsGraphRef is freqsGraph as it was, with CumSum: it builds the model's frequencies in the graph from the clamped Float32 scalars beta
// and c: an Int32 vector of 2*MaxMagnitude+2 frequencies, that of the value q at q+MaxMagnitude
// (0 outside the alphabet) and the escape's last, and K (Int32 scalar).
func freqsGraphRef(beta, c *Node) (freqs, k *Node) {
	g := beta.Graph()
	norm := Div(ConstAs(beta, 0.5), Exp(lgammaGraph(AddScalar(Inverse(beta), 1)))) // Density at 0.

	// Cells 1..MaxMagnitude: Gauss-Legendre on [(j-1/2)c, (j+1/2)c].
	nodes, weights := gaussLegendre()
	cells := AddScalar(ConvertDType(Iota(g, shapes.Make(dtypes.Float32, MaxMagnitude, 1), 0), dtypes.Float32), 1)
	x := Mul(Add(cells, ExpandAxes(Const(g, nodes), 0)), c) // [MaxMagnitude, quadNodes]
	density := Exp(Neg(Pow(x, beta)))
	masses := Mul(Mul(ReduceSum(Mul(density, ExpandAxes(Const(g, weights), 0)), 1), c), norm)

	// The central cell: 2 norm z e^-t sum_n (beta t)^n / prod_{j=1..n} (1 + j beta), t = z^beta,
	// with z = c/2 capped where t = seriesMaxT (the mass is then 1 within e^-80).
	z := Min(MulScalar(c, 0.5), Exp(Div(ConstAs(beta, math.Log(seriesMaxT)), beta)))
	t := Max(Pow(z, beta), ConstAs(beta, 1e-30))
	ns := ConvertDType(Iota(g, shapes.Make(dtypes.Float32, seriesTerms), 0), dtypes.Float32)
	logTerms := Sub(Mul(ns, Log(Mul(beta, t))), CumSum(Log1p(Mul(ns, beta)), 0))
	m0 := Mul(MulScalar(Mul(norm, z), 2), ReduceAllSum(Exp(Sub(logTerms, t))))
	m0 = MinScalar(m0, 1)

	// K: the cells whose mass reaches 2^-ProbBits (they decrease with |q|), at least 1.
	k = MaxScalar(ReduceAllSum(ConvertDType(GreaterOrEqual(masses, ConstAs(masses, minCellMass)), dtypes.Int32)), 1)
	idx := Iota(g, shapes.Make(dtypes.Int32, MaxMagnitude), 0)
	inK := LessThan(idx, k)
	kept := Where(inK, masses, ZerosLike(masses))
	esc := MaxScalar(Sub(Sub(OnesLike(m0), m0), MulScalar(ReduceAllSum(kept), 2)), 0)

	// p by symbol: q = -MaxMagnitude..MaxMagnitude, then the escape.
	p := Concatenate([]*Node{Reverse(kept, 0), Reshape(m0, 1), kept, Reshape(esc, 1)}, 0)
	present := Concatenate([]*Node{Reverse(inK, 0), Const(g, []bool{true}), inK, Const(g, []bool{true})}, 0)
	f := MaxScalar(ConvertDType(Round(MulScalar(p, probScale)), dtypes.Int32), 1)
	f = Where(present, f, ZerosLike(f))

	// The difference to 2^ProbBits goes to the largest; then the cap.
	nsym := 2*MaxMagnitude + 2
	largest := ArgMax(f, 0, dtypes.Int32)
	isLargest := Equal(Iota(g, shapes.Make(dtypes.Int32, nsym), 0), largest)
	f = Add(f, Where(isLargest, Sub(ConstAs(f, probScale), ReduceAllSum(f)), ZerosLike(f)))
	excess := MaxScalar(AddScalar(ReduceAllMax(f), -maxFreq), 0)
	escIdx := int32(nsym - 1)
	target := Where(Equal(largest, ConstAs(largest, escIdx)), ConstAs(largest, MaxMagnitude), ConstAs(largest, escIdx))
	isTarget := Equal(Iota(g, shapes.Make(dtypes.Int32, nsym), 0), target)
	f = Sub(f, Where(isLargest, BroadcastToShape(excess, f.Shape()), ZerosLike(f)))
	f = Add(f, Where(isTarget, BroadcastToShape(excess, f.Shape()), ZerosLike(f)))
	return f, k
}

// TestFrameBitsGraphMatchesRef checks that FrameBitsGraph gives the same count as
// frameBitsGraphRef, bit for bit, and FrameBitsAndZerosGraph the number of zeros: GG workloads at several rates, escapes near and far (values
// up to the int32 limits, alphabets from K = 1 up), parameters that clamp, and float and int64
// values.
func TestFrameBitsGraphMatchesRef(t *testing.T) {
	exec, err := NewExec(testbackend.Get(t), func(q, b, a, s *Node) []*Node {
		bits, zeros := FrameBitsAndZerosGraph(q, b, a, s)
		return []*Node{bits, frameBitsGraphRef(q, b, a, s), zeros, ReduceAllSum(ConvertDType(Equal(int32RangeGraph(q), ScalarZero(q.Graph(), dtypes.Int32)), dtypes.Int32))}
	})
	require.NoError(t, err)
	defer exec.Finalize()
	exec.SetMaxCache(100)
	check := func(name string, input *tensors.Tensor, alpha, beta, step float32) {
		t.Helper()
		out, err := exec.Call(input, beta, alpha, step)
		require.NoError(t, err, name)
		got, want := tensors.ToScalar[float32](out[0]), tensors.ToScalar[float32](out[1])
		require.Equalf(t, math.Float32bits(want), math.Float32bits(got), "%s: got %v, want %v", name, got, want)
		require.Equalf(t, out[3].Value(), out[2].Value(), "%s: zeros", name)
	}
	ints := func(qs []int32) *tensors.Tensor { return tensors.FromFlatDataAndDimensions(qs, len(qs)) }
	for _, beta := range []float64{0.3, 0.9, 2} {
		for _, rate := range []float64{0.3, 1, 4} {
			w := ggWorkload(4096, beta, rate)
			check(fmt.Sprintf("beta=%g rate=%g", beta, rate), ints(w.qs), 1, float32(beta), float32(w.c))
		}
	}
	src := rand.New(rand.NewPCG(1, 2))
	for trial := range 40 {
		n := 1 + src.IntN(3000)
		qs := make([]int32, n)
		scale := math.Exp2(float64(src.IntN(34)))
		for i := range qs {
			switch src.IntN(20) {
			case 0:
				qs[i] = math.MinInt32 + int32(src.IntN(3))
			case 1:
				qs[i] = math.MaxInt32 - int32(src.IntN(3))
			case 2, 3:
				qs[i] = int32(src.IntN(2*farQ+3)) - farQ - 1 // Around the histogram's ends.
			default:
				qs[i] = int32(max(math.MinInt32, min(math.MaxInt32, math.Round(src.NormFloat64()*scale))))
			}
		}
		beta := float32(0.2 + 3*src.Float64())
		step := float32(math.Exp2(-12 + 16*src.Float64()))
		check(fmt.Sprintf("random %d (n=%d)", trial, n), ints(qs), 1, beta, step)
	}
	w := ggWorkload(8192, 0.9, 1)
	check("all escapes", ints(w.qs), 1, 0.9, 1e-6)
	check("zeros", ints(make([]int32, 1000)), 1e-30, 1, 1)
	check("one", ints([]int32{-3}), 1, 1, 1)
	check("clamped", ints(quantize(ggSamples(8192, 0.9, 4), 0.5)), 1, 0.01, 0.5)
	fs := make([]float32, len(w.qs))
	for i, q := range w.qs {
		fs[i] = float32(q)*1e5 + 0.25
	}
	fs[0], fs[1], fs[2] = 3e9, -3e9, float32(math.Inf(1))
	check("float32", tensors.FromFlatDataAndDimensions(fs, len(fs)), 1, 0.9, float32(w.c))
	big := make([]int64, len(w.qs))
	for i, q := range w.qs {
		big[i] = int64(q) << 20
	}
	big[0], big[1] = math.MaxInt64, math.MinInt64
	check("int64", tensors.FromFlatDataAndDimensions(big, len(big)), 1, 0.9, float32(w.c))
}

// TestFreqsGraphMatchesRef checks that freqsGraph (prefixSumGraph's prefix sums) gives the same
// table as freqsGraphRef (CumSum's), for shapes and steps across their clamped ranges, and that
// prefixSumGraph's sums are CumSum's, bit for bit.
func TestFreqsGraphMatchesRef(t *testing.T) {
	exec, err := NewExec(testbackend.Get(t), func(b, c, x *Node) []*Node {
		f, k := freqsGraph(b, c)
		fRef, kRef := freqsGraphRef(b, c)
		return []*Node{f, k, fRef, kRef, prefixSumGraph(x), CumSum(x, 0)}
	})
	require.NoError(t, err)
	defer exec.Finalize()
	src := rand.New(rand.NewPCG(3, 4))
	x := make([]float32, seriesTerms)
	for trial := range 300 {
		beta := float32(MinBeta * math.Pow(MaxBeta/MinBeta, src.Float64()))
		c := float32(math.Exp2(-14 + 20*src.Float64()))
		for i := range x {
			x[i] = float32(src.NormFloat64() * math.Exp2(float64(src.IntN(20)-10)))
		}
		out, err := exec.Call(beta, c, x)
		require.NoError(t, err)
		name := fmt.Sprintf("trial %d: beta=%g c=%g", trial, beta, c)
		require.Equal(t, out[2].Value(), out[0].Value(), name)
		require.Equal(t, out[3].Value(), out[1].Value(), name)
		got, want := out[4].Value().([]float32), out[5].Value().([]float32)
		for i := range got {
			require.Equalf(t, math.Float32bits(want[i]), math.Float32bits(got[i]), "%s: sum %d", name, i)
		}
	}
}

// BenchmarkFrameBitsGraph measures FrameBitsGraph on the Go backend for a small and a large
// tensor (its fixed cost, the table, and its cost per value), against frameBitsGraphRef.
//
//	GOEXPERIMENT=simd go test ./optimizers/ggrans -run XXX -bench FrameBitsGraph
func BenchmarkFrameBitsGraph(b *testing.B) {
	for _, n := range []int{128, 65536} {
		w := ggWorkload(n, 0.9, 1)
		input := tensors.FromFlatDataAndDimensions(w.qs, n)
		for _, fn := range []struct {
			name string
			f    func(q, beta, alpha, step *Node) *Node
		}{{"new", FrameBitsGraph}, {"ref", frameBitsGraphRef}, {"table", func(q, beta, alpha, step *Node) *Node {
			f, k := freqsGraph(beta, Div(step, alpha))
			return Add(ConvertDType(ReduceAllSum(f), dtypes.Float32), ConvertDType(k, dtypes.Float32))
		}}} {
			b.Run(fmt.Sprintf("%s/n=%d", fn.name, n), func(b *testing.B) {
				exec, err := NewExec(testbackend.Get(b), fn.f)
				require.NoError(b, err)
				defer exec.Finalize()
				beta, c := float32(0.9), float32(w.c)
				_, err = exec.Call(input, beta, float32(1), c)
				require.NoError(b, err)
				b.ResetTimer()
				for range b.N {
					if _, err := exec.Call(input, beta, float32(1), c); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
