package charlm

import (
	"math"
	"strconv"
	"strings"

	"github.com/ggprior/ggprior/optimizers"
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train/optimizer"
	"github.com/gomlx/gomlx/support/exceptions"
	"github.com/pkg/errors"
)

// Gradient compression (GCT) in the experiment: TrainConfig.Compress wraps
// AdamW in optimizers.GCT, whose hyperparameters (optimizers.ParamBits,
// ParamCoder, ParamLambda, ParamErrorFeedback, paramWarmupSteps: "gct_bits",
// "gct_coder", ...) live in the Store like the others, so -set changes them
// and checkpoints keep them.
// Its state (error-feedback residuals, secant memory, step counter) and its
// metrics are non-trainable variables under "/gct", saved in every checkpoint.

// CompressNone is the TrainConfig.Compress value for plain AdamW, without GCT.
const CompressNone = "none"

// The defaults of GCT's GG quantizer in the experiment (-compress gct,
// gct:B), which the GCT study measured best (see the README's GCT section):
// the auto coder (rANS frames for the large tensors, Exp-Golomb codes for the
// small ones, any target above 0 bits), quantizing in AdamW's geometry (the
// gradient divided by the square root of its second moment), each tensor at
// the target, decoded at the cells' centres, AdamW's second moment corrected
// for the quantization noise (the baseline compressors keep it as it is
// unless -gct-moment-correction says otherwise). optimizers.GCT's own
// defaults are plainer (Exp-Golomb codes, the gradient's geometry, no
// correction: they need nothing of the inner optimizer); the flags
// -gct-coder, -gct-geometry, -gct-allocation, -gct-reconstruction and
// -gct-moment-correction change these.
const (
	DefaultGCTCoder          = optimizers.CoderAuto
	DefaultGCTGeometry       = optimizers.GeometryAdam
	DefaultGCTAllocation     = optimizers.AllocationEqual
	DefaultGCTReconstruction = optimizers.ReconstructionCenter
	// DefaultGCTMomentCorrection: AdamW's second moment corrected for the
	// quantization noise (optimizers.ParamMomentCorrection).
	DefaultGCTMomentCorrection = true
)

// LegacyGCTDefaults are, for hyperparameters of GCT added after runs were
// recorded, the value in effect in runs whose results lack them: such runs
// coded with Exp-Golomb codes, quantized in the gradient's geometry, each
// tensor at the target, decoded at the cells' centres, with AdamW's second
// moment as it is.
var LegacyGCTDefaults = map[string]string{
	optimizers.ParamCoder:            optimizers.CoderExpGolomb.String(),
	optimizers.ParamGeometry:         string(optimizers.GeometryGradient),
	optimizers.ParamAllocation:       string(optimizers.AllocationEqual),
	optimizers.ParamReconstruction:   string(optimizers.ReconstructionCenter),
	optimizers.ParamMomentCorrection: "false",
}

// compressGCTRANS names GCT's GG quantizer with the rANS coder in
// TrainConfig.Compress ("gct-rans" or "gct-rans:B", see optimizers.ParseCompressor).
const compressGCTRANS = "gct-rans"

// Names of the StepOutputs that GCT's metrics add (the values of each step,
// read from GCT's metric variables in the training graph). The results report
// their means over the steps after GCT's warm-up under the same names.
const (
	outputGradBits         = "grad_bits_per_element"
	outputGradZeroFraction = "grad_zero_fraction"
	outputGradBeta         = "grad_beta"
)

// compression is a parsed TrainConfig.Compress.
type compression struct {
	// enabled is false for plain AdamW.
	enabled bool
	// gg is true for GCT's own quantizer ("gct", "gct:B", "gct-rans" or
	// "gct-rans:B"), whose target and coder the wrapper reads from the
	// gct_bits and gct_coder hyperparameters (default ggBits and ggCoder).
	gg      bool
	ggBits  float64
	ggCoder optimizers.Coder
	// comp is the compressor of the other values.
	comp optimizers.Compressor
}

// compression parses Compress.
func (tc TrainConfig) compression() (compression, error) {
	spec := strings.TrimSpace(tc.Compress)
	if spec == "" || spec == CompressNone {
		return compression{}, nil
	}
	name, arg, hasArg := strings.Cut(spec, ":")
	if name != "gct" && name != compressGCTRANS {
		comp, err := optimizers.ParseCompressor(spec, optimizers.DefaultBits)
		if err != nil {
			return compression{}, errors.Wrapf(err, "-compress %q", spec)
		}
		return compression{enabled: true, comp: comp}, nil
	}
	c := compression{enabled: true, gg: true, ggBits: optimizers.DefaultBits, ggCoder: DefaultGCTCoder}
	if name == compressGCTRANS {
		c.ggCoder = optimizers.CoderRANS
	}
	if hasArg {
		bits, err := strconv.ParseFloat(arg, 64)
		if err != nil {
			return compression{}, errors.Wrapf(err, "-compress %q", spec)
		}
		c.ggBits = bits
	}
	if err := optimizers.CheckBits(c.ggBits, c.ggCoder); err != nil {
		return compression{}, errors.Wrapf(err, "-compress %q", spec)
	}
	return c, nil
}

