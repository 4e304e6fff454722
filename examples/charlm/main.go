// Command charlm runs the project's reference experiment: a small byte-level GPT
// trained on Newton's Opticks (shipped with Go), as the benchmark specification fixes it.
//
//	go run ./examples/charlm -steps 300 -results r.json
//
// It prints the backend it uses, a progress bar with the loss and step time, the
// validation loss at the -eval-at steps, and writes the run's results as JSON
// with -results. With -checkpoint DIR it saves at every evaluation step and at
// the end, and resumes from DIR's latest checkpoint bit for bit.
package main

import (
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/ggprior/ggprior/backends"
	"github.com/ggprior/ggprior/examples/charlm/charlm"
	"github.com/pkg/errors"
)

var (
	flagSteps      = flag.Int("steps", charlm.FullRunSteps, "number of training steps (the full run is 2000; it also sets the learning-rate schedule)")
	flagSeed       = flag.Int64("seed", 1, "seed of the initialization and of the training batches")
	flagBatch      = flag.Int("batch", 12, "training batch size (windows of block+1 bytes)")
	flagArch       = flag.String("arch", charlm.ArchGPT, "architecture: gpt (the reference) or llama")
	flagInit       = flag.String("init", charlm.InitNameNormal02, "initialization: "+strings.Join(charlm.InitNames, ", "))
	flagBeta       = flag.String("beta", "", `GG shape for -init=gg: one value for all layer kinds ("1.4"), per kind ("attn_qkv=1.3,mlp_in=1.6"), or both ("1.4,head=2"); kinds: `+strings.Join(charlm.Kinds, ", "))
	flagEvalAt     = flag.String("eval-at", "250,500,1000,2000", "comma-separated steps after which to measure the validation loss (and checkpoint); the last step is always included")
	flagCheckpoint = flag.String("checkpoint", "", "checkpoint directory: saved at every evaluation step and at the end; if it holds a checkpoint, the run resumes from it")
	flagResults    = flag.String("results", "", "write the results as JSON to this file")
	flagSet        = flag.String("set", "", `hyperparameters, "key=value;key=value" (e.g. "learning_rate=2e-3;clip_grad_norm=0"); unknown keys list the known ones`)
	flagData       = flag.String("data", "", "text file to train on (default: $GOROOT/"+charlm.DefaultCorpusName+")")
	flagTarget     = flag.Float64("target-loss", 0, "report steps_to_target: the first evaluation step with validation loss <= this value (e.g. the baseline's final loss)")
	flagLogEvery   = flag.Int("log-every", 10, "record the training loss every this many steps")
	flagWatchdog   = flag.Duration("watchdog", defaultWatchdog, "abort if no training step completes for this long (0 disables)")
	flagQuiet      = flag.Bool("quiet", false, "no progress bar")
)

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "charlm: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	if flag.NArg() > 0 {
		return errors.Errorf("unexpected arguments %q (flags only; see -help)", flag.Args())
	}
	evalAt, err := parseSteps(*flagEvalAt)
	if err != nil {
		return err
	}
	backend, err := backends.New(os.Stderr)
	if err != nil {
		return err
	}

	cfg := charlm.DefaultConfig()
	cfg.Arch = *flagArch
	tc := charlm.DefaultTrainConfig()
	tc.Steps, tc.Seed, tc.Batch = *flagSteps, *flagSeed, *flagBatch
	tc.Init, tc.Beta, tc.EvalAt = *flagInit, *flagBeta, evalAt
	tc.Checkpoint, tc.Data, tc.TargetLoss, tc.LogEvery = *flagCheckpoint, *flagData, *flagTarget, *flagLogEvery

	exp, err := charlm.NewExperiment(backend, cfg, tc)
	if err != nil {
		return err
	}
	if _, err := charlm.ParseSettings(exp.Store, *flagSet); err != nil {
		return err
	}
	printHeader(exp)
	if !*flagQuiet {
		exp.Progress = os.Stderr
	}
	if *flagWatchdog > 0 {
		stop := startWatchdog(exp, *flagWatchdog)
		defer stop()
	}

	results, err := exp.Run()
	if err != nil {
		return err
	}
	printSummary(results)
	if *flagResults != "" {
		if err := results.WriteJSON(*flagResults); err != nil {
			return err
		}
		fmt.Printf("results written to %s\n", *flagResults)
	}
	return nil
}

// parseSteps parses a comma-separated list of positive step numbers.
func parseSteps(list string) ([]int, error) {
	var steps []int
	for part := range strings.SplitSeq(list, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		n, err := strconv.Atoi(part)
		if err != nil || n <= 0 {
			return nil, errors.Errorf("-eval-at %q: %q is not a positive step number", list, part)
		}
		steps = append(steps, n)
	}
	return steps, nil
}

// printHeader prints the run's configuration.
func printHeader(exp *charlm.Experiment) {
	tc := exp.Train
	fmt.Printf("model: %s\n", exp.Config)
	init := tc.Init
	if tc.Beta != "" {
		init += " beta=" + tc.Beta
	}
	fmt.Printf("run: steps=%d batch=%d seed=%d init=%s eval at %v\n", tc.Steps, tc.Batch, tc.Seed, init, tc.EvalSteps())
	if tc.Steps < charlm.FullRunSteps {
		fmt.Printf("note: quick profile, %d steps (the full run is %d)\n", tc.Steps, charlm.FullRunSteps)
	}
	c := exp.Corpus
	fmt.Printf("data: %s (%d bytes: %d train, %d validation in %d windows)\n",
		c.Path, c.Size, len(c.Train), len(c.Val), c.NumValWindows(exp.Config.Block))
	fmt.Printf("hyperparameters: %s\n", strings.Join(charlm.SettableParams(exp.Store), " "))
	if exp.ResumedFrom != "" {
		fmt.Printf("resuming from %s at step %d\n", exp.ResumedFrom, exp.GlobalStep())
	}
}

// printSummary prints the validation losses and timings of the results.
func printSummary(r *charlm.Results) {
	steps := make([]int, 0, len(r.ValLoss))
	for s := range r.ValLoss {
		n, _ := strconv.Atoi(s)
		steps = append(steps, n)
	}
	sort.Ints(steps)
	for _, s := range steps {
		fmt.Printf("val_loss@%d = %.4f\n", s, r.ValLoss[strconv.Itoa(s)])
	}
	fmt.Printf("params=%d  median step %.1f ms  peak RSS %.0f MiB\n", r.Params, 1000*r.SecPerStepMedian, float64(r.PeakRSSBytes)/(1<<20))
	if r.Config.Train.TargetLoss > 0 {
		if r.StepsToTarget != nil {
			fmt.Printf("steps_to_target(%.4f) = %d\n", r.Config.Train.TargetLoss, *r.StepsToTarget)
		} else {
			fmt.Printf("steps_to_target(%.4f): not reached\n", r.Config.Train.TargetLoss)
		}
	}
}
