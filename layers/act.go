package layers

import (
	"math"

	"github.com/ggprior/ggprior/ggx"
	"github.com/ggprior/ggprior/internal/bisect"
	"github.com/ggprior/ggprior/internal/storevars"
	"github.com/ggprior/ggprior/optimizers/expgolomb"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/initializer"
	"github.com/gomlx/gomlx/ml/train"
	"github.com/gomlx/gomlx/support/exceptions"
)

// Hyperparameters of ACT, read from the scope by ACT (set them with
// scope.SetParam or from the command line, e.g. -set="act_sparsity=0.9").
const (
	// ParamSparsity is the final target sparsity s in [0, 1) (default DefaultSparsity).
	ParamSparsity = "act_sparsity"
	// ParamLambda is the final weight of the rate term, >= 0 (default DefaultLambda).
	ParamLambda = "act_lambda"
	// ParamSchedule is the ramp of the constraint, a Schedule or its name:
	// "cosine" (the default), "linear" or "staged".
	ParamSchedule = "act_schedule"
	// ParamStart is the training step at which the ramp starts (default 0).
	ParamStart = "act_start"
	// ParamEnd is the training step at which the ramp reaches its final values (default 1000).
	ParamEnd = "act_end"
	// ParamThreshold selects where the threshold comes from, a
	// ThresholdSource or its name: "batch" (the batch's own quantile, by
	// bisection; the default) or "gg" (the quantile of the fitted GG).
	ParamThreshold = "act_threshold"
	// ParamStraightThrough passes gradients through the mask unchanged (bool, default false: masked).
	ParamStraightThrough = "act_straight_through"
	// ParamSampleSize is the number of values the statistics are computed on
	// (int, default DefaultSampleSize; 0: all values). See ACTConfig.SampleSize.
	ParamSampleSize = "act_sample_size"
)

// Defaults of ACT's hyperparameters.
const (
	DefaultSparsity = 0.9
	DefaultLambda   = 1e-3
	DefaultStart    = 0
	DefaultEnd      = 1000
	// DefaultSampleSize bounds the number of values the statistics are
	// computed on (see ACTConfig.SampleSize).
	DefaultSampleSize = 1 << 14
	// ThresholdMomentum is the weight of the past in the running average of the threshold.
	ThresholdMomentum = 0.9
	// bisectionSteps is the number of halvings of the batch-quantile search: the
	// threshold is found to max|x| * 2^-24, float32 resolution.
	bisectionSteps = 24
	// stagedSteps is the number of stages of ScheduleStaged.
	stagedSteps = 4
)

// ACTConfig configures an ACT site; create it with ACT, finish with Done.
type ACTConfig struct {
	scope           *model.Scope
	x               *Node
	sparsity        float64
	lambda          float64
	schedule        Schedule
	start, end      int
	threshold       ThresholdSource
	straightThrough bool
	epsilon         float64
	sampleSize      int
}

// ACT returns a builder for an activation-constraint site on x: during
// training it makes x sparse and low-rate, progressively, and at inference it
// zeroes |x| below the frozen threshold learned in training.
//
//	h = activation.Gelu(layers.Dense(scope.In("mlp_in"), x, true, 4*d))
//	h = layers.ACT(scope.In("mlp_act"), h).TargetSparsity(0.95).Done()
//
// During training, with progress p_t ramping from 0 at Start to 1 at End along
// the Schedule:
//
//   - Rate term: lambda_t * mean((|x| + eps)^beta_hat), lambda_t = p_t * RateWeight,
//     is added to the loss (train.AddRegularizationLoss); beta_hat is the GG shape
//     fitted to x in the graph (ggx.FitGraph), without gradient.
//   - Threshold: values with |x| < tau_t are set to exactly zero, where tau_t is
//     the level below which a fraction s_t = p_t * TargetSparsity of |x| falls:
//     the quantile of the fitted GG (ThresholdGG) or of the batch (ThresholdBatch, by a fixed
//     number of bisection steps: there is no sort with gradient on every
//     backend), smoothed by a running average kept in a non-trainable variable.
//   - The gradient flows through the kept values (masked) or, with
//     StraightThrough, through all values.
//
// The statistics (the GG fit, the batch quantile, the rate term and the
// metrics) are computed on at most SampleSize values of x, a strided sample
// that covers every feature alike and moves with the step; the threshold
// applies to all values. Per-value work on all of x is then a few element-wise
// ops, and ACT costs little next to the layer it feeds.
//
// The site's state (step counter, running threshold) and its metrics (achieved
// sparsity, threshold, fitted beta, coded bits per activation after int8
// quantization and Exp-Golomb coding) are non-trainable variables under the
// site's scope "act": checkpoints save them; see ReadMetrics.
//
// Defaults come from the scope's hyperparameters (ParamSparsity, ParamLambda,
// ParamSchedule, ParamStart, ParamEnd, ParamThreshold, ParamStraightThrough).
func ACT(scope *model.Scope, x *Node) *ACTConfig {
	return &ACTConfig{
		scope:           scope,
		x:               x,
		sparsity:        model.GetParamOr(scope, ParamSparsity, DefaultSparsity),
		lambda:          model.GetParamOr(scope, ParamLambda, DefaultLambda),
		schedule:        modeParam(scope, ParamSchedule, ScheduleCosine, ParseSchedule),
		start:           model.GetParamOr(scope, ParamStart, DefaultStart),
		end:             model.GetParamOr(scope, ParamEnd, DefaultEnd),
		threshold:       modeParam(scope, ParamThreshold, ThresholdBatch, ParseThresholdSource),
		straightThrough: model.GetParamOr(scope, ParamStraightThrough, false),
		epsilon:         1e-6,
		sampleSize:      model.GetParamOr(scope, ParamSampleSize, DefaultSampleSize),
	}
}

