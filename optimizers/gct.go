package optimizers

import (
	"math"

	"github.com/ggprior/ggprior/internal/storevars"
	"github.com/ggprior/ggprior/optimizers/ggrans"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/initializer"
	"github.com/gomlx/gomlx/ml/train"
	"github.com/gomlx/gomlx/ml/train/optimizer"
	"github.com/gomlx/gomlx/support/exceptions"
)

// Hyperparameters of GCT, read from the scope when the builder leaves them unset
// (e.g. -set="gct_bits=2;gct_lambda=1e-4").
const (
	// ParamBits is the target coded bits per gradient element (float64, default
	// DefaultBits): above 1 with Exp-Golomb codes, any value above 0 with the
	// rANS coder (see ParamCoder, in coder.go).
	ParamBits = "gct_bits"
	// ParamLambda is the weight of the rate constraint lambda*||g||_1 (float64, default 0: off).
	ParamLambda = "gct_lambda"
	// ParamErrorFeedback turns error feedback on or off (bool, default true).
	ParamErrorFeedback = "gct_error_feedback"
	// ParamWarmupSteps is the number of first steps sent uncompressed (int, default 0).
	ParamWarmupSteps = "gct_warmup_steps"
	// ParamRateGain is the gain of the rate control of the tensors coded with
	// the rANS coder (CoderRANS, and CoderAuto's large tensors) (float64 >= 0,
	// default DefaultRateGain; 0 turns it off): each step multiplies the rate
	// table's step by exp(r), a per-variable state r (RateCorrectionVar, under
	// GCT's state scope) updated after the step as r += gain * log(measured
	// payload / target payload), the payload being the frame's bits less its
	// fixed part (ggrans.FrameFixedBits) and the target RateTarget(n,
	// ParamBits): the whole frame at the target where the fixed part allows. The
	// rate table assumes the fitted GG describes the tensor; under error
	// feedback it drifts (the corrected gradient's fitted shape climbs to
	// about 14 at 0.5 bits, where the table's step is too large and the rate
	// falls to 0.3-0.5 of the target), and the control brings the rate back
	// to the target within a few steps. Exp-Golomb codes have no rate control.
	ParamRateGain = "gct_rate_gain"

	// TotalRateCorrectionVar is the name of the total rate control's state,
	// under GCT's state scope, with the rANS or auto coders, each tensor at
	// the target (AllocationEqual) and a rate gain > 0 (the quantizer GCT
	// builds from its settings, not one given with Compressor): the log s of the
	// factor on every rANS-coded tensor's rate-control target (Float32
	// scalar, 0 at the start), updated after each compressed step as s -=
	// gain * log(payload / target), payload the step's bits less the fixed
	// parts F (frame headers, Exp-Golomb steps) and target max(M - F, M/2),
	// M = N*B*(1-TotalRateMargin), N elements at B bits. Without it the total
	// is above the target by what the small tensors' Exp-Golomb codes (the
	// auto coder's) and the frames of a few thousand elements take beyond it
	// (0.4% at 1 bit per element in charlm).
	TotalRateCorrectionVar = "rate_total_correction"

	// TotalRateMargin is how far below the target the total rate control
	// aims (0.2%): the target is a budget, and the control's steps scatter
	// around its aim by a few tenths of a percent, so that a run's mean
	// aimed at the target itself ends above it as often as below.
	TotalRateMargin = 0.002
)

const (
	// DefaultBits is GCT's default target: 2 bits per gradient element.
	DefaultBits = 2.0
	// DefaultRateGain is the default ParamRateGain: a rate 10% off the target
	// moves the step by 3%, stable for rates that change up to 6 times as
	// fast as the step (d log bits / d log step down to -6).
	DefaultRateGain = 0.3
	// StateScope is the scope, under the optimizer's scope, of GCT's variables:
	// per-variable error-feedback residuals and secant memory, the step counter and metrics.
	StateScope = "gct"
	// curvatureMax clamps the secant Hessian-diagonal estimate.
	curvatureMax = 1e4
	// curvatureMomentum smooths it across steps.
	curvatureMomentum = 0.9
)

