package charlm

import (
	"flag"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/ggprior/ggprior/backends"
	"github.com/ggprior/ggprior/internal/flagutil"
	"github.com/ggprior/ggprior/layers"
	"github.com/ggprior/ggprior/optimizers"
	"github.com/pkg/errors"
)

// Flags are the charlm command's flags that describe a run: the run itself
// (-steps, -seed, -init, -beta, -eval-at, ...), the methods under study
// (-compress and GCT's flags, -act and ACT's flags, -workers) and the
// outputs (-results, -checkpoint, -allow-changes, -quiet), the model's size (-size,
// and -layers, -heads, -width, -block to change it) and the backend's
// determinism (-deterministic, -verify-every). The command registers them on its
// command line (NewFlags(flag.CommandLine)); other programs that run charlm
// experiments describe a run by the same arguments (ParseFlags), so a run
// spec is a charlm command line, and turn it into the run's configuration
// with RunConfig.
//
// Each field holds the value of the flag of the same name (Steps is -steps,
// ACTSparsity -act-sparsity, GCTBits -gct-bits, ...); see NewFlags for
// their meaning and defaults.
type Flags struct {
	Steps      int
	Seed       int64
	Batch      int
	Arch       string
	Init       string
	Beta       string
	EvalAt     string
	Checkpoint string
	Results    string
	Set        string
	Data       string
	TargetLoss float64
	LogEvery   int
	ValWindows int
	Quiet      bool

	Compress  string
	GCTBits   float64
	GCTCoder  optimizers.Coder
	GCTGeom   string
	GCTAlloc  string
	GCTRecon  string
	GCTVCorr  string
	GCTLambda float64
	GCTWarmup int

	ACT          bool
	ACTSites     string
	ACTSparsity  string
	ACTLambda    float64
	ACTSchedule  layers.Schedule
	ACTStart     string
	ACTEnd       string
	ACTThreshold layers.ThresholdSource

	Workers int

	// Size is -size, a model size (see Sizes); Layers, Heads, Width and Block
	// are -layers, -heads, -width and -block, which change the size's (0: the
	// size's own).
	Size                        string
	Layers, Heads, Width, Block int

	// Deterministic is -deterministic (see backends.Determinism and
	// Flags.ResolveDeterministic); VerifyEvery is -verify-every
	// (TrainConfig.VerifyEvery).
	Deterministic backends.Determinism
	VerifyEvery   int

	AllowChanges bool

	// fs is the flag set the flags are registered on.
	fs *flag.FlagSet
}

