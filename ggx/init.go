package ggx

import (
	"math"
	"regexp"

	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/support/exceptions"
)

// Hyperparameters of the GG initializer, read from the scope by Init (set them
// with scope.SetParam or from the command line, e.g. -set="ggx_beta=1.4").
const (
	// ParamBeta is the shape beta of the GG initializer (float64, default DefaultBeta).
	ParamBeta = "ggx_beta"

	// ParamGain is the gain xi of the variance rule Var(W) = xi / fan (float64,
	// default DefaultGain).
	ParamGain = "ggx_gain"

	// ParamFan selects the fan of the variance rule: "in" (default), "out" or "avg".
	ParamFan = "ggx_fan"
)

const (
	// DefaultBeta is the default shape of the GG initializer: peakier than a
	// Gaussian, as trained transformer weights are. Fit it to a trained model of
	// your own (see Fit and FitMLE) for the best match.
	DefaultBeta = 1.4

	// DefaultGain is the default gain xi = 2 (He), the variance GoMLX's default
	// initializer uses, so that swapping in ggx.Init changes only the shape.
	// Use 1 for linear, sigmoid or tanh layers (LeCun), 2/(1+k^2) for LeakyReLU
	// with slope k.
	DefaultGain = 2.0
)

// FanMode selects which fan of a weight tensor sets the initializer's variance.
type FanMode int

const (
	// FanIn uses the number of inputs (the default, as the GG-prior paper).
	FanIn FanMode = iota
	// FanOut uses the number of outputs.
	FanOut
	// FanAvg uses the mean of both (Xavier/Glorot).
	FanAvg
)

// String returns "in", "out" or "avg", the values ParamFan takes.
func (f FanMode) String() string {
	switch f {
	case FanIn:
		return "in"
	case FanOut:
		return "out"
	case FanAvg:
		return "avg"
	}
	return "unknown"
}

// InitConfig configures a GG variable initializer. Create it with Init, set
// options, and finish with Done.
type InitConfig struct {
	scope    *model.Scope
	beta     float64
	gain     float64
	fan      FanMode
	stdDev   float64 // > 0: fixed standard deviation instead of gain/fan.
	patterns []betaPattern
}

type betaPattern struct {
	re   *regexp.Regexp
	beta float64
}

// Init returns a builder for a generalized Gaussian variable initializer, a
// drop-in for any GoMLX model:
//
//	func modelFn(scope *model.Scope, x *Node) *Node {
//		scope = scope.WithInitializer(ggx.Init(scope).Beta(1.4).Done())
//		...
//	}
//
// (Set it inside the model function: Scope.WithInitializer returns a new
// handle, which the trainer's own scope never sees.)
//
// Each weight tensor is drawn from a zero-mean GG of shape beta whose variance
// is gain/fan (Var(W) = xi/n), or a fixed StdDev. As GoMLX's He initializer
// does, variables of rank <= 1 (biases) and non-float variables are set to
// zero, and the fan of a rank-2 [in, out] kernel is its first axis (for rank > 2
// convolution kernels, the receptive field times the channels).
//
// Defaults come from the scope's hyperparameters ParamBeta ("ggx_beta"),
// ParamGain ("ggx_gain") and ParamFan ("ggx_fan"), and otherwise DefaultBeta,
// DefaultGain and fan-in. The random numbers come from the scope's Store RNG, so
// the store's "initializer_seed" makes initialization deterministic.
//
// Beta(2) draws exactly from the Gaussian of the same variance.
func Init(scope *model.Scope) *InitConfig {
	c := &InitConfig{
		scope: scope,
		beta:  model.GetParamOr(scope, ParamBeta, DefaultBeta),
		gain:  model.GetParamOr(scope, ParamGain, DefaultGain),
	}
	switch fan := model.GetParamOr(scope, ParamFan, "in"); fan {
	case "in":
		c.fan = FanIn
	case "out":
		c.fan = FanOut
	case "avg":
		c.fan = FanAvg
	default:
		exceptions.Panicf("ggx.Init: hyperparameter %q=%q, want \"in\", \"out\" or \"avg\"", ParamFan, fan)
	}
	return c
}

// Beta sets the shape of the GG, in [MinBeta, MaxBeta]: 2 is Gaussian, 1
// Laplacian, smaller is peakier. It panics for a shape outside that range.
func (c *InitConfig) Beta(beta float64) *InitConfig {
	checkBeta("Beta", beta)
	c.beta = beta
	return c
}

// Gain sets xi in Var(W) = xi / fan (xi > 0): 1 for linear/tanh-like layers
// (LeCun), 2 for ReLU (He).
func (c *InitConfig) Gain(xi float64) *InitConfig {
	c.gain = xi
	c.stdDev = 0
	return c
}

// FanIn makes the variance xi / fan_in (the default).
func (c *InitConfig) FanIn() *InitConfig { c.fan = FanIn; c.stdDev = 0; return c }

// FanOut makes the variance xi / fan_out.
func (c *InitConfig) FanOut() *InitConfig { c.fan = FanOut; c.stdDev = 0; return c }

// FanAvg makes the variance xi / ((fan_in + fan_out) / 2), as Xavier/Glorot.
func (c *InitConfig) FanAvg() *InitConfig { c.fan = FanAvg; c.stdDev = 0; return c }

