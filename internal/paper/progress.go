package paper

import (
	"errors"
	"fmt"
	"github.com/ggprior/ggprior/internal/stats"
	"io"
	"slices"
	"time"

	"github.com/ggprior/ggprior/internal/charlm"
	pbar "github.com/ggprior/ggprior/internal/progress"
	"github.com/ggprior/ggprior/internal/study"
)

// runOverheadSeconds estimates the time of a run besides its steps and
// validations (reading the corpus, compiling the graphs).
const runOverheadSeconds = 5

// defaultValWindows is the number of validation windows of the default
// corpus for the benchmark's block of 64 bytes; the ETA scales the
// validation time of a profile with ValWindows by it.
const defaultValWindows = 886

// pendingRun is a run still to train, as the ETA sees it.
type pendingRun struct {
	stage, name, arch string
	steps, evals      int
}

// progress shows the stages' progress with the stage's ETA and the overall
// ETA: the remaining steps times the measured median step time of their
// architecture, plus the remaining validations times their measured time
// (profile estimates until measured), plus the stages' own work.
//
// Its lines mark the stage events: a stage's start and end, a run's start,
// each of its evaluations and its end, each with the ETAs. Between them, a
// terminal shows one bar per stage (pbar.Bar), and a log (an output that is
// not a terminal) a line only after pbar.DefaultHeartbeat of silence.
type progress struct {
	w       io.Writer
	quiet   bool
	profile *Profile

	pending []pendingRun
	// extra is the estimated time of each stage's own work (fits, captures, MNIST), in seconds.
	extra map[string]float64

	stepTimes map[string][]float64 // Seconds per step, by architecture.
	runTimes  []float64            // Seconds per step of the current run.
	valTimes  map[string][]float64 // Seconds per validation, by architecture.

	stage, stageTitle string
	stageIndex        int
	stages            int
	bar               *pbar.Bar // The stage's bar; nil for a stage without runs to train or when quiet.

	run        *pendingRun
	runStep    int
	runLoss    float64
	lastStepAt time.Time
	evalSteps  []int
	evalAt     time.Time // When the step before a pending validation ended (zero: none pending).
}

// newProgress returns a progress display writing to w.
func newProgress(w io.Writer, quiet bool, profile *Profile) *progress {
	return &progress{w: w, quiet: quiet, profile: profile, extra: map[string]float64{},
		stepTimes: map[string][]float64{}, valTimes: map[string][]float64{}}
}

// plan adds a run to train to the ETA (once per name).
func (p *progress) plan(r pendingRun) {
	if !slices.ContainsFunc(p.pending, func(q pendingRun) bool { return q.name == r.name }) {
		p.pending = append(p.pending, r)
	}
}

// secPerStep returns the step time estimate of an architecture.
func (p *progress) secPerStep(arch string) float64 {
	if ts := p.stepTimes[arch]; len(ts) > 0 {
		return stats.Median(ts)
	}
	if s, ok := p.profile.SecPerStep[arch]; ok {
		return s
	}
	return 0.3
}

// valSeconds returns the validation time estimate of an architecture.
func (p *progress) valSeconds(arch string) float64 {
	if ts := p.valTimes[arch]; len(ts) > 0 {
		return stats.Median(ts)
	}
	s, ok := p.profile.ValSeconds[arch]
	if !ok {
		s = 20
	}
	if w := p.profile.ValWindows; w > 0 && w < defaultValWindows {
		s *= float64(w) / defaultValWindows
	}
	return s
}

// runSeconds estimates the time left of a pending run: all of it, or the
// rest of the current run.
func (p *progress) runSeconds(r pendingRun) float64 {
	steps, evals, overhead := r.steps, r.evals, float64(runOverheadSeconds)
	if p.run != nil && p.run.name == r.name {
		steps -= p.runStep
		evals = 0
		for _, s := range p.evalSteps {
			if s > p.runStep {
				evals++
			}
		}
		if !p.evalAt.IsZero() {
			evals++
		}
		overhead = 0
	}
	perStep := p.secPerStep(r.arch)
	if p.run != nil && p.run.name == r.name && len(p.runTimes) >= minRunSteps {
		perStep = stats.Median(p.runTimes) // Methods differ in cost: the run's own, once measured.
	}
	return float64(max(steps, 0))*perStep + float64(evals)*p.valSeconds(r.arch) + overhead
}

// minRunSteps is the number of steps of a run after which its own median
// step time replaces its architecture's in the ETA.
const minRunSteps = 3

// eta returns the estimated seconds left of the stage (all stages for "").
func (p *progress) eta(stage string) float64 {
	var s float64
	for _, r := range p.pending {
		if stage == "" || r.stage == stage {
			s += p.runSeconds(r)
		}
	}
	for name, e := range p.extra {
		if stage == "" || name == stage {
			s += e
		}
	}
	return s
}

