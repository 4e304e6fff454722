package charlm

import (
	"github.com/gomlx/gomlx/ml/model"
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
