package charlm

import (
	"slices"

	"github.com/pkg/errors"
)

// DefaultEvalAt are the steps at which the benchmark reports the validation loss.
var DefaultEvalAt = []int{250, 500, 1000, 2000}

// FullRunSteps is the number of steps of the benchmark's full run; runs with
// fewer steps are "quick profiles" and say so in their results.
const FullRunSteps = 2000

// TrainConfig describes a training run. Start from DefaultTrainConfig.
type TrainConfig struct {
	// Steps is the length of the run; it also sets the learning-rate schedule.
	Steps int `json:"steps"`
	// Batch is the number of windows per training batch.
	Batch int `json:"batch"`
	// Seed seeds the initialization and the batch generator.
	Seed int64 `json:"seed"`
	// Init is the initialization strategy (see InitNames).
	Init string `json:"init"`
	// Beta is the GG shape specification for Init "gg" (see ParseBetas).
	Beta string `json:"beta,omitempty"`
	// EvalAt lists the steps after which the validation loss is measured (and a
	// checkpoint saved); steps beyond Steps are ignored, and Steps is always added.
	EvalAt []int `json:"eval_at"`
	// LogEvery is the period, in steps, of the training-loss curve.
	LogEvery int `json:"log_every"`
	// TargetLoss, if > 0, is the validation loss whose first crossing is reported
	// as steps_to_target (usually the baseline's final loss).
	TargetLoss float64 `json:"target_loss,omitempty"`
	// Data is the corpus path; "" is the default corpus (see DefaultCorpusPath).
	Data string `json:"data,omitempty"`
	// Checkpoint is the checkpoint directory; "" disables checkpoints. If it holds
	// checkpoints, the run resumes from the latest one.
	Checkpoint string `json:"checkpoint,omitempty"`
	// EvalBatch is the number of validation windows per evaluation batch.
	EvalBatch int `json:"eval_batch"`
}

// DefaultTrainConfig returns the benchmark's full run: 2000 steps of batch 12,
// seed 1, normal02 initialization, validation at 250, 500, 1000 and 2000 steps,
// training loss logged every 10 steps.
func DefaultTrainConfig() TrainConfig {
	return TrainConfig{
		Steps:     FullRunSteps,
		Batch:     12,
		Seed:      1,
		Init:      InitNameNormal02,
		EvalAt:    slices.Clone(DefaultEvalAt),
		LogEvery:  10,
		EvalBatch: 128,
	}
}

// Validate returns an error for the first invalid field, if any.
func (tc TrainConfig) Validate() error {
	switch {
	case tc.Steps <= 0:
		return errors.Errorf("steps must be > 0, got %d", tc.Steps)
	case tc.Batch <= 0:
		return errors.Errorf("batch must be > 0, got %d", tc.Batch)
	case tc.LogEvery <= 0:
		return errors.Errorf("log-every must be > 0, got %d", tc.LogEvery)
	case tc.EvalBatch <= 0:
		return errors.Errorf("eval batch must be > 0, got %d", tc.EvalBatch)
	case tc.TargetLoss < 0:
		return errors.Errorf("target loss must be >= 0, got %g", tc.TargetLoss)
	}
	for _, s := range tc.EvalAt {
		if s <= 0 {
			return errors.Errorf("eval steps must be > 0, got %d", s)
		}
	}
	_, err := InitByName(tc.Init, tc.Beta)
	return err
}

// EvalSteps returns the sorted, distinct steps at which the run evaluates: the
// EvalAt steps up to Steps, and Steps.
func (tc TrainConfig) EvalSteps() []int {
	var steps []int
	for _, s := range tc.EvalAt {
		if s <= tc.Steps {
			steps = append(steps, s)
		}
	}
	steps = append(steps, tc.Steps)
	slices.Sort(steps)
	return slices.Compact(steps)
}
