package charlm

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/ggprior/ggprior/internal/storevars"
	"github.com/ggprior/ggprior/optimizers"
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/initializer"
	"github.com/gomlx/gomlx/ml/train/optimizer"
	. "github.com/gomlx/gomlx/support/exceptions"
)

// Hyperparameters read by AdamWConfig.FromScope (and settable with -set). The
// Adam ones share GoMLX's keys.
const (
	// paramLearningRate is the (peak) learning rate; default 1e-3.
	paramLearningRate = "learning_rate" // The same key as GoMLX optimizer.ParamLearningRate.
	// paramMinLearningRate is the final learning rate of the cosine schedule; default 1e-4.
	paramMinLearningRate = "min_learning_rate"
	// paramWarmupSteps is the number of linear warmup steps; default 100.
	paramWarmupSteps = "warmup_steps"
	// paramAdamBeta1 is the momentum coefficient; default 0.9.
	paramAdamBeta1 = optimizer.ParamAdamBeta1
	// paramAdamBeta2 is the second-moment coefficient; default 0.99.
	paramAdamBeta2 = optimizer.ParamAdamBeta2
	// paramAdamEpsilon is the denominator's epsilon; default 1e-8.
	paramAdamEpsilon = optimizer.ParamAdamEpsilon
	// paramWeightDecay is AdamW's decoupled weight decay; default 0.1.
	paramWeightDecay = optimizer.ParamAdamWeightDecay
	// paramClipGradNorm is the global gradient-norm clip (0 disables it); default 1.0.
	paramClipGradNorm = "clip_grad_norm"
)

// adamWDefaultScope is where AdamW keeps its moments and step counter.
const adamWDefaultScope = "AdamW"

// gradNormGraphParam is the graph parameter (at the root scope) holding the global
// gradient norm before clipping, a scalar node, for metrics that want to show it.
const gradNormGraphParam = "adamw_grad_norm"

// AdamWConfig configures an AdamW optimizer; create it with AdamW and finish it
// with Done.
type AdamWConfig struct {
	scopeName    string
	learningRate float64
	schedule     ScheduleFn
	beta1, beta2 float64
	epsilon      float64
	weightDecay  float64
	decayIf      func(v *model.Variable) bool
	clipNorm     float64
}

// adamW returns the configuration of the benchmark's optimizer (the benchmark specification's): Adam
// with betas (0.9, 0.99), epsilon 1e-8 and learning rate 1e-3; decoupled weight
// decay 0.1 on rank-2 parameters only (linear kernels and embeddings, not biases
// or normalization gains); a global gradient-norm clip of 1.0.
//
// The update of each trainable variable p with (clipped) gradient g at step t
// (1-based) is PyTorch's torch.optim.AdamW with foreach=False:
//
//	p = p * (1 - lr*wd)                  (only if decayed)
//	m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g^2
//	p = p - lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)
//
// where lr is the constant learning rate, or Schedule(t-1) if a schedule is set.
// The global norm clip scales all gradients by min(1, clip/(norm+1e-6)), as
// torch.nn.utils.clip_grad_norm_; the norm is summed in the order of the
// variables' paths, so it does not depend on creation order.
func adamW() *AdamWConfig {
	return &AdamWConfig{
		scopeName:    adamWDefaultScope,
		learningRate: 1e-3,
		beta1:        0.9,
		beta2:        0.99,
		epsilon:      1e-8,
		weightDecay:  0.1,
		decayIf:      decayRank2,
		clipNorm:     1.0,
	}
}

// decayRank2 is the default weight-decay predicate: variables of rank 2.
func decayRank2(v *model.Variable) bool { return v.Shape().Rank() == 2 }

// FromScope reads the hyperparameters (paramLearningRate, paramAdamBeta1,
// paramAdamBeta2, paramAdamEpsilon, paramWeightDecay, paramClipGradNorm) from the
// scope, keeping the current values for those not set.
func (c *AdamWConfig) FromScope(scope *model.Scope) *AdamWConfig {
	c.learningRate = model.GetParamOr(scope, paramLearningRate, c.learningRate)
	c.beta1 = model.GetParamOr(scope, paramAdamBeta1, c.beta1)
	c.beta2 = model.GetParamOr(scope, paramAdamBeta2, c.beta2)
	c.epsilon = model.GetParamOr(scope, paramAdamEpsilon, c.epsilon)
	c.weightDecay = model.GetParamOr(scope, paramWeightDecay, c.weightDecay)
	c.clipNorm = model.GetParamOr(scope, paramClipGradNorm, c.clipNorm)
	return c
}

