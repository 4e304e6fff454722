package charlm

import (
	"math"

	. "github.com/gomlx/gomlx/core/graph"
)

// The two functions here compute the same values as GoMLX's Softmax and
// activation.Gelu, with hand-written gradients. GoMLX differentiates a fused op
// through its decomposed form, which recomputes the forward pass (a second set
// of exp() or erf() calls) for the backward one; these gradients reuse the
// forward values instead. On the Go backend built with GOEXPERIMENT=simd the
// scalar exp() and erf() behind the Exp, Erf and Logistic ops are very slow
// (they run after AVX-512 kernels), so each call saved counts.

// withGradient returns value, a function of x computed without gradient, as a
// node whose gradient with respect to x is vjp(v), v being the gradient with
// respect to the result. value and x must have the same shape. (The result is
// value + (x - x), exact for finite x.)
func withGradient(value, x *Node, vjp func(v *Node) *Node) *Node {
	xc := IdentityWithCustomGradient(x, func(_, v *Node) *Node { return vjp(v) })
	return Add(value, Sub(xc, StopGradient(x)))
}

// softmax over the last axis: the backend's fused softmax when it has one, with
// the gradient p * (v - sum(v * p)) written with the output p.
func softmax(x *Node) *Node {
	p := StopGradient(Softmax(x, -1))
	return withGradient(p, x, func(v *Node) *Node {
		return Mul(p, Sub(v, ReduceAndKeep(Mul(v, p), ReduceSum, -1)))
	})
}

// gelu is the exact GELU, x * Phi(x) with Phi(x) = (1 + erf(x/sqrt(2)))/2, with
// the gradient Phi(x) + x * phi(x) reusing Phi from the forward pass (one erf
// and one exp per element in all, instead of two erf and one exp).
func gelu(x *Node) *Node {
	xs := StopGradient(x)
	cdf := MulScalar(OnePlus(Erf(MulScalar(xs, 1/math.Sqrt2))), 0.5)
	return withGradient(Mul(xs, cdf), x, func(v *Node) *Node {
		pdf := MulScalar(Exp(MulScalar(Square(xs), -0.5)), 1/math.Sqrt(2*math.Pi))
		return Mul(v, Add(cdf, Mul(xs, pdf)))
	})
}
