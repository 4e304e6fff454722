package ggrans

import (
	"math"
	"sync"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/support/exceptions"
)

// Constants of FrameBitsGraph's model computation.
const (
	// quadNodes is the number of Gauss-Legendre nodes per cell: the integrand exp(-x^beta) is
	// analytic on each cell of q != 0 (its singularity at 0 is half a cell away or more), so
	// the quadrature converges geometrically, to float32 precision for the cells that matter.
	quadNodes = 16

	// seriesTerms is the number of terms of the series of the central cell's mass, enough for
	// t = (c/2)^beta up to seriesMaxT.
	seriesTerms = 192
	seriesMaxT  = 80

	// expectedTailBits is what FrameBitsGraph adds to the states' 4*(5+31) bits: minus the
	// expected fractional parts of the final states' log2 (4 * 1/2), plus the expected padding of
	// the side stream to a whole byte (7/2).
	expectedTailBits = -2 + 3.5
)

// FrameFixedBits is the part of FrameBitsGraph's count that doesn't depend on the values: the
// FrameOverhead bytes of header and checksum, the final rANS states' least size and the
// expected size of their fractional bits and of the side stream's padding (about 594 bits).
// A frame of n values at r bits per value (ExpectedBits) takes about n*r + FrameFixedBits bits.
const FrameFixedBits = 8*FrameOverhead + stateBlockMin + expectedTailBits

// FrameBitsGraph returns, inside a computation graph, the size in bits of the frame that
// [AppendFrame] writes for the values q with the model parameters alpha, beta and step (scalar
// nodes of any float dtype): a Float32 scalar, marked with StopGradient.
//
// q holds integer values, of any integer dtype or a float dtype (rounded to the nearest integer,
// ties to even); values outside the int32 range are saturated to it. The count is exact for
// everything but the rANS stream, which is sequential: for it the graph computes the model's
// information content, the sum over the values of ProbBits - log2(f), to which the real stream
// is equal within a small fraction of a bit per thousand values, plus the final states' and the
// padding's expected sizes (a few bits of spread). Against the host frame it is within ±8 bits
// when the graph's table equals the host's, and within 0.5% for tensors of 4096 or more values
// at the rates GCT uses (tested from 0.3 to 4 bits per value).
//
// The table is built in the graph, in float32, the way [NewModel] does on the host: with
// c = step/alpha and beta clamped as there, the mass of each cell of q != 0 by 16-point
// Gauss-Legendre quadrature of the GG density, the central cell's by the series of the lower
// incomplete gamma function (positive terms), the normalization Gamma(1+1/beta) by Stirling's
// series, then the alphabet's K, the rounding to frequencies and the adjustments of the host.
// Its frequencies may differ from the host's by a count or two on symbols at a rounding tie, or
// K by one when a cell's mass is at 2^-ProbBits, which changes the count by a fraction of a bit
// per thousand values. The escape codes' lengths are exact, with the order the encoder picks.
//
// Parameters that AppendFrame rejects (alpha, beta or step not positive and finite, e.g. the
// alpha = 0 that ggx.FitGraph reports for a constant tensor) give an unspecified result; the
// cost is a few elementwise passes over q, a histogram of its symbols (ScatterSum into 256
// bins) and a table computation on about 2000 scalars.
//
// It panics (GoMLX style) if q isn't an integer or float tensor, or if beta, alpha or step is
// not a float scalar.
func FrameBitsGraph(q, beta, alpha, step *Node) *Node {
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
	freqs, k := freqsGraph(b, c)

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

// bitLenGraph is bits.Len64 of a non-negative Int64 tensor.
func bitLenGraph(x *Node) *Node {
	return Sub(ConstAs(x, 64), ConvertDType(Clz(x), dtypes.Int64))
}

// int64RangeGraph converts q to Int64, rounding floats and saturating to the int32 range.
func int64RangeGraph(q *Node) *Node {
	dtype := q.DType()
	switch {
	case dtype.IsFloat():
		if dtype != dtypes.Float64 {
			q = ConvertDType(q, dtypes.Float32)
		}
		q = ClipScalar(Round(q), math.MinInt32, -math.MinInt32)
		return MinScalar(ConvertDType(q, dtypes.Int64), math.MaxInt32)
	case dtype.IsUnsigned():
		return MinScalar(ConvertDType(q, dtypes.Int64), math.MaxInt32)
	case dtype.IsInt():
		if dtype.Bits() > 32 {
			q = ClipScalar(q, math.MinInt32, math.MaxInt32)
		}
		return ConvertDType(q, dtypes.Int64)
	}
	exceptions.Panicf("ggrans.FrameBitsGraph: q must be an integer or float tensor, got %s", q.Shape())
	return nil
}

// freqsGraph builds the model's frequencies in the graph from the clamped Float32 scalars beta
// and c: an Int32 vector of 2*MaxMagnitude+2 frequencies, that of the value q at q+MaxMagnitude
// (0 outside the alphabet) and the escape's last, and K (Int32 scalar).
func freqsGraph(beta, c *Node) (freqs, k *Node) {
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

// lgammaGraph is log(Gamma(a)) for a >= 1, by Stirling's series at a+8 (error below 1e-9).
func lgammaGraph(a *Node) *Node {
	z := AddScalar(a, 8)
	prod := OnesLike(a)
	for j := range 8 {
		prod = Mul(prod, AddScalar(a, float64(j)))
	}
	inv := Inverse(z)
	inv2 := Square(inv)
	series := Mul(inv, AddScalar(Mul(inv2, AddScalar(MulScalar(inv2, 1.0/1260), -1.0/360)), 1.0/12))
	stirling := Add(Sub(Mul(AddScalar(z, -0.5), Log(z)), z), AddScalar(series, 0.5*math.Log(2*math.Pi)))
	return Sub(stirling, Log(prod))
}

// gaussLegendre returns the quadNodes nodes of Gauss-Legendre quadrature on [-1/2, 1/2] and
// their weights (summing to 1), as float32.
var gaussLegendre = sync.OnceValues(func() (nodes, weights []float32) {
	const n = quadNodes
	nodes, weights = make([]float32, n), make([]float32, n)
	for i := range n {
		x := math.Cos(math.Pi * (float64(i) + 0.75) / (n + 0.5))
		var dp float64
		for range 100 {
			// Legendre P_n(x) and its derivative by the recurrence.
			p0, p1 := 1.0, x
			for j := 2; j <= n; j++ {
				p0, p1 = p1, ((2*float64(j)-1)*x*p1-(float64(j)-1)*p0)/float64(j)
			}
			dp = n * (x*p1 - p0) / (x*x - 1)
			dx := p1 / dp
			x -= dx
			if math.Abs(dx) < 1e-16 {
				break
			}
		}
		nodes[i] = float32(x / 2)
		weights[i] = float32(1 / ((1 - x*x) * dp * dp)) // 2/((1-x^2) P'^2), halved for [-1/2, 1/2].
	}
	return nodes, weights
})
