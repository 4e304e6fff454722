package charlm

import (
	"slices"

	"github.com/pkg/errors"
)

// defaultEvalAt are the steps at which the benchmark reports the validation loss.
var defaultEvalAt = []int{250, 500, 1000, 2000}

// DefaultVerifyEvery is TrainConfig.VerifyEvery's default: the workers of a
// data-parallel run compare their weights every 100 steps, 20 times in the
// full run, for a cost (a hash of the weights) well under one step's.
const DefaultVerifyEvery = 100

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
	// Init is the initialization strategy (see initNames).
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
	// Data is the corpus path; "" is the default corpus (see defaultCorpusPath).
	Data string `json:"data,omitempty"`
	// Checkpoint is the checkpoint directory; "" disables checkpoints. If it holds
	// checkpoints, the run resumes from the latest one.
	Checkpoint string `json:"checkpoint,omitempty"`
	// EvalBatch is the number of validation windows per evaluation batch.
	EvalBatch int `json:"eval_batch"`
	// ValWindows, if > 0, measures the validation loss on that many of the
	// validation windows, evenly spaced over the split (see valSubset),
	// instead of all of them (0): a cheaper, noisier measurement for quick
	// profiles. More windows than the split holds is an error. Losses
	// measured with different ValWindows do not compare.
	ValWindows int `json:"val_windows,omitempty"`

	// Compress is the gradient compression (see CompressNone and
	// optimizers.ParseCompressor): "" or "none" trains with plain AdamW; any
	// other value wraps AdamW in GCT (optimizers.GCT) with that compressor:
	// "gct" or "gct:B" (the GG quantizer at the gct_bits hyperparameter, or B
	// bits per element, coded as the gct_coder hyperparameter says, default
	// Exp-Golomb), "gct-rans" or "gct-rans:B" (the same with gct_coder's
	// default the rANS coder), "fp32", "bf16", "int8", "sign", "topk:F",
	// "powersgd:R".
	Compress string `json:"compress,omitempty"`

	// ACTSites are the activation sites (see ActivationSites) where layers.ACT
	// constrains the activations; empty for no ACT.
	ACTSites []string `json:"act_sites,omitempty"`

	// ACTSparsity gives some sites their own final target sparsity; the others
	// use the act_sparsity hyperparameter (layers.ParamSparsity).
	ACTSparsity map[string]float64 `json:"act_sparsity,omitempty"`

	// ACTRamp gives some sites their own ramp, [start, end] steps (see
	// layers.ACTConfig.Ramp; [0, 0] is a fixed threshold at the full target
	// from the first step); the others use the act_start and act_end
	// hyperparameters (layers.ParamStart, layers.ParamEnd).
	ACTRamp map[string][2]int `json:"act_ramp,omitempty"`

	// Workers, if >= 2, is the number of in-process data-parallel workers (see
	// NewDataParallel): each computes the gradient of Batch/Workers windows of
	// every batch. 0 or 1: one worker, no exchange.
	Workers int `json:"workers,omitempty"`

	// VerifyEvery is the period, in steps, at which the workers of a
	// data-parallel run check that they still hold the same weights: they
	// all-gather their dataparallel.WeightsHash (32 bytes each, and a SHA-256
	// of the weights), and weights that differ stop the run with an error
	// (wrapping dataparallel.ErrMismatch) that names the step and the ranks.
	// The steps are counted from the start of the process's run (a resumed
	// run checks VerifyEvery steps after the resume point, and so on). The
	// ranks' updates are bit-identical by construction on a deterministic
	// backend (pure Go, or XLA with -deterministic), so a mismatch is a bug
	// or a nondeterministic backend. 0 checks only once, at the end of the
	// run (which every data-parallel run does). Single-worker runs ignore it.
	// DefaultTrainConfig sets DefaultVerifyEvery.
	VerifyEvery int `json:"verify_every,omitempty"`

	// Deterministic records whether the run asked for a bit-reproducible
	// backend (the charlm command's -deterministic flag, or
	// GGPRIOR_DETERMINISTIC; on by default for data-parallel runs; see
	// backends.Options): XLA's deterministic GPU ops; the pure-Go backend is
	// deterministic either way. The program that creates the backend applies
	// it (backends.NewWithOptions); the Experiment only records it.
	Deterministic bool `json:"deterministic,omitempty"`

	// AllowChanges lets a run resume a checkpoint whose hyperparameters (or
	// ACTSparsity, ACTRamp, or ValWindows) differ from the run's: the run continues
	// with its own, and its history and results record each change and the
	// step from which it applies (History.Changes). Without it such a resume
	// is an error that gives both values.
	AllowChanges bool `json:"allow_changes,omitempty"`
}

// DefaultTrainConfig returns the benchmark's full run: 2000 steps of batch 12,
// seed 1, normal02 initialization, validation at 250, 500, 1000 and 2000 steps,
// training loss logged every 10 steps.
func DefaultTrainConfig() TrainConfig {
	return TrainConfig{
		Steps:       FullRunSteps,
		Batch:       12,
		Seed:        1,
		Init:        initNameNormal02,
		EvalAt:      slices.Clone(defaultEvalAt),
		LogEvery:    10,
		EvalBatch:   128,
		VerifyEvery: DefaultVerifyEvery,
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
	case tc.ValWindows < 0:
		return errors.Errorf("validation windows must be >= 0 (0: all), got %d", tc.ValWindows)
	case tc.VerifyEvery < 0:
		return errors.Errorf("verify-every must be >= 0 (0: only at the end), got %d", tc.VerifyEvery)
	}
	for _, s := range tc.EvalAt {
		if s <= 0 {
			return errors.Errorf("eval steps must be > 0, got %d", s)
		}
	}
	if _, err := initByName(tc.Init, tc.Beta); err != nil {
		return err
	}
	if _, err := tc.compression(); err != nil {
		return err
	}
	if err := tc.validateACT(); err != nil {
		return err
	}
	switch {
	case tc.Workers < 0:
		return errors.Errorf("workers must be >= 0 (0 or 1: one worker), got %d", tc.Workers)
	case tc.Workers >= 2 && tc.Batch%tc.Workers != 0:
		return errors.Errorf("batch %d is not divisible by %d workers: each worker takes batch/workers windows", tc.Batch, tc.Workers)
	}
	return nil
}

// NumWorkers returns the number of data-parallel workers: Workers, at least 1.
func (tc TrainConfig) NumWorkers() int { return max(tc.Workers, 1) }

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
