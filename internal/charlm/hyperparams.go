package charlm

import (
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/ggprior/ggprior/layers"
	"github.com/ggprior/ggprior/optimizers"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/pkg/errors"
)

// paramSeed is the hyperparameter holding the run's seed: it seeds the Store's
// random number generator used by the initializers (GoMLX's
// model.ParamInitialSeed, "initializer_seed").
var paramSeed = model.ParamInitialSeed

// internalParamPrefix starts the names of the hyperparameters that hold run
// state rather than settings; parseSettings refuses them.
const internalParamPrefix = "charlm_"

// paramRunState holds the JSON-encoded RunState of an Experiment, so that
// checkpoints (which save every hyperparameter) carry it.
const paramRunState = "charlm_run_state" // Starts with internalParamPrefix.

// setDefaultHyperparameters sets, in the root scope of store, the default value
// of every hyperparameter the experiment reads (the benchmark's values), so they
// can be listed and changed with parseSettings:
//
//	learning_rate=1e-3  min_learning_rate=1e-4  warmup_steps=100
//	adam_beta1=0.9  adam_beta2=0.99  adam_epsilon=1e-8
//	adam_weight_decay=0.1  clip_grad_norm=1  initializer_seed=seed
func setDefaultHyperparameters(store *model.Store, seed int64) {
	scope := store.RootScope()
	scope.SetParam(paramLearningRate, 1e-3)
	scope.SetParam(paramMinLearningRate, 1e-4)
	scope.SetParam(paramWarmupSteps, 100)
	scope.SetParam(paramAdamBeta1, 0.9)
	scope.SetParam(paramAdamBeta2, 0.99)
	scope.SetParam(paramAdamEpsilon, 1e-8)
	scope.SetParam(paramWeightDecay, 0.1)
	scope.SetParam(paramClipGradNorm, 1.0)
	scope.SetParam(paramSeed, seed)
}

// scheduleFromScope returns the warmup + cosine schedule for a run of `steps`
// steps with the peak, final and warmup values of the scope's hyperparameters.
func scheduleFromScope(scope *model.Scope, steps int) WarmupCosine {
	s := defaultSchedule(steps)
	s.Peak = model.GetParamOr(scope, paramLearningRate, s.Peak)
	s.Min = model.GetParamOr(scope, paramMinLearningRate, s.Min)
	s.Warmup = model.GetParamOr(scope, paramWarmupSteps, s.Warmup)
	return s
}

// hyperparameterRange is the range of a numeric hyperparameter's values:
// valid says whether a value is in it, want describes it.
type hyperparameterRange struct {
	valid func(v float64) bool
	want  string
}

var (
	rangePositive    = hyperparameterRange{func(v float64) bool { return v > 0 && !math.IsInf(v, 0) }, "a finite value > 0"}
	rangeNonNegative = hyperparameterRange{func(v float64) bool { return v >= 0 && !math.IsInf(v, 0) }, "a finite value >= 0"}
	rangeSteps       = hyperparameterRange{func(v float64) bool { return v >= 0 }, "a value >= 0"}
	rangeFraction    = hyperparameterRange{func(v float64) bool { return v >= 0 && v < 1 }, "a value in [0, 1)"}
)

// hyperparameterRanges are the ranges of the numeric hyperparameters the
// experiment reads (its own, GCT's and ACT's), by key, in whichever scope.
var hyperparameterRanges = map[string]hyperparameterRange{
	paramLearningRate:           rangePositive,
	paramMinLearningRate:        rangeNonNegative,
	paramWarmupSteps:            rangeSteps,
	paramAdamBeta1:              rangeFraction,
	paramAdamBeta2:              rangeFraction,
	paramAdamEpsilon:            rangePositive,
	paramWeightDecay:            rangeNonNegative,
	paramClipGradNorm:           {rangeNonNegative.valid, rangeNonNegative.want + " (0: no clipping)"},
	optimizers.ParamBits:        rangePositive, // And > 1 with Exp-Golomb codes (gct_coder): see validateHyperparameters.
	optimizers.ParamLambda:      rangeNonNegative,
	optimizers.ParamWarmupSteps: rangeSteps,
	optimizers.ParamRateGain:    rangeNonNegative,
	layers.ParamSparsity:        rangeFraction,
	layers.ParamLambda:          rangeNonNegative,
	layers.ParamStart:           rangeSteps,
	layers.ParamEnd:             rangeSteps,
	layers.ParamSampleSize:      {rangeSteps.valid, rangeSteps.want + " (0: all values)"},
}

