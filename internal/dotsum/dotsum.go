// Package dotsum computes sums over all the elements of a tensor in the graph
// as dot products: Sum(x) is x . 1 and Inner(x, y) is sum(x*y), both over the
// flattened tensors.
//
// On GoMLX's pure-Go backend a ReduceSum over all axes walks the tensor with a
// generic index iterator (about 4 ns per float32 element on an AVX-512 core;
// ReduceMax about 6 ns, Abs about 5 ns), while a dot product of two vectors
// runs in the matrix-multiplication kernels (about 0.7 ns per element): the
// statistics GCT computes over every gradient each step cost several times
// less this way. The sums are the same up to float rounding (the order of the
// additions differs); on a given backend they are deterministic.
package dotsum

import (
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/support/exceptions"
)

// Sum returns the sum of all the elements of x (a float tensor with at least
// one element), a scalar of x's dtype.
func Sum(x *graph.Node) *graph.Node {
	flat := flatten("dotsum.Sum", x)
	return graph.Dot(flat, graph.OnesLike(flat)).Product()
}

// Mean returns the mean of all the elements of x (a float tensor with at
// least one element), a scalar of x's dtype.
func Mean(x *graph.Node) *graph.Node {
	return graph.DivScalar(Sum(x), float64(x.Shape().Size()))
}

// Inner returns sum(x*y) over all the elements of x and y (float tensors of
// the same shape, with at least one element), a scalar of their dtype.
func Inner(x, y *graph.Node) *graph.Node {
	if !x.Shape().Equal(y.Shape()) {
		exceptions.Panicf("dotsum.Inner: shapes %s and %s differ", x.Shape(), y.Shape())
	}
	return graph.Dot(flatten("dotsum.Inner", x), flatten("dotsum.Inner", y)).Product()
}

// SumSquares returns the sum of the squares of all the elements of x.
func SumSquares(x *graph.Node) *graph.Node {
	flat := flatten("dotsum.SumSquares", x)
	return graph.Dot(flat, flat).Product()
}

// Abs returns |x| of a float tensor as Max(x, -x): the same values as
// graph.Abs (NaN included), cheaper on the Go backend, whose Abs branches
// on the sign of each element.
func Abs(x *graph.Node) *graph.Node { return graph.Max(x, graph.Neg(x)) }

// flatten checks that x is a float tensor with elements and returns it as a vector.
func flatten(who string, x *graph.Node) *graph.Node {
	if !x.DType().IsFloat() {
		exceptions.Panicf("%s: x must be a float tensor, got %s", who, x.Shape())
	}
	if x.Shape().Size() == 0 {
		exceptions.Panicf("%s: x is empty (shape %s)", who, x.Shape())
	}
	if x.Rank() == 1 {
		return x
	}
	return graph.Reshape(x, x.Shape().Size())
}
