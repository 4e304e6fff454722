// Command ggstats measures the evidence for the generalized-Gaussian (GG) claim
// on the tensors of a model: for every weight tensor of a safetensors file or a
// GoMLX checkpoint, or for the weights, activations and gradients captured from
// a live training run of the charlm reference model, it fits a GG (by moment
// ratio and by maximum likelihood), a Gaussian and a Laplacian, compares them
// by Kolmogorov-Smirnov distance, and prints a table and a summary by tensor
// kind and layer kind.
//
//	go run ./examples/ggstats -safetensors model.safetensors [-json out.json] [-plots dir]
//	go run ./examples/ggstats -checkpoint dir [-match 'attn|mlp'] [-min-size 1024]
//	go run ./examples/ggstats -capture activations,gradients -steps 300 [-every 100] [-plots dir] [-json out.json]
//	go run ./examples/ggstats -capture gradients -steps 1 -checkpoint trained_dir
//	go run ./examples/ggstats -fit-betas trained_dir
//	go run ./examples/ggstats -coded-size trained_dir [-json out.json]
//
// Flags:
//
//	-safetensors FILE  read the tensors of a safetensors file (F32, F64, F16, BF16)
//	-checkpoint DIR    read the latest checkpoint saved in DIR by GoMLX's checkpoint
//	                   package (optimizer state is skipped unless -all-vars); with
//	                   -capture, the checkpoint (of charlm) whose weights the live
//	                   run starts from
//	-json FILE         write every report, the skipped tensors and the summary as JSON
//	-plots DIR         write a PNG per tensor (log-density histogram with the three
//	                   fitted densities) and betas.png (fitted beta per tensor)
//	-sample N          fit at most N values per tensor, a seeded uniform subsample
//	                   (default 200000; 0: all values)
//	-seed S            seed of the subsampling and, with -capture, of the run
//	                   (default 1)
//	-match REGEXP      analyze only tensors whose name matches
//	-min-size N        skip tensors with fewer elements, e.g. biases and norm gains
//	                   (default 1024)
//	-capture KINDS -steps N
//	                   train the charlm reference model for N steps and analyze the
//	                   KINDS (weights, activations, gradients: a comma-separated
//	                   list) captured after the last step; see capture_charlm.go
//	                   for the capture points
//	-every K           with -capture, capture after every K steps too, pooling the
//	                   values of all captures per tensor
//	-arch, -init, -beta
//	                   with -capture, charlm's architecture (gpt, llama),
//	                   initialization (normal02, he, gg) and GG shape (as charlm's
//	                   -beta, including fit:DIR)
//	-fit-betas DIR     print the GG shape per charlm layer kind, fitted by maximum
//	                   likelihood to the latest checkpoint in DIR, as charlm's -beta
//	                   value (e.g. "embed=1.12,pos=1.37,attn_qkv=1.31,..."); the
//	                   fits per tensor go to stderr
//	-coded-size DIR    print the coded size of the model weights of the latest
//	                   checkpoint in DIR: per tensor and in total, int8 quantization
//	                   with one scale per tensor and Exp-Golomb coding at the best
//	                   order, in bytes and bits per weight, beside the raw fp32 and
//	                   int8 sizes (see package codedsize); with -json, the report
//	                   as JSON too
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
