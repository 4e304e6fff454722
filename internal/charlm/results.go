package charlm

import (
	"encoding/json"
	"fmt"
	"runtime"
	"slices"
	"strconv"

	"github.com/ggprior/ggprior/internal/outfile"
	"github.com/ggprior/ggprior/optimizers/dataparallel"
	"github.com/gomlx/gomlx/support/exceptions"

	"github.com/pkg/errors"
)

// Results is what every run reports (the benchmark specification's list), written as JSON by -results.
type Results struct {
	// Config is the complete configuration of the run.
	Config ResultsConfig `json:"config"`
	// Params is the number of model parameters.
	Params int `json:"params"`
	// ValLoss maps a step ("250") to the validation loss after it, nats per byte.
	ValLoss map[string]float64 `json:"val_loss"`
	// SecPerStepMedian is the median wall time of a training step, in seconds,
	// measured by the process that produced the results (not by resumed-from runs).
	SecPerStepMedian float64 `json:"sec_per_step_median"`
	// PeakRSSBytes is the peak resident memory of the process.
	PeakRSSBytes int64 `json:"peak_rss_bytes"`
	// StepsToTarget is the first evaluation step whose validation loss is <=
	// Config.Train.TargetLoss, or nil (no target, or not reached).
	StepsToTarget *int `json:"steps_to_target"`
	// LossCurve holds [step, training batch loss] pairs.
	LossCurve [][2]float64 `json:"loss_curve"`
	// Outputs holds the extra step outputs' [step, value] pairs, by name.
	Outputs map[string][][2]float64 `json:"outputs,omitempty"`
	// Note says when the run is a quick profile (fewer steps than the full run).
	Note string `json:"note,omitempty"`
	// WeightsHash is dataparallel.WeightsHash of the trainable variables
	// (rank 0's in a data-parallel run, where every rank holds the same).
	WeightsHash string `json:"weights_hash"`

	// Gradient compression (Train.Compress), ACT (Train.ACTSites) and
	// data-parallel (Train.Workers) measurements; absent for runs without them.
	*GradientResults
	*ACTResults
	*ParallelResults
}

// ResultsConfig is the configuration part of Results.
type ResultsConfig struct {
	Model           Config         `json:"model"`
	Train           TrainConfig    `json:"train"`
	Hyperparameters map[string]any `json:"hyperparameters"`
	Optimizer       string         `json:"optimizer"`
	Backend         string         `json:"backend"`
	GoVersion       string         `json:"go_version"`
	Corpus          CorpusInfo     `json:"corpus"`
	ResumedFrom     string         `json:"resumed_from,omitempty"`
	// HyperparameterChanges are the changes of hyperparameters that resumes
	// made (TrainConfig.AllowChanges): Hyperparameters holds the values at
	// the end, these the earlier ones and the steps from which each applied.
	HyperparameterChanges []HyperparameterChange `json:"hyperparameter_changes,omitempty"`
}

// CorpusInfo describes the data of a run.
type CorpusInfo struct {
	Path       string `json:"path"`
	Size       int    `json:"size"`
	Hash       string `json:"fnv64a"`
	TrainBytes int    `json:"train_bytes"`
	ValBytes   int    `json:"val_bytes"`
	// ValWindows is the number of validation windows of the split.
	ValWindows int `json:"val_windows"`
	// ValWindowsEvaluated is the number of them the validation loss is
	// measured on (fewer than ValWindows with TrainConfig.ValWindows);
	// ValTargets the number of targets the loss averages over.
	ValWindowsEvaluated int `json:"val_windows_evaluated"`
	ValTargets          int `json:"val_targets"`
}

// Results returns the results of the run so far.
func (e *Experiment) Results() *Results {
	optName := ""
	if e.Optimizer != nil {
		optName = fmt.Sprintf("%v", e.Optimizer)
	}
	if e.gct != nil {
		compressor := "?" // Invalid hyperparameters, which training reports.
		_ = exceptions.TryCatch[error](func() { compressor = e.gct.CompressorName(e.Store.RootScope()) })
		optName = fmt.Sprintf("GCT(%s) of %v", compressor, e.gct.Inner())
	}
	windows, evaluated := e.Corpus.NumValWindows(e.Config.Block), e.NumValWindowsEvaluated()
	r := &Results{
		Config: ResultsConfig{
			Model: e.Config, Train: e.Train, Hyperparameters: hyperparameters(e.Store), Optimizer: optName,
			Backend: e.Backend.Name(), GoVersion: runtime.Version(), ResumedFrom: e.ResumedFrom,
			HyperparameterChanges: slices.Clone(e.history.Changes),
			Corpus: CorpusInfo{
				Path: PortablePath(e.Corpus.Path), Size: e.Corpus.Size, Hash: strconv.FormatUint(e.Corpus.Hash, 16),
				TrainBytes: len(e.Corpus.Train), ValBytes: len(e.Corpus.Val),
				ValWindows: windows, ValWindowsEvaluated: evaluated, ValTargets: evaluated * e.Config.Block,
			},
		},
		Params:           e.NumParams(),
		ValLoss:          map[string]float64{},
		SecPerStepMedian: e.MedianStepDuration().Seconds(),
		PeakRSSBytes:     peakRSS(),
		LossCurve:        slices.Clone(e.history.LossCurve),
		Outputs:          e.history.Outputs,
		WeightsHash:      dataparallel.WeightsHash(e.Store),
		GradientResults:  e.gradientResults(),
		ACTResults:       e.actResults(),
		ParallelResults:  e.parallelResults(),
	}
	if r.LossCurve == nil {
		r.LossCurve = [][2]float64{}
	}
	var steps []int
	for step, loss := range e.history.ValLoss {
		r.ValLoss[strconv.Itoa(step)] = loss
		steps = append(steps, step)
	}
	slices.Sort(steps)
	if e.Train.TargetLoss > 0 {
		for _, step := range steps {
			if e.history.ValLoss[step] <= e.Train.TargetLoss {
				r.StepsToTarget = &step
				break
			}
		}
	}
	if e.Train.Steps < FullRunSteps {
		r.Note = fmt.Sprintf("quick profile: %d steps (the full run is %d)", e.Train.Steps, FullRunSteps)
	}
	if evaluated < windows {
		if r.Note != "" {
			r.Note += "; "
		}
		r.Note += fmt.Sprintf("validation loss on %d of the %d validation windows", evaluated, windows)
	}
	return r
}

// WriteJSON writes the results, indented, to path, whole (outfile.WriteFile:
// a temporary file in the same directory renamed into place), so that path
// never holds part of them.
func (r *Results) WriteJSON(path string) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return errors.Wrap(err, "failed to encode results")
	}
	if err := outfile.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return errors.Wrap(err, "failed to write results")
	}
	return nil
}
