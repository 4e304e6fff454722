package charlm

import (
	"math"

	"github.com/gomlx/compute/dtypes"

	. "github.com/gomlx/gomlx/core/graph"
)

// ScheduleFn returns the learning rate of the step `it` (0-based: the number of
// optimizer steps already taken), a float scalar node; the result has its dtype.
type ScheduleFn func(it *Node) *Node

// WarmupCosine is the benchmark's learning-rate schedule: linear warmup to Peak
// over Warmup steps, then cosine decay to Min at step Total:
//
//	lr(it) = Peak * (it+1)/Warmup                                      for it < Warmup
//	lr(it) = Min + 0.5*(1 + cos(pi*(it-Warmup)/(Total-Warmup)))*(Peak-Min)  otherwise
//
// With Peak 1e-3, Min 1e-4, Warmup 100 and Total = steps it is exactly the benchmark's.
// Past Total (it > Total) the cosine would rise again; it is held at Min.
type WarmupCosine struct {
	Peak, Min     float64
	Warmup, Total int
}

// defaultSchedule returns the benchmark's schedule for a run of the given number of steps.
func defaultSchedule(steps int) WarmupCosine {
	return WarmupCosine{Peak: 1e-3, Min: 1e-4, Warmup: 100, Total: steps}
}

// At returns the learning rate at step it (0-based), on the host, in float64.
func (s WarmupCosine) At(it int) float64 {
	if it < s.Warmup {
		return s.Peak * float64(it+1) / float64(s.Warmup)
	}
	if s.Total <= s.Warmup || it >= s.Total {
		return s.Min
	}
	progress := float64(it-s.Warmup) / float64(s.Total-s.Warmup)
	return s.Min + 0.5*(1+math.Cos(math.Pi*progress))*(s.Peak-s.Min)
}

// Graph is the in-graph version of At: it is a ScheduleFn. The arithmetic is
// done in float64 and converted to the dtype of `it` at the end, so the value is
// the float32 rounding of At.
func (s WarmupCosine) Graph(it *Node) *Node {
	dtype := it.DType()
	step := ConvertDType(it, dtypes.Float64)
	warm := MulScalar(AddScalar(step, 1), s.Peak/float64(s.Warmup))
	after := ConstAs(step, s.Min)
	if s.Total > s.Warmup {
		progress := DivScalar(AddScalar(step, -float64(s.Warmup)), float64(s.Total-s.Warmup))
		progress = ClipScalar(progress, 0, 1)
		after = AddScalar(MulScalar(OnePlus(Cos(MulScalar(progress, math.Pi))), 0.5*(s.Peak-s.Min)), s.Min)
	}
	lr := Where(LessThan(step, ConstAs(step, float64(s.Warmup))), warm, after)
	return ConvertDType(lr, dtype)
}