// validateHyperparameters checks the values of the store's hyperparameters
// (see hyperparameterRanges), in every scope, that gct_coder names a coder,
// and that the learning rate decays (min_learning_rate <= learning_rate),
// GCT's target is above Exp-Golomb's 1-bit minimum with its codes, and ACT's
// ramp ends after it starts. The error names the first bad one, with its scope.
func validateHyperparameters(store *model.Store) error {
	params := map[string]any{}
	for fullPath, value := range store.IterParams() {
		params[fullPath] = value
	}
	for _, fullPath := range slices.Sorted(maps.Keys(params)) {
		value := params[fullPath]
		scope, key := model.SplitPath(fullPath)
		if check, ok := namedHyperparameters[key]; ok {
			if err := check(value); err != nil {
				return errors.Errorf("hyperparameter %s=%v: %v", paramName(scope, key), value, err)
			}
			continue
		}
		r, ok := hyperparameterRanges[key]
		if !ok {
			continue
		}
		v, isNumber := number(value)
		if !isNumber || !r.valid(v) {
			return errors.Errorf("hyperparameter %s=%v: want %s", paramName(scope, key), value, r.want)
		}
	}
	root := store.RootScope()
	if value, found := root.GetParam(optimizers.ParamBits); found {
		bits, _ := number(value)
		coderValue, _ := root.GetParam(optimizers.ParamCoder)
		if coder, _ := coderOf(coderValue); coder == optimizers.CoderExpGolomb && !(bits > 1) {
			return errors.Errorf("hyperparameter %s=%v: want a finite value > 1 with %s=%s (Exp-Golomb codes take at least 1 bit per element; %s=%s goes below)",
				optimizers.ParamBits, value, optimizers.ParamCoder, optimizers.CoderExpGolomb, optimizers.ParamCoder, optimizers.CoderRANS)
		}
	}
	for _, pair := range [][2]string{{paramMinLearningRate, paramLearningRate}, {layers.ParamStart, layers.ParamEnd}} {
		lo, okLo := root.GetParam(pair[0])
		hi, okHi := root.GetParam(pair[1])
		a, numA := number(lo)
		b, numB := number(hi)
		if !okLo || !okHi || !numA || !numB || a <= b {
			continue
		}
		if pair[0] == paramMinLearningRate {
			return errors.Errorf("hyperparameter %s=%v is above %s=%v: the learning rate decays to %s", pair[0], lo, pair[1], hi, pair[0])
		}
		return errors.Errorf("hyperparameter %s=%v is before %s=%v: ACT's ramp ends after it starts", pair[1], hi, pair[0], lo)
	}
	return nil
}

// number returns a numeric hyperparameter's value as a float64.
func number(value any) (float64, bool) {
	switch v := value.(type) {
	case float64:
		return v, true
	case float32:
		return float64(v), true
	case int:
		return float64(v), true
	case int32:
		return float64(v), true
	case int64:
		return float64(v), true
	}
	return 0, false
}

// paramName returns a hyperparameter's name as -set takes it: the key for
// the root scope, the full path otherwise.
func paramName(scope, key string) string {
	if scope == model.RootScopePath {
		return key
	}
	return strings.TrimSuffix(scope, model.ScopeSeparator) + model.ScopeSeparator + key
}

// namedHyperparameters are the checks of the hyperparameters whose values
// are names, by key.
var namedHyperparameters = map[string]func(value any) error{
	optimizers.ParamCoder: func(value any) error { _, err := coderOf(value); return err },
	optimizers.ParamGeometry: func(value any) error {
		return checkName(value, func(s string) error { _, err := optimizers.ParseGeometry(s); return err })
	},
	optimizers.ParamAllocation: func(value any) error {
		return checkName(value, func(s string) error { _, err := optimizers.ParseAllocation(s); return err })
	},
	optimizers.ParamReconstruction: func(value any) error {
		return checkName(value, func(s string) error { _, err := optimizers.ParseReconstruction(s); return err })
	},
}

// checkName checks a named hyperparameter's value (a string, or a value of
// a string type) with parse.
func checkName(value any, parse func(string) error) error {
	switch v := value.(type) {
	case string:
		return parse(v)
	case optimizers.Geometry:
		return parse(string(v))
	case optimizers.Allocation:
		return parse(string(v))
	case optimizers.Reconstruction:
		return parse(string(v))
	}
	return errors.Errorf("want a name, got a %T", value)
}

// coderOf returns the coder of a gct_coder hyperparameter's value (a name or
// an optimizers.Coder; nil is the default).
func coderOf(value any) (optimizers.Coder, error) {
	switch v := value.(type) {
	case nil:
		return DefaultGCTCoder, nil
	case string:
		return optimizers.ParseCoder(v)
	case optimizers.Coder:
		_, err := v.MarshalText()
		return v, err
	}
	return 0, errors.Errorf("want a coder name (%q, %q or %q), got a %T", optimizers.CoderExpGolomb, optimizers.CoderRANS, optimizers.CoderAuto, value)
}
