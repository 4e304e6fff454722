// Command charlm runs the project's reference experiment: a small byte-level GPT
// trained on Newton's Opticks (shipped with Go), as the benchmark specification fixes it.
//
//	go run ./examples/charlm -steps 300 -results r.json
//
// It prints the backend it uses, a progress bar with the loss and step time, the
// validation loss at the -eval-at steps, and writes the run's results as JSON
// with -results. With -checkpoint DIR it saves at every evaluation step and at
// the end, and resumes from DIR's latest checkpoint bit for bit.
//
// The methods under study plug in with flags:
//
//	-compress gct -gct-bits 2        GCT: AdamW updated with gradients coded at ~2 bits per element
//	-compress topk:0.01              a baseline compressor in GCT's place (bf16, int8, sign, powersgd:R, ...)
//	-act -act-sparsity 0.9           ACT on every block's attention and MLP inputs and MLP hidden activations
//	-act -act-sites mlp_hidden -act-sparsity 0.95
//	-workers 2 -compress gct         2 in-process data-parallel workers exchanging GCT-coded gradients
//
// Their hyperparameters are also settable with -set (gct_bits, gct_lambda,
// gct_error_feedback, gct_warmup_steps; act_sparsity, act_lambda,
// act_schedule, act_start, act_end, act_threshold, act_straight_through), and
// their measurements are in the results (grad_bits_per_element, ...,
// act_sparsity, ..., bytes_sent_per_worker_per_step, ...).
package main

import (
	"flag"
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/ggprior/ggprior/backends"
	"github.com/ggprior/ggprior/examples/charlm/charlm"
	"github.com/ggprior/ggprior/examples/ggstats/fitbetas"
	"github.com/ggprior/ggprior/layers"
	"github.com/ggprior/ggprior/optimizers"
	"github.com/pkg/errors"
)

