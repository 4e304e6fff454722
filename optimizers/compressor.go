package optimizers

import (
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/support/exceptions"
)

// Coding names how a Compressed gradient travels on the wire.
type Coding string

const (
	// CodingExpGolomb: Ints coded with Exp-Golomb of order K, plus Step (float32).
	CodingExpGolomb Coding = "expgolomb"
	// CodingInt8: Ints as raw int8 bytes, plus Step (float32).
	CodingInt8 Coding = "int8"
	// CodingDense: Decoded sent as is (float32, or bfloat16 for BF16).
	CodingDense Coding = "dense"
	// CodingSparse: the elements where Mask is true, as (index, value) pairs:
	// Decoded is zero elsewhere. On the wire each index takes
	// SparseIndexBits(n) bits and each value 32 (float32). Top-k uses it.
	CodingSparse Coding = "sparse"
	// CodingSign: one bit per element, set where Mask is true (Decoded is
	// -Step there and +Step elsewhere), plus Step (float32). SignSGD uses it.
	CodingSign Coding = "sign"
	// CodingLowRank: the factors P [rows, r] and Q [cols, r] (float32) of
	// Decoded = LowRankDecode(P, Q, shape), the gradient viewed as a matrix
	// [rows, cols] (leading axes flattened). PowerSGD uses it.
	CodingLowRank Coding = "lowrank"
	// CodingGGRANS: Ints coded with the rANS coder of package ggrans under the
	// GG model of Alpha and Beta, quantized at Step (all three Float32
	// scalars, carried bit-exactly by the frame, ggrans.AppendFrame): Decoded
	// = Ints * Step. GCT's GG quantizer with CoderRANS uses it.
	CodingGGRANS Coding = "ggrans"
)

// Compressed is one variable's compressed gradient, built in the graph.
type Compressed struct {
	// Decoded is what a receiving worker reconstructs: the gradient's shape and dtype.
	Decoded *Node

	// Bits is the exact size in bits of what is sent for this variable (Float32 scalar),
	// index and scale overheads included.
	Bits *Node

	// Coding says how the payload is coded; for CodingExpGolomb and CodingInt8,
	// Ints (Int32, the gradient's shape) and Step (scalar, the gradient's dtype)
	// are the wire form, with Decoded = Ints * Step, and K the Exp-Golomb order.
	// For CodingGGRANS, Ints (Int32) and Step, Alpha and Beta (Float32
	// scalars: the frame's float32 parameters, exactly) are the wire form,
	// with Decoded = Ints * Step (Step converted to the gradient's dtype).
	Coding Coding
	Ints   *Node
	Step   *Node
	K      int

	// Scale is, with GCT's GeometryAdam, the per-element scale (the
	// gradient's shape and dtype) that the integer codings' values are
	// multiplied by: Decoded = Ints * Step * Scale. It is not sent: it comes
	// from the inner optimizer's state, the same on every worker
	// (Wrapper.GradientScale). nil otherwise.
	Scale *Node

	// NoisePower is, with GCT's second-moment correction
	// (ParamMomentCorrection), the power of the quantization noise in
	// Decoded, NoisePower(Decoded, gradient): a Float32 scalar that a
	// data-parallel worker sends with its gradient. nil otherwise.
	NoisePower *Node

	// Alpha is, for CodingGGRANS, the scale of the GG model the integers are
	// coded under (Float32 scalar; its shape is Beta).
	Alpha *Node

	// Mask (Bool, the gradient's shape) is, for CodingSparse, the elements
	// sent (Decoded is zero elsewhere), and for CodingSign the elements whose
	// decoded value is -Step (the others are +Step; Step is the scale).
	Mask *Node

	// P [rows, r] and Q [cols, r] are, for CodingLowRank, the factors sent
	// (the gradient's dtype), with Decoded = LowRankDecode(P, Q, shape)
	// computed exactly so, so that receivers reconstruct the same bits.
	P, Q *Node

	// ZeroFraction is the fraction of zeros among Ints (Float32 scalar; nil if
	// not integer-coded).
	ZeroFraction *Node

	// Beta is the GG shape fitted to the compressor's input (Float32 scalar; nil
	// if the compressor fits none). For CodingGGRANS it is also the shape of
	// the frame's model.
	Beta *Node
}

// SparseIndexBits returns the bits of one index of CodingSparse for a tensor
// of n elements: ceil(log2 n), the fewest that hold every index in [0, n).
func SparseIndexBits(n int) int {
	if n <= 1 {
		return 0
	}
	return bits.Len(uint(n - 1))
}

// LowRankMatrixDims returns the dimensions [rows, cols] of the matrix a
// tensor of the given dimensions is viewed as by CodingLowRank: cols is the
// last axis, rows the product of the others.
func LowRankMatrixDims(dims []int) (rows, cols int) {
	if len(dims) < 2 {
		exceptions.Panicf("optimizers.LowRankMatrixDims(%v): want at least 2 axes", dims)
	}
	cols = dims[len(dims)-1]
	rows = 1
	for _, d := range dims[:len(dims)-1] {
		rows *= d
	}
	return rows, cols
}

