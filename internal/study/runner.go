package study

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/ggprior/ggprior/backends"
	"github.com/ggprior/ggprior/internal/charlm"
	"github.com/ggprior/ggprior/internal/fitbetas"
	"github.com/gomlx/compute"
)

// RunSpec is one run of a study: a configuration name and the charlm command
// line that trains it (with its -seed and -steps), so that the run can be
// repeated by hand with `go run ./examples/charlm ARGS...`. Make it with
// NewRunSpec.
type RunSpec struct {
	// Config names the configuration, e.g. "gg-beta1.4".
	Config string
	// Args are the run's charlm arguments (see charlm.ParseFlags), without
	// -results and -checkpoint, which the Runner sets.
	Args []string
	// Checkpoint keeps the run's latest checkpoint (in Runner.CheckpointDir,
	// a directory named after the run) once it finishes: for runs whose
	// weights are needed later. (Every run resumes when interrupted, see
	// Runner.)
	Checkpoint bool
	// Seed and Steps are the run's, from Args.
	Seed  int64
	Steps int

	flags *charlm.Flags
}

// NewRunSpec returns the run of configuration config with charlm arguments
// args; it fails for arguments charlm does not accept, and for -results or
// -checkpoint, which the Runner sets.
func NewRunSpec(config string, args []string, checkpoint bool) (RunSpec, error) {
	if config == "" || strings.ContainsAny(config, `/\ `) {
		return RunSpec{}, fmt.Errorf("run configuration name %q: want a non-empty name without spaces or slashes", config)
	}
	f, err := charlm.ParseFlags(args)
	if err != nil {
		return RunSpec{}, fmt.Errorf("run %s: %w", config, err)
	}
	for _, name := range []string{"results", "checkpoint"} {
		if f.Changed(name) {
			return RunSpec{}, fmt.Errorf("run %s: -%s is set by the runner, not by the run's arguments", config, name)
		}
	}
	if _, _, _, err := f.RunConfig(charlm.DefaultConfig()); err != nil {
		return RunSpec{}, fmt.Errorf("run %s: %w", config, err)
	}
	return RunSpec{Config: config, Args: slices.Clone(args), Checkpoint: checkpoint, Seed: f.Seed, Steps: f.Steps, flags: f}, nil
}

// Name returns the run's name, "<config>-seed<S>-steps<N>" (see RunName).
func (s RunSpec) Name() string { return RunName(s.Config, s.Seed, s.Steps) }

// Flags returns the run's parsed charlm flags.
func (s RunSpec) Flags() *charlm.Flags { return s.flags }

// Command returns the charlm command line that trains the run on its own,
// writing its results to results (if not empty) and its checkpoints to
// checkpoint (if not empty), e.g. "GOEXPERIMENT=simd go run ./examples/charlm
// -init gg -beta 1.4 -seed 2 -steps 2000 ...", with arguments quoted for a
// POSIX shell where needed.
func (s RunSpec) Command(results, checkpoint string) string {
	parts := []string{"GOEXPERIMENT=simd", "go", "run", "./examples/charlm"}
	for _, a := range s.Args {
		parts = append(parts, shellQuote(a))
	}
	if checkpoint != "" {
		parts = append(parts, "-checkpoint", shellQuote(checkpoint))
	}
	if results != "" {
		parts = append(parts, "-results", shellQuote(results))
	}
	return strings.Join(parts, " ")
}

// shellQuote quotes s for a POSIX shell if it holds anything but letters,
// digits and -_.,:=/+@%.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.,:=/+@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Runner trains the runs of a study in-process, one at a time, and writes
// each run's results JSON into Dir (charlm.Results.WriteJSON: a results file
// is always complete). Runs whose results exist are
// not trained again. Processes may share Dir and CheckpointDir (e.g. two
// studies of different seeds side by side on a machine with cores to
// spare): a lock per run makes a process wait for a run that another one is
// training, and then reuse its results.
//
// With a CheckpointDir, every run checkpoints while it trains (at each of its
// evaluation steps), so that a run interrupted anywhere resumes from its last
// evaluation step; once its results are written, a run with
// RunSpec.Checkpoint keeps its latest checkpoint and any other run's
// checkpoint directory is removed.
type Runner struct {
	// Dir receives the results files, "<run name>.json".
	Dir string
	// CheckpointDir holds a checkpoint directory per run, named after the
	// run: kept for runs with RunSpec.Checkpoint, removed for the others
	// once they finish. Empty: only runs with RunSpec.Checkpoint checkpoint,
	// into directories named after them in the current directory.
	CheckpointDir string
	// Backend runs the graphs; nil means backends.Go().
	Backend compute.Backend
	// Model returns the architecture before -arch applies; nil means
	// charlm.DefaultConfig (tests use smaller ones).
	Model func() charlm.Config
	// Progress receives charlm's progress bar and evaluation lines; nil for silence.
	Progress io.Writer
	// Prepare, if not nil, is called with every experiment before it trains,
	// e.g. to add OnStep hooks.
	Prepare func(spec RunSpec, exp *charlm.Experiment)
}

