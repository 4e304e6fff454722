package charlm

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/ggprior/ggprior/backends"
	"github.com/ggprior/ggprior/internal/tensorkind"
	"github.com/gomlx/compute"
	"github.com/pkg/errors"
)

// CaptureConfig configures Capture.
type CaptureConfig struct {
	// Model is the architecture. A Config without Arch (e.g. the zero Config)
	// means DefaultConfig or, with FromCheckpoint, the architecture recorded
	// in the checkpoint.
	Model Config
	// Train configures the run (steps, batch, seed, init, data, ...). Its
	// Checkpoint and EvalAt are ignored: a capture run neither saves
	// checkpoints nor measures the validation loss.
	Train TrainConfig
	// Kinds lists what to capture: a non-empty subset of tensorkind.All.
	Kinds []string
	// Every, if > 0, captures after every Every-th step as well as after the last.
	Every int
	// FromCheckpoint, if not empty, is the checkpoint directory of a run whose
	// latest weights replace the initialization (see LoadModelWeights); the
	// optimizer and the step count start afresh.
	FromCheckpoint string
	// Backend runs the graphs; nil means backends.Go().
	Backend compute.Backend
	// Progress receives the progress bar; nil for silence.
	Progress io.Writer
}

// CaptureSummary describes a finished capture run.
type CaptureSummary struct {
	// Model and Train are the run's configuration.
	Model Config
	Train TrainConfig
	// Checkpoint is "<dir>/<name>" of the checkpoint whose weights the run
	// started from, or "" for a freshly initialized model.
	Checkpoint string
	// Steps are the global steps after which tensors were captured.
	Steps []int
	// Tensors is the number of tensors of each kind sent per capture.
	Tensors map[string]int
	// FinalLoss is the training batch loss of the last step.
	FinalLoss float64
}

// String returns a one-line description, e.g. "gpt L4 H4 d128 T64 mlp512
// (867,072 params), init normal02, seed 1, 5 steps, captured after step 5:
// weights 54, activations 12, gradients 54 tensors; last training loss 3.1416".
func (s CaptureSummary) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s, ", s.Model)
	if s.Checkpoint != "" {
		fmt.Fprintf(&b, "weights from %s, ", s.Checkpoint)
	} else {
		fmt.Fprintf(&b, "init %s", s.Train.Init)
		if s.Train.Beta != "" {
			fmt.Fprintf(&b, " beta=%s", s.Train.Beta)
		}
		b.WriteString(", ")
	}
	steps := "steps"
	if s.Train.Steps == 1 {
		steps = "step"
	}
	fmt.Fprintf(&b, "seed %d, %d %s, captured after step", s.Train.Seed, s.Train.Steps, steps)
	if len(s.Steps) > 1 {
		b.WriteString("s")
	}
	b.WriteString(" ")
	b.WriteString(formatSteps(s.Steps))
	var counts []string
	for _, kind := range tensorkind.All {
		if n, ok := s.Tensors[kind]; ok {
			counts = append(counts, fmt.Sprintf("%s %d", kind, n))
		}
	}
	fmt.Fprintf(&b, ": %s tensors; last training loss %.4f", strings.Join(counts, ", "), s.FinalLoss)
	return b.String()
}

// formatSteps lists steps, shortening long lists to "first, second, ..., last (n)".
func formatSteps(steps []int) string {
	parts := make([]string, len(steps))
	for i, s := range steps {
		parts[i] = fmt.Sprint(s)
	}
	if len(parts) > 6 {
		return fmt.Sprintf("%s, %s, ..., %s (%d captures)", parts[0], parts[1], parts[len(parts)-1], len(parts))
	}
	return strings.Join(parts, ", ")
}

// errCaptureDone stops a capture run after its last capture: before the
// validation that an Experiment runs after its last step.
var errCaptureDone = errors.New("capture done")

// Capture trains the reference experiment as cfg describes and sends the
// requested tensors to sink after every cfg.Every steps (if > 0) and after the
// last step (see Capturer for what is captured and how). It stops after the
// last capture, without the final validation; the training itself is that of
// the same run without capture.
func Capture(cfg CaptureConfig, sink CaptureSink) (CaptureSummary, error) {
	backend := cfg.Backend
	if backend == nil {
		backend = backends.Go()
	}
	var base string
	if cfg.FromCheckpoint != "" {
		var err error
		if base, err = LatestCheckpoint(cfg.FromCheckpoint); err != nil {
			return CaptureSummary{}, errors.WithMessage(err, "capture: -checkpoint")
		}
		if cfg.Model.Arch == "" {
			state, found, err := checkpointRunState(cfg.FromCheckpoint, base)
			if err != nil {
				return CaptureSummary{}, errors.WithMessage(err, "capture")
			}
			if found {
				cfg.Model = state.Identity.Model
			}
		}
	}
	if cfg.Model.Arch == "" {
		cfg.Model = DefaultConfig()
	}
	tc := cfg.Train
	tc.Checkpoint, tc.EvalAt = "", nil
	exp, err := NewExperiment(backend, cfg.Model, tc)
	if err != nil {
		return CaptureSummary{}, errors.WithMessage(err, "capture")
	}
	summary := CaptureSummary{Model: cfg.Model, Train: tc}
	if cfg.FromCheckpoint != "" {
		name, err := exp.LoadModelWeights(cfg.FromCheckpoint)
		if err != nil {
			return summary, errors.WithMessage(err, "capture")
		}
		summary.Checkpoint = filepath.Join(cfg.FromCheckpoint, name)
	}
	capturer, err := newCapturer(exp, cfg.Kinds, sink)
	if err != nil {
		return summary, err
	}
	capturer.Every = cfg.Every
	exp.Progress = cfg.Progress
	exp.OnStep = append(exp.OnStep, func(exp *Experiment, info StepInfo) error {
		summary.FinalLoss = info.MainLoss
		if err := capturer.OnStep(exp, info); err != nil {
			return err
		}
		if info.Step == exp.Train.Steps {
			return errCaptureDone
		}
		return nil
	})
	err = exp.TrainTo(tc.Steps)
	summary.Steps, summary.Tensors = capturer.Steps(), capturer.Tensors()
	if err != nil && !errors.Is(err, errCaptureDone) {
		return summary, errors.WithMessage(err, "capture")
	}
	return summary, nil
}
