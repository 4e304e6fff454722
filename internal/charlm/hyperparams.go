package charlm

import (
	"github.com/gomlx/gomlx/ml/model"
)

// ParamSeed is the hyperparameter holding the run's seed: it seeds the Store's
// random number generator used by the initializers (GoMLX's
// model.ParamInitialSeed, "initializer_seed").
var ParamSeed = model.ParamInitialSeed

// internalParamPrefix starts the names of the hyperparameters that hold run
// state rather than settings; ParseSettings refuses them.
const internalParamPrefix = "charlm_"

// ParamRunState holds the JSON-encoded RunState of an Experiment, so that
// checkpoints (which save every hyperparameter) carry it.
const ParamRunState = "charlm_run_state" // Starts with internalParamPrefix.

// SetDefaultHyperparameters sets, in the root scope of store, the default value
// of every hyperparameter the experiment reads (the benchmark's values), so they
// can be listed and changed with ParseSettings:
//
//	learning_rate=1e-3  min_learning_rate=1e-4  warmup_steps=100
//	adam_beta1=0.9  adam_beta2=0.99  adam_epsilon=1e-8
//	adam_weight_decay=0.1  clip_grad_norm=1  initializer_seed=seed
func SetDefaultHyperparameters(store *model.Store, seed int64) {
	scope := store.RootScope()
	scope.SetParam(ParamLearningRate, 1e-3)
	scope.SetParam(ParamMinLearningRate, 1e-4)
	scope.SetParam(ParamWarmupSteps, 100)
	scope.SetParam(ParamAdamBeta1, 0.9)
	scope.SetParam(ParamAdamBeta2, 0.99)
	scope.SetParam(ParamAdamEpsilon, 1e-8)
	scope.SetParam(ParamWeightDecay, 0.1)
	scope.SetParam(ParamClipGradNorm, 1.0)
	scope.SetParam(ParamSeed, seed)
}

// ScheduleFromScope returns the warmup + cosine schedule for a run of `steps`
// steps with the peak, final and warmup values of the scope's hyperparameters.
func ScheduleFromScope(scope *model.Scope, steps int) WarmupCosine {
	s := DefaultSchedule(steps)
	s.Peak = model.GetParamOr(scope, ParamLearningRate, s.Peak)
	s.Min = model.GetParamOr(scope, ParamMinLearningRate, s.Min)
	s.Warmup = model.GetParamOr(scope, ParamWarmupSteps, s.Warmup)
	return s
}