// ResultsPath returns the path of the run's results file.
func (r *Runner) ResultsPath(spec RunSpec) string {
	return filepath.Join(r.Dir, spec.Name()+".json")
}

// CheckpointPath returns the run's checkpoint directory, "" for runs
// without checkpoints.
func (r *Runner) CheckpointPath(spec RunSpec) string {
	if !spec.Checkpoint {
		return ""
	}
	return filepath.Join(r.CheckpointDir, spec.Name())
}

// trainingCheckpointPath returns the directory the run checkpoints into
// while it trains: CheckpointPath for runs with checkpoints, and with a
// CheckpointDir the same place for the others too (removed when they
// finish); "" if the run does not checkpoint.
func (r *Runner) trainingCheckpointPath(spec RunSpec) string {
	if !spec.Checkpoint && r.CheckpointDir == "" {
		return ""
	}
	return filepath.Join(r.CheckpointDir, spec.Name())
}

// model returns the run's architecture before -arch.
func (r *Runner) model() charlm.Config {
	if r.Model == nil {
		return charlm.DefaultConfig()
	}
	return r.Model()
}

// Done returns the results of the run if its results file exists, nil
// otherwise. A results file of another run (other arguments: see
// RunSpec.Check) is an error.
func (r *Runner) Done(spec RunSpec) (*charlm.Results, error) {
	path := r.ResultsPath(spec)
	if _, err := os.Stat(path); os.IsNotExist(err) {
		return nil, nil
	}
	results, err := ReadResults(path)
	if err != nil {
		return nil, fmt.Errorf("run %s: %s: %w", spec.Name(), path, err)
	}
	if err := spec.Check(results, r.model()); err != nil {
		return nil, fmt.Errorf("run %s: %s holds the results of another run (%w): remove it, or use another directory", spec.Name(), path, err)
	}
	return results, nil
}

// HasWeights reports whether the run's checkpoint directory holds a
// checkpoint of its last step (always false for a run without checkpoints).
func (r *Runner) HasWeights(spec RunSpec) bool {
	ckpt := r.CheckpointPath(spec)
	if ckpt == "" {
		return false
	}
	step, err := latestCheckpointStep(ckpt)
	return err == nil && step == spec.Steps
}

// checkpointStep matches the global step at the end of a checkpoint's name
// (charlm.SaveCheckpoint names them "checkpoint-nN-DATE-TIME-step-S").
var checkpointStep = regexp.MustCompile(`-step-(\d+)$`)

// latestCheckpointStep returns the global step of the latest checkpoint in dir.
func latestCheckpointStep(dir string) (int, error) {
	base, err := charlm.LatestCheckpoint(dir)
	if err != nil {
		return 0, err
	}
	m := checkpointStep.FindStringSubmatch(base)
	if m == nil {
		return 0, fmt.Errorf("checkpoint %s in %s: no step in its name", base, dir)
	}
	return strconv.Atoi(m[1])
}

// Run returns the run's results: those of an earlier run (see Done), or
// those of training it now (see Train). With weights, the run must also
// have its final checkpoint (see HasWeights; the spec must have
// Checkpoint), and is trained (resuming from its checkpoint, if any) when it
// has not. trained reports whether it was trained now.
func (r *Runner) Run(spec RunSpec, weights bool) (results *charlm.Results, trained bool, err error) {
	return r.run(spec, weights, true)
}

// ErrRunBusy is returned by TryRun for a run that another process is training.
var ErrRunBusy = errors.New("another process is training this run")