var (
	flagSteps      = flag.Int("steps", charlm.FullRunSteps, "number of training steps (the full run is 2000; it also sets the learning-rate schedule)")
	flagSeed       = flag.Int64("seed", 1, "seed of the initialization and of the training batches")
	flagBatch      = flag.Int("batch", 12, "training batch size (windows of block+1 bytes)")
	flagArch       = flag.String("arch", charlm.ArchGPT, "architecture: gpt (the reference) or llama")
	flagInit       = flag.String("init", charlm.InitNameNormal02, "initialization: "+strings.Join(charlm.InitNames, ", "))
	flagBeta       = flag.String("beta", "", `GG shape for -init=gg: one value for all layer kinds ("1.4"), per kind ("attn_qkv=1.3,mlp_in=1.6"), both ("1.4,head=2"), or fitted per kind to a trained checkpoint ("fit:DIR"); kinds: `+strings.Join(charlm.Kinds, ", "))
	flagEvalAt     = flag.String("eval-at", "250,500,1000,2000", "comma-separated steps after which to measure the validation loss (and checkpoint); the last step is always included")
	flagCheckpoint = flag.String("checkpoint", "", "checkpoint directory: saved at every evaluation step and at the end; if it holds a checkpoint, the run resumes from it")
	flagResults    = flag.String("results", "", "write the results as JSON to this file")
	flagSet        = flag.String("set", "", `hyperparameters, "key=value;key=value" (e.g. "learning_rate=2e-3;clip_grad_norm=0"); unknown keys list the known ones`)
	flagData       = flag.String("data", "", "text file to train on (default: $GOROOT/"+charlm.DefaultCorpusName+")")
	flagTarget     = flag.Float64("target-loss", 0, "report steps_to_target: the first evaluation step with validation loss <= this value (e.g. the baseline's final loss)")
	flagLogEvery   = flag.Int("log-every", 10, "record the training loss every this many steps")
	flagWatchdog   = flag.Duration("watchdog", defaultWatchdog, "abort if no training step completes for this long (0 disables)")
	flagQuiet      = flag.Bool("quiet", false, "no progress bar")

	flagCompress  = flag.String("compress", charlm.CompressNone, "gradient compression: none (plain AdamW), gct (GCT's GG quantizer at -gct-bits), gct:B, or GCT's wrapper with a baseline compressor: fp32, bf16, int8, sign, topk:F (fraction kept), powersgd:R (rank)")
	flagGCTBits   = flag.Float64("gct-bits", optimizers.DefaultBits, "GCT's target coded bits per gradient element (with -compress gct; hyperparameter "+optimizers.ParamBits+")")
	flagGCTLambda = flag.Float64("gct-lambda", 0, "weight of GCT's rate constraint lambda*||g||_1, 0 for none (with -compress; hyperparameter "+optimizers.ParamLambda+")")
	flagGCTWarmup = flag.Int("gct-warmup", 0, "number of first steps whose gradients GCT sends uncompressed (with -compress; hyperparameter "+optimizers.ParamWarmupSteps+")")

	flagACT          = flag.Bool("act", false, "constrain activations with ACT (layers.ACT) at the -act-sites")
	flagACTSites     = flag.String("act-sites", "all", "ACT sites, comma-separated: "+strings.Join(charlm.ActivationSites, ", ")+", or all")
	flagACTSparsity  = flag.String("act-sparsity", "", fmt.Sprintf(`ACT's final target sparsity: one value ("0.9"), per site ("mlp_hidden=0.95,attn_in=0.5"), or both ("0.5,mlp_hidden=0.95"); default %g (hyperparameter %s)`, layers.DefaultSparsity, layers.ParamSparsity))
	flagACTLambda    = flag.Float64("act-lambda", layers.DefaultLambda, "final weight of ACT's rate term (hyperparameter "+layers.ParamLambda+")")
	flagACTSchedule  = flag.String("act-schedule", "cosine", "ramp of ACT's constraint: linear, cosine or staged (hyperparameter "+layers.ParamSchedule+")")
	flagACTStart     = flag.Int("act-start", -1, fmt.Sprintf("step at which ACT's ramp starts; -1: %g of -steps (hyperparameter %s)", charlm.DefaultACTStartFraction, layers.ParamStart))
	flagACTEnd       = flag.Int("act-end", -1, fmt.Sprintf("step at which ACT's ramp reaches the target; -1: %g of -steps (hyperparameter %s)", charlm.DefaultACTEndFraction, layers.ParamEnd))
	flagACTThreshold = flag.String("act-threshold", "batch", "where ACT's threshold comes from: batch (the batch quantile) or gg (the fitted GG's quantile) (hyperparameter "+layers.ParamThreshold+")")

	flagWorkers = flag.Int("workers", 1, "number of in-process data-parallel workers; with W >= 2 each takes batch/W windows of every batch and they exchange (-compress) gradients")
)