// NewFlags registers charlm's flags on fs (with their defaults and help) and
// returns them; their values are set when fs parses a command line.
func NewFlags(fs *flag.FlagSet) *Flags {
	f := &Flags{fs: fs}
	fs.IntVar(&f.Steps, "steps", FullRunSteps, "number of training steps (the full run is 2000; it also sets the learning-rate schedule)")
	fs.Int64Var(&f.Seed, "seed", 1, "seed of the initialization and of the training batches")
	fs.IntVar(&f.Batch, "batch", 12, "training batch size (windows of block+1 bytes)")
	fs.StringVar(&f.Arch, "arch", ArchGPT, "architecture: gpt (the reference) or llama")
	fs.StringVar(&f.Init, "init", initNameNormal02, "initialization: "+strings.Join(initNames, ", "))
	fs.StringVar(&f.Beta, "beta", "", `GG shape for -init=gg: one value for all layer kinds ("1.4"), per kind ("attn_qkv=1.3,mlp_in=1.6"), both ("1.4,head=2"), or fitted per kind to a trained checkpoint ("fit:DIR"); kinds: `+strings.Join(Kinds, ", "))
	fs.StringVar(&f.EvalAt, "eval-at", "250,500,1000,2000", "comma-separated steps (up to -steps) after which to measure the validation loss (and checkpoint); the last step is always included")
	fs.StringVar(&f.Checkpoint, "checkpoint", "", "checkpoint directory: saved at every evaluation step and at the end; if it holds a checkpoint, the run resumes from it")
	fs.StringVar(&f.Results, "results", "", "write the results as JSON to this file")
	fs.BoolVar(&f.AllowChanges, "allow-changes", false, "with -checkpoint, resume a checkpoint whose hyperparameters (-set, -gct-bits, -act-sparsity, ...) differ from this run's: "+
		"the run continues with this run's values and its results record each change and its step (hyperparameter_changes); without it such a resume is refused")
	fs.StringVar(&f.Set, "set", "", `hyperparameters, "key=value;key=value" (e.g. "learning_rate=2e-3;clip_grad_norm=0"); unknown keys list the known ones`)
	fs.StringVar(&f.Data, "data", "", "text file to train on (default: $GOROOT/"+defaultCorpusName+"), or "+CorpusGoSrc+
		": every .go file under $GOROOT/src in sorted path order (about 90 MB; "+CorpusGoSrc+":N its first N bytes, N with an optional K, M or G suffix)")
	fs.Float64Var(&f.TargetLoss, "target-loss", 0, "report steps_to_target: the first evaluation step with validation loss <= this value (e.g. the baseline's final loss)")
	fs.IntVar(&f.LogEvery, "log-every", 10, "record the training loss every this many steps")
	fs.IntVar(&f.ValWindows, "val-windows", 0, "measure the validation loss on this many evenly spaced validation windows (0: all of them); cheaper, noisier, for quick profiles")
	fs.BoolVar(&f.Quiet, "quiet", false, "no progress bar")

	fs.StringVar(&f.Compress, "compress", CompressNone, "gradient compression: none (plain AdamW), gct (GCT's GG quantizer at -gct-bits, coded with -gct-coder), gct:B, "+
		"gct-rans or gct-rans:B (the GG quantizer with the rANS coder), or GCT's wrapper with a baseline compressor: fp32, bf16, int8, sign, topk:F (fraction kept), powersgd:R (rank)")
	fs.Float64Var(&f.GCTBits, "gct-bits", optimizers.DefaultBits, "GCT's target coded bits per gradient element (with -compress gct: > 1 with Exp-Golomb codes, > 0 with -gct-coder rans or auto; hyperparameter "+optimizers.ParamBits+")")
	fs.TextVar(&f.GCTCoder, "gct-coder", DefaultGCTCoder, fmt.Sprintf("entropy coder of GCT's GG quantizer (with -compress gct): %s (Exp-Golomb codes, at least 1 bit per element), %s (the GG-model rANS coder, well below 1 bit, with rate control) or %s (rANS's quantizer; rANS frames for large tensors, Exp-Golomb codes for those too small for a frame's fixed cost) (hyperparameter %s)",
		optimizers.CoderExpGolomb, optimizers.CoderRANS, optimizers.CoderAuto, optimizers.ParamCoder))
	fs.StringVar(&f.GCTGeom, "gct-geometry", string(DefaultGCTGeometry), fmt.Sprintf("space GCT's GG quantizer rounds in (with -compress gct): %s (the gradient, one step per tensor) or %s (the gradient divided by the square root of AdamW's second moment, the error each element makes in the update) (hyperparameter %s)",
		optimizers.GeometryGradient, optimizers.GeometryAdam, optimizers.ParamGeometry))
	fs.StringVar(&f.GCTAlloc, "gct-allocation", string(DefaultGCTAllocation), fmt.Sprintf("how GCT's GG quantizer shares -gct-bits among the tensors (with -compress gct): %s (each tensor at the target) or %s (one step for all, the bits where the error is largest; needs -gct-coder %s or %s) (hyperparameter %s)",
		optimizers.AllocationEqual, optimizers.AllocationRD, optimizers.CoderRANS, optimizers.CoderAuto, optimizers.ParamAllocation))
	fs.StringVar(&f.GCTRecon, "gct-reconstruction", string(DefaultGCTReconstruction), fmt.Sprintf("where GCT's GG quantizer decodes its integers (with -compress gct): %s (the centre of each cell) or %s (times each tensor's least-squares gain, toward the values' centroids; needs -gct-coder %s or %s) (hyperparameter %s)",
		optimizers.ReconstructionCenter, optimizers.ReconstructionFitted, optimizers.CoderRANS, optimizers.CoderAuto, optimizers.ParamReconstruction))
	fs.StringVar(&f.GCTVCorr, "gct-moment-correction", "", fmt.Sprintf("true or false: correct AdamW's second moment for the quantization noise of the gradients it is given (its squares divided by their inflation over the gradient's; default true with -compress gct, false with the baseline compressors) (hyperparameter %s)", optimizers.ParamMomentCorrection))
	fs.Float64Var(&f.GCTLambda, "gct-lambda", 0, "weight of GCT's rate constraint lambda*||g||_1, 0 for none (with -compress; hyperparameter "+optimizers.ParamLambda+")")
	fs.IntVar(&f.GCTWarmup, "gct-warmup", 0, "number of first steps whose gradients GCT sends uncompressed (with -compress; hyperparameter "+optimizers.ParamWarmupSteps+")")

	fs.BoolVar(&f.ACT, "act", false, "constrain activations with ACT (layers.ACT) at the -act-sites")
	fs.StringVar(&f.ACTSites, "act-sites", "all", "ACT sites, comma-separated: "+strings.Join(ActivationSites, ", ")+", or all")
	fs.StringVar(&f.ACTSparsity, "act-sparsity", "", fmt.Sprintf(`ACT's final target sparsity: one value ("0.9"), per site ("mlp_hidden=0.95,attn_in=0.5"), or both ("0.5,mlp_hidden=0.95"); default %g (hyperparameter %s)`, layers.DefaultSparsity, layers.ParamSparsity))
	fs.Float64Var(&f.ACTLambda, "act-lambda", layers.DefaultLambda, "final weight of ACT's rate term (hyperparameter "+layers.ParamLambda+")")
	fs.TextVar(&f.ACTSchedule, "act-schedule", layers.ScheduleCosine, fmt.Sprintf("ramp of ACT's constraint: %s, %s or %s (hyperparameter %s)",
		layers.ScheduleLinear, layers.ScheduleCosine, layers.ScheduleStaged, layers.ParamSchedule))
	fs.StringVar(&f.ACTStart, "act-start", "", fmt.Sprintf(`step at which ACT's ramp starts: one step ("100", or "5%%" of -steps), per site ("mlp_hidden=0"), or both ("100,mlp_hidden=0"); default %g of -steps (hyperparameter %s)`, defaultACTStartFraction, layers.ParamStart))
	fs.StringVar(&f.ACTEnd, "act-end", "", fmt.Sprintf(`step at which ACT's ramp reaches the target, like -act-start (start = end: the full target from that step); default %g of -steps (hyperparameter %s)`, defaultACTEndFraction, layers.ParamEnd))
	fs.TextVar(&f.ACTThreshold, "act-threshold", layers.ThresholdBatch, fmt.Sprintf("where ACT's threshold comes from: %s (the batch quantile) or %s (the fitted GG's quantile) (hyperparameter %s)",
		layers.ThresholdBatch, layers.ThresholdGG, layers.ParamThreshold))

	fs.IntVar(&f.Workers, "workers", 1, "number of in-process data-parallel workers; with W >= 2 each takes batch/W windows of every batch and they exchange (-compress) gradients. "+
		"Launched by mpirun (charlm built with -tags mpi), each process is one worker and W is the number of processes")

	fs.StringVar(&f.Size, "size", DefaultSize, "model size: "+sizesHelp()+"; parameters counted for -arch gpt. tiny and reference are the CPU sizes, the others need an accelerator")
	fs.IntVar(&f.Layers, "layers", 0, "number of transformer blocks (0: the -size's)")
	fs.IntVar(&f.Heads, "heads", 0, "number of attention heads (0: the -size's); must divide the width")
	fs.IntVar(&f.Width, "width", 0, "model width (0: the -size's)")
	fs.IntVar(&f.Block, "block", 0, "context length in bytes (0: the -size's)")
	fs.Var(&f.Deterministic, "deterministic", fmt.Sprintf("bit-reproducible backend: true, false or auto (the default: $%s if set, else on for data-parallel runs, -workers >= 2). "+
		"On XLA it sets XLA_FLAGS %s before the backend starts (slower GPU kernels, no autotuning); the pure-Go backend is always deterministic",
		backends.DeterministicEnvVar, strings.Join(backends.DeterministicXLAFlags, " ")))
	fs.IntVar(&f.VerifyEvery, "verify-every", DefaultVerifyEvery, "with -workers >= 2 (or over MPI), compare the ranks' weights hash every this many steps and stop with an error naming the step and the ranks if they differ (0: only at the end)")
	return f
}