// TargetSparsity sets the final fraction of zeros s in [0, 1).
func (c *ACTConfig) TargetSparsity(s float64) *ACTConfig { c.sparsity = s; return c }

// RateWeight sets the final weight lambda >= 0 of the rate term (0 turns it off).
func (c *ACTConfig) RateWeight(lambda float64) *ACTConfig { c.lambda = lambda; return c }

// Schedule sets the ramp: ScheduleCosine (the default), ScheduleLinear or
// ScheduleStaged (ProSparse-like: four sine-shaped steps).
func (c *ACTConfig) Schedule(s Schedule) *ACTConfig { c.schedule = s; return c }

// Ramp sets the training steps at which the ramp starts and ends (0 <= start <= end;
// start == end is a fixed, non-progressive constraint from that step on).
func (c *ACTConfig) Ramp(start, end int) *ACTConfig { c.start, c.end = start, end; return c }

// ThresholdFrom selects ThresholdBatch (batch quantile, the default) or
// ThresholdGG (fitted GG quantile).
func (c *ACTConfig) ThresholdFrom(source ThresholdSource) *ACTConfig { c.threshold = source; return c }

// StraightThrough passes gradients through the mask unchanged (default: masked).
func (c *ACTConfig) StraightThrough(on bool) *ACTConfig { c.straightThrough = on; return c }

// Epsilon sets eps of the rate term (|x| + eps)^beta (> 0, default 1e-6).
func (c *ACTConfig) Epsilon(eps float64) *ACTConfig { c.epsilon = eps; return c }

// SampleSize sets the number of values of x the statistics (GG fit, batch
// quantile, rate term, metrics) are computed on: when x has more values, about
// n of them, every k-th value of x (flattened, wrapping around) from an offset
// that advances by one each step, k the smallest stride >= size(x)/n that is
// coprime with x's last axis, so that every step samples each feature
// (last-axis index) alike and any k successive steps cover every value. 0 uses all values (exact statistics, at the cost of
// a few dozen passes over x per step). Default DefaultSampleSize.
func (c *ACTConfig) SampleSize(n int) *ACTConfig { c.sampleSize = n; return c }

// validate panics with a clear message on bad hyperparameters.
func (c *ACTConfig) validate() {
	switch {
	case !(c.sparsity >= 0 && c.sparsity < 1):
		exceptions.Panicf("layers.ACT: target sparsity %g outside [0, 1)", c.sparsity)
	case !(c.lambda >= 0) || math.IsInf(c.lambda, 0):
		exceptions.Panicf("layers.ACT: rate weight lambda=%g, want a finite value >= 0", c.lambda)
	case c.start < 0 || c.end < c.start:
		exceptions.Panicf("layers.ACT: ramp from step %d to %d: want 0 <= start <= end", c.start, c.end)
	case !(c.epsilon > 0):
		exceptions.Panicf("layers.ACT: epsilon=%g, want > 0", c.epsilon)
	case !c.x.DType().IsFloat():
		exceptions.Panicf("layers.ACT: x must be a float tensor, got %s", c.x.Shape())
	case c.x.Shape().Size() == 0:
		exceptions.Panicf("layers.ACT: x is empty (shape %s)", c.x.Shape())
	case c.sampleSize < 0:
		exceptions.Panicf("layers.ACT: sample size %d, want >= 0 (0: all values)", c.sampleSize)
	}
	if _, err := c.schedule.MarshalText(); err != nil {
		exceptions.Panicf("layers.ACT: %v", err)
	}
	if _, err := c.threshold.MarshalText(); err != nil {
		exceptions.Panicf("layers.ACT: %v", err)
	}
}

