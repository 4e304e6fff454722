// Command charlm runs the project's reference experiment: a small byte-level GPT
// trained on Newton's Opticks (shipped with Go), as the benchmark specification fixes it.
//
//	go run ./examples/charlm -steps 300 -results r.json
//
// It prints the backend it uses, the progress with the loss and step time (a
// bar on a terminal, a line per evaluation when the output is a log), the
// validation loss at the -eval-at steps, and writes the run's results as JSON
// with -results. With -checkpoint DIR it saves at every evaluation step and at
// the end, and resumes from DIR's latest checkpoint bit for bit; a resume
// whose hyperparameters differ from the checkpoint's is refused, unless
// -allow-changes (the results then record each change and its step). The
// outputs (-results, -checkpoint) are checked before any work.
//
// The methods under study plug in with flags:
//
//	-compress gct -gct-bits 2        GCT: AdamW updated with gradients coded at ~2 bits per element
//	-compress gct -gct-coder rans -gct-bits 0.5
//	                                 GCT with the GG-model rANS coder (ggrans), below 1 bit per element
//	-compress topk:0.01              a baseline compressor in GCT's place (bf16, int8, sign, powersgd:R, ...)
//	-act -act-sparsity 0.9           ACT on every block's attention and MLP inputs and MLP hidden activations
//	-act -act-sites mlp_hidden -act-sparsity 0.95
//	-workers 2 -compress gct         2 in-process data-parallel workers exchanging GCT-coded gradients
//
// Their hyperparameters are also settable with -set (gct_bits, gct_coder,
// gct_lambda, gct_error_feedback, gct_warmup_steps; act_sparsity, act_lambda,
// act_schedule, act_start, act_end, act_threshold, act_straight_through), and
// their measurements are in the results (grad_bits_per_element, ...,
// act_sparsity, ..., bytes_sent_per_worker_per_step, ...).
//
// # Sizes, corpora and determinism
//
// The reference model (-size reference, 867,072 parameters) and -size tiny
// are the CPU sizes; -size small, medium and gpt2-small (10.9 M, 25.7 M and
// 86.2 M parameters, contexts of 256, 512 and 1024 bytes) are for an
// accelerator; -layers, -heads, -width and -block change a size's shape:
//
//	GOMLX_BACKEND=xla:cuda charlm -size gpt2-small -data gosrc -batch 32
//	charlm -size tiny -data gosrc:4M -steps 50
//
// -data gosrc trains on every .go file under $GOROOT/src in sorted path
// order (about 90 MB; see charlm.CorpusGoSrc). -deterministic (or
// GGPRIOR_DETERMINISTIC=1) makes XLA's GPU kernels bit-reproducible (see
// backends.DeterministicXLAFlags); it is on by default with -workers >= 2 or
// over MPI, and the pure-Go backend is deterministic anyway. Data-parallel
// runs compare the ranks' weights every -verify-every steps (default 100)
// and stop with an error naming the step and the ranks if they differ.
//
// # Data-parallel over MPI
//
// Built with the "mpi" build tag (cgo and OpenMPI's development files needed),
// charlm runs one data-parallel worker per process of an mpirun job:
//
//	CGO_ENABLED=1 go build -tags mpi -o charlm ./examples/charlm
//	mpirun -np 2 ./charlm -compress gct -results r.json
//
// It knows it was launched by mpirun from OpenMPI's environment
// (OMPI_COMM_WORLD_SIZE): the number of workers is then the number of
// processes (-workers, if given, must agree), and rank r trains on the r-th
// shard of every batch, exchanging gradients with MPI_Allgatherv. Rank 0 does
// what a single process does (header, progress, validation, summary,
// -results); every rank checkpoints (rank 0 into -checkpoint, rank r into its
// subdirectory rank-r, as the in-process workers do) and prints
// "rank R: weights_hash=HEX" at the end. The run is bit for bit the
// in-process run with -workers W and the same flags. A rank that fails, dies
// or hangs ends the whole job with an error (mpirun's exit status is
// nonzero). A charlm built without the tag refuses to run under mpirun.
//
// # Generation
//
// From a trained run's checkpoint, charlm decodes text on the host
// (internal/charlm/generate, KV-cached) instead of training:
//
//	charlm -checkpoint DIR -generate 200 -prompt "Light " [-temperature 0.8 -top-k 20 -seed 2] [-sparse]
//	charlm -checkpoint DIR -bench-decode 200 [-bench-batch 8] -results bench.json
//
// -generate prints the bytes decoded (greedy unless -temperature > 0; with
// -sparse, the products after ACT's sites skip their zeros, same text).
// -bench-decode times the dense and the ACT-sparse path (and the GoMLX
// graph) on the same weights and writes decode_tokens_per_sec_dense,
// decode_tokens_per_sec_sparse, decode_speedup, decode_same_tokens, ... .
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/ggprior/ggprior/backends"
	"github.com/ggprior/ggprior/internal/charlm"
	"github.com/ggprior/ggprior/internal/fitbetas"
	"github.com/ggprior/ggprior/internal/outfile"
	"github.com/ggprior/ggprior/optimizers/dataparallel"
	"github.com/pkg/errors"
)