// GCTConfig configures the GCT wrapper; create it with GCT, finish with Done.
type GCTConfig struct {
	inner         optimizer.Interface
	compressor    Compressor
	bits          float64 // NaN: from the scope.
	k             int
	lambda        float64 // NaN: from the scope.
	errorFeedback int     // -1: from the scope; 0 off; 1 on.
	warmup        int     // < 0: from the scope.
	coder         Coder
	coderSet      bool           // false: from the scope.
	rateGain      float64        // NaN: from the scope.
	geometry      Geometry       // "": from the scope.
	allocation    Allocation     // "": from the scope.
	recon         Reconstruction // "": from the scope.
	momentCorr    int            // -1: from the scope; 0 off; 1 on.
	precond       Preconditioner
}

// GCT wraps any GoMLX optimizer that accepts gradients (Adam, AdamW, SGD,
// RMSProp: anything implementing train.OptimizeWithGradients) so that it is
// updated with compressed gradients, exactly as a remote data-parallel worker
// would decode them:
//
//	opt := optimizers.GCT(optimizer.Adam().Done()).BitsPerElement(2).Done()
//
// Each step, for each trainable variable with gradient g:
//
//  1. with RateWeight(lambda) > 0, the rate constraint J = D + lambda*||g||_1
//     adds lambda * h * sign(g), h the secant estimate of the Hessian diagonal
//     (g_t - g_{t-1}) / (w_t - w_{t-1}), clamped to [0, 1e4] and smoothed;
//  2. with error feedback (on by default), the residual of the previous step is added;
//  3. the result v is quantized, q = round(v/delta), with delta from the GG fitted
//     to v in the graph so that the expected coded size is BitsPerElement,
//     with the Coder's codes: Exp-Golomb (the default), or the rANS coder of
//     package ggrans, whose model is the fitted GG and which goes below 1 bit
//     per element (or a fixed delta: Compressor(FixedStep(delta, k)));
//  4. the inner optimizer is updated with q*delta, and v - q*delta is kept as
//     the next residual.
//
// Options of the GG quantizer (each a builder method and a hyperparameter):
// Geometry(GeometryAdam) quantizes v divided by the inner optimizer's
// per-element scale (a Preconditioner: Adam's sqrt of its second moment) and
// decodes q*delta times it; MomentCorrection(true) has the inner optimizer (a
// NoiseAwareOptimizer) divide the squared decoded gradients by their
// inflation by the quantization noise in its second moment, which otherwise
// shrinks Adam's steps as a lower learning rate would (at 1 bit per element,
// the two together take charlm from +6.2% to -0.3% of uncompressed
// training's loss); Allocation(AllocationRD) quantizes every tensor at one
// common step; Reconstruction(ReconstructionFitted) decodes at each tensor's
// least-squares gain.
//
// The first WarmupSteps steps are sent uncompressed. Any other Compressor (the
// baselines FP32, BF16, Int8, SignSGD, TopKSparse, PowerSGD) can replace step 3.
//
// Its state (residuals, secant memory, step counter) lives in non-trainable
// variables under the scope "gct", so checkpoints save it and resume exactly.
// Its metrics (coded bits per element, per variable and overall; fraction of
// zeros; mean fitted beta) are in variables too; see Metrics and ReadMetrics.
func GCT(inner optimizer.Interface) *GCTConfig {
	if inner == nil {
		exceptions.Panicf("optimizers.GCT: inner optimizer is nil")
	}
	return &GCTConfig{inner: inner, bits: math.NaN(), lambda: math.NaN(), errorFeedback: -1, warmup: -1, rateGain: math.NaN(),
		momentCorr: -1}
}