// startStage begins the display of a stage.
func (p *progress) startStage(name, title string, index, count int) {
	p.stage, p.stageTitle, p.stageIndex, p.stages = name, title, index, count
	if p.quiet {
		return
	}
	steps := 0
	for _, r := range p.pending {
		if r.stage == name {
			steps += r.steps
		}
	}
	fmt.Fprintf(p.w, "== stage %d/%d: %s (%s): %s to train, ETA %s (overall %s)\n", index, count, name, title,
		study.Plural(p.runsOf(name), "run"), formatSeconds(p.eta(name)), formatSeconds(p.eta("")))
	if steps > 0 {
		p.bar = pbar.New(p.w, steps, name).Heartbeat(pbar.DefaultHeartbeat)
	}
}

// runsOf returns the number of pending runs of a stage.
func (p *progress) runsOf(stage string) int {
	n := 0
	for _, r := range p.pending {
		if r.stage == stage {
			n++
		}
	}
	return n
}

// endStage closes the stage's bar and drops its remaining estimates.
func (p *progress) endStage(name string, elapsed time.Duration, err error) {
	delete(p.extra, name)
	if p.bar != nil {
		p.bar.Finish()
		p.bar = nil
	}
	if p.quiet {
		return
	}
	status := "done"
	switch {
	case errors.Is(err, ErrInterrupted):
		status = "interrupted"
	case err != nil:
		status = "failed"
	}
	fmt.Fprintf(p.w, "== stage %s %s in %s\n", name, status, formatSeconds(elapsed.Seconds()))
}

// startRun begins the display of a run's training.
func (p *progress) startRun(name string, spec *charlm.Experiment) {
	i := slices.IndexFunc(p.pending, func(r pendingRun) bool { return r.name == name })
	if i < 0 { // Not planned (e.g. weights found missing during the stage).
		p.pending = append(p.pending, pendingRun{stage: p.stage, name: name, arch: spec.Config.Arch,
			steps: spec.Train.Steps, evals: len(spec.Train.EvalSteps())})
		i = len(p.pending) - 1
	}
	r := p.pending[i]
	p.run, p.runStep, p.lastStepAt, p.evalAt, p.runTimes = &r, spec.GlobalStep(), time.Now(), time.Time{}, nil
	p.evalSteps = spec.Train.EvalSteps()
	p.println(fmt.Sprintf("training %s (from step %d)", name, p.runStep))
}

// step records a finished training step of the current run.
func (p *progress) step(info charlm.StepInfo) {
	now := time.Now()
	if p.run == nil {
		return
	}
	if !p.evalAt.IsZero() { // The time since the last step, but this step's, was a validation.
		p.valTimes[p.run.arch] = append(p.valTimes[p.run.arch], max(0, now.Sub(p.evalAt).Seconds()-info.Duration.Seconds()))
		p.evalAt = time.Time{}
	}
	p.stepTimes[p.run.arch] = append(p.stepTimes[p.run.arch], info.Duration.Seconds())
	p.runTimes = append(p.runTimes, info.Duration.Seconds())
	p.runStep, p.runLoss, p.lastStepAt = info.Step, info.MainLoss, now
	if slices.Contains(p.evalSteps, info.Step) {
		p.evalAt = now
	}
	if p.bar != nil {
		p.bar.Add(1, func() string {
			return fmt.Sprintf("%s: %s step %d loss %.3f, ETA stage %s, overall %s", p.stage, p.run.name, info.Step,
				info.MainLoss, formatSeconds(p.eta(p.stage)), formatSeconds(p.eta("")))
		})
	}
	if !p.evalAt.IsZero() {
		p.println(fmt.Sprintf("%s step %d/%d loss %.4f, evaluating", p.run.name, info.Step, p.run.steps, info.MainLoss))
	}
}

// endRun records the end of the current run and drops it from the ETA.
func (p *progress) endRun(name string, err error) {
	if p.run == nil || p.run.name != name {
		return // Not trained now.
	}
	if !p.evalAt.IsZero() && err == nil {
		p.valTimes[p.run.arch] = append(p.valTimes[p.run.arch], time.Since(p.evalAt).Seconds())
	}
	p.run, p.evalAt = nil, time.Time{}
	p.pending = slices.DeleteFunc(p.pending, func(r pendingRun) bool { return r.name == name })
	if err == nil {
		p.println(fmt.Sprintf("trained %s", name))
	}
}

// println prints a progress line with the stage's and overall ETA.
func (p *progress) println(line string) {
	if p.quiet {
		return
	}
	line = fmt.Sprintf("[%d/%d %s] %s — ETA stage %s, overall %s", p.stageIndex, p.stages, p.stage, line,
		formatSeconds(p.eta(p.stage)), formatSeconds(p.eta("")))
	if p.bar != nil {
		p.bar.Println(line)
		return
	}
	fmt.Fprintln(p.w, line)
}

// formatSeconds formats a duration in seconds as "1h02m", "3m05s" or "12s".
func formatSeconds(s float64) string {
	d := time.Duration(s * float64(time.Second)).Round(time.Second)
	switch {
	case d >= time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	case d >= time.Minute:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%ds", int(d.Seconds()))
}
