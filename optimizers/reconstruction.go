package optimizers

import (
	"github.com/ggprior/ggprior/internal/dotsum"
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
)

// ParamReconstruction is the hyperparameter of where GCT's GG quantizer puts
// the decoded values, when the builder leaves it unset
// (GCTConfig.Reconstruction): a Reconstruction or its name, "center" (the
// default) or "fitted".
const ParamReconstruction = "gct_reconstruction"

// Reconstruction is where the GG quantizer's decoded values lie in their
// quantization cells.
type Reconstruction string

const (
	// ReconstructionCenter decodes q as q * step: the centre of its cell.
	ReconstructionCenter Reconstruction = "center"

	// ReconstructionFitted decodes q as q * step * c, with c the gain of
	// least squared error for the tensor's values, c = sum(x*q) / (step *
	// sum(q^2)): for the peaked distributions of gradients, where a cell's
	// values crowd at its inner edge, c < 1 moves the reconstruction points
	// toward their centroids. It needs the rANS coder (CoderRANS or
	// CoderAuto): the wire carries step*c as the step, and for rANS frames
	// alpha*c as the model's scale, so that the model, which depends on
	// step/alpha only, and the integers are those of the cell-centre
	// quantizer (the same bits), and receivers decode q * step*c as before.
	// c is clamped to [1/4, 2]; it is 1 for a tensor of zeros.
	ReconstructionFitted Reconstruction = "fitted"
)

// Reconstructions are the valid Reconstruction values, the default first.
var Reconstructions = []Reconstruction{ReconstructionCenter, ReconstructionFitted}

// DefaultReconstruction is the reconstruction when neither the builder nor
// the scope's ParamReconstruction sets one.
const DefaultReconstruction = ReconstructionCenter

// ParseReconstruction returns the reconstruction named name ("center" or "fitted").
func ParseReconstruction(name string) (Reconstruction, error) {
	return parseName("reconstruction", name, Reconstructions)
}

// ReconstructionFromScope returns the reconstruction of the scope's
// ParamReconstruction hyperparameter (a Reconstruction or its name;
// DefaultReconstruction if unset). It panics (GoMLX style) on another value.
func ReconstructionFromScope(scope *model.Scope) Reconstruction {
	return Reconstruction(enumParam(scope, ParamReconstruction, string(DefaultReconstruction), func(s string) error {
		_, err := ParseReconstruction(s)
		return err
	}))
}

// Bounds of ReconstructionFitted's gain.
const (
	reconstructionMinGain = 0.25
	reconstructionMaxGain = 2
)

// fittedGain returns ReconstructionFitted's gain for the values x quantized
// to ints at step (Float32 scalar): sum(x*q) / (step * sum(q^2)) in
// float32, clamped to [1/4, 2], or 1 where it is not finite (no nonzero q).
func fittedGain(x, ints, step *Node) *Node {
	q := ConvertDType(ints, dtypes.Float32)
	xs := x
	if xs.DType() != dtypes.Float32 {
		xs = ConvertDType(xs, dtypes.Float32)
	}
	num := dotsum.Inner(StopGradient(xs), q)
	den := Mul(dotsum.SumSquares(q), step)
	gain := Div(num, den)
	ok := LogicalAnd(IsFinite(gain), GreaterThan(den, ZerosLike(den)))
	gain = ClipScalar(gain, reconstructionMinGain, reconstructionMaxGain)
	return StopGradient(Where(ok, gain, OnesLike(gain)))
}
