package paper

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/ggprior/ggprior/internal/charlm"
	"github.com/ggprior/ggprior/internal/study"
	"github.com/gomlx/compute"
)

// ErrInterrupted is returned when the context of a Plan ends while a run trains.
var ErrInterrupted = errors.New("interrupted")

// Need is a charlm run a stage needs: the results of configuration Config at
// Seed, and with Weights its final checkpoint too. Steps, if > 0, is the
// run's length instead of the profile's (then evaluated half-way and at the
// end).
type Need struct {
	Config  string
	Seed    int64
	Weights bool
	Steps   int
}

// Plan is what the stages share: the profile, the output directories, the
// runner of the charlm runs (each run once per invocation, whichever stage
// needs it first) and the progress display.
type Plan struct {
	Profile *Profile
	// Seeds are the seeds of every configuration.
	Seeds []int64
	// Out is the output directory; figures go into Out/figures.
	Out string
	// Runner trains the charlm runs into its Dir and CheckpointDir.
	Runner *study.Runner
	// Backend runs every graph.
	Backend compute.Backend
	// MNISTDir is where the MNIST data is (copied there from the Go module
	// cache, or downloaded, if missing).
	MNISTDir string

	ctx      context.Context
	progress *progress
	ensured  map[string]bool // Run names with results this invocation: true when with their weights.
	// ahead are the runs of the stages after the current one: EnsureAll
	// trains one of them instead of waiting for a run another process is
	// training.
	ahead []Need
}

// Spec returns the run of configuration config at seed, at the profile's length.
func (p *Plan) Spec(config string, seed int64) (study.RunSpec, error) {
	return p.SpecSteps(config, seed, 0)
}

// SpecSteps returns the run of configuration config at seed, of the given
// length: the profile's, evaluated at its evaluation steps, when steps is 0
// or the profile's; otherwise evaluated at steps/2 and at steps.
func (p *Plan) SpecSteps(config string, seed int64, steps int) (study.RunSpec, error) {
	evalAt := p.Profile.EvalAt
	if steps <= 0 || steps == p.Profile.Steps {
		steps = p.Profile.Steps
	} else {
		evalAt = []int{steps / 2, steps}
	}
	c, ok := configs[config]
	if !ok {
		return study.RunSpec{}, fmt.Errorf("unknown configuration %q", config)
	}
	args := slices.Clone(c.Args)
	if c.FitBaseline {
		args = append(args, "-beta", charlm.BetaFitPrefix+p.CheckpointDir(baseline, p.Seeds[0]))
	}
	args = append(args, "-seed", strconv.FormatInt(seed, 10), "-steps", strconv.Itoa(steps),
		"-eval-at", evalAtArg(evalAt))
	if p.Profile.ValWindows > 0 {
		args = append(args, "-val-windows", strconv.Itoa(p.Profile.ValWindows))
	}
	return study.NewRunSpec(config, args, c.KeepWeights && seed == p.Seeds[0])
}

// CheckpointDir returns the checkpoint directory of a run (whether it keeps one or not).
func (p *Plan) CheckpointDir(config string, seed int64) string {
	return filepath.Join(p.Runner.CheckpointDir, study.RunName(config, seed, p.Profile.Steps))
}

// pending reports whether the run of n must be trained, and its spec.
func (p *Plan) pending(n Need) (study.RunSpec, bool, error) {
	spec, err := p.SpecSteps(n.Config, n.Seed, n.Steps)
	if err != nil {
		return spec, false, err
	}
	if weights, ok := p.ensured[spec.Name()]; ok && (weights || !n.Weights) {
		return spec, false, nil
	}
	done, err := p.Runner.Done(spec)
	if err != nil {
		return spec, false, err
	}
	return spec, done == nil || (n.Weights && !p.Runner.HasWeights(spec)), nil
}

// Ensure returns the results of the run of n, training it first if it has
// no results (or, with n.Weights, no final checkpoint) yet. A gg-fit run
// needs the baseline's weights first.
func (p *Plan) Ensure(n Need) (*charlm.Results, error) {
	return p.ensure(n, true)
}

// ensure is Ensure; with wait false, a run that another process is training
// is left for later: the error wraps study.ErrRunBusy.
func (p *Plan) ensure(n Need, wait bool) (*charlm.Results, error) {
	spec, train, err := p.pending(n)
	if err != nil {
		return nil, err
	}
	if train && configs[n.Config].FitBaseline {
		if _, err := p.Ensure(Need{Config: baseline, Seed: p.Seeds[0], Weights: true}); err != nil {
			return nil, err
		}
	}
	run := p.Runner.Run
	if !wait {
		run = p.Runner.TryRun
	}
	results, _, err := run(spec, n.Weights)
	if errors.Is(err, study.ErrRunBusy) {
		return nil, err
	}
	p.progress.endRun(spec.Name(), err)
	if err != nil {
		if errors.Is(err, ErrInterrupted) {
			return nil, fmt.Errorf("%w while training %s: run again to resume", ErrInterrupted, spec.Name())
		}
		return nil, err
	}
	p.ensured[spec.Name()] = p.ensured[spec.Name()] || n.Weights
	return results, nil
}