// ParseFlags parses a charlm command line (flags only, as the command takes
// them, e.g. {"-init", "gg", "-beta", "1.4", "-steps", "300"}) into Flags.
// Unknown flags and positional arguments are errors.
func ParseFlags(args []string) (*Flags, error) {
	fs := flag.NewFlagSet("charlm", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f := NewFlags(fs)
	if err := fs.Parse(args); err != nil {
		return nil, errors.Wrapf(err, "charlm arguments %q", args)
	}
	if fs.NArg() > 0 {
		return nil, errors.Errorf("charlm arguments %q: unexpected arguments %q (flags only)", args, fs.Args())
	}
	return f, nil
}

// Changed reports whether the flag called name has a value other than its default.
func (f *Flags) Changed(name string) bool {
	fl := f.fs.Lookup(name)
	return fl != nil && fl.Value.String() != fl.DefValue
}

// Args returns the flags whose values differ from their defaults as a
// command line, "-name=value" each, in the order of the flags' names: the
// canonical form of the run these flags describe (ParseFlags(f.Args())
// describes the same run).
func (f *Flags) Args() []string {
	var args []string
	f.fs.VisitAll(func(fl *flag.Flag) {
		if v := fl.Value.String(); v != fl.DefValue {
			args = append(args, "-"+fl.Name+"="+v)
		}
	})
	return args
}

// RunConfig returns the run the flags describe: the model (model, or the
// -size's when -size is given, with -arch, -layers, -heads, -width and
// -block applied), the training configuration and the hyperparameter settings (for
// parseSettings, joined with ";": those GCT's and ACT's flags stand for,
// then -set's, which can override them). A method's flag given without the
// method, and invalid flag values, are errors.
//
// The training configuration's Beta is -beta as given: a "fit:DIR" value
// (BetaFitPrefix) must be resolved to per-kind shapes before the run (by
// internal/fitbetas.Resolve, which this package cannot import); other
// values are checked with -init here (ParseBetas).
// Neither the model nor the training configuration is validated otherwise:
// call their Validate methods (NewExperiment does).
func (f *Flags) RunConfig(model Config) (Config, TrainConfig, []string, error) {
	evalAt, err := parseSteps(f.EvalAt)
	if err != nil {
		return Config{}, TrainConfig{}, nil, err
	}
	if f.Changed("eval-at") { // The default's steps after -steps are dropped; given ones are errors.
		for _, s := range evalAt {
			if s > f.Steps {
				return Config{}, TrainConfig{}, nil, errors.Errorf("-eval-at %q: step %d is after the run's last step (-steps %d)", f.EvalAt, s, f.Steps)
			}
		}
	}
	if f.Workers < 1 {
		return Config{}, TrainConfig{}, nil, errors.Errorf("-workers %d: the number of workers must be >= 1", f.Workers)
	}
	if f.Changed("size") {
		if model, err = ConfigForSize(strings.TrimSpace(f.Size), f.Arch); err != nil {
			return Config{}, TrainConfig{}, nil, errors.WithMessage(err, "-size")
		}
	}
	model.Arch = f.Arch
	for _, o := range []struct {
		name  string
		value int
		field *int
	}{{"layers", f.Layers, &model.Layers}, {"heads", f.Heads, &model.Heads}, {"width", f.Width, &model.Width}, {"block", f.Block, &model.Block}} {
		switch {
		case o.value < 0:
			return Config{}, TrainConfig{}, nil, errors.Errorf("-%s %d: must be > 0 (0: the -size's)", o.name, o.value)
		case o.value > 0:
			*o.field = o.value
		}
	}
	if f.VerifyEvery < 0 {
		return Config{}, TrainConfig{}, nil, errors.Errorf("-verify-every %d: must be >= 0 (0: only at the end)", f.VerifyEvery)
	}
	tc := DefaultTrainConfig()
	tc.Steps, tc.Seed, tc.Batch = f.Steps, f.Seed, f.Batch
	tc.Init, tc.Beta, tc.EvalAt = f.Init, f.Beta, evalAt
	tc.Checkpoint, tc.Data, tc.TargetLoss, tc.LogEvery = f.Checkpoint, f.Data, f.TargetLoss, f.LogEvery
	tc.Compress, tc.Workers, tc.ValWindows = strings.TrimSpace(f.Compress), f.Workers, f.ValWindows
	tc.AllowChanges, tc.VerifyEvery = f.AllowChanges, f.VerifyEvery
	if tc.Deterministic, err = f.ResolveDeterministic(tc.Workers); err != nil {
		return Config{}, TrainConfig{}, nil, err
	}
	if !strings.HasPrefix(strings.TrimSpace(tc.Beta), BetaFitPrefix) {
		if _, err := initByName(tc.Init, tc.Beta); err != nil {
			return Config{}, TrainConfig{}, nil, err
		}
	}
	settings, err := f.methodSettings(&tc)
	if err != nil {
		return Config{}, TrainConfig{}, nil, err
	}
	if strings.TrimSpace(f.Set) != "" {
		settings = append(settings, f.Set)
	}
	return model, tc, settings, nil
}

// ResolveDeterministic returns whether a run of the given number of workers
// should use a bit-reproducible backend: -deterministic if given (true or
// false), else $GGPRIOR_DETERMINISTIC if set, else whether the run is
// data-parallel (workers >= 2), whose ranks must stay bit-identical. RunConfig
// resolves it with -workers into TrainConfig.Deterministic; a program that
// learns the number of workers later (over MPI) resolves it again. Create
// the backend with backends.NewWithOptions and this value.
func (f *Flags) ResolveDeterministic(workers int) (bool, error) {
	on, err := f.Deterministic.Resolve(workers >= 2)
	if err != nil {
		return false, errors.WithMessage(err, "-deterministic")
	}
	return on, nil
}

// methodSettings reads the flags of GCT and ACT: it sets the run's ACT sites
// and per-site targets in tc, and returns the hyperparameter settings that
// the other flags stand for (applied before -set, which can override them).
// A method's flag given without the method is an error.
func (f *Flags) methodSettings(tc *TrainConfig) (settings []string, err error) {
	set := func(key string, value any) { settings = append(settings, fmt.Sprintf("%s=%v", key, value)) }
	compressName, compressArg, _ := strings.Cut(tc.Compress, ":")
	compressing := tc.Compress != "" && tc.Compress != CompressNone
	coder := f.GCTCoder // The coder that -gct-bits is checked against.
	if f.Changed("gct-coder") {
		switch compressName {
		case "gct":
		case compressGCTRANS:
			return nil, errors.Errorf("-compress %q already gives the coder: drop -gct-coder or use -compress gct", tc.Compress)
		default:
			return nil, errors.Errorf("-gct-coder is only used with -compress gct (got -compress %q)", tc.Compress)
		}
		set(optimizers.ParamCoder, f.GCTCoder)
	} else if compressName == compressGCTRANS {
		coder = optimizers.CoderRANS
	}
	if f.Changed("gct-bits") {
		switch {
		case compressName != "gct" && compressName != compressGCTRANS:
			return nil, errors.Errorf("-gct-bits is only used with -compress gct (got -compress %q)", tc.Compress)
		case compressArg != "":
			return nil, errors.Errorf("-compress %q already gives the bits: drop -gct-bits or use -compress %s", tc.Compress, compressName)
		}
		if bits := f.GCTBits; math.IsInf(bits, 0) || coder != optimizers.CoderExpGolomb && !(bits > 0) {
			return nil, errors.Errorf("-gct-bits %g: bits per element must be finite and > 0", bits)
		} else if coder == optimizers.CoderExpGolomb && !(bits > 1) {
			return nil, errors.Errorf("-gct-bits %g: bits per element must be > 1 with Exp-Golomb codes (-gct-coder %s goes below)", bits, optimizers.CoderRANS)
		}
		set(optimizers.ParamBits, f.GCTBits)
	}
	// The GG quantizer's options: name, hyperparameter, value, its check,
	// and whether it needs the rANS coder.
	for _, o := range []struct {
		flag, key, value string
		check            func(string) error
		needsRANS        func(string) bool
	}{
		{"gct-geometry", optimizers.ParamGeometry, f.GCTGeom,
			func(s string) error { _, err := optimizers.ParseGeometry(s); return err }, nil},
		{"gct-allocation", optimizers.ParamAllocation, f.GCTAlloc,
			func(s string) error { _, err := optimizers.ParseAllocation(s); return err },
			func(s string) bool { return s == string(optimizers.AllocationRD) }},
		{"gct-reconstruction", optimizers.ParamReconstruction, f.GCTRecon,
			func(s string) error { _, err := optimizers.ParseReconstruction(s); return err },
			func(s string) bool { return s == string(optimizers.ReconstructionFitted) }},
	} {
		if !f.Changed(o.flag) {
			continue
		}
		if compressName != "gct" && compressName != compressGCTRANS {
			return nil, errors.Errorf("-%s is only used with -compress gct (got -compress %q)", o.flag, tc.Compress)
		}
		if err := o.check(o.value); err != nil {
			return nil, errors.WithMessage(err, "-"+o.flag)
		}
		if o.needsRANS != nil && o.needsRANS(o.value) && coder == optimizers.CoderExpGolomb {
			return nil, errors.Errorf("-%s %s needs the rANS coder: add -gct-coder %s (or %s)", o.flag, o.value, optimizers.CoderAuto, optimizers.CoderRANS)
		}
		set(o.key, o.value)
	}
	if f.Changed("gct-moment-correction") {
		on, err := strconv.ParseBool(f.GCTVCorr)
		switch {
		case err != nil:
			return nil, errors.Errorf("-gct-moment-correction %q: want true or false", f.GCTVCorr)
		case !compressing:
			return nil, errors.Errorf("-gct-moment-correction is only used with -compress")
		}
		set(optimizers.ParamMomentCorrection, on)
	}
	for _, m := range []struct {
		name, key string
		value     any
	}{{"gct-lambda", optimizers.ParamLambda, f.GCTLambda}, {"gct-warmup", optimizers.ParamWarmupSteps, f.GCTWarmup}} {
		if f.Changed(m.name) {
			if !compressing {
				return nil, errors.Errorf("-%s is only used with -compress", m.name)
			}
			set(m.key, m.value)
		}
	}
	if f.GCTLambda < 0 || f.GCTWarmup < 0 {
		return nil, errors.Errorf("-gct-lambda (%g) and -gct-warmup (%d) must be >= 0", f.GCTLambda, f.GCTWarmup)
	}

	actFlags := []string{"act-sites", "act-sparsity", "act-lambda", "act-schedule", "act-start", "act-end", "act-threshold"}
	if !f.ACT {
		for _, name := range actFlags {
			if f.Changed(name) {
				return nil, errors.Errorf("-%s is only used with -act", name)
			}
		}
		return settings, nil
	}
	if tc.ACTSites, err = parseACTSites(f.ACTSites); err != nil {
		return nil, err
	}
	if spec := strings.TrimSpace(f.ACTSparsity); spec != "" {
		def, perSite, err := parseACTSparsity(spec)
		if err != nil {
			return nil, err
		}
		if !math.IsNaN(def) {
			set(layers.ParamSparsity, def)
		}
		tc.ACTSparsity = perSite
	}
	if f.ACTLambda < 0 {
		return nil, errors.Errorf("-act-lambda %g: must be >= 0", f.ACTLambda)
	}
	for _, m := range []struct {
		name, key string
		value     any
	}{
		{"act-lambda", layers.ParamLambda, f.ACTLambda},
		{"act-schedule", layers.ParamSchedule, f.ACTSchedule},
		{"act-threshold", layers.ParamThreshold, f.ACTThreshold},
	} {
		if f.Changed(m.name) {
			set(m.key, m.value)
		}
	}
	start, end := DefaultACTRamp(tc.Steps)
	defStart, siteStarts, err := parseACTRamp("-act-start", f.ACTStart, tc.Steps)
	if err != nil {
		return nil, err
	}
	defEnd, siteEnds, err := parseACTRamp("-act-end", f.ACTEnd, tc.Steps)
	if err != nil {
		return nil, err
	}
	if defStart >= 0 {
		start = defStart
		set(layers.ParamStart, start)
	}
	if defEnd >= 0 {
		end = defEnd
		set(layers.ParamEnd, end)
	}
	if end < start {
		return nil, errors.Errorf("ACT's ramp ends (step %d) before it starts (step %d): check -act-start and -act-end", end, start)
	}
	// ACT's recipe: given no ramp for it (neither a bare step nor its own),
	// the MLP hidden site's threshold is fixed from the first step (ramp
	// 0–0), while the other sites ramp (see defaultMLPHiddenRamp).
	_, hasStart := siteStarts[SiteMLPHidden]
	_, hasEnd := siteEnds[SiteMLPHidden]
	if slices.Contains(tc.ACTSites, SiteMLPHidden) && defStart < 0 && defEnd < 0 && !hasStart && !hasEnd {
		if siteStarts == nil {
			siteStarts = map[string]int{}
		}
		if siteEnds == nil {
			siteEnds = map[string]int{}
		}
		siteStarts[SiteMLPHidden], siteEnds[SiteMLPHidden] = defaultMLPHiddenRamp[0], defaultMLPHiddenRamp[1]
	}
	for _, site := range ActivationSites {
		siteStart, hasStart := siteStarts[site]
		siteEnd, hasEnd := siteEnds[site]
		if !hasStart && !hasEnd {
			continue
		}
		if !slices.Contains(tc.ACTSites, site) {
			return nil, errors.Errorf("-act-start/-act-end give a ramp for site %q, which is not among the -act-sites %q", site, tc.ACTSites)
		}
		if !hasStart {
			siteStart = start
		}
		if !hasEnd {
			siteEnd = end
		}
		if siteEnd < siteStart {
			return nil, errors.Errorf("ACT's ramp at %s ends (step %d) before it starts (step %d): check -act-start and -act-end", site, siteEnd, siteStart)
		}
		if tc.ACTRamp == nil {
			tc.ACTRamp = map[string][2]int{}
		}
		tc.ACTRamp[site] = [2]int{siteStart, siteEnd}
	}
	return settings, nil
}

// parseSteps parses a comma-separated list of positive step numbers (the
// -eval-at flag's value; see flagutil.ParseInts).
func parseSteps(list string) ([]int, error) {
	steps, err := flagutil.ParseInts(list)
	if err != nil {
		return nil, errors.Errorf("-eval-at %q: %v", list, err)
	}
	for _, n := range steps {
		if n <= 0 {
			return nil, errors.Errorf("-eval-at %q: %d is not a positive step number", list, n)
		}
	}
	return steps, nil
}
