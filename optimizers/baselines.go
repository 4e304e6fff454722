package optimizers

import (
	"fmt"
	"github.com/ggprior/ggprior/internal/bisect"
	"math"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/initializer"
	"github.com/gomlx/gomlx/support/exceptions"
)

// FP32 returns the identity compressor: 32 bits per element, nothing lost.
func FP32() Compressor { return fp32{} }

type fp32 struct{}

func (fp32) Name() string { return "fp32" }

func (fp32) Compress(_ *model.Scope, _ *model.Variable, x *Node) Compressed {
	checkFloat("FP32", x)
	return Compressed{Decoded: x, Bits: bitsConst(x.Graph(), 32*sizeOf(x)), Coding: CodingDense}
}

// BF16 returns the compressor that sends each element as a bfloat16: 16 bits.
func BF16() Compressor { return bf16{} }

type bf16 struct{}

func (bf16) Name() string { return "bf16" }

func (bf16) Compress(_ *model.Scope, _ *model.Variable, x *Node) Compressed {
	checkFloat("BF16", x)
	decoded := ConvertDType(ConvertDType(x, dtypes.BFloat16), x.DType())
	return Compressed{Decoded: decoded, Bits: bitsConst(x.Graph(), 16*sizeOf(x)), Coding: CodingDense}
}

// Int8 returns the uniform symmetric int8 quantizer: q = round(x/s) with
// s = max|x|/127, 8 bits per element plus a 32-bit scale.
func Int8() Compressor { return int8Quantizer{} }

type int8Quantizer struct{}

func (int8Quantizer) Name() string { return "int8" }

func (int8Quantizer) Compress(_ *model.Scope, _ *model.Variable, x *Node) Compressed {
	checkFloat("Int8", x)
	step := DivScalar(ReduceAllMax(Abs(x)), 127)
	step = Max(step, ConstAs(step, x.DType().SmallestNonZeroValueForDType()))
	q := ClipScalar(Round(Div(x, step)), -127, 127)
	ints := ConvertDType(q, dtypes.Int32)
	return Compressed{
		Decoded: Mul(q, step), Bits: bitsConst(x.Graph(), 8*sizeOf(x)+32),
		Coding: CodingInt8, Ints: ints, Step: step, ZeroFraction: zeroFraction(ints),
	}
}

// SignSGD returns the EF-signSGD compressor: sign(x) times the mean |x|, one bit
// per element plus a 32-bit scale (CodingSign: Mask marks the negative
// elements, Step is the scale; zeros count as positive).
func SignSGD() Compressor { return signCompressor{} }

type signCompressor struct{}

func (signCompressor) Name() string { return "sign" }

func (signCompressor) Compress(_ *model.Scope, _ *model.Variable, x *Node) Compressed {
	checkFloat("Sign", x)
	scale := ReduceAllMean(Abs(x))
	signs := SignPlusOrMinus(x)
	return Compressed{
		Decoded: Mul(signs, scale), Bits: bitsConst(x.Graph(), sizeOf(x)+32),
		Coding: CodingSign, Mask: LessThan(signs, ZerosLike(signs)), Step: scale,
	}
}

// TopKSparse returns the compressor that keeps the fraction f of elements largest in
// magnitude (k = ceil(f n), at least one; zeros are never kept) and zeroes the
// rest; each kept element costs its 32-bit value and a ceil(log2 n)-bit index
// (CodingSparse, SparseIndexBits; tensors where k >= n are sent dense).
// The k-th largest magnitude is found by bisection in the graph, to
// max|x| 2^-32: magnitudes tied with it, or closer to it than that, are all
// kept or all dropped, and the bits count the elements kept.
func TopKSparse(f float64) Compressor {
	if !(f > 0 && f <= 1) {
		exceptions.Panicf("optimizers.TopKSparse(%g): the fraction kept must be in (0, 1]", f)
	}
	return topK{fraction: f}
}

type topK struct{ fraction float64 }

// topKBisectionSteps is the number of halvings of TopKSparse's threshold search.
const topKBisectionSteps = 32

func (c topK) Name() string { return fmt.Sprintf("topk:%g", c.fraction) }