// LearningRate sets a constant learning rate (ignored if a Schedule is set).
func (c *AdamWConfig) LearningRate(lr float64) *AdamWConfig { c.learningRate = lr; return c }

// Schedule sets the learning rate as a function of the 0-based step; see WarmupCosine.Graph.
func (c *AdamWConfig) Schedule(fn ScheduleFn) *AdamWConfig { c.schedule = fn; return c }

// Betas sets the moving-average coefficients of the first and second moments.
func (c *AdamWConfig) Betas(beta1, beta2 float64) *AdamWConfig {
	c.beta1, c.beta2 = beta1, beta2
	return c
}

// Epsilon sets the denominator's epsilon.
func (c *AdamWConfig) Epsilon(epsilon float64) *AdamWConfig { c.epsilon = epsilon; return c }

// WeightDecay sets the decoupled weight decay (0 disables it).
func (c *AdamWConfig) WeightDecay(wd float64) *AdamWConfig { c.weightDecay = wd; return c }

// DecayIf sets which variables get weight decay; the default is decayRank2.
func (c *AdamWConfig) DecayIf(fn func(v *model.Variable) bool) *AdamWConfig { c.decayIf = fn; return c }

// ClipGlobalNorm sets the global gradient-norm clip (0 disables clipping).
func (c *AdamWConfig) ClipGlobalNorm(maxNorm float64) *AdamWConfig { c.clipNorm = maxNorm; return c }

// Scope sets the absolute scope name where the moments and step counter live.
func (c *AdamWConfig) Scope(name string) *AdamWConfig { c.scopeName = name; return c }

// Done returns the optimizer. It panics on invalid hyperparameters.
func (c *AdamWConfig) Done() *AdamWOptimizer {
	switch {
	case c.learningRate < 0 && c.schedule == nil:
		Panicf("AdamW: learning rate must be >= 0, got %g", c.learningRate)
	case c.beta1 < 0 || c.beta1 >= 1 || c.beta2 < 0 || c.beta2 >= 1:
		Panicf("AdamW: betas must be in [0, 1), got (%g, %g)", c.beta1, c.beta2)
	case c.epsilon < 0 || c.weightDecay < 0 || c.clipNorm < 0:
		Panicf("AdamW: epsilon (%g), weight decay (%g) and clip norm (%g) must be >= 0", c.epsilon, c.weightDecay, c.clipNorm)
	case c.decayIf == nil:
		Panicf("AdamW: nil DecayIf predicate")
	}
	cc := *c
	return &AdamWOptimizer{config: &cc}
}

// AdamWOptimizer is the optimizer built by AdamWConfig.Done. It implements
// optimizer.Interface and GradientsApplier (GoMLX's train.OptimizeWithGradients).
type AdamWOptimizer struct {
	config *AdamWConfig
}

// GradientsApplier is an optimizer that can apply given gradients, instead of
// computing them from a loss. It has the method set of GoMLX's
// train.OptimizeWithGradients, so wrappers (gradient compression, accumulation)
// can compute, transform and hand over the gradients.
type GradientsApplier interface {
	// UpdateGraphWithGradients applies one optimizer step with the given
	// gradients, one per storevars.Trainable(scope, g), in that order.
	UpdateGraphWithGradients(scope *model.Scope, gradients []*Node, lossDType dtypes.DType)
}

var (
	_ optimizer.Interface            = (*AdamWOptimizer)(nil)
	_ GradientsApplier               = (*AdamWOptimizer)(nil)
	_ optimizers.Preconditioner      = (*AdamWOptimizer)(nil)
	_ optimizers.NoiseAwareOptimizer = (*AdamWOptimizer)(nil)
)

// String describes the configuration.
func (o *AdamWOptimizer) String() string {
	c := o.config
	lr := fmt.Sprintf("lr=%g", c.learningRate)
	if c.schedule != nil {
		lr = "lr=scheduled"
	}
	return fmt.Sprintf("AdamW(%s, betas=(%g, %g), eps=%g, weight_decay=%g, clip_grad_norm=%g)",
		lr, c.beta1, c.beta2, c.epsilon, c.weightDecay, c.clipNorm)
}