// Done builds the site and returns x with its small values zeroed.
func (c *ACTConfig) Done() *Node {
	c.validate()
	x := c.x
	g := x.Graph()
	scope := c.scope.In("act").WithInitializer(initializer.Zero)
	stepVar := storevars.State(scope, "step", shapes.Make(dtypes.Int64))
	tauVar := storevars.State(scope, MetricThreshold, shapes.Make(dtypes.Float32))
	absX := Abs(x)
	if !scope.IsTraining(g) {
		tau := ConvertDType(tauVar.NodeValue(g), x.DType())
		return Where(GreaterOrEqual(absX, tau), x, ZerosLike(x))
	}

	step := AddScalar(stepVar.NodeValue(g), 1)
	stepVar.SetNodeValue(step)
	progress := Progress(step, c.start, c.end, c.schedule) // Float32 scalar in [0, 1].
	sparsity := MulScalar(progress, c.sparsity)
	sample := sampleValues(x, step, c.sampleSize) // [m]: the values the statistics see.
	absSample := Abs(sample)
	beta, alpha := ggx.FitGraph(sample)
	beta, alpha = StopGradient(beta), StopGradient(alpha) // Statistics of x, not paths for its gradient.
	beta32, alpha32 := ConvertDType(beta, dtypes.Float32), ConvertDType(alpha, dtypes.Float32)

	var tauBatch *Node
	switch c.threshold {
	case ThresholdGG:
		tauBatch = Mul(alpha32, magnitudeQuantile(beta32, sparsity))
	default:
		tauBatch = batchQuantile(ConvertDType(StopGradient(absSample), dtypes.Float32), sparsity)
	}
	first := Equal(step, OnesLike(step))
	tau := Where(first, tauBatch,
		Add(MulScalar(tauVar.NodeValue(g), ThresholdMomentum), MulScalar(tauBatch, 1-ThresholdMomentum)))
	tau = Where(GreaterThan(sparsity, ZerosLike(sparsity)), tau, ZerosLike(tau)) // Before the ramp: nothing is cut.
	tauVar.SetNodeValue(tau)

	tauX := ConvertDType(tau, x.DType())
	out := Where(GreaterOrEqual(absX, tauX), x, ScalarZero(g, x.DType()))
	if c.straightThrough {
		out = Add(x, StopGradient(Sub(out, x)))
	}
	if c.lambda > 0 {
		lambdaT := ConvertDType(MulScalar(progress, c.lambda), x.DType())
		rate := rateTerm(sample, ConvertDType(beta, x.DType()), c.epsilon)
		train.AddRegularizationLoss(Mul(lambdaT, rate))
	}
	// The metrics of the output, from the sample: its values as the mask leaves them.
	sampleOut := StopGradient(Where(GreaterOrEqual(absSample, tauX), sample, ZerosLike(sample)))
	c.recordMetrics(scope, sampleOut, beta32, tau)
	return out
}

// rateTerm returns mean((|s| + eps)^beta), beta a constant for the gradient,
// with its gradient beta * (|s| + eps)^beta / (|s| + eps) * sign(s) / n
// written with the powers of the forward pass: one Pow per value in all
// (element-wise transcendental functions are the costly ops on some backends).
func rateTerm(s, beta *Node, epsilon float64) *Node {
	ss := StopGradient(s)
	base := AddScalar(Abs(ss), epsilon)
	powers := Pow(base, beta)
	slope := Mul(Mul(beta, Div(powers, base)), Sign(ss))
	withGrad := IdentityWithCustomGradient(s, func(_, v *Node) *Node { return Mul(v, slope) })
	return ReduceAllMean(Add(powers, Sub(withGrad, ss))) // powers + 0, with the gradient above.
}

// sampleValues returns the values of x the statistics are computed on, as a
// vector: all of them (flattened) if there are at most size (or size is 0),
// otherwise m = ceil(n/k) of them, the values at (offset + k*i) mod n for
// i < m, offset = step mod k (see ACTConfig.SampleSize): value j is sampled
// at the steps where offset = j mod k. It is a Gather, so gradients flow back
// to the sampled values.
func sampleValues(x, step *Node, size int) *Node {
	n := x.Shape().Size()
	flat := Reshape(x, n)
	if size == 0 || n <= size {
		return flat
	}
	k := (n + size - 1) / size
	last := x.Shape().Dim(-1)
	for gcd(k, last) != 1 {
		k++
	}
	m := (n + k - 1) / k // <= size.
	g := x.Graph()
	offset := ConvertDType(ModScalar(step, k), dtypes.Int32)
	indices := ModScalar(Add(MulScalar(Iota(g, shapes.Make(dtypes.Int32, m), 0), k), offset), n)
	return Gather(flat, InsertAxes(indices, -1))
}

