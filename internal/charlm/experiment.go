package charlm

import (
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/ggprior/ggprior/optimizers"
	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train/optimizer"
	"github.com/gomlx/gomlx/support/exceptions"
	"github.com/pkg/errors"
)

// Experiment is one training run of the reference experiment: a Store with the
// model's variables and hyperparameters, the data, the optimizer, and the
// training loop with validation and checkpoints.
//
// Create it with NewExperiment; adjust the exported fields (Optimizer,
// Model.Activation, StepOutputs, OnStep, Progress) or the Store's
// hyperparameters (parseSettings) before the first training step; then call Run
// (or TrainTo and ValidationLoss for finer control).
type Experiment struct {
	// Backend runs the graphs.
	Backend compute.Backend
	// Store holds the variables and hyperparameters.
	Store *model.Store
	// Config is the model architecture; Train the run's configuration.
	Config Config
	Train  TrainConfig
	// Model builds the graph; its Init was chosen by Train.Init.
	Model *Model
	// Corpus is the data; Batches the training batch generator.
	Corpus  *Corpus
	Batches *Batches

	// Optimizer, if nil when the training graph is first built, is AdamW with the
	// Store's hyperparameters and the warmup + cosine schedule (scheduleFromScope),
	// wrapped in optimizers.GCT as Train.Compress and Train.Workers ask.
	// A replacement must keep the global step counter
	// (optimizer.IncrementGlobalStep) once per step; it is used as it is (the
	// results report no GCT compressor for it), and a data-parallel run
	// needs the one built here.
	Optimizer optimizer.Interface

	// StepOutputs are extra scalars computed in the training graph, recorded
	// every LogEvery steps in the history and the results. Train.Compress and
	// Train.ACTSites add their metrics (outputGradBits, ..., outputACTSparsity).
	StepOutputs []StepOutputFn

	// ProgressOutputs maps the names of the StepOutputs that the progress bar
	// shows to their labels there (e.g. outputGradBits to "gbits").
	ProgressOutputs map[string]string

	// OnStep hooks are called after every training step, in order; an error stops training.
	OnStep []func(exp *Experiment, info StepInfo) error

	// Progress receives a progress bar and one line per evaluation; nil for silence.
	Progress io.Writer

	// Heartbeat, if set, is called after every training step and every
	// validation batch: a sign of life for watchdogs.
	Heartbeat func()

	// ResumedFrom is the checkpoint the run resumed from ("" for a fresh run).
	ResumedFrom string

	globalStep  int
	history     History
	stepTimes   []time.Duration
	trainExec   *model.Exec
	evalExec    *model.Exec
	outputNames []string
	valWindows  []*tensors.Tensor
	valMasks    []*tensors.Tensor
	bar         *progressBar

	// parallel is set for the workers of a data-parallel run (NewDataParallel).
	parallel *parallelRank

	// gct is the GCT wrapper that newOptimizer built as Optimizer (nil without GCT).
	gct *optimizers.Wrapper

	// resume is what checkResume compares a resumed run with (nil for a fresh run).
	resume *resumeCheck
}

// StepOutputFn returns a named scalar computed in the training graph (e.g. an
// activation sparsity, or the bits a compressed gradient costs).
type StepOutputFn func(scope *model.Scope, g *graph.Graph) (name string, value *graph.Node)

// StepInfo describes a training step that just finished.
type StepInfo struct {
	// Step is the number of steps done (the global step): 1 after the first step.
	Step int
	// Loss is the batch loss optimized (including regularization terms); MainLoss
	// the batch cross-entropy alone; GradNorm the global gradient norm before clipping
	// (NaN if the optimizer does not report it).
	Loss, MainLoss, GradNorm float64
	// Outputs are the StepOutputs' values, in order.
	Outputs []float64
	// Duration is the wall time of the step (batch preparation and graph execution).
	Duration time.Duration
}

// NewExperiment prepares a run: it reads the corpus, creates the Store with the
// default hyperparameters (setDefaultHyperparameters, and those of GCT and ACT
// when the run uses them) and, if train.Checkpoint holds checkpoints, loads
// the latest good one (variables, hyperparameters, batch generator, history;
// see resumeCheckpoint) to resume it. A data-parallel run (train.Workers >= 2)
// is made with NewDataParallel instead.
func NewExperiment(backend compute.Backend, cfg Config, train TrainConfig) (*Experiment, error) {
	if train.Workers >= 2 {
		return nil, errors.Errorf("a data-parallel run (%d workers) is one Experiment per worker: create it with NewDataParallel", train.Workers)
	}
	return newExperiment(backend, cfg, train, nil)
}

