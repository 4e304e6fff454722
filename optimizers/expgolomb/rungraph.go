package expgolomb

import (
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
)

const (
	// BestRunGraphMaxKR is the largest run order kr tried by BestRunBitLenGraph. Larger orders
	// only pay off for runs of at least 2^16 zeros.
	BestRunGraphMaxKR = 16

	// BestRunGraphMaxKV is the largest value order kv tried by BestRunBitLenGraph. Larger orders
	// don't pay off for int8 values.
	BestRunGraphMaxKV = 8
)

// RunBitLenGraph returns, inside a computation graph, the length in bits of the zero-run code
// of q with orders kr and kv, as an Int64 scalar: exactly [RunBitLen] on the host of the values
// of q flattened in row-major order, the payload size of [AppendEncodeRuns] or [AppendRunFrame]
// before padding to whole bytes.
//
// q is handled as in [CodeLenGraph]: any integer or float dtype, floats rounded to the nearest
// integer (ties to even), values saturated to the int32 range. The result is marked with
// StopGradient.
//
// The run lengths are found with integer ops that every backend supports, the pure Go one
// included: the index of the last nonzero value at or before each position is an inclusive
// prefix maximum, computed in ceil(log2(n)) steps of shifting (Slice and Concatenate) and
// element-wise Max; at each nonzero value, the run before it is its index minus that of the
// previous nonzero value, minus one, and the trailing run is n-1 minus the index of the last
// nonzero value. Code lengths then come from count-leading-zeros, as in [CodeLenGraph]. The cost
// is O(n log n) element-wise operations.
//
// It panics (GoMLX style) if kr or kv is not in [0, MaxK] or if q's dtype is not an integer or
// float.
func RunBitLenGraph(q *graph.Node, kr, kv int) *graph.Node {
	checkK(kr)
	checkK(kv)
	parts := newRunPartsGraph(q)
	return graph.StopGradient(graph.Add(parts.runBits(kr), parts.valueBits(kv)))
}

// BestRunBitLenGraph returns, inside a computation graph, the smallest [RunBitLenGraph] of q over
// the orders kr in [0, BestRunGraphMaxKR] and kv in [0, BestRunGraphMaxKV], as an Int64 scalar.
// The runs and the values are coded independently, so this is the sum of the cheapest run part
// and the cheapest value part. It equals the nbits of [BestRunK] on the host exactly whenever
// BestRunK's orders lie in those ranges, and is otherwise larger. That is always the case for
// int8-range values (|q| <= 128) in runs of fewer than 2^16 zeros: all codes of order k are
// then k+1 bits long for k >= 8 (values) or k >= 16 (runs), so larger orders only cost more.
// The run lengths are computed once, so trying all orders costs a few element-wise operations
// per order.
//
// q is handled as in [RunBitLenGraph], and the result is marked with StopGradient. It panics
// (GoMLX style) if q's dtype is not an integer or float.
func BestRunBitLenGraph(q *graph.Node) *graph.Node {
	parts := newRunPartsGraph(q)
	runBits := make([]*graph.Node, BestRunGraphMaxKR+1)
	for kr := range runBits {
		runBits[kr] = parts.runBits(kr)
	}
	valueBits := make([]*graph.Node, BestRunGraphMaxKV+1)
	for kv := range valueBits {
		valueBits[kv] = parts.valueBits(kv)
	}
	best := graph.Add(graph.ReduceAllMin(graph.Stack(runBits, 0)), graph.ReduceAllMin(graph.Stack(valueBits, 0)))
	return graph.StopGradient(best)
}

// runPartsGraph holds what the zero-run code lengths of a flattened tensor of n values depend
// on, as Int64 tensors: nonzero is nil for n = 0, and otherwise all are set.
type runPartsGraph struct {
	g *graph.Graph

	// nonzero is the Bool mask of the nonzero values, shape [n].
	nonzero *graph.Node

	// runs holds, at each nonzero value, the number of zeros since the previous one (or the
	// start); other elements are unspecified. Shape [n].
	runs *graph.Node

	// last is the number of trailing zeros, a scalar.
	last *graph.Node

	// values holds MapSigned(q)-1, the coded value, at each nonzero value; -1 at zeros. Shape [n].
	values *graph.Node
}

// newRunPartsGraph computes the runs and coded values of q, flattened (see RunBitLenGraph).
func newRunPartsGraph(q *graph.Node) *runPartsGraph {
	x := int32RangeGraph(q)
	p := &runPartsGraph{g: x.Graph()}
	n := x.Shape().Size()
	if n == 0 {
		return p
	}
	x = graph.Reshape(x, n)
	p.nonzero = graph.NotEqual(x, graph.ScalarZero(p.g, dtypes.Int64))
	p.values = graph.AddScalar(mapSignedGraph(x), -1)
	// lastNonzero[i]: the index of the last nonzero value at or before i, or -1.
	index := graph.Iota(p.g, shapes.Make(dtypes.Int64, n), 0)
	lastNonzero := graph.Where(p.nonzero, index, graph.Scalar(p.g, dtypes.Int64, -1))
	for d := 1; d < n; d *= 2 {
		lastNonzero = graph.Max(lastNonzero, shiftRightGraph(lastNonzero, d, -1))
	}
	// The run before a nonzero value at i is i - lastNonzero[i-1] - 1.
	p.runs = graph.Sub(graph.AddScalar(index, -1), shiftRightGraph(lastNonzero, 1, -1))
	p.last = graph.Sub(graph.Scalar(p.g, dtypes.Int64, n-1), graph.Reshape(graph.Slice(lastNonzero, graph.AxisRange(n-1, n))))
	return p
}

// shiftRightGraph returns the 1-D tensor x shifted right by d (0 < d < n) positions, filled
// with the value fill on the left: y[i] = x[i-d] for i >= d, fill otherwise.
func shiftRightGraph(x *graph.Node, d int, fill int64) *graph.Node {
	n := x.Shape().Dimensions[0]
	pad := graph.BroadcastToDims(graph.Scalar(x.Graph(), x.DType(), fill), d)
	return graph.Concatenate([]*graph.Node{pad, graph.Slice(x, graph.AxisRange(0, n-d))}, 0)
}

// runBits returns the total length of the order-kr codes of the runs, an Int64 scalar.
func (p *runPartsGraph) runBits(kr int) *graph.Node {
	if p.nonzero == nil { // No values: only the final run of 0 zeros.
		return graph.Scalar(p.g, dtypes.Int64, kr+1)
	}
	return graph.Add(p.sumOverNonzero(codeLenOfGraph(p.runs, kr)), codeLenOfGraph(p.last, kr))
}

// valueBits returns the total length of the order-kv codes of the nonzero values, an Int64 scalar.
func (p *runPartsGraph) valueBits(kv int) *graph.Node {
	if p.nonzero == nil {
		return graph.ScalarZero(p.g, dtypes.Int64)
	}
	return p.sumOverNonzero(codeLenOfGraph(p.values, kv))
}

// sumOverNonzero returns the sum of the elements of lens at the nonzero values.
func (p *runPartsGraph) sumOverNonzero(lens *graph.Node) *graph.Node {
	return graph.ReduceAllSum(graph.Where(p.nonzero, lens, graph.ScalarZero(p.g, dtypes.Int64)))
}