// TryRun is Run, except that it returns an error wrapping ErrRunBusy at once
// (no results, nothing trained) if another process is training the run:
// the caller can go on with other runs and come back to it (with Run).
func (r *Runner) TryRun(spec RunSpec, weights bool) (results *charlm.Results, trained bool, err error) {
	return r.run(spec, weights, false)
}

// run is Run (wait true) or TryRun.
func (r *Runner) run(spec RunSpec, weights, wait bool) (results *charlm.Results, trained bool, err error) {
	if weights && !spec.Checkpoint {
		return nil, false, fmt.Errorf("run %s: its weights are needed, but it keeps no checkpoint", spec.Name())
	}
	if results, err = r.Done(spec); err != nil {
		return nil, false, err
	}
	if results != nil && (!weights || r.HasWeights(spec)) {
		return results, false, nil
	}
	lock, err := r.lock(spec, wait)
	if err != nil {
		return nil, false, err
	}
	defer lock.unlock()
	// Another process may have trained it while this one waited for the lock.
	if results, err = r.Done(spec); err != nil {
		return nil, false, err
	}
	if results != nil && (!weights || r.HasWeights(spec)) {
		return results, false, nil
	}
	results, err = r.train(spec)
	return results, err == nil, err
}

// lock takes the run's lock, a file ".<run name>.lock" in Dir, so that
// processes sharing Dir (two studies side by side) never train the same run
// at once: the second waits, then finds the first one's results. The lock
// is advisory (flock), released when the process ends however it ends; it
// guards nothing on systems without flock.
// With wait false, a lock held elsewhere is an error wrapping ErrRunBusy.
func (r *Runner) lock(spec RunSpec, wait bool) (*runLock, error) {
	if err := os.MkdirAll(r.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("run %s: %w", spec.Name(), err)
	}
	lock, err := lockRun(filepath.Join(r.Dir, "."+spec.Name()+".lock"), wait, func() {
		if r.Progress != nil {
			fmt.Fprintf(r.Progress, "run %s: another process is training it; waiting for it\n", spec.Name())
		}
	})
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", spec.Name(), err)
	}
	return lock, nil
}

// Train trains the run, resuming from its checkpoint directory if it holds
// one, and writes its results. A "fit:DIR" -beta is resolved to the shapes
// fitted to DIR's latest checkpoint (internal/fitbetas). With a
// checkpoint directory, only the latest checkpoint is kept at the end. It
// holds the run's lock (see Run) while it trains.
func (r *Runner) Train(spec RunSpec) (*charlm.Results, error) {
	lock, err := r.lock(spec, true)
	if err != nil {
		return nil, err
	}
	defer lock.unlock()
	return r.train(spec)
}

// train is Train without the lock.
func (r *Runner) train(spec RunSpec) (*charlm.Results, error) {
	cfg, tc, settings, err := spec.flags.RunConfig(r.model())
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", spec.Name(), err)
	}
	if tc.Beta, err = fitbetas.Resolve(tc.Beta); err != nil {
		return nil, fmt.Errorf("run %s: %w", spec.Name(), err)
	}
	tc.Checkpoint = r.trainingCheckpointPath(spec)
	backend := r.Backend
	if backend == nil {
		backend = backends.Go()
	}
	job, err := charlm.NewJob(backend, cfg, tc, nil, strings.Join(settings, ";"))
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", spec.Name(), err)
	}
	exp := job.Lead()
	exp.Progress = r.Progress
	if r.Prepare != nil {
		r.Prepare(spec, exp)
	}
	results, err := job.Run()
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", spec.Name(), err)
	}
	if err := os.MkdirAll(r.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("run %s: %w", spec.Name(), err)
	}
	if err := results.WriteJSON(r.ResultsPath(spec)); err != nil {
		return nil, fmt.Errorf("run %s: %w", spec.Name(), err)
	}
	switch {
	case spec.Checkpoint:
		err = keepLatestCheckpoint(tc.Checkpoint)
	case tc.Checkpoint != "":
		err = os.RemoveAll(tc.Checkpoint)
	}
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", spec.Name(), err)
	}
	return results, nil
}