// BitsPerElement sets the target coded size of the GG quantizer (default
// DefaultBits or the scope's ParamBits): bits > k+1 with Exp-Golomb codes of
// order k, bits > 0 with the rANS coder (see Coder).
func (c *GCTConfig) BitsPerElement(bits float64) *GCTConfig {
	if math.IsNaN(bits) {
		exceptions.Panicf("optimizers.GCT: BitsPerElement(NaN)")
	}
	c.bits = bits
	return c
}

// Coder sets the entropy coder of the GG quantizer (default: the scope's
// ParamCoder, "gct_coder", or DefaultCoder, CoderExpGolomb):
//
//	opt := optimizers.GCT(optimizer.Adam().Done()).Coder(optimizers.CoderRANS).BitsPerElement(0.5).Done()
//
// With CoderRANS the integers are coded by package ggrans under the fitted GG
// (CodingGGRANS), and any target above 0 bits per element is reachable;
// ExpGolombOrder is then unused. It has no effect with Compressor.
func (c *GCTConfig) Coder(coder Coder) *GCTConfig {
	if _, err := coder.MarshalText(); err != nil {
		exceptions.Panicf("optimizers.GCT: Coder: %v", err)
	}
	c.coder, c.coderSet = coder, true
	return c
}

// RateGain sets the gain of the rate control of the rANS-coded tensors
// (default: the scope's ParamRateGain, "gct_rate_gain", or DefaultRateGain;
// 0 turns it off). See ParamRateGain. It has no effect with Exp-Golomb codes
// or with Compressor.
func (c *GCTConfig) RateGain(gain float64) *GCTConfig {
	checkRateGain(gain)
	c.rateGain = gain
	return c
}

// Geometry sets the space the GG quantizer rounds in (default: the scope's
// ParamGeometry, "gct_geometry", or DefaultGeometry, GeometryGradient).
// GeometryAdam needs a Preconditioner: the inner optimizer's (if it
// implements the interface) or the one given with Preconditioner. It has no
// effect with Compressor.
func (c *GCTConfig) Geometry(geometry Geometry) *GCTConfig {
	if _, err := ParseGeometry(string(geometry)); err != nil {
		exceptions.Panicf("optimizers.GCT: Geometry: %v", err)
	}
	c.geometry = geometry
	return c
}

// Preconditioner sets the scale of GeometryAdam (default: the inner
// optimizer, if it implements Preconditioner), e.g.
// AdamPreconditioner(optimizer.AdamDefaultScope) for GoMLX's optimizer.Adam.
func (c *GCTConfig) Preconditioner(p Preconditioner) *GCTConfig {
	if p == nil {
		exceptions.Panicf("optimizers.GCT: Preconditioner(nil)")
	}
	c.precond = p
	return c
}

// Allocation sets how the GG quantizer shares the bits among the tensors
// (default: the scope's ParamAllocation, "gct_allocation", or
// DefaultAllocation, AllocationEqual). AllocationRD needs the rANS coder
// (CoderRANS or CoderAuto). It has no effect with Compressor.
func (c *GCTConfig) Allocation(allocation Allocation) *GCTConfig {
	if _, err := ParseAllocation(string(allocation)); err != nil {
		exceptions.Panicf("optimizers.GCT: Allocation: %v", err)
	}
	c.allocation = allocation
	return c
}

// Reconstruction sets where the GG quantizer's decoded values lie in their
// cells (default: the scope's ParamReconstruction, "gct_reconstruction", or
// DefaultReconstruction, ReconstructionCenter). ReconstructionFitted needs
// the rANS coder (CoderRANS or CoderAuto). It has no effect with Compressor.
func (c *GCTConfig) Reconstruction(recon Reconstruction) *GCTConfig {
	if _, err := ParseReconstruction(string(recon)); err != nil {
		exceptions.Panicf("optimizers.GCT: Reconstruction: %v", err)
	}
	c.recon = recon
	return c
}