// newModelConfig returns the model's architecture before -arch applies; tests replace it.
var newModelConfig = charlm.DefaultConfig

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
	cfg := newModelConfig()
	cfg.Arch = *flagArch
	tc := charlm.DefaultTrainConfig()
	tc.Steps, tc.Seed, tc.Batch = *flagSteps, *flagSeed, *flagBatch
	// "fit:DIR": beta per layer kind, fitted (MLE, median over layers) to a trained checkpoint.
	beta, err := fitbetas.Resolve(*flagBeta)
	if err != nil {
		return err
	}
	if beta != *flagBeta {
		fmt.Printf("beta fitted from %s: %s\n", strings.TrimPrefix(strings.TrimSpace(*flagBeta), charlm.BetaFitPrefix), beta)
	}
	tc.Init, tc.Beta, tc.EvalAt = *flagInit, beta, evalAt
	tc.Checkpoint, tc.Data, tc.TargetLoss, tc.LogEvery = *flagCheckpoint, *flagData, *flagTarget, *flagLogEvery
	tc.Compress, tc.Workers = strings.TrimSpace(*flagCompress), *flagWorkers
	if *flagWorkers < 1 {
		return errors.Errorf("-workers %d: the number of workers must be >= 1", *flagWorkers)
	}
	settings, err := methodFlags(&tc)
	if err != nil {
		return err
	}
	if err := tc.Validate(); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	backend, err := backends.New(os.Stderr)
	if err != nil {
		return err
	}

	// One experiment, or one per data-parallel worker (rank 0 reports).
	var (
		ranks    []*charlm.Experiment
		train    func() (*charlm.Results, error)
		parallel *charlm.DataParallel
	)
	if tc.Workers >= 2 {
		if parallel, err = charlm.NewDataParallel(backend, cfg, tc); err != nil {
			return err
		}
		ranks, train = parallel.Ranks, parallel.Run
	} else {
		exp, err := charlm.NewExperiment(backend, cfg, tc)
		if err != nil {
			return err
		}
		ranks, train = []*charlm.Experiment{exp}, exp.Run
	}
	settings = append(settings, *flagSet)
	for _, exp := range ranks {
		if _, err := charlm.ParseSettings(exp.Store, strings.Join(settings, ";")); err != nil {
			return err
		}
	}
	exp := ranks[0]
	printHeader(exp)
	if !*flagQuiet {
		exp.Progress = os.Stderr
	}
	if *flagWatchdog > 0 {
		stop := startWatchdog(exp, *flagWatchdog)
		defer stop()
	}

	results, err := train()
	if err != nil {
		return err
	}
	printSummary(results)
	if parallel != nil {
		for r, hash := range parallel.WeightsHashes() {
			fmt.Printf("rank %d: weights_hash=%s\n", r, hash)
		}
	} else {
		fmt.Printf("weights_hash=%s\n", results.WeightsHash)
	}
	if *flagResults != "" {
		if err := results.WriteJSON(*flagResults); err != nil {
			return err
		}
		fmt.Printf("results written to %s\n", *flagResults)
	}
	return nil
}

// methodFlags reads the flags of GCT and ACT: it sets the run's ACT sites and
// per-site targets in tc, and returns the hyperparameter settings that the
// other flags stand for (applied before -set, which can override them). A
// method's flag given without the method is an error.
func methodFlags(tc *charlm.TrainConfig) (settings []string, err error) {
	set := func(key string, value any) { settings = append(settings, fmt.Sprintf("%s=%v", key, value)) }
	compressName, compressArg, _ := strings.Cut(tc.Compress, ":")
	compressing := tc.Compress != "" && tc.Compress != charlm.CompressNone
	if changed("gct-bits") {
		switch {
		case compressName != "gct":
			return nil, errors.Errorf("-gct-bits is only used with -compress gct (got -compress %q)", tc.Compress)
		case compressArg != "":
			return nil, errors.Errorf("-compress %q already gives the bits: drop -gct-bits or use -compress gct", tc.Compress)
		case !(*flagGCTBits > 1):
			return nil, errors.Errorf("-gct-bits %g: bits per element must be > 1", *flagGCTBits)
		}
		set(optimizers.ParamBits, *flagGCTBits)
	}
	for _, f := range []struct {
		name, key string
		value     any
	}{{"gct-lambda", optimizers.ParamLambda, *flagGCTLambda}, {"gct-warmup", optimizers.ParamWarmupSteps, *flagGCTWarmup}} {
		if changed(f.name) {
			if !compressing {
				return nil, errors.Errorf("-%s is only used with -compress", f.name)
			}
			set(f.key, f.value)
		}
	}
	if *flagGCTLambda < 0 || *flagGCTWarmup < 0 {
		return nil, errors.Errorf("-gct-lambda (%g) and -gct-warmup (%d) must be >= 0", *flagGCTLambda, *flagGCTWarmup)
	}

	actFlags := []string{"act-sites", "act-sparsity", "act-lambda", "act-schedule", "act-start", "act-end", "act-threshold"}
	if !*flagACT {
		for _, name := range actFlags {
			if changed(name) {
				return nil, errors.Errorf("-%s is only used with -act", name)
			}
		}
		return settings, nil
	}
	if tc.ACTSites, err = charlm.ParseACTSites(*flagACTSites); err != nil {
		return nil, err
	}
	if spec := strings.TrimSpace(*flagACTSparsity); spec != "" {
		def, perSite, err := charlm.ParseACTSparsity(spec)
		if err != nil {
			return nil, err
		}
		if !math.IsNaN(def) {
			set(layers.ParamSparsity, def)
		}
		tc.ACTSparsity = perSite
	}
	if *flagACTLambda < 0 {
		return nil, errors.Errorf("-act-lambda %g: must be >= 0", *flagACTLambda)
	}
	for _, f := range []struct {
		name, key string
		value     any
	}{
		{"act-lambda", layers.ParamLambda, *flagACTLambda},
		{"act-schedule", layers.ParamSchedule, *flagACTSchedule},
		{"act-threshold", layers.ParamThreshold, *flagACTThreshold},
	} {
		if changed(f.name) {
			set(f.key, f.value)
		}
	}
	start, end := charlm.DefaultACTRamp(tc.Steps)
	if *flagACTStart >= 0 {
		start = *flagACTStart
		set(layers.ParamStart, start)
	}
	if *flagACTEnd >= 0 {
		end = *flagACTEnd
		set(layers.ParamEnd, end)
	}
	if end < start {
		return nil, errors.Errorf("ACT's ramp ends (step %d) before it starts (step %d): check -act-start and -act-end", end, start)
	}
	return settings, nil
}