// UpdateGraph computes the gradients of the scalar loss with respect to every
// trainable variable used in the graph and applies one AdamW step.
// It implements optimizer.Interface.
func (o *AdamWOptimizer) UpdateGraph(scope *model.Scope, _ *Graph, loss *Node) {
	if !loss.Shape().IsScalar() {
		Panicf("AdamW: the loss must be a scalar, got %s", loss.Shape())
	}
	grads := scope.BuildTrainableVariablesGradientsGraph(loss)
	o.UpdateGraphWithGradients(scope, grads, loss.DType())
}

// UpdateGraphWithGradients applies one AdamW step with the given gradients, one
// per variable of storevars.Trainable(scope, g) (the order of
// scope.BuildTrainableVariablesGradientsGraph): it clips them by
// their global norm, then updates the variables and moments.
// It implements GradientsApplier (GoMLX's train.OptimizeWithGradients).
func (o *AdamWOptimizer) UpdateGraphWithGradients(scope *model.Scope, grads []*Node, lossDType dtypes.DType) {
	o.update(scope, grads, nil, lossDType)
}

// UpdateGraphWithNoisyGradients is UpdateGraphWithGradients with the second
// moment of variable i updated with grads[i]^2 / factors[i] (after the
// clip): GCT's correction of the second moment for the quantization noise.
// It implements optimizers.NoiseAwareOptimizer.
func (o *AdamWOptimizer) UpdateGraphWithNoisyGradients(scope *model.Scope, grads, factors []*Node, lossDType dtypes.DType) {
	if len(factors) != len(grads) {
		Panicf("AdamW: %d second-moment factors for %d gradients", len(factors), len(grads))
	}
	o.update(scope, grads, factors, lossDType)
}

// update applies one step; factors (nil: none) divide the squared gradients
// in the second moment's update.
func (o *AdamWOptimizer) update(scope *model.Scope, grads, factors []*Node, lossDType dtypes.DType) {
	if len(grads) == 0 {
		Panicf("AdamW: no gradients given: are there trainable variables?")
	}
	c := o.config
	g := grads[0].Graph()
	vars := storevars.Trainable(scope, g)
	if len(vars) != len(grads) {
		Panicf("AdamW: %d gradients given for %d trainable variables", len(grads), len(vars))
	}
	dtype := lossDType
	if !dtype.IsFloat() {
		dtype = DType
	}

	// Step counters: the global step (0-based before this step) drives the schedule;
	// adamW's own counter (1-based after this step) drives bias correction.
	it := AddScalar(optimizer.IncrementGlobalStep(g, dtype), -1)
	adamScope := scope.Store().Scope(path.Join("/", c.scopeName))
	t := optimizer.IncrementCounter(adamScope, g, "step", dtype)

	var lr *Node
	if c.schedule != nil {
		lr = c.schedule(it)
	} else {
		lr = Scalar(g, dtype, c.learningRate)
	}

	grads = slices.Clone(grads)
	for i, grad := range grads {
		if grad.DType() != dtype {
			grads[i] = ConvertDType(grad, dtype)
		}
	}
	var norm *Node
	grads, norm = clipByGlobalNorm(vars, grads, c.clipNorm)
	scope.Store().RootScope().SetGraphParam(g, gradNormGraphParam, norm)

	beta1 := Scalar(g, dtype, c.beta1)
	beta2 := Scalar(g, dtype, c.beta2)
	stepSize := Div(lr, OneMinus(Pow(beta1, t)))          // lr / (1 - b1^t)
	bc2Sqrt := Sqrt(OneMinus(Pow(beta2, t)))              // sqrt(1 - b2^t)
	decayFactor := OneMinus(MulScalar(lr, c.weightDecay)) // 1 - lr*wd
	store := scope.Store()
	for i, v := range vars {
		var factor *Node
		if factors != nil {
			factor = factors[i]
			if factor.DType() != dtype {
				factor = ConvertDType(factor, dtype)
			}
		}
		o.apply(store, g, v, grads[i], factor, dtype, beta1, beta2, stepSize, bc2Sqrt, decayFactor)
	}
}