// MomentCorrection turns on (or off, the default) the correction of the
// inner optimizer's second moment for the quantization noise: each step, the
// inner optimizer, which must implement NoiseAwareOptimizer, divides the
// squared decoded gradient of each variable by MomentCorrectionFactor (the
// ratio of the decoded gradient's squares to the gradient's) in its second
// moment. Default: the scope's ParamMomentCorrection, "gct_moment_correction".
// It works with any compressor.
func (c *GCTConfig) MomentCorrection(on bool) *GCTConfig {
	c.momentCorr = setting(on)
	return c
}

// ExpGolombOrder sets the order k of the Exp-Golomb code the GG quantizer
// targets (default 0: 1 bit for a zero, 3 bits for +-1).
func (c *GCTConfig) ExpGolombOrder(k int) *GCTConfig {
	c.k = k
	return c
}

// RateWeight sets lambda of the rate constraint (>= 0; 0, the default, turns it off).
func (c *GCTConfig) RateWeight(lambda float64) *GCTConfig {
	checkLambda(lambda)
	c.lambda = lambda
	return c
}

// ErrorFeedback turns error feedback on (the default) or off.
func (c *GCTConfig) ErrorFeedback(on bool) *GCTConfig {
	c.errorFeedback = setting(on)
	return c
}

// setting returns a switch's builder setting: 1 on, 0 off (-1 is "from the scope").
func setting(on bool) int {
	if on {
		return 1
	}
	return 0
}

// WarmupSteps sends the first n steps uncompressed (default 0).
func (c *GCTConfig) WarmupSteps(n int) *GCTConfig {
	if n < 0 {
		exceptions.Panicf("optimizers.GCT: WarmupSteps(%d), want >= 0", n)
	}
	c.warmup = n
	return c
}

// Compressor replaces the GG quantizer by another compressor (a baseline).
func (c *GCTConfig) Compressor(comp Compressor) *GCTConfig {
	c.compressor = comp
	return c
}

// Done validates the configuration and returns the wrapped optimizer: an
// optimizer.Interface (and a train.OptimizeWithGradients) that also
// compresses gradients for a data-parallel trainer (Wrapper.CompressGradients).
func (c *GCTConfig) Done() *Wrapper {
	if _, ok := c.inner.(train.OptimizeWithGradients); !ok {
		exceptions.Panicf("optimizers.GCT: the inner optimizer %T does not implement train.OptimizeWithGradients "+
			"(UpdateGraphWithGradients), which GCT needs to hand it the compressed gradients", c.inner)
	}
	if c.warmup < -1 {
		exceptions.Panicf("optimizers.GCT: WarmupSteps(%d), want >= 0", c.warmup)
	}
	if !math.IsNaN(c.bits) && c.compressor == nil {
		if c.coderSet {
			newGGQuantizer("optimizers.GCT", c.bits, c.k, c.coder) // Checks the target; resolve builds it.
		} else if !(c.bits > 0) || math.IsInf(c.bits, 0) {
			// The coder comes from the scope: the range is checked against it then.
			exceptions.Panicf("optimizers.GCT: BitsPerElement(%g), want a finite value > 0", c.bits)
		}
	}
	return &Wrapper{config: *c}
}

func checkRateGain(gain float64) {
	if !(gain >= 0) || math.IsInf(gain, 0) {
		exceptions.Panicf("optimizers.GCT: rate gain %g, want a finite value >= 0", gain)
	}
}

func checkLambda(lambda float64) {
	if !(lambda >= 0) || math.IsInf(lambda, 0) {
		exceptions.Panicf("optimizers.GCT: rate weight lambda=%g, want a finite value >= 0", lambda)
	}
}

// Wrapper is the optimizer GCTConfig.Done returns.
type Wrapper struct {
	config GCTConfig
}

var (
	_ optimizer.Interface         = (*Wrapper)(nil)
	_ train.OptimizeWithGradients = (*Wrapper)(nil)
)

// Inner returns the optimizer GCT wraps (the one that applies the updates).
func (o *Wrapper) Inner() optimizer.Interface { return o.config.inner }