// newExperiment is NewExperiment for one worker of a data-parallel run
// (parallel != nil) or for a single-worker run.
func newExperiment(backend compute.Backend, cfg Config, train TrainConfig, parallel *parallelRank) (*Experiment, error) {
	if backend == nil {
		return nil, errors.New("nil backend")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := train.Validate(); err != nil {
		return nil, err
	}
	train.EvalAt = slices.Clone(train.EvalAt)
	train.ACTSites = slices.Clone(train.ACTSites)
	train.ACTSparsity = maps.Clone(train.ACTSparsity)
	train.ACTRamp = maps.Clone(train.ACTRamp)
	initFn, err := initByName(train.Init, train.Beta)
	if err != nil {
		return nil, err
	}
	corpus := (*Corpus)(nil)
	if parallel != nil {
		corpus = parallel.corpus
	}
	if corpus == nil {
		if corpus, err = loadCorpus(train.Data); err != nil {
			return nil, err
		}
	}
	n := corpus.NumValWindows(cfg.Block)
	switch {
	case n == 0:
		return nil, errors.Errorf("the validation split of %s (%d bytes) holds no window of %d bytes", corpus.Path, len(corpus.Val), cfg.Block+1)
	case train.ValWindows > n:
		return nil, errors.Errorf("-val-windows %d: the validation split holds %d windows of %d bytes (0: all of them)", train.ValWindows, n, cfg.Block+1)
	}
	batches, err := newBatches(corpus.Train, train.Batch, cfg.Block, train.Seed)
	if err != nil {
		return nil, err
	}
	e := &Experiment{
		Backend:  backend,
		Store:    model.NewStore(),
		Config:   cfg,
		Train:    train,
		Model:    &Model{Config: cfg, Init: initFn},
		Corpus:   corpus,
		Batches:  batches,
		history:  History{ValLoss: map[int]float64{}},
		parallel: parallel,
	}
	setDefaultHyperparameters(e.Store, train.Seed)
	comp, _ := train.compression() // Validated above.
	setGCTDefaults(e.Store, comp)
	setACTDefaults(e.Store, train)
	if comp.enabled {
		e.StepOutputs = append(e.StepOutputs, gctStepOutputs()...)
		e.showProgress(outputGradBits, "gbits")
	}
	if len(train.ACTSites) > 0 {
		e.Model.Activation = train.actActivation()
		e.StepOutputs = append(e.StepOutputs, actStepOutput)
		e.showProgress(outputACTSparsity, "act")
	}
	if train.Checkpoint != "" {
		last, err := resumeCheckpoint(e.Store, train.Checkpoint)
		if err != nil {
			return nil, err
		}
		if last != "" {
			if err := e.restoreRunState(last); err != nil {
				return nil, err
			}
			e.ResumedFrom = last
		}
	}
	if err := exceptions.TryCatch[error](func() { e.globalStep = int(optimizer.GetGlobalStep(e.Store)) }); err != nil {
		return nil, errors.WithMessage(err, "failed to read the global step")
	}
	return e, nil
}

// showProgress makes the progress bar show the step output `name` as `label`.
func (e *Experiment) showProgress(name, label string) {
	if e.ProgressOutputs == nil {
		e.ProgressOutputs = map[string]string{}
	}
	e.ProgressOutputs[name] = label
}

// heartbeat calls e.Heartbeat if set.
func (e *Experiment) heartbeat() {
	if e.Heartbeat != nil {
		e.Heartbeat()
	}
}

// stepOutput returns the value of the step output `name` in info.
func (e *Experiment) stepOutput(info StepInfo, name string) (float64, bool) {
	i := slices.Index(e.outputNames, name)
	if i < 0 || i >= len(info.Outputs) {
		return 0, false
	}
	return info.Outputs[i], true
}

// progressOutputs formats the step outputs that the progress bar shows.
func (e *Experiment) progressOutputs(info StepInfo) string {
	var parts []string
	for i, name := range e.outputNames {
		if label, ok := e.ProgressOutputs[name]; ok && i < len(info.Outputs) {
			parts = append(parts, fmt.Sprintf("%s %.3f", label, info.Outputs[i]))
		}
	}
	return strings.Join(parts, " ")
}

// GlobalStep returns the number of training steps done so far.
func (e *Experiment) GlobalStep() int { return e.globalStep }

// History returns the run's history so far (shared, do not modify).
func (e *Experiment) History() History { return e.history }

// NumParams returns the number of model parameters (trainable variables outside
// the optimizer's scope), once the model variables exist (after the first step
// or evaluation); before, it returns Config.NumParams().
func (e *Experiment) NumParams() int {
	n := 0
	for v := range e.Store.IterVariables() {
		if v.Trainable {
			n += v.Shape().Size()
		}
	}
	if n == 0 {
		return e.Config.NumParams()
	}
	return n
}

// TrainTo trains until the global step reaches target (at most Train.Steps),
// evaluating (and checkpointing, if configured) after each evaluation step it
// passes (see TrainConfig.EvalSteps). Calling it again continues where it stopped.
func (e *Experiment) TrainTo(target int) error {
	if err := e.checkSettings(); err != nil {
		return err
	}
	target = min(target, e.Train.Steps)
	if e.globalStep >= target {
		return nil
	}
	if err := e.buildTrainExec(); err != nil {
		return err
	}
	evalSteps := e.Train.EvalSteps()
	if e.Progress != nil {
		e.bar = newProgressBar(e.Progress, e.globalStep, target, e.Train.Steps)
		defer func() { e.bar.finish(); e.bar = nil }()
	}
	for e.globalStep < target {
		info, err := e.step()
		if err != nil {
			return errors.WithMessagef(err, "training step %d", e.globalStep+1)
		}
		e.globalStep = info.Step
		e.heartbeat()
		if err := e.recordGradientMetrics(info); err != nil {
			return errors.WithMessagef(err, "after step %d", info.Step)
		}
		if info.Step%e.Train.LogEvery == 0 || info.Step == 1 {
			e.history.LossCurve = append(e.history.LossCurve, [2]float64{float64(info.Step), info.MainLoss})
			for i, name := range e.outputNames {
				if math.IsNaN(info.Outputs[i]) {
					continue // Not measured (e.g. a metric the compressor does not have).
				}
				if e.history.Outputs == nil {
					e.history.Outputs = map[string][][2]float64{}
				}
				e.history.Outputs[name] = append(e.history.Outputs[name], [2]float64{float64(info.Step), info.Outputs[i]})
			}
		}
		if e.bar != nil {
			e.bar.update(info, e.MedianStepDuration(), e.progressOutputs(info))
		}
		for _, hook := range e.OnStep {
			if err := hook(e, info); err != nil {
				return errors.WithMessagef(err, "after step %d", info.Step)
			}
		}
		if _, done := e.history.ValLoss[info.Step]; !done && slices.Contains(evalSteps, info.Step) {
			if err := e.evaluateAndSave(info); err != nil {
				return err
			}
		}
	}
	return nil
}

// evaluateAndSave measures the validation loss at the current step, records it,
// reports it, and saves a checkpoint if configured. The workers of a
// data-parallel run other than rank 0 only save their checkpoint.
func (e *Experiment) evaluateAndSave(info StepInfo) error {
	if e.Rank() != 0 {
		if e.Train.Checkpoint == "" {
			return nil
		}
		_, err := e.Save()
		return errors.WithMessagef(err, "checkpoint at step %d", info.Step)
	}
	start := time.Now()
	valLoss, err := e.ValidationLoss()
	if err != nil {
		return errors.WithMessagef(err, "validation at step %d", info.Step)
	}
	e.history.ValLoss[info.Step] = valLoss
	line := fmt.Sprintf("step %d: val_loss %.4f  train_loss %.4f  (eval %s, median step %s)",
		info.Step, valLoss, info.MainLoss, time.Since(start).Round(time.Millisecond), e.MedianStepDuration().Round(10*time.Microsecond))
	if e.Train.Checkpoint != "" {
		name, err := e.Save()
		if err != nil {
			return errors.WithMessagef(err, "checkpoint at step %d", info.Step)
		}
		line += "  saved " + name
	}
	if e.bar != nil {
		e.bar.println(line)
	} else if e.Progress != nil {
		_, _ = fmt.Fprintln(e.Progress, line)
	}
	return nil
}

// Save writes a checkpoint of the whole run into Train.Checkpoint and returns its name.
func (e *Experiment) Save() (string, error) {
	if e.Train.Checkpoint == "" {
		return "", errors.New("no checkpoint directory configured")
	}
	if err := e.storeRunState(); err != nil {
		return "", err
	}
	return saveCheckpoint(e.Store, e.Train.Checkpoint, int64(e.globalStep))
}

// MedianStepDuration returns the median wall time of the training steps run by
// this process (0 before the first).
func (e *Experiment) MedianStepDuration() time.Duration {
	return medianDuration(e.stepTimes)
}

// Run trains to Train.Steps (resuming if a checkpoint was loaded), with the
// validation losses and checkpoints along the way, and returns the results.
func (e *Experiment) Run() (*Results, error) {
	if err := e.TrainTo(e.Train.Steps); err != nil {
		return nil, err
	}
	return e.Results(), nil
}
