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
// cost is a histogram of q clipped to [-128, 128] (ScatterSum into 257 bins), from which come
// the symbols' counts and the escapes of |q| <= 127, about eight elementwise Int64 passes for
// the sums of the escape codes of |q| >= 128, and a table computation on about 2000 scalars.
//
// It panics (GoMLX style) if q isn't an integer or float tensor, or if beta, alpha or step is
// not a float scalar.
func FrameBitsGraph(q, beta, alpha, step *Node) *Node {
	bits, _ := FrameBitsAndZerosGraph(q, beta, alpha, step)
	return bits
}

// FrameBitsAndZerosGraph returns FrameBitsGraph's count and, from the same histogram of q, the
// number of values that are 0 (rounded, for floats) as an Int32 scalar marked with StopGradient:
// a zero fraction without another pass over q.
func FrameBitsAndZerosGraph(q, beta, alpha, step *Node) (bits, zeros *Node) {
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
		return Scalar(g, dtypes.Float32, 8*FrameOverhead), ScalarZero(g, dtypes.Int32)
	}
	q = StopGradient(q)
	qs := int32RangeGraph(Reshape(q, n))
	f32 := func(x *Node) *Node { return ConvertDType(StopGradient(x), dtypes.Float32) }
	b := ClipScalar(f32(beta), MinBeta, MaxBeta)
	c := ClipScalar(Div(f32(step), f32(alpha)), MinC, MaxC)
	freqs, k := freqsGraph(b, c)

	// The only passes over the values: the histogram of q clipped to [-farQ, farQ] (bins 0 and
	// 2*farQ hold the values beyond the largest alphabet, always escaped), and two sums for the
	// escape codes of those far values (see escapeBitsGraph).
	hist := ScatterSum(Zeros(g, shapes.Make(dtypes.Int32, 2*farQ+1)),
		ExpandAxes(AddScalar(ClipScalar(qs, -farQ, farQ), farQ), -1),
		Ones(g, shapes.Make(dtypes.Int32, n)), false, false)

	// The symbols' counts: q+MaxMagnitude for |q| <= K, the escape (2*MaxMagnitude+1) last.
	symQ := AddScalar(Iota(g, shapes.Make(dtypes.Int32, 2*MaxMagnitude+1), 0), -MaxMagnitude)
	inCounts := Where(LessOrEqual(Abs(symQ), k), Slice(hist, AxisRange(1, 2*farQ)), ScalarZero(g, dtypes.Int32))
	nEsc := Sub(Scalar(g, dtypes.Int32, n), ReduceAllSum(inCounts))
	counts := Concatenate([]*Node{inCounts, Reshape(nEsc, 1)}, 0)
	ff := ConvertDType(freqs, dtypes.Float32)
	cost := Where(GreaterThan(freqs, ZerosLike(freqs)), Sub(ConstAs(ff, ProbBits), MulScalar(Log(Max(ff, OnesLike(ff))), 1/math.Ln2)), ZerosLike(ff))
	mainBits := ReduceAllSum(Mul(ConvertDType(counts, dtypes.Float32), cost))

	codeBits := escapeBitsGraph(qs, hist, k)
	total := Add(mainBits, ConvertDType(codeBits, dtypes.Float32))
	return StopGradient(AddScalar(total, FrameFixedBits)), StopGradient(Reshape(Slice(hist, AxisElem(farQ)), nil...))
}

// farQ is the least |q| beyond every alphabet (MaxMagnitude+1): FrameBitsGraph's histogram
// clips q to [-farQ, farQ].
const farQ = MaxMagnitude + 1