// trainingSeconds estimates the training time of the finished runs of
// needs, whenever they were trained: each run's steps times its median step
// time (evaluations and start-up left out). It returns the estimate and the
// number of runs it counts; runs without results are left out.
func (p *Plan) trainingSeconds(needs []Need) (seconds float64, runs int) {
	seen := map[string]bool{}
	for _, n := range needs {
		spec, err := p.SpecSteps(n.Config, n.Seed, n.Steps)
		if err != nil || seen[spec.Name()] {
			continue
		}
		seen[spec.Name()] = true
		if r, err := p.Runner.Done(spec); err == nil && r != nil {
			seconds += float64(spec.Steps) * r.SecPerStepMedian
			runs++
		}
	}
	return seconds, runs
}

// EnsureAll ensures every run of needs and returns their results in the
// same order. It trains them in order, except that a run another process is
// training (a study side by side, sharing the runs' directory) is left for
// the end; then, while it is still busy, EnsureAll trains the runs the
// later stages need (those of Plan.ahead that no process is training)
// before it waits for it. Two processes given the same stages share their
// runs out between them and keep training while the other finishes a stage.
func (p *Plan) EnsureAll(needs []Need) ([]*charlm.Results, error) {
	out := make([]*charlm.Results, len(needs))
	var later []int
	for i, n := range needs {
		r, err := p.ensure(n, false)
		if errors.Is(err, study.ErrRunBusy) {
			later = append(later, i)
			continue
		}
		if err != nil {
			return nil, err
		}
		out[i] = r
	}
	for _, i := range later {
		r, err := p.ensure(needs[i], false)
		for errors.Is(err, study.ErrRunBusy) {
			var trained bool
			if trained, err = p.trainAhead(); err != nil {
				return nil, err
			}
			if trained {
				r, err = p.ensure(needs[i], false)
			} else {
				r, err = p.Ensure(needs[i])
			}
		}
		if err != nil {
			return nil, err
		}
		out[i] = r
	}
	return out, nil
}

// trainAhead trains the first run of Plan.ahead that still has to be
// trained and that no other process is training. It reports whether it
// trained one.
func (p *Plan) trainAhead() (bool, error) {
	for _, n := range p.ahead {
		_, train, err := p.pending(n)
		if err != nil {
			return false, err
		}
		if !train {
			continue
		}
		if _, err := p.ensure(n, false); errors.Is(err, study.ErrRunBusy) {
			continue
		} else if err != nil {
			return false, err
		}
		return true, nil
	}
	return false, nil
}

// prepare is the Runner's hook on every experiment: it shows the run's
// progress and stops it when the Plan's context ends.
func (p *Plan) prepare(spec study.RunSpec, exp *charlm.Experiment) {
	p.progress.startRun(spec.Name(), exp)
	exp.OnStep = append(exp.OnStep, func(_ *charlm.Experiment, info charlm.StepInfo) error {
		if p.ctx.Err() != nil {
			return ErrInterrupted
		}
		p.progress.step(info)
		return nil
	})
}

// Seeded returns the needs of configs at every seed, seeds in the outer
// loop (so a partial study has every configuration at the first seed), with
// the weights of the first seed's runs in weights.
func (p *Plan) Seeded(configs []string, weights ...string) []Need {
	var needs []Need
	for _, seed := range p.Seeds {
		for _, c := range configs {
			needs = append(needs, Need{Config: c, Seed: seed, Weights: seed == p.Seeds[0] && slices.Contains(weights, c)})
		}
	}
	return needs
}

// Aggregate summarizes the runs of configs (the first one the baseline) at
// the profile's length and seeds (see study.Aggregate).
func (p *Plan) Aggregate(configs []string) (*study.Summary, error) {
	ld, err := study.LoadDir(p.Runner.Dir)
	if err != nil {
		return nil, err
	}
	return study.Aggregate(p.Runner.Dir, ld, study.AggregateOptions{Steps: p.Profile.Steps, Expected: configs,
		Seeds: p.Seeds, OnlyExpected: true, Baseline: configs[0]})
}

// Commands returns the charlm command that re-runs each configuration's
// first seed, writing its results (and checkpoints, for runs that keep them)
// where this command does.
func (p *Plan) Commands(configs []string) []Command {
	needs := make([]Need, len(configs))
	for i, c := range configs {
		needs[i] = Need{Config: c, Seed: p.Seeds[0]}
	}
	return p.commandsSteps(needs)
}

// commandsSteps returns the charlm command that re-runs each need (at its
// own length), as Commands does.
func (p *Plan) commandsSteps(needs []Need) []Command {
	var out []Command
	for _, n := range needs {
		spec, err := p.SpecSteps(n.Config, n.Seed, n.Steps)
		if err != nil {
			continue
		}
		out = append(out, Command{Row: n.Config, Command: spec.Command(p.Runner.ResultsPath(spec), p.Runner.CheckpointPath(spec))})
	}
	return out
}

// figure returns the path of a figure file and its name relative to Out.
func (p *Plan) figure(name string) (path, rel string, err error) {
	rel = filepath.Join(figuresDir, name)
	path = filepath.Join(p.Out, rel)
	return path, filepath.ToSlash(rel), os.MkdirAll(filepath.Dir(path), 0o755)
}