// VariableGradient is one trainable variable's gradient, compressed.
type VariableGradient struct {
	Variable   *model.Variable
	Compressed Compressed
}

// resolved are the hyperparameters after reading the scope.
type resolved struct {
	compressor    Compressor
	lambda        float64
	errorFeedback bool
	warmup        int
	// precond is the scale of GeometryAdam (nil: GeometryGradient).
	precond Preconditioner
	// joint: AllocationRD (the GG quantizer, compressJoint).
	joint bool
	// momentCorrection: ParamMomentCorrection.
	momentCorrection bool
	// totalControl: the total rate control (TotalRateCorrectionVar) of the
	// GG quantizer the wrapper builds (not of one given with Compressor).
	totalControl bool
}

func (o *Wrapper) resolve(scope *model.Scope) resolved {
	c := o.config
	r := resolved{compressor: c.compressor, lambda: c.lambda, warmup: c.warmup}
	if r.compressor == nil {
		bits := c.bits
		if math.IsNaN(bits) {
			bits = model.GetParamOr(scope, ParamBits, DefaultBits)
		}
		coder := c.coder
		if !c.coderSet {
			coder = CoderFromScope(scope)
		}
		gain := c.rateGain
		if math.IsNaN(gain) {
			gain = model.GetParamOr(scope, ParamRateGain, DefaultRateGain)
		}
		q := newGGQuantizer("optimizers.GCT", bits, c.k, coder).(ggQuantizer).withRateGain(gain)
		r.compressor = q
		geometry := c.geometry
		if geometry == "" {
			geometry = GeometryFromScope(scope)
		}
		if geometry == GeometryAdam {
			r.precond = c.precond
			if r.precond == nil {
				p, ok := c.inner.(Preconditioner)
				if !ok {
					exceptions.Panicf("optimizers.GCT: %s=%s: the inner optimizer %T does not implement optimizers.Preconditioner: "+
						"give one with GCTConfig.Preconditioner (AdamPreconditioner(optimizer.AdamDefaultScope) for GoMLX's Adam)",
						ParamGeometry, GeometryAdam, c.inner)
				}
				r.precond = p
			}
		}
		recon := c.recon
		if recon == "" {
			recon = ReconstructionFromScope(scope)
		}
		if recon == ReconstructionFitted {
			if coder != CoderRANS && coder != CoderAuto {
				exceptions.Panicf("optimizers.GCT: %s=%s needs the rANS coder (%s=%s or %s), not %s",
					ParamReconstruction, ReconstructionFitted, ParamCoder, CoderRANS, CoderAuto, coder)
			}
			q.fitted = true
			r.compressor = q
		}
		allocation := c.allocation
		if allocation == "" {
			allocation = AllocationFromScope(scope)
		}
		if allocation == AllocationRD {
			if coder != CoderRANS && coder != CoderAuto {
				exceptions.Panicf("optimizers.GCT: %s=%s needs the rANS coder (%s=%s or %s), not %s",
					ParamAllocation, AllocationRD, ParamCoder, CoderRANS, CoderAuto, coder)
			}
			r.joint = true
		}
		r.totalControl = !r.joint && (coder == CoderRANS || coder == CoderAuto) && gain > 0
	}
	if math.IsNaN(r.lambda) {
		r.lambda = model.GetParamOr(scope, ParamLambda, 0.0)
		checkLambda(r.lambda)
	}
	switch c.momentCorr {
	case -1:
		r.momentCorrection = model.GetParamOr(scope, ParamMomentCorrection, false)
	default:
		r.momentCorrection = c.momentCorr == 1
	}
	switch c.errorFeedback {
	case -1:
		r.errorFeedback = model.GetParamOr(scope, ParamErrorFeedback, true)
	default:
		r.errorFeedback = c.errorFeedback == 1
	}
	if r.warmup < 0 {
		r.warmup = model.GetParamOr(scope, ParamWarmupSteps, 0)
		if r.warmup < 0 {
			exceptions.Panicf("optimizers.GCT: %s=%d, want >= 0", ParamWarmupSteps, r.warmup)
		}
	}
	return r
}

