// Command paper reproduces every claim of the paper ("It Takes a Good Model
// to Train a Good Model: Generalized Gaussian Priors for Optimized LLMs")
// with one command, on the embedded default: the pure-Go backend and the
// charlm reference experiment on Newton's Opticks from GOROOT.
//
//	go run ./examples/paper                      # -profile quick: a smoke test, minutes
//	go run ./examples/paper -profile full        # the claims: 2000-step runs, 3 seeds
//	go run ./examples/paper -profile full -out results/full  # the committed results
//
// It runs, stage by stage (-stages, in this order):
//
//   - evidence: GG, Gaussian and Laplacian fits (KS distance, which wins,
//     median shape) of the weights of the trained baseline, and of its
//     activations and gradients captured live for a few steps;
//   - init: the GG-initialization study (normal02, He, GG with β 1.0, 1.4,
//     2.0, and β fitted to the trained baseline): loss curves, steps to the
//     baseline's final loss, final loss vs the baseline;
//   - act: ACT at the MLP hidden activations (target sparsity 0.8 to 0.98,
//     without the rate term, with a fixed threshold): loss vs the baseline,
//     achieved sparsity, coded bits per activation, skippable multiply-adds;
//   - gct: GCT at 1.5, 2 and 3 bits per gradient element and the baseline
//     compressors (bf16, int8, top-k, sign, PowerSGD): loss vs coded bits;
//   - dp: data-parallel training (2 and 4 in-process workers exchanging
//     gradients through GCT and the baseline compressors): loss vs the
//     single process, bytes sent per worker, the split of a step's time and
//     the step time modelled over 1-100 Gbit/s links;
//   - arch: the init study's baseline and GG on the llama architecture, and
//     the evidence on the trained llama;
//   - mnist: an MLP classifier on MNIST, GG against He init, plain, with ACT
//     and with GCT (the data from the Go module cache, see internal/mnist;
//     skipped, with a notice, when no source has them);
//   - size: the coded size (int8 + Exp-Golomb) of the weights of the baseline,
//     GG and ACT runs, beside their fp32 size;
//   - speed: greedy decoding tokens/s, dense vs ACT-sparse, of the baseline
//     and the ACT models, at batch 1 and 12.
//
// Each stage states the paper's claims it checks and whether they were
// reproduced, with the criterion and the measured numbers; a claim that one
// configuration ends at a lower loss than another (GG init vs the baseline,
// GCT vs a compressor at equal bits) takes, with 2 or more seeds, a t-test
// paired by seed (two-sided, 5%), as each seed fixes the batches. The output
// directory (-out, default ./paper-results) receives results.json (every
// number), report.md (the tables, with the baseline beside each method, the
// verdicts and the charlm command that re-runs each row) and figures/ (PNG
// histograms with the fitted densities, loss curves, sparsity vs loss, loss
// vs bits). The charlm runs' results go to -runs (default OUT/runs) and the
// checkpoints of the runs whose weights are analyzed to OUT/checkpoints.
//
// On a terminal, one progress bar per stage shows the stage's and the
// overall ETA; in a log, plain lines tell the same events. The
// command resumes: a stage in results.json is skipped (unless -force), a
// run with results is not trained again, and an interrupted run resumes from
// its last evaluation step (every run checkpoints to OUT/checkpoints while it
// trains); Ctrl-C stops the run in training and keeps what is finished.
//
// Build it with GOEXPERIMENT=simd for twice the speed on amd64.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/ggprior/ggprior/internal/paper"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := paper.MainContext(ctx, os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
		os.Exit(2)
	case errors.Is(err, paper.ErrInterrupted):
		fmt.Fprintln(os.Stderr, "paper:", err)
		os.Exit(130)
	default:
		fmt.Fprintln(os.Stderr, "paper:", err)
		os.Exit(1)
	}
}