var (
	// cli holds the flags that describe the run (charlm.Flags: -steps, -init,
	// -compress, -act, ...), registered on the command line.
	cli = charlm.NewFlags(flag.CommandLine)

	flagWatchdog = flag.Duration("watchdog", defaultWatchdog, "abort if no training step completes for this long (0 disables)")
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

// mpiWorldSizeEnv is the environment variable that OpenMPI's mpirun sets in
// every process it launches: the number of processes of the job.
const mpiWorldSizeEnv = "OMPI_COMM_WORLD_SIZE"

// errNoMPI is the error of a charlm built without MPI support, launched by mpirun.
const errNoMPI = "this charlm was built without MPI support: build with -tags mpi " +
	"(needs cgo and OpenMPI: apt-get install openmpi-bin libopenmpi-dev)"

func run() error {
	if flag.NArg() > 0 {
		return errors.Errorf("unexpected arguments %q (flags only; see -help)", flag.Args())
	}
	if handled, err := runInference(os.Stdout, os.Stderr); handled {
		return err
	}
	size, err := mpiWorldSize()
	if err != nil {
		return err
	}
	if size == 0 {
		return runWith(nil)
	}
	comm, err := newMPICommunicator()
	if err != nil {
		return err
	}
	if comm.Size() != size {
		return errors.Errorf("MPI connects %d processes, but %s=%d", comm.Size(), mpiWorldSizeEnv, size)
	}
	if err := runWith(comm); err != nil {
		// Not closed: closing waits for the other ranks, which may be waiting
		// for this one. The process exits with an error, and mpirun ends the job.
		return errors.WithMessagef(err, "rank %d of %d", comm.Rank(), comm.Size())
	}
	if err := comm.Close(); err != nil {
		return errors.WithMessagef(err, "rank %d of %d: closing MPI", comm.Rank(), comm.Size())
	}
	return nil
}

// mpiWorldSize returns the number of processes of the mpirun job that
// launched this process (see mpiWorldSizeEnv), 0 if mpirun did not launch it.
// It checks that the job can be a data-parallel run (at least 2 processes,
// and as many as -workers if given).
func mpiWorldSize() (int, error) {
	env, found := os.LookupEnv(mpiWorldSizeEnv)
	if !found {
		return 0, nil
	}
	size, err := strconv.Atoi(env)
	switch {
	case err != nil:
		return 0, errors.Errorf("%s=%q (set by mpirun): not a number of processes", mpiWorldSizeEnv, env)
	case size < 2:
		return 0, errors.Errorf("launched by mpirun with %d process(es): a data-parallel run needs at least 2 (mpirun -np W, W >= 2); "+
			"for one worker, run charlm without mpirun", size)
	case cli.Changed("workers") && cli.Workers != size:
		return 0, errors.Errorf("-workers %d, but mpirun launched %d processes: over MPI each process is one worker "+
			"(drop -workers, or give -workers %d)", cli.Workers, size, size)
	}
	return size, nil
}

// runWith runs the command: one experiment, the in-process data-parallel
// workers of -workers, or, with comm (over MPI), this process's rank of a
// data-parallel run. Rank 0 prints the run's header and summary, shows the
// progress and writes -results; every rank prints its weights hash.
func runWith(comm dataparallel.Communicator) error {
	lead := comm == nil || comm.Rank() == 0
	cfg, tc, settings, err := cli.RunConfig(newModelConfig())
	if err != nil {
		return err
	}
	if lead && cli.Results != "" {
		if err := outfile.CheckFile(cli.Results); err != nil {
			return errors.WithMessage(err, "-results")
		}
	}
	// "fit:DIR": beta per layer kind, fitted (MLE, median over layers) to a trained checkpoint.
	beta, err := fitbetas.Resolve(tc.Beta)
	if err != nil {
		return err
	}
	if beta != tc.Beta && lead {
		fmt.Printf("beta fitted from %s: %s\n", strings.TrimPrefix(strings.TrimSpace(tc.Beta), charlm.BetaFitPrefix), beta)
	}
	tc.Beta = beta
	if comm != nil {
		tc.Workers = comm.Size()
		if tc.Deterministic, err = cli.ResolveDeterministic(tc.Workers); err != nil {
			return err
		}
	}
	if err := tc.Validate(); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	stderr := io.Writer(os.Stderr)
	if !lead {
		stderr = io.Discard
	}
	backend, err := backends.NewWithOptions(stderr, backends.Options{Deterministic: tc.Deterministic})
	if err != nil {
		return err
	}

	// One experiment, or one per data-parallel worker of this process (rank 0 reports).
	job, err := charlm.NewJob(backend, cfg, tc, comm, strings.Join(settings, ";"))
	if err != nil {
		return err
	}
	exp, parallel := job.Lead(), job.Parallel
	if lead {
		printHeader(exp, comm != nil)
		if !cli.Quiet {
			exp.Progress = os.Stderr
		}
	}
	if *flagWatchdog > 0 {
		stop := startWatchdog(exp, *flagWatchdog)
		defer stop()
	}

	results, err := job.Run()
	if err != nil {
		return err
	}
	if lead {
		printSummary(results)
	}
	if parallel != nil {
		for i, hash := range parallel.WeightsHashes() {
			fmt.Printf("rank %d: weights_hash=%s\n", parallel.Ranks[i].Rank(), hash)
		}
	} else {
		fmt.Printf("weights_hash=%s\n", results.WeightsHash)
	}
	if lead && cli.Results != "" {
		if err := results.WriteJSON(cli.Results); err != nil {
			return err
		}
		fmt.Printf("results written to %s\n", cli.Results)
	}
	return nil
}

// printHeader prints the run's configuration; overMPI tells that the
// data-parallel workers are the processes of an MPI job.
func printHeader(exp *charlm.Experiment, overMPI bool) {
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
		how := "in-process workers"
		if overMPI {
			how = "MPI ranks (one process each)"
		}
		verify := "at the end"
		if tc.VerifyEvery > 0 {
			verify = fmt.Sprintf("every %d steps", tc.VerifyEvery)
		}
		fmt.Printf("data-parallel: %d %s, %d windows each per batch, weights compared %s\n", tc.Workers, how, tc.Batch/tc.Workers, verify)
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