// gcd returns the greatest common divisor of a, b > 0.
func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// Progress returns the ramp's progress in [0, 1] at step (an Int64 scalar
// node, 1-based as the site's counter), as a Float32 scalar: 0 up to start, 1
// from end on, and in between linear, cosine ((1-cos(pi p))/2), or staged
// (stagedSteps cosine-shaped steps).
func Progress(step *Node, start, end int, schedule Schedule) *Node {
	g := step.Graph()
	t := ConvertDType(step, dtypes.Float32)
	if end == start {
		return ConvertDType(GreaterOrEqual(t, Scalar(g, dtypes.Float32, float64(start))), dtypes.Float32)
	}
	p := ClipScalar(MulScalar(AddScalar(t, -float64(start)), 1/float64(end-start)), 0, 1)
	cosine := func(p *Node) *Node { return MulScalar(OneMinus(Cos(MulScalar(p, math.Pi))), 0.5) }
	switch schedule {
	case ScheduleCosine:
		return cosine(p)
	case ScheduleStaged:
		scaled := MulScalar(p, stagedSteps)
		stage := MinScalar(Floor(scaled), stagedSteps-1)
		return MulScalar(Add(stage, cosine(Sub(scaled, stage))), 1.0/stagedSteps)
	}
	return p
}

// batchQuantile returns the level tau (Float32 scalar) below which a fraction
// s (Float32 scalar) of the values of a >= 0 falls, by fixed-step bisection on
// [0, max(a)].
func batchQuantile(a, s *Node) *Node {
	_, hi := bisect.CountBelow(a, MulScalar(s, float64(a.Shape().Size())), bisectionSteps)
	return hi
}

// recordMetrics stores the site's metrics of this step in variables, from
// sampleOut, the sampled values of the output.
func (c *ACTConfig) recordMetrics(scope *model.Scope, sampleOut, beta, tau *Node) {
	zeros := ReduceAllMean(ConvertDType(Equal(sampleOut, ZerosLike(sampleOut)), dtypes.Float32))
	storevars.SetMetric(scope, MetricSparsity, zeros)
	storevars.SetMetric(scope, MetricThreshold, tau)
	storevars.SetMetric(scope, MetricBeta, beta)
	// Coded size: int8 quantization (scale max|out|/127, the sample's), then the
	// shorter of the two Exp-Golomb codes: per value (order 0), or zero runs.
	out32 := ConvertDType(sampleOut, dtypes.Float32)
	scale := Max(DivScalar(ReduceAllMax(Abs(out32)), 127), ConstAs(out32, 1e-30))
	q := ConvertDType(ClipScalar(Round(Div(out32, scale)), -127, 127), dtypes.Int32)
	bits := ConvertDType(Min(expgolomb.BitLenGraph(q, 0), expgolomb.BestRunBitLenGraph(q)), dtypes.Float32)
	storevars.SetMetric(scope, MetricBitsPerActivation, DivScalar(bits, float64(sampleOut.Shape().Size())))
}

// Names of a site's metric variables (Float32 scalars, under the site's "act" scope).
const (
	// MetricSparsity is the achieved fraction of exact zeros (of the sampled
	// values, see ACTConfig.SampleSize); it is also the fraction of the next
	// layer's multiply-adds that the zeros make skippable when the site feeds
	// a dense layer.
	MetricSparsity = "sparsity"
	// MetricThreshold is the running threshold tau.
	MetricThreshold = "threshold"
	// MetricBeta is the GG shape fitted to the site's input.
	MetricBeta = "beta"
	// MetricBitsPerActivation is the coded size of the output after int8
	// quantization (scale: the largest magnitude of the sampled values / 127)
	// and Exp-Golomb coding, in bits per activation (of the sampled values, in
	// their order): the shorter of package expgolomb's two codes, one code
	// per value (order 0, at least 1 bit per value) or the zero-run code
	// (each nonzero value preceded by the number of zeros before it, the
	// orders chosen for the sample; what sparse activations need, since it
	// spends no bit on each zero). Frame headers (a few bytes per tensor) are
	// not counted.
	MetricBitsPerActivation = "bits_per_activation"
)