// setGCTDefaults sets the default values of the GCT hyperparameters that the
// run's compressor reads (none without compression).
func setGCTDefaults(store *model.Store, c compression) {
	if !c.enabled {
		return
	}
	scope := store.RootScope()
	if c.gg {
		scope.SetParam(optimizers.ParamBits, c.ggBits)
		scope.SetParam(optimizers.ParamCoder, c.ggCoder.String()) // By name, as the command line sets it.
		// The rate control of rANS-coded tensors (no effect with Exp-Golomb
		// codes), recorded and settable like the others.
		scope.SetParam(optimizers.ParamRateGain, optimizers.DefaultRateGain)
		// The quantizer's geometry, bit allocation and reconstruction, by name.
		scope.SetParam(optimizers.ParamGeometry, string(DefaultGCTGeometry))
		scope.SetParam(optimizers.ParamAllocation, string(DefaultGCTAllocation))
		scope.SetParam(optimizers.ParamReconstruction, string(DefaultGCTReconstruction))
	}
	// The second moment's correction: on for GCT's quantizer, off for the
	// baselines (as they are published), unless set.
	scope.SetParam(optimizers.ParamMomentCorrection, c.gg && DefaultGCTMomentCorrection)
	scope.SetParam(optimizers.ParamLambda, 0.0)
	scope.SetParam(optimizers.ParamErrorFeedback, true)
	scope.SetParam(optimizers.ParamWarmupSteps, 0)
}

// newOptimizer returns the run's optimizer: AdamW with the Store's
// hyperparameters and the warmup + cosine schedule, wrapped in GCT when
// Compress asks for it, or when the run is data-parallel (whose trainer
// exchanges what GCT's wrapper produces: with Compress "none", plain fp32
// gradients without error feedback). It keeps the wrapper in e.gct.
func (e *Experiment) newOptimizer() optimizer.Interface {
	scope := e.Store.RootScope()
	adamw := adamW().FromScope(scope).Schedule(scheduleFromScope(scope, e.Train.Steps).Graph).Done()
	c, err := e.Train.compression()
	if err != nil {
		panic(err) // Validated by NewExperiment.
	}
	switch {
	case !c.enabled && e.parallel == nil:
		return adamw
	case !c.enabled:
		e.gct = optimizers.GCT(adamw).Compressor(optimizers.FP32()).ErrorFeedback(false).RateWeight(0).WarmupSteps(0).Done()
	case c.gg:
		e.gct = optimizers.GCT(adamw).Done() // The GG quantizer at gct_bits, with gct_coder's codes.
	default:
		e.gct = optimizers.GCT(adamw).Compressor(c.comp).Done()
	}
	return e.gct
}

// gctStepOutputs returns the StepOutputs of GCT's metrics: the coded bits per
// gradient element, the fraction of zeros among the quantized values and the
// fitted GG shape, of this step (NaN where the compressor does not measure it).
func gctStepOutputs() []StepOutputFn {
	read := func(output, metric string) StepOutputFn {
		return func(scope *model.Scope, g *Graph) (string, *Node) {
			v := scope.Store().GetVariable(model.JoinPath(model.RootScopePath, optimizers.StateScope, metric))
			if v == nil || !v.InUseByGraph(g) {
				return output, Scalar(g, dtypes.Float32, math.NaN())
			}
			return output, v.NodeValue(g)
		}
	}
	return []StepOutputFn{
		read(outputGradBits, optimizers.MetricBitsPerElement),
		read(outputGradZeroFraction, optimizers.MetricZeroFraction),
		read(outputGradBeta, optimizers.MetricBeta),
	}
}

// GradientTotals accumulates GCT's metrics over the training steps after its
// warm-up (the steps it compresses), for the means the results report. It is
// part of the run's History, so the means survive a resume.
type GradientTotals struct {
	// Steps counted; ZeroSteps and BetaSteps those with a zero fraction and a
	// fitted beta (compressors that measure them).
	Steps     int `json:"steps"`
	ZeroSteps int `json:"zero_steps,omitempty"`
	BetaSteps int `json:"beta_steps,omitempty"`
	// WarmupSteps are the warm-up's steps (sent uncompressed), WarmupBits
	// the sum of their bits per element (32 each).
	WarmupSteps int     `json:"warmup_steps,omitempty"`
	WarmupBits  float64 `json:"warmup_bits,omitempty"`
	// Sums of the per-step values.
	Bits           float64            `json:"bits"`
	ZeroFraction   float64            `json:"zero_fraction,omitempty"`
	Beta           float64            `json:"beta,omitempty"`
	BitsByVariable map[string]float64 `json:"bits_by_variable,omitempty"`
}