// CompressorName returns the name of the compressor the wrapper uses with
// scope's hyperparameters: the compressor's (e.g. "gct-auto:1bits"),
// followed by "+adam" with GeometryAdam, "+vcorr" with the second moment's
// correction (ParamMomentCorrection), "+rd" with AllocationRD and "+fitted"
// with ReconstructionFitted.
func (o *Wrapper) CompressorName(scope *model.Scope) string {
	r := o.resolve(scope)
	name := r.compressor.Name()
	if r.precond != nil {
		name += "+" + string(GeometryAdam)
	}
	if r.momentCorrection {
		name += "+vcorr"
	}
	if r.joint {
		name += "+" + string(AllocationRD)
	}
	if q, ok := r.compressor.(ggQuantizer); ok && q.fitted {
		name += "+" + string(ReconstructionFitted)
	}
	return name
}

// GradientScale returns the scale by which the decoded integers of v's
// gradient are multiplied (Compressed.Scale: Decoded = Ints * Step * Scale)
// with scope's hyperparameters, or nil if there is none (GeometryGradient,
// or another compressor than the GG quantizer). It is computed from the
// inner optimizer's state before the step's update, so a data-parallel
// trainer calls it in its update graph, before the inner optimizer's
// update, to decode the workers' integers exactly as each computed its
// Decoded.
func (o *Wrapper) GradientScale(scope *model.Scope, g *Graph, v *model.Variable) *Node {
	r := o.resolve(scope)
	if r.precond == nil {
		return nil
	}
	dtype := v.Shape().DType
	s := r.precond.GradientScale(scope, g, v)
	if s != nil && s.DType() != dtype && s.DType().IsFloat() && dtype.IsFloat() {
		s = ConvertDType(s, dtype)
	}
	return s
}

// UpdateGraph implements optimizer.Interface: it computes the gradients of the
// loss and calls UpdateGraphWithGradients.
func (o *Wrapper) UpdateGraph(scope *model.Scope, g *Graph, loss *Node) {
	if !loss.Shape().IsScalar() {
		exceptions.Panicf("optimizers.GCT: the loss must be a scalar, got %s", loss.Shape())
	}
	grads := scope.BuildTrainableVariablesGradientsGraph(loss)
	o.UpdateGraphWithGradients(scope, grads, loss.DType())
}

// UpdateGraphWithGradients implements train.OptimizeWithGradients (so GCT works
// with gradient accumulation): it compresses the gradients and hands the
// decoded ones to the inner optimizer.
func (o *Wrapper) UpdateGraphWithGradients(scope *model.Scope, grads []*Node, lossDType dtypes.DType) {
	compressed := o.CompressGradients(scope, grads)
	decoded := make([]*Node, len(compressed))
	for i, vg := range compressed {
		decoded[i] = vg.Compressed.Decoded
	}
	if o.resolve(scope).momentCorrection {
		factors := make([]*Node, len(decoded))
		for i := range decoded {
			factors[i] = MomentCorrectionFactor(decoded[i], compressed[i].Compressed.NoisePower)
		}
		o.noiseAware().UpdateGraphWithNoisyGradients(scope, decoded, factors, lossDType)
		return
	}
	o.config.inner.(train.OptimizeWithGradients).UpdateGraphWithGradients(scope, decoded, lossDType)
}

