// Command ggstats measures the evidence for the generalized-Gaussian (GG) claim
// on the tensors of a trained model: for every weight tensor of a safetensors
// file or a GoMLX checkpoint it fits a GG (by moment ratio and by maximum
// likelihood), a Gaussian and a Laplacian, compares them by Kolmogorov-Smirnov
// distance, and prints a table and a summary by tensor kind and layer kind.
//
//	go run ./examples/ggstats -safetensors model.safetensors [-json out.json] [-plots dir]
//	go run ./examples/ggstats -checkpoint dir [-match 'attn|mlp'] [-min-size 1024]
//
// Flags:
//
//	-safetensors FILE  read the tensors of a safetensors file (F32, F64, F16, BF16)
//	-checkpoint DIR    read the latest checkpoint saved in DIR by GoMLX's checkpoint
//	                   package (optimizer state is skipped unless -all-vars)
//	-json FILE         write every report, the skipped tensors and the summary as JSON
//	-plots DIR         write a PNG per tensor (log-density histogram with the three
//	                   fitted densities) and betas.png (fitted beta per tensor)
//	-sample N          fit at most N values per tensor, a seeded uniform subsample
//	                   (default 200000; 0: all values)
//	-seed S            seed of the subsampling (default 1)
//	-match REGEXP      analyze only tensors whose name matches
//	-min-size N        skip tensors with fewer elements, e.g. biases and norm gains
//	                   (default 1024)
//	-capture KINDS -steps N
//	                   analyze activations and/or gradients (and weights) captured
//	                   from a live training run of N steps; needs a model that
//	                   implements analysis.CaptureFunc (see capture.go)
//
// Large tensors are subsampled without reading them whole: only the chunks of
// the file that hold sampled elements are read, so a 500 MB file needs little
// memory. The subsample of a tensor depends only on the seed and its name.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
)

func main() {
	if err := runMain(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if err != flag.ErrHelp {
			fmt.Fprintln(os.Stderr, "ggstats:", err)
		}
		os.Exit(2)
	}
}

// runMain parses the command line args and runs the command, writing the table
// and summary to stdout and notes to stderr.
func runMain(args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	return run(cfg, stdout, stderr)
}