func (c topK) Compress(_ *model.Scope, _ *model.Variable, x *Node) Compressed {
	checkFloat("TopK", x)
	n := x.Shape().Size()
	k := max(1, int(math.Ceil(c.fraction*float64(n))))
	if k >= n {
		return Compressed{Decoded: x, Bits: bitsConst(x.Graph(), 32*float64(n)), Coding: CodingDense}
	}
	// The k-th largest magnitude, by bisection (GoMLX's TopK is slow on the Go
	// backend: tens of seconds per step for a model's gradients); ties and
	// magnitudes within max|x| 2^-topKBisectionSteps of it can make the count
	// kept differ from k, and the bits count what is kept.
	mags := Abs(x)
	_, threshold := bisect.CountBelow(mags, Scalar(x.Graph(), dtypes.Float32, float64(n-k)), topKBisectionSteps)
	threshold = ConvertDType(threshold, x.DType())
	keep := And(GreaterOrEqual(mags, threshold), GreaterThan(mags, ZerosLike(mags)))
	decoded := Where(keep, x, ZerosLike(x))
	kept := ReduceAllSum(ConvertDType(keep, dtypes.Float32))
	return Compressed{
		Decoded: decoded, Bits: MulScalar(kept, float64(32+SparseIndexBits(n))),
		Coding: CodingSparse, Mask: keep,
	}
}

// PowerSGD returns the rank-r PowerSGD compressor (Vogels et al., 2019): the
// gradient, viewed as a matrix M [rows, cols] (leading axes flattened), is sent
// as P = orthonormalize(M Q) and Q' = M^T P, with Q warm-started from the
// previous step; the receiver decodes P Q'^T (CodingLowRank, LowRankDecode).
// It costs 32 (rows + cols) r bits.
// Tensors of rank < 2, or too small to gain, are sent uncompressed (32 bits per
// element), as in the paper.
func PowerSGD(rank int) Compressor {
	if rank < 1 {
		exceptions.Panicf("optimizers.PowerSGD(%d): rank must be >= 1", rank)
	}
	return powerSGD{rank: rank}
}

type powerSGD struct{ rank int }

func (c powerSGD) Name() string { return fmt.Sprintf("powersgd:%d", c.rank) }

func (c powerSGD) Compress(state *model.Scope, v *model.Variable, x *Node) Compressed {
	checkFloat("PowerSGD", x)
	g := x.Graph()
	dims := x.Shape().Dimensions
	if len(dims) < 2 {
		return FP32().Compress(state, v, x)
	}
	rows, cols := LowRankMatrixDims(dims)
	r := c.rank
	if (rows+cols)*r >= rows*cols {
		return FP32().Compress(state, v, x)
	}
	m := Reshape(x, rows, cols)
	// Q starts random (a zero start would stay zero), then is warm-started.
	qInit := initializer.RandomNormalFn(state, 1)
	qVar := state.WithInitializer(qInit).VariableWithShape("powersgd_q", shapes.Make(x.DType(), cols, r))
	qVar.SetTrainable(false)
	q := qVar.NodeValue(g)
	p := MatMul(m, q)                     // [rows, r]
	p = orthonormalize(p)                 // Columns orthonormal.
	qNew := MatMul(Transpose(m, 0, 1), p) // [cols, r]
	qVar.SetNodeValue(qNew)
	return Compressed{
		Decoded: LowRankDecode(p, qNew, dims...), Bits: bitsConst(g, 32*float64((rows+cols)*r)),
		Coding: CodingLowRank, P: p, Q: qNew,
	}
}

// orthonormalize applies Gram-Schmidt to the columns of p [rows, r], unrolled
// (r is small); a zero column stays zero.
func orthonormalize(p *Node) *Node {
	r := p.Shape().Dimensions[1]
	eps := ConstAs(p, 1e-8)
	cols := make([]*Node, r)
	for i := range r {
		col := Slice(p, AxisRange(), AxisElem(i)) // [rows, 1]
		for j := range i {
			col = Sub(col, Mul(ReduceAllSum(Mul(col, cols[j])), cols[j]))
		}
		col = Div(col, Max(Sqrt(ReduceAllSum(Square(col))), eps))
		cols[i] = col
	}
	return Concatenate(cols, 1)
}