// CompressGradients builds steps 1-3 of GCT for the given gradients (in the
// order of Scope.BuildTrainableVariablesGradientsGraph) and returns, for each
// variable, its compressed gradient: the wire form that a data-parallel trainer
// sends, and the decoded value. It updates the residuals, secant memory and
// metric variables. UpdateGraphWithGradients calls it; a data-parallel trainer
// calls it directly.
func (o *Wrapper) CompressGradients(scope *model.Scope, grads []*Node) []VariableGradient {
	if len(grads) == 0 {
		exceptions.Panicf("optimizers.GCT: no gradients (are there trainable variables?)")
	}
	g := grads[0].Graph()
	vars := storevars.Trainable(scope, g)
	if len(vars) != len(grads) {
		exceptions.Panicf("optimizers.GCT: %d gradients for %d trainable variables", len(grads), len(vars))
	}
	r := o.resolve(scope)
	state := scope.At(StateScope).WithInitializer(initializer.Zero)
	step := optimizer.IncrementCounter(state, g, "step", dtypes.Int64)
	warm := GreaterThan(step, Scalar(g, dtypes.Int64, r.warmup)) // Compressing from now on.
	// The inputs of the compressor: the gradients with the rate constraint
	// and the residuals, divided by the geometry's scale.
	xs := make([]*Node, len(vars))
	inputs := make([]*Node, len(vars))
	scales := make([]*Node, len(vars))
	residuals := make([]*model.Variable, len(vars))
	vStates := make([]*model.Scope, len(vars))
	for i, v := range vars {
		grad := grads[i]
		vStates[i] = state.At("%s", model.EscapeScopeName(v.Path()))
		x := grad
		if r.lambda > 0 {
			x = rateConstraint(vStates[i], v, grad, step, r.lambda)
		}
		if r.errorFeedback {
			residuals[i] = storevars.State(vStates[i], "residual", grad.Shape())
			x = Add(x, residuals[i].NodeValue(g))
		}
		xs[i], inputs[i] = x, x
		if r.precond != nil {
			checkFloat("GCT", x)
			scales[i] = checkScale(v, r.precond.GradientScale(scope, g, v), x)
			inputs[i] = Div(x, scales[i])
		}
	}
	var joint []Compressed
	var total *model.Variable // The total rate control's state (see TotalRateCorrectionVar).
	if q, ok := r.compressor.(ggQuantizer); ok {
		switch {
		case r.joint:
			joint = q.compressJoint(state, inputs)
		case r.totalControl:
			total = storevars.State(state, TotalRateCorrectionVar, shapes.Make(dtypes.Float32))
			q.totalScale = Exp(total.NodeValue(g))
			r.compressor = q
		}
	}
	out := make([]VariableGradient, len(vars))
	var totalBits, totalZeros, totalBeta *Node
	var numElements, numBeta float64
	for i, v := range vars {
		x, vState := xs[i], vStates[i]
		var c Compressed
		if joint != nil {
			c = joint[i]
		} else {
			c = r.compressor.Compress(vState, v, inputs[i])
		}
		if scales[i] != nil {
			c.Decoded, c.Scale = Mul(c.Decoded, scales[i]), scales[i]
		}
		n := float64(x.Shape().Size())
		if r.warmup > 0 {
			c.Decoded = Where(warm, c.Decoded, x)
			c.Bits = Where(warm, c.Bits, bitsConst(g, 32*n))
		}
		if residuals[i] != nil {
			residuals[i].SetNodeValue(Sub(x, c.Decoded))
		}
		if r.momentCorrection {
			c.NoisePower = NoisePower(c.Decoded, grads[i])
		}
		out[i] = VariableGradient{Variable: v, Compressed: c}
		storevars.SetMetric(vState, "bits_per_element", DivScalar(c.Bits, n))
		totalBits = addOrSet(totalBits, c.Bits)
		numElements += n
		if c.ZeroFraction != nil {
			totalZeros = addOrSet(totalZeros, MulScalar(c.ZeroFraction, n))
		}
		if c.Beta != nil {
			totalBeta = addOrSet(totalBeta, MulScalar(c.Beta, n))
			numBeta += n
		}
	}
	if total != nil {
		// The total rate control: the per-variable targets follow the
		// total's error, so that the small tensors' Exp-Golomb codes (and
		// frames above their target) don't take the whole above the target.
		// Both sides less the fixed parts F (frame headers, Exp-Golomb's
		// steps), the target as RateTarget's, max(N*B - F, N*B/2), so that
		// the control doesn't chase a total the fixed parts alone exceed.
		q := r.compressor.(ggQuantizer)
		var fixed float64
		for _, vg := range out {
			switch vg.Compressed.Coding {
			case CodingGGRANS:
				fixed += ggrans.FrameFixedBits
			case CodingExpGolomb:
				fixed += 32
			}
		}
		budget := numElements * q.bits * (1 - TotalRateMargin)
		target := max(budget-fixed, budget/2)
		payload := Max(AddScalar(totalBits, -fixed), ConstAs(totalBits, 1))
		s := total.NodeValue(g)
		next := Add(s, MulScalar(Log(DivScalar(payload, target)), -q.rateGain))
		next = ClipScalar(next, -rateCorrectionMax, rateCorrectionMax)
		keep := LogicalNot(IsFinite(next))
		if r.warmup > 0 {
			keep = LogicalOr(keep, LogicalNot(warm)) // Uncompressed: nothing to steer.
		}
		total.SetNodeValue(StopGradient(Where(keep, s, next)))
	}
	storevars.SetMetric(state, MetricBitsPerElement, DivScalar(totalBits, numElements))
	if totalZeros != nil {
		storevars.SetMetric(state, MetricZeroFraction, DivScalar(totalZeros, numElements))
	}
	if totalBeta != nil {
		storevars.SetMetric(state, MetricBeta, DivScalar(totalBeta, numBeta))
	}
	return out
}