// recordGradientMetrics adds the step's GCT metrics to the history's totals,
// if the step is past GCT's warm-up: the overall values from the step outputs
// (in a data-parallel run, their mean over the workers), the per-variable
// bits from this worker's metric variables.
func (e *Experiment) recordGradientMetrics(info StepInfo) error {
	bits, ok := e.stepOutput(info, outputGradBits)
	if !ok || math.IsNaN(bits) {
		return nil
	}
	warmup := model.GetParamOr(e.Store.RootScope(), optimizers.ParamWarmupSteps, 0)
	if info.Step <= warmup {
		// Uncompressed: counted apart, for the mean over every step.
		t := e.history.Gradient
		if t == nil {
			t = &GradientTotals{}
			e.history.Gradient = t
		}
		t.WarmupSteps++
		t.WarmupBits += bits
		return nil
	}
	metrics, err := optimizers.ReadMetrics(e.Store)
	if err != nil {
		return err
	}
	t := e.history.Gradient
	if t == nil {
		t = &GradientTotals{}
		e.history.Gradient = t
	}
	if t.BitsByVariable == nil {
		t.BitsByVariable = map[string]float64{}
	}
	t.Steps++
	t.Bits += bits
	if z, ok := e.stepOutput(info, outputGradZeroFraction); ok && !math.IsNaN(z) {
		t.ZeroSteps++
		t.ZeroFraction += z
	}
	if b, ok := e.stepOutput(info, outputGradBeta); ok && !math.IsNaN(b) {
		t.BetaSteps++
		t.Beta += b
	}
	for path, b := range metrics.BitsByVariable {
		t.BitsByVariable[path] += b
	}
	return nil
}

// CompressSettings are the gradient compression settings of a run, as the
// results report them.
type CompressSettings struct {
	// Name is the compressor's name (e.g. "gct:2bits", "topk:0.01").
	Name string `json:"name"`
	// Bits is the GG quantizer's target bits per element (0 for other compressors).
	Bits float64 `json:"bits,omitempty"`
	// Lambda is the rate-constraint weight, ErrorFeedback whether the
	// rounding residual is carried over, Warmup the number of first steps sent
	// uncompressed.
	Lambda        float64 `json:"lambda"`
	ErrorFeedback bool    `json:"error_feedback"`
	Warmup        int     `json:"warmup"`
}

// GradientResults are the gradient-compression measurements of a run with
// Compress (fields inlined in Results).
type GradientResults struct {
	// GradBitsPerElement is the mean over the steps after the warm-up of the
	// coded bits per gradient element (all variables together); nil if no
	// step was past the warm-up.
	GradBitsPerElement *float64 `json:"grad_bits_per_element"`
	// GradBitsPerElementAllSteps is the mean over every step, the warm-up's
	// uncompressed steps included (what the run sent in all): the same as
	// GradBitsPerElement without a warm-up; nil if no step was recorded.
	GradBitsPerElementAllSteps *float64 `json:"grad_bits_per_element_all_steps,omitempty"`
	// GradBitsByVariable is the same mean per variable (by path).
	GradBitsByVariable map[string]float64 `json:"grad_bits_by_variable"`
	// GradZeroFraction is the mean fraction of zeros among the quantized
	// values (integer-coded compressors only).
	GradZeroFraction *float64 `json:"grad_zero_fraction,omitempty"`
	// GradBeta is the mean GG shape fitted to the gradients (GG quantizer only).
	GradBeta *float64 `json:"grad_beta,omitempty"`
	// Compress are the settings.
	Compress CompressSettings `json:"compress"`
}

// gradientResults returns the run's gradient-compression results (nil when
// Compress is none).
func (e *Experiment) gradientResults() *GradientResults {
	c, err := e.Train.compression()
	if err != nil || !c.enabled {
		return nil
	}
	scope := e.Store.RootScope()
	r := &GradientResults{
		GradBitsByVariable: map[string]float64{},
		Compress: CompressSettings{
			Lambda:        model.GetParamOr(scope, optimizers.ParamLambda, 0.0),
			ErrorFeedback: model.GetParamOr(scope, optimizers.ParamErrorFeedback, true),
			Warmup:        model.GetParamOr(scope, optimizers.ParamWarmupSteps, 0),
		},
	}
	if c.gg {
		r.Compress.Bits = model.GetParamOr(scope, optimizers.ParamBits, c.ggBits)
	}
	r.Compress.Name = strings.TrimSpace(e.Train.Compress)
	if e.gct != nil {
		// The name of the compressor the wrapper uses with the Store's
		// hyperparameters (it panics on invalid ones, which training reports).
		_ = exceptions.TryCatch[error](func() { r.Compress.Name = e.gct.CompressorName(scope) })
	}
	t := e.history.Gradient
	if t == nil || t.Steps+t.WarmupSteps == 0 {
		return r
	}
	all := (t.Bits + t.WarmupBits) / float64(t.Steps+t.WarmupSteps)
	r.GradBitsPerElementAllSteps = &all
	if t.Steps == 0 {
		return r
	}
	n := float64(t.Steps)
	bits := t.Bits / n
	r.GradBitsPerElement = &bits
	for path, sum := range t.BitsByVariable {
		r.GradBitsByVariable[path] = sum / n
	}
	if t.ZeroSteps > 0 {
		z := t.ZeroFraction / float64(t.ZeroSteps)
		r.GradZeroFraction = &z
	}
	if t.BetaSteps > 0 {
		b := t.Beta / float64(t.BetaSteps)
		r.GradBeta = &b
	}
	return r
}