// changed reports whether the flag's value differs from its default.
func changed(name string) bool {
	f := flag.Lookup(name)
	return f != nil && f.Value.String() != f.DefValue
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
		charlm.PortablePath(c.Path), c.Size, len(c.Train), len(c.Val), c.NumValWindows(exp.Config.Block))
	if tc.Compress != "" && tc.Compress != charlm.CompressNone {
		fmt.Printf("gradient compression: GCT with %s\n", tc.Compress)
	}
	if len(tc.ACTSites) > 0 {
		line := "ACT at " + strings.Join(tc.ACTSites, ", ")
		if len(tc.ACTSparsity) > 0 {
			line += fmt.Sprintf(" (per-site targets %v)", tc.ACTSparsity)
		}
		fmt.Println(line)
	}
	if tc.Workers >= 2 {
		fmt.Printf("data-parallel: %d in-process workers, %d windows each per batch\n", tc.Workers, tc.Batch/tc.Workers)
	}
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
	if g := r.GradientResults; g != nil && g.GradBitsPerElement != nil {
		fmt.Printf("gradient bits per element (%s, mean after warm-up) = %.3f\n", g.Compress.Name, *g.GradBitsPerElement)
	}
	if a := r.ACTResults; a != nil {
		fmt.Printf("ACT sparsity (mean over %d sites) = %.3f  bits per activation = %.3f  skippable MACs = %.3f\n",
			len(a.ACTSparsityBySite), a.ACTSparsity, a.ACTBitsPerActivation, a.ACTSkippableMACs)
	}
	if p := r.ParallelResults; p != nil {
		fmt.Printf("workers=%d  sent %.0f bytes per worker per step (coded %.0f)  step split: compute %.1f ms, encode %.2f ms, exchange %.2f ms, decode %.2f ms, update %.1f ms\n",
			p.Workers, p.BytesSentPerWorkerPerStep, p.CodedBytesPerWorkerPerStep, 1000*p.StepTimeSplit.Compute,
			1000*p.StepTimeSplit.Encode, 1000*p.StepTimeSplit.Exchange, 1000*p.StepTimeSplit.Decode, 1000*p.StepTimeSplit.Update)
	}
	if r.Config.Train.TargetLoss > 0 {
		if r.StepsToTarget != nil {
			fmt.Printf("steps_to_target(%.4f) = %d\n", r.Config.Train.TargetLoss, *r.StepsToTarget)
		} else {
			fmt.Printf("steps_to_target(%.4f): not reached\n", r.Config.Train.TargetLoss)
		}
	}
}
