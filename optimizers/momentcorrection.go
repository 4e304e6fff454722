package optimizers

import (
	"github.com/ggprior/ggprior/internal/dotsum"
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/support/exceptions"
)

// ParamMomentCorrection is the hyperparameter that turns on GCT's correction
// of the inner optimizer's second moment (bool, default false), when the
// builder leaves it unset (GCTConfig.MomentCorrection).
const ParamMomentCorrection = "gct_moment_correction"

// NoiseAwareOptimizer is an inner optimizer with a second moment (Adam and
// its kind) that can be told, with each step's gradients, by how much their
// squares overstate those of the gradients they stand for: GCT's decoded
// gradients carry the quantization noise, whose power adds to the squared
// gradient (under error feedback the noise is the difference of two
// residuals, e_{t-1} - e_t), so that a second moment of decoded gradients
// is inflated, and the update shrinks, by the noise's share; at 1 bit per
// element that is a large share. Dividing the squared gradient by the
// factor in the second moment's update keeps the second moment near the
// uncompressed one; the first moment, whose noise error feedback cancels
// over steps, is left as it is.
type NoiseAwareOptimizer interface {
	// UpdateGraphWithNoisyGradients applies one step with the gradients
	// (as train.OptimizeWithGradients does), the second moment's update of
	// variable i using grads[i]^2 / factors[i] (factors: scalars > 0, of any
	// float dtype).
	UpdateGraphWithNoisyGradients(scope *model.Scope, grads, factors []*Node, lossDType dtypes.DType)
}

// Bounds of the second-moment correction's factor.
const (
	momentCorrectionMin = 1.0 / 16
	momentCorrectionMax = 16
)

// NoisePower returns the quantization noise's power in a decoded gradient,
// sum(decoded^2) - sum(grad^2) (Float32 scalar), grad being the gradient it
// stands for (this step's, before error feedback): what a data-parallel
// worker sends with its gradient for the second-moment correction.
func NoisePower(decoded, grad *Node) *Node {
	return StopGradient(Sub(dotsum.SumSquares(toF32(decoded)), dotsum.SumSquares(toF32(grad))))
}

// MomentCorrectionFactor returns the factor of the second-moment
// correction for the gradient an update applies (the decoded one, or the
// workers' mean), given the power of its noise (NoisePower; for the mean of W
// workers' gradients, the sum of theirs over W^2, as independent noises
// add): sum(decoded^2) / (sum(decoded^2) - noise), the ratio of the decoded
// gradient's squares to the gradient's (Float32 scalar), clamped to [1/16,
// 16], or 1 where it is not finite or the denominator is not positive.
func MomentCorrectionFactor(decoded, noise *Node) *Node {
	num := dotsum.SumSquares(toF32(StopGradient(decoded)))
	den := Sub(num, toF32(noise))
	factor := Div(num, den)
	ok := LogicalAnd(GreaterThan(den, ZerosLike(den)), IsFinite(factor))
	factor = ClipScalar(factor, momentCorrectionMin, momentCorrectionMax)
	return StopGradient(Where(ok, factor, OnesLike(factor)))
}

// toF32 returns x as Float32.
func toF32(x *Node) *Node {
	if x.DType() != dtypes.Float32 {
		return ConvertDType(x, dtypes.Float32)
	}
	return x
}

// noiseAware returns the inner optimizer as a NoiseAwareOptimizer, or panics
// with an error that says what ParamMomentCorrection needs.
func (o *Wrapper) noiseAware() NoiseAwareOptimizer {
	na, ok := o.config.inner.(NoiseAwareOptimizer)
	if !ok {
		exceptions.Panicf("optimizers.GCT: %s=true: the inner optimizer %T does not implement optimizers.NoiseAwareOptimizer "+
			"(UpdateGraphWithNoisyGradients), which the second moment's correction needs", ParamMomentCorrection, o.config.inner)
	}
	return na
}

// MomentCorrection reports whether the wrapper corrects the inner
// optimizer's second moment with scope's hyperparameters (see
// GCTConfig.MomentCorrection).
func (o *Wrapper) MomentCorrection(scope *model.Scope) bool {
	return o.resolve(scope).momentCorrection
}