// keepLatestCheckpoint removes every checkpoint of dir but the latest.
func keepLatestCheckpoint(dir string) error {
	names, err := charlm.ListCheckpoints(dir)
	if err != nil || len(names) < 2 {
		return err
	}
	for _, name := range names[:len(names)-1] {
		matches, err := filepath.Glob(filepath.Join(dir, name+".*"))
		if err != nil {
			return err
		}
		for _, m := range matches {
			if err := os.Remove(m); err != nil {
				return fmt.Errorf("pruning old checkpoints: %w", err)
			}
		}
	}
	return nil
}

// Remove deletes the run's results file and checkpoint directory, so that
// the next Run trains it afresh.
func (r *Runner) Remove(spec RunSpec) error {
	for _, path := range []string{r.ResultsPath(spec), r.ResultsPath(spec) + ".tmp"} {
		if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("run %s: %w", spec.Name(), err)
		}
	}
	if ckpt := r.trainingCheckpointPath(spec); ckpt != "" {
		if err := os.RemoveAll(ckpt); err != nil {
			return fmt.Errorf("run %s: %w", spec.Name(), err)
		}
	}
	return nil
}

// Check returns an error saying how results differ from the run of spec on
// the given model (before -arch): architecture, length, seed, batch,
// initialization (for a "fit:DIR" -beta: any GG shapes), evaluation steps,
// validation windows, data, methods and their settings. Results of runs made
// by other means (e.g. the charlm command by hand) with the same arguments pass.
func (s RunSpec) Check(results *charlm.Results, model charlm.Config) error {
	cfg, tc, settings, err := s.flags.RunConfig(model)
	if err != nil {
		return err
	}
	got := results.Config.Train
	var diffs []string
	differ := func(what string, want, have any) {
		if fmt.Sprint(want) != fmt.Sprint(have) {
			diffs = append(diffs, fmt.Sprintf("%s %v, not %v", what, have, want))
		}
	}
	differ("model", cfg, results.Config.Model)
	differ("steps", tc.Steps, got.Steps)
	differ("seed", tc.Seed, got.Seed)
	differ("batch", tc.Batch, got.Batch)
	differ("init", tc.Init, got.Init)
	if strings.HasPrefix(strings.TrimSpace(tc.Beta), charlm.BetaFitPrefix) {
		if got.Beta == "" {
			diffs = append(diffs, "no fitted GG shapes")
		}
	} else {
		differ("beta", tc.Beta, got.Beta)
	}
	differ("evaluations at", tc.EvalSteps(), got.EvalSteps())
	differ("validation windows", tc.ValWindows, got.ValWindows)
	differ("data", tc.Data, got.Data)
	differ("compression", normCompress(tc.Compress), normCompress(got.Compress))
	differ("ACT sites", tc.ACTSites, got.ACTSites)
	differ("ACT per-site sparsity", tc.ACTSparsity, got.ACTSparsity)
	differ("ACT per-site ramp", tc.ACTRamp, got.ACTRamp)
	differ("workers", tc.NumWorkers(), got.NumWorkers())
	for _, setting := range strings.Split(strings.Join(settings, ";"), ";") {
		key, value, ok := strings.Cut(setting, "=")
		if key = strings.TrimSpace(key); !ok || key == "" {
			continue
		}
		have, found := results.Config.Hyperparameters[key]
		if legacy, ok := charlm.LegacyGCTDefaults[key]; !found && ok {
			// Recorded before the hyperparameter existed: it had its legacy value.
			have, found = legacy, true
		}
		if !found || !sameValue(strings.TrimSpace(value), have) {
			diffs = append(diffs, fmt.Sprintf("%s=%v, not %s", key, have, value))
		}
	}
	if len(diffs) > 0 {
		return fmt.Errorf("%s", strings.Join(diffs, "; "))
	}
	return nil
}

// normCompress returns the compression name with "" meaning "none".
func normCompress(c string) string {
	if c = strings.TrimSpace(c); c == "" {
		return charlm.CompressNone
	}
	return c
}

// sameValue reports whether a hyperparameter's setting (text) and its value
// in results (decoded JSON) are the same, numerically for numbers.
func sameValue(setting string, have any) bool {
	if fmt.Sprint(have) == setting {
		return true
	}
	a, errA := strconv.ParseFloat(setting, 64)
	b, errB := strconv.ParseFloat(fmt.Sprint(have), 64)
	return errA == nil && errB == nil && a == b
}
