// Package bisect finds levels of a tensor's values inside the graph, by
// fixed-step bisection: a few cheap element-wise passes instead of a sort or a
// TopK, which the pure-Go backend runs slowly (seconds on a [768, 512]
// tensor). ACT's batch threshold and the Top-k compressor's threshold use it.
package bisect

import (
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:revive // GoMLX's graph DSL.
)

// CountBelow brackets the level at which `target` of the values of a (>= 0,
// any shape) lie below it: it bisects [0, max(a)] steps times and returns
// Float32 scalars lo <= hi, hi - lo = max(a) 2^-steps, with
//
//	count(a < lo) < target <= count(a < hi)
//
// (for 0 < target <= count(a < max(a)); a smaller target gives lo = 0, a larger
// one hi = max(a)). target is a Float32 scalar. With distinct values closer
// than hi - lo to no one, count(a >= hi) is exactly size - ceil(target).
func CountBelow(a, target *Node, steps int) (lo, hi *Node) {
	a = ConvertDType(a, dtypes.Float32)
	lo = ZerosLike(target)
	hi = ReduceAllMax(a)
	for range steps {
		mid := MulScalar(Add(lo, hi), 0.5)
		below := ReduceAllSum(ConvertDType(LessThan(a, mid), dtypes.Float32))
		tooLow := LessThan(below, target)
		lo = Where(tooLow, mid, lo)
		hi = Where(tooLow, hi, mid)
	}
	return lo, hi
}
