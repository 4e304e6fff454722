package main

import (
	"flag"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/ggprior/ggprior/backends"
	"github.com/ggprior/ggprior/internal/charlm"
	"github.com/ggprior/ggprior/internal/charlm/generate"
	"github.com/ggprior/ggprior/internal/outfile"
	"github.com/pkg/errors"
)

// Generation and the decoding benchmark (package internal/charlm/generate)
// read -checkpoint DIR's latest checkpoint and train nothing:
//
//	charlm -checkpoint DIR -generate N -prompt TEXT [-temperature T] [-top-k K] [-seed S] [-sparse]
//	charlm -checkpoint DIR -bench-decode N [-bench-batch B] [-prompt TEXT] [-results FILE]

var (
	flagGenerate    optionalInt
	flagBenchDecode optionalInt
	flagBenchBatch  optionalInt
	flagPrompt      = flag.String("prompt", "", "the text -generate continues; with -bench-decode, every sequence's prompt (default: windows of the validation text)")
	flagTemperature = flag.Float64("temperature", 0, "-generate's sampling temperature; 0: greedy (the most likely byte)")
	flagTopK        = flag.Int("top-k", 0, "-generate samples among the K most likely bytes (with -temperature > 0); 0: all")
	flagSparse      = flag.Bool("sparse", false, "-generate with the ACT-sparse path: the products after ACT's sites skip their zeros (same text as the dense path; needs a checkpoint trained with -act)")
)

func init() {
	flag.Var(&flagGenerate, "generate", "decode N bytes after -prompt with -checkpoint's latest checkpoint and print them (trains nothing); "+
		"a window slides by half a block once full, a longer prompt keeps its last block bytes")
	flag.Var(&flagBenchDecode, "bench-decode", "decode N bytes greedily with the dense and the ACT-sparse path on -checkpoint's latest checkpoint, "+
		"time both and the GoMLX graph, and write decode_tokens_per_sec_dense, ..._sparse, decode_speedup, decode_same_tokens, ... to -results (trains nothing)")
	flag.Var(&flagBenchBatch, "bench-batch", "with -bench-decode: decode B prompts together (default 1)")
}

// optionalInt is an int flag that knows whether it was given (so that
// -generate 0 is an error, not a training run); "" is "not given".
type optionalInt struct {
	value int
	given bool
}

func (o *optionalInt) String() string {
	if o == nil || !o.given {
		return ""
	}
	return strconv.Itoa(o.value)
}

func (o *optionalInt) Set(s string) error {
	if s == "" {
		*o = optionalInt{}
		return nil
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return errors.Errorf("%q is not an integer", s)
	}
	*o = optionalInt{value: v, given: true}
	return nil
}

// inferenceOnly lists the charlm flags that generation and the benchmark
// read; the run-describing others (-steps, -act, ...) are errors with them.
var inferenceOnly = []string{"checkpoint", "seed", "results", "quiet", "arch"}

// runInference runs -generate or -bench-decode, if given, and reports
// whether it handled the command line: false when neither they nor their
// flags are given (a training run). Generated text goes to stdout, the
// rest to stderr.
func runInference(stdout, stderr io.Writer) (handled bool, err error) {
	gen, bench := flagGenerate.given, flagBenchDecode.given
	if !gen && !bench {
		for _, f := range []struct {
			name  string
			given bool
		}{{"prompt", *flagPrompt != ""}, {"temperature", *flagTemperature != 0}, {"top-k", *flagTopK != 0},
			{"sparse", *flagSparse}, {"bench-batch", flagBenchBatch.given}} {
			if f.given {
				return true, errors.Errorf("-%s is only used with -generate or -bench-decode", f.name)
			}
		}
		return false, nil
	}
	return true, inference(stdout, stderr)
}

