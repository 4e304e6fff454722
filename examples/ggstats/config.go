package main

import (
	"flag"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/ggprior/ggprior/internal/distfit"
	"github.com/ggprior/ggprior/internal/tensorkind"
)

// config holds the command's settings, from the command line.
type config struct {
	safetensors string // -safetensors FILE
	checkpoint  string // -checkpoint DIR
	jsonPath    string // -json FILE
	plotsDir    string // -plots DIR
	sample      int    // -sample N (0: all values)
	seed        uint64 // -seed S
	match       *regexp.Regexp
	minSize     int      // -min-size N
	allVars     bool     // -all-vars
	capture     []string // -capture KINDS
	steps       int      // -steps N
	every       int      // -every K
	arch        string   // -arch NAME
	init        string   // -init NAME
	beta        string   // -beta SPEC
	fitBetas    string   // -fit-betas DIR
	codedSize   string   // -coded-size DIR
}

// parseFlags parses the command line into a config and checks it: exactly one
// source (-safetensors, -checkpoint or -capture; -checkpoint with -capture is
// where the live run starts from) or -fit-betas or -coded-size (with -json), a valid -match, non-negative
// sizes, known capture kinds, -steps with -capture and the live run's flags
// only with -capture.
func parseFlags(args []string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("ggstats", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg config
	var match, capture string
	fs.StringVar(&cfg.safetensors, "safetensors", "", "read the tensors of this safetensors `file`")
	fs.StringVar(&cfg.checkpoint, "checkpoint", "", "read the latest GoMLX checkpoint in this `dir`ectory (with -capture: start the run from its weights)")
	fs.StringVar(&cfg.jsonPath, "json", "", "write the reports and summary as JSON to this `file`")
	fs.StringVar(&cfg.plotsDir, "plots", "", "write a PNG plot per tensor, and betas.png, into this `dir`ectory")
	fs.IntVar(&cfg.sample, "sample", distfit.DefaultSampleSize, "fit at most `N` values per tensor (seeded uniform subsample; 0: all)")
	fs.Uint64Var(&cfg.seed, "seed", 1, "`seed` of the subsampling (and, with -capture, of the training run)")
	fs.StringVar(&match, "match", "", "analyze only tensors whose name matches this `regexp`")
	fs.IntVar(&cfg.minSize, "min-size", 1024, "skip tensors with fewer than `N` elements (biases, norm gains)")
	fs.BoolVar(&cfg.allVars, "all-vars", false, "with -checkpoint, also analyze optimizer state (moments)")
	fs.StringVar(&capture, "capture", "", "capture these `kinds` (activations,gradients,weights) from a live training run")
	fs.IntVar(&cfg.steps, "steps", 0, "with -capture, the number of training `steps`")
	fs.IntVar(&cfg.every, "every", 0, "with -capture, capture after every `K` steps as well as after the last (0: the last step only)")
	fs.StringVar(&cfg.arch, "arch", "", "with -capture, the model's architecture (charlm: gpt or llama; default gpt, or the -checkpoint's)")
	fs.StringVar(&cfg.init, "init", "", "with -capture, the model's initialization (charlm: normal02, he or gg)")
	fs.StringVar(&cfg.beta, "beta", "", "with -capture -init gg, the GG shape: charlm's -beta (\"1.4\", \"attn_qkv=1.3,...\", or fit:DIR)")
	fs.StringVar(&cfg.fitBetas, "fit-betas", "", "print the GG shape per charlm layer kind fitted to the latest checkpoint in this `dir`ectory, as charlm's -beta value")
	fs.StringVar(&cfg.codedSize, "coded-size", "", "print the coded size (int8 per tensor + Exp-Golomb) of the weights of the latest checkpoint in this `dir`ectory (with -json: also as JSON)")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments %q (flags go before them?)", fs.Args())
	}
	if cfg.fitBetas != "" {
		if fs.NFlag() != 1 {
			return config{}, fmt.Errorf("-fit-betas DIR takes no other flag")
		}
		return cfg, nil
	}
	if cfg.codedSize != "" {
		want := 1 // -coded-size, and -json if given.
		if cfg.jsonPath != "" {
			want = 2
		}
		if fs.NFlag() != want {
			return config{}, fmt.Errorf("-coded-size DIR takes no other flag than -json")
		}
		return cfg, nil
	}
	sources := 0
	for _, s := range []string{cfg.safetensors, cfg.checkpoint, capture} {
		if s != "" {
			sources++
		}
	}
	if capture != "" && cfg.checkpoint != "" {
		sources-- // The checkpoint is where the live run starts.
	}
	if sources != 1 {
		return config{}, fmt.Errorf("give exactly one of -safetensors FILE, -checkpoint DIR, -capture KINDS or -fit-betas DIR")
	}
	if match != "" {
		re, err := regexp.Compile(match)
		if err != nil {
			return config{}, fmt.Errorf("-match: %w", err)
		}
		cfg.match = re
	}
	if cfg.sample < 0 || cfg.minSize < 0 {
		return config{}, fmt.Errorf("-sample and -min-size must be non-negative")
	}
	if capture != "" {
		for _, k := range strings.Split(capture, ",") {
			k = strings.TrimSpace(k)
			if !isKind(k) {
				return config{}, fmt.Errorf("-capture: unknown kind %q: use a comma-separated list of %s", k, strings.Join(tensorkind.All, ", "))
			}
			cfg.capture = append(cfg.capture, k)
		}
		if cfg.steps <= 0 {
			return config{}, fmt.Errorf("-capture needs -steps N with N > 0")
		}
		if cfg.every < 0 {
			return config{}, fmt.Errorf("-every must be non-negative")
		}
	} else {
		for _, f := range []struct {
			name string
			set  bool
		}{{"-steps", cfg.steps != 0}, {"-every", cfg.every != 0}, {"-arch", cfg.arch != ""}, {"-init", cfg.init != ""}, {"-beta", cfg.beta != ""}} {
			if f.set {
				return config{}, fmt.Errorf("%s is only used with -capture", f.name)
			}
		}
	}
	return cfg, nil
}

// isKind reports whether k is one of tensorkind.All.
func isKind(k string) bool {
	for _, kind := range tensorkind.All {
		if k == kind {
			return true
		}
	}
	return false
}

// options returns the analysis options of the configuration.
func (c config) options() distfit.Options {
	opts := distfit.Options{SampleSize: c.sample, Seed: c.seed}
	if c.sample == 0 {
		opts.SampleSize = -1 // All values.
	}
	return opts
}