// escapeBitsGraph returns the total length (Int64 scalar) of the escape codes of the values qs
// (Int32 vector) with alphabet half-width k (Int32 scalar), hist being their histogram clipped
// to [-farQ, farQ] (Int32, 2*farQ+1 bins): the escapes u = 2(|q|-K-1) + [q < 0] coded with
// Exp-Golomb codes of the order escapeOrder picks from their mean, which are 2*bitlen(u+2^order)
// - order - 1 bits long.
//
// The values of the histogram's inner bins (|q| < farQ) are known, so their escapes' sums come
// from the bins. Only the far values (|q| >= farQ) need a pass over the elements, for the sum
// of their u and that of their bitlen(u+2^order). Both come from t = |4q-1| (2s-1 for q != 0,
// with s = 2|q| + [q < 0]; at most 2^33+1): over all the elements, less the inner bins' share. A far
// value's u is s-2(K+1), and 2(u+2^order) = t + 1 + 2D with D = 2^order - 2(K+1), so that its
// bitlen(u+2^order) is bitlen(t+1+2D) - 1. The sums are exact: the result is the same as
// summing the codes element by element.
func escapeBitsGraph(qs, hist, k *Node) *Node {
	g := qs.Graph()
	n := qs.Shape().Size()
	i64 := func(v int64) *Node { return Scalar(g, dtypes.Int64, v) }

	// Per element, once: t = |4q-1| and its sum.
	t := Abs(AddScalar(MulScalar(ConvertDType(qs, dtypes.Int64), 4), -1))
	sumT := ReduceAllSum(t)

	// The bins: q = -farQ..farQ (the end bins stand for the far values).
	binQ := AddScalar(Iota(g, shapes.Make(dtypes.Int64, 2*farQ+1), 0), -farQ)
	binN := ConvertDType(hist, dtypes.Int64)
	binAbs := Abs(binQ)
	k64 := ConvertDType(k, dtypes.Int64)
	isFar := GreaterOrEqual(binAbs, i64(farQ))
	isNear := LogicalAnd(GreaterThan(binAbs, k64), LogicalNot(isFar)) // Escapes of the inner bins.
	innerN := Where(isFar, i64(0), binN)
	nearN := Where(isNear, binN, i64(0))
	nFar := Sub(i64(int64(n)), ReduceAllSum(innerN))
	nNear := ReduceAllSum(nearN)
	nEsc := Add(nNear, nFar)

	// Sum of u: the near escapes' from their bins, the far ones' from t.
	twoK1 := MulScalar(AddScalar(k64, 1), 2) // 2(K+1)
	binT := Abs(AddScalar(MulScalar(binQ, 4), -1))
	binU := Sub(Add(MulScalar(binAbs, 2), ConvertDType(LessThan(binQ, i64(0)), dtypes.Int64)), twoK1)
	sumTFar := Sub(sumT, ReduceAllSum(Mul(innerN, binT)))
	sumSFar := Div(Add(sumTFar, nFar), i64(2)) // Each far t+1 is even.
	sumU := Add(ReduceAllSum(Mul(nearN, binU)), Sub(sumSFar, Mul(twoK1, nFar)))

	// The order, as escapeOrder picks it.
	mean := Div(sumU, Max(nEsc, i64(1)))
	order := ClipScalar(AddScalar(bitLenGraph(mean), -1), 0, 30)
	pow := BitwiseShiftLeft(i64(1), order)

	// Sum of bitlen(u+2^order): the near escapes' from their bins, the far ones' from t.
	nearLen := ReduceAllSum(Mul(nearN, bitLenGraph(Add(binU, pow))))
	e := AddScalar(MulScalar(Sub(pow, twoK1), 2), 1) // 1 + 2D
	allLen := Sub(i64(64*int64(n)), ReduceAllSum(Clz(Add(t, e))))
	farLen := Sub(Sub(allLen, ReduceAllSum(Mul(innerN, bitLenGraph(Add(binT, e))))), nFar)

	return Sub(MulScalar(Add(nearLen, farLen), 2), Mul(nEsc, AddScalar(order, 1)))
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

// int32RangeGraph converts q to Int32, rounding floats and saturating to the int32 range.
func int32RangeGraph(q *Node) *Node {
	dtype := q.DType()
	switch {
	case dtype == dtypes.Int32:
		return q
	case dtype.IsInt() && dtype.Bits() < 32:
		return ConvertDType(q, dtypes.Int32)
	}
	return ConvertDType(int64RangeGraph(q), dtypes.Int32)
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
	logTerms := Sub(Mul(ns, Log(Mul(beta, t))), prefixSumGraph(Log1p(Mul(ns, beta))))
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

// prefixBlock is the block size of prefixSumGraph: seriesTerms = 12 blocks of 16.
const prefixBlock = 16

// prefixSumGraph returns the inclusive prefix sums of the Float32 vector x (of a multiple of
// prefixBlock elements), each summed from the left like CumSum (ReduceWindow, on the Go
// backend) sums it, so with the same roundings, at a tenth of ReduceWindow's cost on the Go
// backend: every sum is a ReduceSum (sequential, from 0) along a row that holds the terms to add
// in order and zeros after them. First the sums before each block (row b: the terms of the
// blocks before b), then each block's sums from the one before it (row (b, r): the sum before
// block b, then the block's first r+1 terms).
func prefixSumGraph(x *Node) *Node {
	g := x.Graph()
	n := x.Shape().Dimensions[0]
	nb := n / prefixBlock
	zero := ScalarZero(g, x.DType())
	before := make([][]bool, nb) // before[b][j]: term j is before block b.
	for b := range before {
		before[b] = make([]bool, n)
		for j := range b * prefixBlock {
			before[b][j] = true
		}
	}
	starts := ReduceSum(Where(Const(g, before), BroadcastToDims(ExpandAxes(x, 0), nb, n), zero), 1) // [nb]
	upTo := make([][][]bool, nb)                                                                    // upTo[b][r][c]: term c of block b is in its sum r.
	for b := range upTo {
		upTo[b] = make([][]bool, prefixBlock)
		for r := range upTo[b] {
			upTo[b][r] = make([]bool, prefixBlock)
			for c := range r + 1 {
				upTo[b][r][c] = true
			}
		}
	}
	terms := Where(Const(g, upTo), BroadcastToDims(Reshape(x, nb, 1, prefixBlock), nb, prefixBlock, prefixBlock), zero)
	rows := Concatenate([]*Node{BroadcastToDims(Reshape(starts, nb, 1, 1), nb, prefixBlock, 1), terms}, 2)
	return Reshape(ReduceSum(rows, 2), n)
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