// apply updates one variable and its moments; factor (nil: none) divides the
// squared gradient in the second moment's update.
func (o *AdamWOptimizer) apply(store *model.Store, g *Graph, v *model.Variable, grad, factor *Node, dtype dtypes.DType,
	beta1, beta2, stepSize, bc2Sqrt, decayFactor *Node) {
	c := o.config
	m1Var, m2Var := o.moments(store, v, dtype)
	m1 := Add(Mul(beta1, m1Var.NodeValue(g)), Mul(OneMinus(beta1), grad))
	sq := Square(grad)
	if factor != nil {
		sq = Div(sq, factor)
	}
	m2 := Add(Mul(beta2, m2Var.NodeValue(g)), Mul(OneMinus(beta2), sq))
	m1Var.SetNodeValue(m1)
	m2Var.SetNodeValue(m2)

	value := v.NodeValue(g)
	if value.DType() != dtype {
		value = ConvertDType(value, dtype)
	}
	if c.weightDecay > 0 && c.decayIf(v) {
		value = Mul(value, decayFactor)
	}
	denominator := AddScalar(Div(Sqrt(m2), bc2Sqrt), c.epsilon)
	value = Sub(value, Mul(stepSize, Div(m1, denominator)))
	if value.DType() != v.Shape().DType {
		value = ConvertDType(value, v.Shape().DType)
	}
	v.SetNodeValue(value)
}

// GradientScale implements optimizers.Preconditioner, for GCT's
// optimizers.GeometryAdam: optimizers.SecondMomentScale of v's second
// moment before this step (created, as zeros, if the optimizer has not
// created it yet).
func (o *AdamWOptimizer) GradientScale(scope *model.Scope, g *Graph, v *model.Variable) *Node {
	_, m2 := o.moments(scope.Store(), v, v.Shape().DType)
	return optimizers.SecondMomentScale(m2.NodeValue(g))
}

// moments returns (creating them if needed) the first and second moment variables of v.
func (o *AdamWOptimizer) moments(store *model.Store, v *model.Variable, dtype dtypes.DType) (m1, m2 *model.Variable) {
	scope := store.Scope(path.Join("/", o.config.scopeName, v.Scope())).WithInitializer(initializer.Zero)
	shape := v.Shape().Clone()
	shape.DType = dtype
	m1 = scope.VariableWithShape(v.Name()+"_1st_moment", shape).SetTrainable(false)
	m2 = scope.VariableWithShape(v.Name()+"_2nd_moment", shape).SetTrainable(false)
	return
}

// Clear deletes the optimizer's moments and step counter. It implements optimizer.Interface.
func (o *AdamWOptimizer) Clear(scope *model.Scope) error {
	return scope.Store().DeleteVariablesInScope(path.Join("/", o.config.scopeName))
}

// clipByGlobalNorm scales all gradients by min(1, maxNorm/(norm+1e-6)), where
// norm is their GlobalNorm (as torch.nn.utils.clip_grad_norm_), and returns them
// with the norm before clipping. maxNorm <= 0 disables clipping (the norm is
// still returned). vars[i] is the variable of grads[i].
func clipByGlobalNorm(vars []*model.Variable, grads []*Node, maxNorm float64) (clipped []*Node, norm *Node) {
	norm = globalNorm(vars, grads)
	if maxNorm <= 0 {
		return grads, norm
	}
	coef := MinScalar(Div(ConstAs(norm, maxNorm), AddScalar(norm, 1e-6)), 1)
	clipped = make([]*Node, len(grads))
	for i, grad := range grads {
		clipped[i] = Mul(grad, ConvertDType(coef, grad.DType()))
	}
	return clipped, norm
}

// globalNorm returns sqrt(sum of squares of all grads), a scalar. The per-tensor
// sums are added in the order of the variables' paths (vars[i] is the variable of
// grads[i]), so the result does not depend on the order variables were created.
func globalNorm(vars []*model.Variable, grads []*Node) *Node {
	if len(vars) != len(grads) || len(grads) == 0 {
		Panicf("GlobalNorm: need one variable per gradient, got %d and %d", len(vars), len(grads))
	}
	order := make([]int, len(vars))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(vars[a].Path(), vars[b].Path()) })
	var sum *Node
	for _, i := range order {
		s := ReduceAllSum(Square(grads[i]))
		if sum == nil {
			sum = s
		} else {
			sum = Add(sum, s)
		}
	}
	return Sqrt(sum)
}