// LowRankDecode returns P Q^T [rows, cols] reshaped to dims: the decoded
// gradient of CodingLowRank. The compressor (PowerSGD) and the receivers of
// its factors (a data-parallel trainer) both call it, so that on the same
// backend they compute the same bits.
func LowRankDecode(p, q *Node, dims ...int) *Node {
	rows, cols := LowRankMatrixDims(dims)
	if p.Rank() != 2 || q.Rank() != 2 || p.Shape().Dimensions[0] != rows || q.Shape().Dimensions[0] != cols ||
		p.Shape().Dimensions[1] != q.Shape().Dimensions[1] || p.DType() != q.DType() {
		exceptions.Panicf("optimizers.LowRankDecode: factors P %s and Q %s don't fit a [%d, %d] matrix of rank r "+
			"(want P [%d, r] and Q [%d, r] of one dtype)", p.Shape(), q.Shape(), rows, cols, rows, cols)
	}
	return Reshape(MatMul(p, Transpose(q, 0, 1)), dims...)
}

// Compressor turns one variable's gradient into what a remote worker would
// decode, with an honest count of the bits sent. Error feedback is applied
// around it by the GCT wrapper, so a Compressor is memoryless unless it needs
// state of its own (PowerSGD's warm start), which it keeps in variables under
// the given state scope (unique per variable).
type Compressor interface {
	// Name identifies the compressor and its settings, e.g. "gct:2bits" or "topk:0.01".
	Name() string

	// Compress builds the compressed form of x, the (error-corrected) gradient of v.
	Compress(state *model.Scope, v *model.Variable, x *Node) Compressed
}

// ParseCompressor returns the compressor named by spec, as charlm's -compress
// flag takes it: "none" or "fp32", "bf16", "int8", "sign", "topk:F" (F the
// fraction kept, e.g. 0.01), "powersgd:R" (R the rank), "gct" or "gct:B" (GCT's
// GG quantizer with Exp-Golomb codes, B bits per element, B > 1; default
// bits), "gct-rans" or "gct-rans:B" (the GG quantizer with the ggrans coder,
// GGQuantizerRANS, any B > 0, e.g. 0.5; default bits).
func ParseCompressor(spec string, bits float64) (Compressor, error) {
	name, arg, hasArg := strings.Cut(strings.TrimSpace(spec), ":")
	num := func() (float64, error) {
		if !hasArg {
			return 0, fmt.Errorf("compressor %q needs an argument, e.g. %s:0.01", spec, name)
		}
		v, err := strconv.ParseFloat(arg, 64)
		if err != nil {
			return 0, fmt.Errorf("compressor %q: %w", spec, err)
		}
		return v, nil
	}
	switch name {
	case "none", "fp32":
		return FP32(), nil
	case "bf16":
		return BF16(), nil
	case "int8":
		return Int8(), nil
	case "sign":
		return SignSGD(), nil
	case "topk":
		f, err := num()
		if err != nil {
			return nil, err
		}
		if !(f > 0 && f <= 1) {
			return nil, fmt.Errorf("compressor %q: the fraction kept must be in (0, 1]", spec)
		}
		return TopKSparse(f), nil
	case "powersgd":
		r, err := num()
		if err != nil {
			return nil, err
		}
		if r < 1 || r != float64(int(r)) {
			return nil, fmt.Errorf("compressor %q: the rank must be a positive integer", spec)
		}
		return PowerSGD(int(r)), nil
	case "gct", "gct-rans":
		if hasArg {
			b, err := num()
			if err != nil {
				return nil, err
			}
			bits = b
		}
		coder := CoderExpGolomb
		if name == "gct-rans" {
			coder = CoderRANS
		}
		if err := CheckBits(bits, coder); err != nil {
			return nil, fmt.Errorf("compressor %q: %w", spec, err)
		}
		var comp Compressor
		err := exceptions.TryCatch[error](func() { comp = GGQuantizerWith(bits, 0, coder) })
		if err != nil {
			return nil, fmt.Errorf("compressor %q: %w", spec, err)
		}
		return comp, nil
	}
	return nil, fmt.Errorf("unknown compressor %q: want none, fp32, bf16, int8, sign, topk:F, powersgd:R, gct[:B] or gct-rans[:B]", spec)
}

// CheckBits returns an error unless bits is a valid target of the GG
// quantizer with the coder (order-0 Exp-Golomb: > 1, its minimum; rANS and auto: > 0),
// saying what to do instead. It doesn't build the rate table: a target valid
// here may still be out of the rANS coder's reach (above about 35 bits).
func CheckBits(bits float64, coder Coder) error {
	switch {
	case math.IsNaN(bits) || math.IsInf(bits, 0):
		return fmt.Errorf("%g bits per element: want a finite value", bits)
	case (coder == CoderRANS || coder == CoderAuto) && !(bits > 0):
		return fmt.Errorf("%g bits per element: must be > 0 with the rANS coder", bits)
	case coder == CoderExpGolomb && !(bits > 1):
		return fmt.Errorf("%g bits per element: must be > 1 with Exp-Golomb codes, which take at least 1 bit per element "+
			"(the rANS coder, gct-rans or %s=%s, goes below)", bits, ParamCoder, CoderRANS)
	}
	return nil
}

// sizeOf returns the number of elements of x as a float.
func sizeOf(x *Node) float64 { return float64(x.Shape().Size()) }

// bitsConst returns a Float32 scalar constant.
func bitsConst(g *Graph, bits float64) *Node { return Scalar(g, dtypes.Float32, bits) }

// zeroFraction returns the fraction of zeros of an integer tensor as Float32.
func zeroFraction(ints *Node) *Node {
	return ReduceAllMean(ConvertDType(Equal(ints, ZerosLike(ints)), dtypes.Float32))
}

// checkFloat panics unless x is float.
func checkFloat(who string, x *Node) {
	if !x.DType().IsFloat() {
		exceptions.Panicf("optimizers.%s: gradient must be a float tensor, got %s", who, x.Shape())
	}
}