// inference checks the flags of -generate or -bench-decode and runs it.
func inference(stdout, stderr io.Writer) error {
	gen := flagGenerate.given
	mode, n := "-generate", flagGenerate.value
	if !gen {
		mode, n = "-bench-decode", flagBenchDecode.value
	}
	switch {
	case gen && flagBenchDecode.given:
		return errors.New("-generate and -bench-decode are separate runs: give one")
	case n <= 0:
		return errors.Errorf("%s %d: the number of bytes to decode must be > 0", mode, n)
	case gen && flagBenchBatch.given:
		return errors.New("-bench-batch is only used with -bench-decode")
	case !gen && (*flagTemperature != 0 || *flagTopK != 0 || *flagSparse):
		return errors.New("-temperature, -top-k and -sparse are -generate's: -bench-decode decodes greedily with both paths")
	case gen && cli.Results != "":
		return errors.New("-results is -bench-decode's: -generate prints the text")
	case cli.Checkpoint == "":
		return errors.Errorf("%s needs -checkpoint DIR, the checkpoint directory of a trained run", mode)
	}
	runFlags := flag.NewFlagSet("charlm", flag.ContinueOnError)
	charlm.NewFlags(runFlags)
	var training error
	runFlags.VisitAll(func(f *flag.Flag) {
		if training == nil && !slices.Contains(inferenceOnly, f.Name) && cli.Changed(f.Name) {
			training = errors.Errorf("-%s describes a training run: not used with %s (which takes the model from the checkpoint)", f.Name, mode)
		}
	})
	if training != nil {
		return training
	}
	opt := generate.Options{Temperature: *flagTemperature, TopK: *flagTopK, Seed: uint64(cli.Seed), Sparse: *flagSparse}
	if err := opt.Validate(); err != nil {
		return errors.WithMessage(err, "-generate")
	}
	batch := 1
	if flagBenchBatch.given {
		if batch = flagBenchBatch.value; batch < 1 {
			return errors.Errorf("-bench-batch %d: decode at least 1 prompt", batch)
		}
	}
	if gen && *flagPrompt == "" {
		return errors.New("-generate needs -prompt TEXT, the text to continue (at least one byte)")
	}
	if cli.Results != "" {
		if err := outfile.CheckFile(cli.Results); err != nil {
			return errors.WithMessage(err, "-results")
		}
	}

	ckpt, err := charlm.LoadInferenceCheckpoint(cli.Checkpoint)
	if err != nil {
		return err
	}
	if cli.Changed("arch") && cli.Arch != ckpt.Config.Arch {
		return errors.Errorf("-arch %s, but checkpoint %s in %s is a %s model (%s): drop -arch, the model comes from the checkpoint",
			cli.Arch, ckpt.Name, ckpt.Dir, ckpt.Config.Arch, ckpt.Config)
	}
	engine, err := generate.New(ckpt)
	if err != nil {
		return err
	}
	sites := "no ACT"
	if engine.HasACT() {
		sites = "ACT at " + strings.Join(engine.ACTSites, ", ")
	}
	if gen {
		out, err := engine.Generate([]byte(*flagPrompt), n, opt)
		if err != nil {
			return err
		}
		path := "dense"
		if opt.Sparse {
			path = "ACT-sparse"
		}
		fmt.Fprintf(stderr, "checkpoint %s: %s, %s; %s path\n", ckpt.Name, ckpt.Config, sites, path)
		_, err = stdout.Write(append(out, '\n'))
		return err
	}

	prompts, err := benchPrompts(batch, ckpt.Config.Block)
	if err != nil {
		return err
	}
	backend, err := backends.New(stderr)
	if err != nil {
		return err
	}
	graph, err := generate.NewGraphForward(ckpt, backend)
	if err != nil {
		return err
	}
	defer graph.Close()
	fmt.Fprintf(stderr, "checkpoint %s: %s, %s; decoding %d bytes x %d prompts\n", ckpt.Name, ckpt.Config, sites, n, batch)
	r, err := generate.Bench(engine, prompts, n, generate.BenchOptions{Graph: graph})
	if err != nil {
		return err
	}
	printBench(stdout, r)
	if cli.Results != "" {
		if err := r.WriteJSON(cli.Results); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "results written to %s\n", cli.Results)
	}
	return nil
}

// benchPrompts returns the benchmark's prompts: -prompt for every
// sequence, or windows of block/2 bytes evenly spaced over the validation
// text of the default corpus.
func benchPrompts(batch, block int) ([][]byte, error) {
	prompts := make([][]byte, batch)
	if *flagPrompt != "" {
		for i := range prompts {
			prompts[i] = []byte(*flagPrompt)
		}
		return prompts, nil
	}
	text, err := charlm.DefaultValidationText()
	if err != nil {
		return nil, errors.WithMessage(err, "-bench-decode's prompts (give -prompt instead)")
	}
	size := max(block/2, 1)
	if len(text) < size {
		return nil, errors.Errorf("-bench-decode's prompts: the validation text has %d bytes (give -prompt instead)", len(text))
	}
	for i := range prompts {
		at := i * (len(text) - size) / batch
		prompts[i] = text[at : at+size]
	}
	return prompts, nil
}

// printBench prints the benchmark's figures.
func printBench(w io.Writer, r *generate.BenchResult) {
	fmt.Fprintf(w, "decode %d bytes x %d: dense %.0f bytes/s, sparse %.0f bytes/s, speedup %.3f, same bytes %v (median of %d)\n",
		r.Tokens, r.Batch, r.TokensPerSecDense, r.TokensPerSecSparse, r.Speedup, r.SameTokens, r.Repeats)
	if len(r.SparsityBySite) > 0 {
		sites := make([]string, 0, len(r.SparsityBySite))
		for s := range r.SparsityBySite {
			sites = append(sites, s)
		}
		sort.Strings(sites)
		parts := make([]string, len(sites))
		for i, s := range sites {
			parts[i] = fmt.Sprintf("%s %.3f", s, r.SparsityBySite[s])
		}
		fmt.Fprintf(w, "ACT sparsity: %s; skippable multiply-adds %.3f\n", strings.Join(parts, ", "), r.SkippableMACs)
	}
	if r.GraphTokens > 0 {
		fmt.Fprintf(w, "GoMLX graph, one forward per byte (%d bytes): %.0f bytes/s; dense engine / graph = %.1f, same bytes %v\n",
			r.GraphTokens, r.GraphTokensPerSec, r.DenseVsGraph, *r.GraphSameTokens)
	}
	fmt.Fprintf(w, "text: %q\n", r.Text)
}
