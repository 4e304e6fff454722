package expgolomb

import (
	"fmt"
	"math"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/graph"
)

// CodeLenGraph returns, inside a computation graph, the length in bits of the order-k
// Exp-Golomb code of each element of q: an Int32 tensor with the shape of q, whose elements
// equal exactly [CodeLen](q, k) on the host.
//
// q holds integer values, and may have any integer or float dtype (float inputs typically hold
// round(x/delta)):
//
//   - Float values are rounded to the nearest integer (ties to even) first; NaN gives an
//     unspecified result.
//   - Values outside the int32 range are saturated to it (math.MinInt32 or math.MaxInt32),
//     as the host codec only encodes int32 values.
//
// The computation is exact integer arithmetic in Int64: u = MapSigned(q), then the bit length
// of u + 2^k from a count-leading-zeros (Clz) op, and 2*bitlen - k - 1; no floating-point
// logarithm is involved. The result is marked with StopGradient: it can be added to a loss,
// e.g. as a rate term, without breaking automatic differentiation, but passes no gradient to q.
//
// It panics (GoMLX style) if k is not in [0, MaxK] or if q's dtype is not an integer or float.
func CodeLenGraph(q *graph.Node, k int) *graph.Node {
	return graph.StopGradient(graph.ConvertDType(codeLenGraph(q, k), dtypes.Int32))
}

// BitLenGraph returns, inside a computation graph, the total length in bits of the order-k
// Exp-Golomb codes of all elements of q, as an Int64 scalar: exactly [BitLen] on the host, the
// size of the payload of [AppendEncode] or [AppendFrame] before padding to whole bytes.
//
// q is handled as in [CodeLenGraph] (any integer or float dtype, floats rounded, values
// saturated to the int32 range). It panics if k is not in [0, MaxK] or q has an unsupported
// dtype.
func BitLenGraph(q *graph.Node, k int) *graph.Node {
	return graph.StopGradient(graph.ReduceAllSum(codeLenGraph(q, k)))
}

// codeLenGraph returns the per-element code lengths as Int64.
func codeLenGraph(q *graph.Node, k int) *graph.Node {
	checkK(k)
	return codeLenOfGraph(mapSignedGraph(int32RangeGraph(q)), k)
}

// codeLenOfGraph returns the length of the order-k code of each element of u, a non-negative
// Int64 tensor of coded values (u + 2^k < 2^63), for a valid k.
func codeLenOfGraph(u *graph.Node, k int) *graph.Node {
	v := graph.AddScalar(u, int64(1)<<k)
	// bitlen(v) = 64 - Clz(v), so the code length 2*bitlen(v) - k - 1 is 127 - k - 2*Clz(v).
	return graph.Sub(graph.Scalar(u.Graph(), dtypes.Int64, 127-k), graph.MulScalar(graph.Clz(v), 2))
}

// int32RangeGraph converts q to Int64, rounding floats and saturating to the int32 range.
func int32RangeGraph(q *graph.Node) *graph.Node {
	x := q
	dtype := x.DType()
	switch {
	case dtype.IsFloat():
		if dtype != dtypes.Float32 && dtype != dtypes.Float64 {
			x = graph.ConvertDType(x, dtypes.Float32) // Half precision: exactly representable in float32.
		}
		// -2^31 and 2^31 are exact in float32 and float64, so clipping first makes the
		// conversion to Int64 well-defined; 2^31 is then saturated to MaxInt32.
		x = graph.ClipScalar(graph.Round(x), math.MinInt32, -math.MinInt32)
		x = graph.MinScalar(graph.ConvertDType(x, dtypes.Int64), math.MaxInt32)
	case dtype.IsUnsigned():
		if dtype.Bits() >= 32 {
			x = graph.MinScalar(x, math.MaxInt32)
		}
		x = graph.ConvertDType(x, dtypes.Int64)
	case dtype.IsInt():
		if dtype.Bits() > 32 {
			x = graph.ClipScalar(x, math.MinInt32, math.MaxInt32)
		}
		x = graph.ConvertDType(x, dtypes.Int64)
	default:
		panic(fmt.Errorf("expgolomb: code lengths need an integer or float tensor, got dtype %s", dtype))
	}
	return x
}

// mapSignedGraph is MapSigned on an Int64 tensor: the zig-zag code of -q, (2x) ^ (x >> 63)
// with x = -q, which is 2q - 1 for q > 0 and -2q otherwise.
func mapSignedGraph(q *graph.Node) *graph.Node {
	x := graph.Neg(q)
	return graph.BitwiseXor(graph.MulScalar(x, 2), graph.BitwiseShiftRightArithmeticScalar(x, 63))
}
