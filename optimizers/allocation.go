package optimizers

import (
	"github.com/ggprior/ggprior/internal/storevars"
	"github.com/ggprior/ggprior/optimizers/ggrans"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/initializer"
	"github.com/gomlx/gomlx/support/exceptions"
)

// ParamAllocation is the hyperparameter of how GCT's GG quantizer shares the
// bit budget among the tensors, when the builder leaves it unset
// (GCTConfig.Allocation): an Allocation or its name, "equal" (the default)
// or "rd".
const ParamAllocation = "gct_allocation"

// Allocation is how GCT's GG quantizer shares the target bits per element
// among a step's tensors.
type Allocation string

const (
	// AllocationEqual gives every tensor the target: each gets the step
	// that codes it at the target bits per element.
	AllocationEqual Allocation = "equal"

	// AllocationRD quantizes every tensor at one common step (in the
	// quantizer's geometry), the one at which all of them together take the
	// target: the allocation of least total squared error for the bits at
	// high rate (every tensor at the same rate-distortion slope, dD/dR =
	// -2 ln 2 * D), where equal bits give each tensor a different slope.
	// Tensors whose values spread wider get more bits, the narrow ones fewer.
	// With GeometryAdam, the error is measured in the update: this is
	// allocating the bits by what each tensor's error costs in the update.
	// It needs the rANS coder (CoderRANS or CoderAuto), whose cost follows
	// the step down to any rate. The common step starts at the mean, weighted
	// by size, of the log of the steps the rate table gives each tensor, times
	// exp(r), r a state (AllocationCorrectionVar, under GCT's state scope)
	// that a rate control updates after each step as r += gain * log(measured
	// payload / target payload) over all the tensors together (gain
	// ParamRateGain; the target as RateTarget gives it, summed).
	AllocationRD Allocation = "rd"
)

// Allocations are the valid Allocation values, the default first.
var Allocations = []Allocation{AllocationEqual, AllocationRD}

// DefaultAllocation is the allocation when neither the builder nor the
// scope's ParamAllocation sets one.
const DefaultAllocation = AllocationEqual

// AllocationCorrectionVar is the name of AllocationRD's rate-control state
// under GCT's state scope: the log of the factor on the common step (Float32
// scalar, 0 at the start).
const AllocationCorrectionVar = "rd_correction"

// ParseAllocation returns the allocation named name ("equal" or "rd").
func ParseAllocation(name string) (Allocation, error) {
	return parseName("allocation", name, Allocations)
}

// AllocationFromScope returns the allocation of the scope's ParamAllocation
// hyperparameter (an Allocation or its name; DefaultAllocation if unset). It
// panics (GoMLX style) on another value.
func AllocationFromScope(scope *model.Scope) Allocation {
	return Allocation(enumParam(scope, ParamAllocation, string(DefaultAllocation), func(s string) error {
		_, err := ParseAllocation(s)
		return err
	}))
}

// compressJoint quantizes the tensors xs at AllocationRD's common step and
// codes each as the quantizer's coder says (rANS frames, or for CoderAuto's
// small tensors Exp-Golomb codes), updating the rate control's state under
// state. The quantizer's coder must be CoderRANS or CoderAuto.
func (c ggQuantizer) compressJoint(state *model.Scope, xs []*Node) []Compressed {
	if c.coder != CoderRANS && c.coder != CoderAuto {
		exceptions.Panicf("optimizers.GCT: %s=%s needs the rANS coder (%s=%s or %s), not %s",
			ParamAllocation, AllocationRD, ParamCoder, CoderRANS, CoderAuto, c.coder)
	}
	g := xs[0].Graph()
	fits := make([]ransFit, len(xs))
	var logSum, weight *Node
	var total float64
	for i, x := range xs {
		checkFloat("GCT", x)
		fits[i] = c.fitRANS(x)
		n := float64(x.Shape().Size())
		total += n
		w := Where(fits[i].flat, ZerosLike(fits[i].modelStep), ConstAs(fits[i].modelStep, n))
		logSum = addOrSet(logSum, Mul(w, Log(Where(fits[i].flat, OnesLike(fits[i].modelStep), fits[i].modelStep))))
		weight = addOrSet(weight, w)
	}
	allFlat := LessOrEqual(weight, ZerosLike(weight))
	logStep := Div(logSum, Max(weight, OnesLike(weight)))
	var correction *model.Variable
	if c.rateGain > 0 {
		correction = storevars.State(state.WithInitializer(initializer.Zero), AllocationCorrectionVar, shapes.Make(dtypes.Float32))
		logStep = Add(logStep, correction.NodeValue(g))
	}
	step := StopGradient(Exp(logStep))
	out := make([]Compressed, len(xs))
	var payload *Node
	var fixed float64
	for i, x := range xs {
		coding := CodingGGRANS
		if c.coder == CoderAuto {
			coding = AutoCoding(x.Shape().Size(), c.bits)
		}
		out[i] = fits[i].encode(x, step, coding)
		f := 32.0 // Exp-Golomb's step.
		if coding == CodingGGRANS {
			f = ggrans.FrameFixedBits
		}
		fixed += f
		payload = addOrSet(payload, AddScalar(out[i].Bits, -f))
	}
	if correction != nil {
		target := max(total*c.bits-fixed, total*c.bits/2)
		payload = Max(payload, ConstAs(payload, 1))
		next := Add(correction.NodeValue(g), MulScalar(Log(DivScalar(payload, target)), c.rateGain))
		next = ClipScalar(next, -rateCorrectionMax, rateCorrectionMax)
		keep := LogicalOr(allFlat, LogicalNot(IsFinite(next)))
		correction.SetNodeValue(StopGradient(Where(keep, correction.NodeValue(g), next)))
	}
	return out
}