// StdDev fixes the standard deviation of every weight (std >= 0) instead of the
// gain/fan rule; e.g. StdDev(0.02) is GPT-2's initialization with a GG shape.
func (c *InitConfig) StdDev(std float64) *InitConfig {
	if !(std >= 0) || math.IsInf(std, 0) {
		exceptions.Panicf("ggx.Init: StdDev(%g): want a finite value >= 0", std)
	}
	c.stdDev = std
	if std == 0 {
		c.stdDev = -1 // Marks "fixed at zero".
	}
	return c
}

// BetaFor sets the shape for the variables whose full path (e.g.
// "/model/block_0/attn/qkv/weights") matches the regular expression pattern,
// overriding Beta; the first matching pattern wins. Use it to give embeddings,
// attention and MLP weights each the beta that trained models show for them.
// It panics for a shape outside [MinBeta, MaxBeta].
//
// A GoMLX VariableInitializer does not see the variable's name, so patterns take
// effect through Rebind (call it at the end of the model function, once the
// variables exist); the initializer returned by Done uses Beta alone.
func (c *InitConfig) BetaFor(pattern string, beta float64) *InitConfig {
	re, err := regexp.Compile(pattern)
	if err != nil {
		exceptions.Panicf("ggx.Init: BetaFor(%q): %v", pattern, err)
	}
	checkBeta("BetaFor", beta)
	c.patterns = append(c.patterns, betaPattern{re: re, beta: beta})
	return c
}

// checkBeta panics if beta, given to method, is outside [MinBeta, MaxBeta].
func checkBeta(method string, beta float64) {
	if !(beta >= MinBeta && beta <= MaxBeta) {
		exceptions.Panicf("ggx.Init: %s: beta=%g, want a shape in [%g, %g]", method, beta, MinBeta, MaxBeta)
	}
}

// Done validates the configuration and returns the initializer.
func (c *InitConfig) Done() model.VariableInitializer {
	if !(c.beta >= MinBeta && c.beta <= MaxBeta) {
		exceptions.Panicf("ggx.Init: beta=%g (hyperparameter %s or Beta), want a shape in [%g, %g]", c.beta, ParamBeta, MinBeta, MaxBeta)
	}
	return c.withBeta(c.beta)
}

// withBeta returns the initializer with the given shape.
func (c *InitConfig) withBeta(beta float64) model.VariableInitializer {
	checkBeta("Beta", beta)
	if c.stdDev == 0 && (!(c.gain > 0) || math.IsInf(c.gain, 0)) {
		exceptions.Panicf("ggx.Init: gain=%g, want a finite value > 0", c.gain)
	}
	scope, gain, fan, fixedStd := c.scope, c.gain, c.fan, c.stdDev
	return func(g *Graph, shape shapes.Shape) *Node {
		if !shape.DType.IsFloat() || shape.Rank() <= 1 {
			return Zeros(g, shape)
		}
		var std float64
		switch {
		case fixedStd > 0:
			std = fixedStd
		case fixedStd < 0:
			return Zeros(g, shape)
		default:
			std = math.Sqrt(gain / math.Max(1, fanOf(shape, fan)))
		}
		return Sample(scope, g, shape, FromStdDev(0, std, beta))
	}
}

// Rebind gives every variable of store that has not been initialized yet, has
// rank >= 2 and a float dtype, and whose path matches a BetaFor pattern, a GG
// initializer with that pattern's beta (and this configuration's variance
// rule). It returns how many variables it rebound. Call it inside the model
// function after the layers are built (variables are initialized lazily, at the
// first execution of the graph):
//
//	cfg := ggx.Init(scope).Beta(1.4).BetaFor(`/embed`, 1.1).BetaFor(`/attn/`, 1.3)
//	scope = scope.WithInitializer(cfg.Done())
//	logits := buildModel(scope, x)
//	cfg.Rebind(scope.Store())
func (c *InitConfig) Rebind(store *model.Store) int {
	if len(c.patterns) == 0 {
		return 0
	}
	var toRebind []*model.Variable
	for v := range store.IterVariables() {
		if v.HasValue() || v.Shape().Rank() < 2 || !v.DType().IsFloat() {
			continue
		}
		toRebind = append(toRebind, v)
	}
	count := 0
	for _, v := range toRebind {
		beta, ok := c.betaFor(v.Path())
		if !ok {
			continue
		}
		store.VariableWithShape(v.Path(), v.Shape(), c.withBeta(beta))
		count++
	}
	return count
}

// betaFor returns the beta of the first pattern matching path.
func (c *InitConfig) betaFor(path string) (float64, bool) {
	for _, p := range c.patterns {
		if p.re.MatchString(path) {
			return p.beta, true
		}
	}
	return 0, false
}

// fanOf returns the fan of a weight of the given shape (rank >= 2), as GoMLX's
// initializers compute it: for rank 2 [in, out]; for higher ranks the leading
// axes are the receptive field of a convolution kernel [..., in, out].
func fanOf(shape shapes.Shape, mode FanMode) float64 {
	rank := shape.Rank()
	receptive := 1
	for _, d := range shape.Dimensions[:rank-2] {
		receptive *= d
	}
	fanIn := float64(shape.Dimensions[rank-2] * receptive)
	fanOut := float64(shape.Dimensions[rank-1] * receptive)
	switch mode {
	case FanOut:
		return fanOut
	case FanAvg:
		return (fanIn + fanOut) / 2
	}
	return fanIn
}