// rateConstraint returns grad + lambda * h * sign(grad), h the smoothed, clamped
// secant estimate of the Hessian diagonal, and updates the secant memory.
func rateConstraint(vState *model.Scope, v *model.Variable, grad, step *Node, lambda float64) *Node {
	g := grad.Graph()
	prevGradVar := storevars.State(vState, "prev_grad", grad.Shape())
	prevWeightVar := storevars.State(vState, "prev_weight", grad.Shape())
	curvatureVar := storevars.State(vState, "curvature", grad.Shape())
	w := v.NodeValue(g)
	if w.DType() != grad.DType() {
		w = ConvertDType(w, grad.DType())
	}
	dg := Sub(grad, prevGradVar.NodeValue(g))
	dw := Sub(w, prevWeightVar.NodeValue(g))
	tiny := ConstAs(dw, 1e-12)
	safeDw := Where(GreaterThan(Abs(dw), tiny), dw, OnesLike(dw))
	secant := Where(GreaterThan(Abs(dw), tiny), ClipScalar(Div(dg, safeDw), 0, curvatureMax), ZerosLike(dw))
	first := Equal(step, OnesLike(step)) // No previous step yet.
	h := Add(MulScalar(curvatureVar.NodeValue(g), curvatureMomentum), MulScalar(secant, 1-curvatureMomentum))
	h = Where(first, ZerosLike(h), h)
	prevGradVar.SetNodeValue(grad)
	prevWeightVar.SetNodeValue(w)
	curvatureVar.SetNodeValue(h)
	return Add(grad, MulScalar(Mul(h, Sign(grad)), lambda))
}

// Names of the metric variables under the "gct" scope (Float32 scalars, the
// value of the last training step).
const (
	MetricBitsPerElement = "bits_per_element"
	MetricZeroFraction   = "zero_fraction"
	MetricBeta           = "beta"
)

func addOrSet(sum, x *Node) *Node {
	if sum == nil {
		return x
	}
	return Add(sum, x)
}

// Clear implements optimizer.Interface: it deletes GCT's state and the inner optimizer's.
func (o *Wrapper) Clear(scope *model.Scope) error {
	if err := scope.At(StateScope).DeleteVariablesInScope(); err != nil {
		return err
	}
	return o.config.inner.Clear(scope)
}
