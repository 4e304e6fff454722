package charlm

import (
	"encoding/binary"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/ggprior/ggprior/optimizers/dataparallel"
	"github.com/gomlx/compute"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train"
	"github.com/pkg/errors"
)

// ParallelTimeout is how long a data-parallel worker waits for the others in
// an exchange before the run fails: long enough for rank 0's validation and
// checkpoint, which the others wait for at their next step.
const ParallelTimeout = 10 * time.Minute

// DataParallel is an in-process data-parallel run of the experiment:
// Train.Workers workers, each an Experiment with its own Store, driven by its
// own goroutine, exchanging gradients through optimizers/dataparallel's
// in-process communicator. Every worker draws the same batches (one stream, as
// a single worker would) and trains on its shard of Batch/Workers windows;
// the averaged update keeps their weights bit-identical.
//
// Rank 0 validates, shows the progress (set Ranks[0].Progress) and writes
// the results; every rank saves its checkpoints (rank 0 into
// Train.Checkpoint, rank r into its subdirectory "rank-r"), since each holds
// state of its own (GCT's error-feedback residuals, ACT's thresholds), and a
// resumed run resumes every rank from its own.
//
// The optimizer is GCT's wrapper around AdamW with the run's compressor (with
// Compress "none": plain fp32 gradients, without error feedback).
type DataParallel struct {
	// Ranks are the workers' experiments, by rank.
	Ranks []*Experiment
}

// parallelRank is an Experiment's part in a data-parallel run.
type parallelRank struct {
	comm    *dataparallel.InProcess
	trainer *dataparallel.Trainer
	// split holds the time split of this process's steps (see StepTimeSplit).
	split [numSplitPhases][]time.Duration
}

// Phases of a data-parallel step, in StepTimeSplit's order.
const (
	phaseCompute = iota
	phaseEncode
	phaseExchange
	phaseDecode
	phaseUpdate
	numSplitPhases
)

// NewDataParallel prepares a data-parallel run of train.Workers (>= 2)
// in-process workers, resuming each from its checkpoint if train.Checkpoint
// holds checkpoints.
func NewDataParallel(backend compute.Backend, cfg Config, train TrainConfig) (*DataParallel, error) {
	if train.Workers < 2 {
		return nil, errors.Errorf("a data-parallel run needs at least 2 workers, got %d", train.Workers)
	}
	if err := train.Validate(); err != nil {
		return nil, err
	}
	comms, err := dataparallel.NewInProcess(train.Workers, ParallelTimeout)
	if err != nil {
		return nil, err
	}
	d := &DataParallel{}
	for r, comm := range comms {
		tc := train
		if r > 0 && tc.Checkpoint != "" {
			tc.Checkpoint = filepath.Join(tc.Checkpoint, fmt.Sprintf("rank-%d", r))
		}
		exp, err := newExperiment(backend, cfg, tc, &parallelRank{comm: comm})
		if err != nil {
			return nil, errors.WithMessagef(err, "worker %d", r)
		}
		if r > 0 && exp.GlobalStep() != d.Ranks[0].GlobalStep() {
			return nil, errors.Errorf("worker %d resumes at step %d (checkpoint %q), worker 0 at step %d (%q): "+
				"the checkpoints of a data-parallel run must be from the same step", r, exp.GlobalStep(), exp.ResumedFrom,
				d.Ranks[0].GlobalStep(), d.Ranks[0].ResumedFrom)
		}
		d.Ranks = append(d.Ranks, exp)
	}
	return d, nil
}

// Run trains every worker to Train.Steps (see TrainTo) and returns rank 0's results.
func (d *DataParallel) Run() (*Results, error) {
	if err := d.TrainTo(d.Ranks[0].Train.Steps); err != nil {
		return nil, err
	}
	return d.Ranks[0].Results(), nil
}

// TrainTo trains every worker until the global step reaches target (at most
// Train.Steps), each in its own goroutine, with the validations and
// checkpoints on the way, then checks that they all hold the same weights. A
// worker's error stops the others (it closes its communicator, which makes
// the run unusable), and is the error returned.
func (d *DataParallel) TrainTo(target int) error {
	errs := make([]error, len(d.Ranks))
	var wg sync.WaitGroup
	for r, exp := range d.Ranks {
		wg.Go(func() {
			err := exp.TrainTo(target)
			if err == nil && exp.parallel.trainer != nil {
				err = exp.parallel.trainer.Verify()
			}
			if err != nil {
				errs[r] = errors.WithMessagef(err, "worker %d", r)
				_ = exp.parallel.comm.Close() // The others fail at once instead of waiting.
			}
		})
	}
	wg.Wait()
	// Report the first cause, not the other workers' "closed" errors it caused.
	var first error
	for _, err := range errs {
		if err != nil && (first == nil || errors.Is(first, dataparallel.ErrClosed) && !errors.Is(err, dataparallel.ErrClosed)) {
			first = err
		}
	}
	return first
}

// WeightsHashes returns each worker's dataparallel.WeightsHash, by rank.
func (d *DataParallel) WeightsHashes() []string {
	hashes := make([]string, len(d.Ranks))
	for r, exp := range d.Ranks {
		hashes[r] = dataparallel.WeightsHash(exp.Store)
	}
	return hashes
}

// Rank returns the experiment's rank in a data-parallel run (0 for a
// single-worker run).
func (e *Experiment) Rank() int {
	if e.parallel == nil {
		return 0
	}
	return e.parallel.comm.Rank()
}

// buildParallelTrainer creates the worker's data-parallel trainer. Its
// gradient graph computes the model's mean cross-entropy on the worker's shard
// (plus the regularization terms layers add) and outputs the cross-entropy
// alone and the StepOutputs.
func (e *Experiment) buildParallelTrainer() error {
	modelFn := func(scope *model.Scope, inputs []*Node) []*Node {
		mainLoss := ReduceAllMean(CrossEntropy(e.Model.Logits(scope, inputs[0]), inputs[1]))
		train.AddMainLoss(mainLoss)
		return []*Node{mainLoss}
	}
	outputs := func(scope *model.Scope, g *Graph) []*Node {
		mainLoss := train.GetMainLoss(g)
		return append([]*Node{mainLoss}, e.stepOutputNodes(scope, g, mainLoss.DType())...)
	}
	tr, err := dataparallel.NewTrainer(e.Backend, e.Store, modelFn, nil, e.Optimizer, e.parallel.comm).Outputs(outputs).Done()
	if err != nil {
		return errors.WithMessage(err, "failed to create the data-parallel trainer")
	}
	e.parallel.trainer = tr
	return nil
}

// ExchangeTotals accumulates, over the steps of a data-parallel run, the
// payload sizes of a worker (the mean over the workers of each step), for
// the means the results report. It is part of the run's History.
type ExchangeTotals struct {
	Steps      int     `json:"steps"`
	BytesSent  float64 `json:"bytes_sent"`
	CodedBytes float64 `json:"coded_bytes"`
}

// parallelStep runs one data-parallel step on the worker's shard of the next
// batch. The losses, payload sizes and step outputs it reports are the means
// over the workers (exchanged after the step), the same on every worker.
func (e *Experiment) parallelStep() (StepInfo, error) {
	start := time.Now()
	p := e.parallel
	tokens, targets := e.Batches.NextShard(p.comm.Rank(), p.comm.Size())
	stats, err := p.trainer.Step([]*tensors.Tensor{tokens, targets}, nil)
	_ = tokens.FinalizeAll()
	_ = targets.FinalizeAll()
	if err != nil {
		return StepInfo{}, err
	}
	local := append([]float64{stats.Outputs[0], float64(stats.BytesSent), stats.CodedBytes()}, stats.Outputs[1:]...)
	mean, err := p.allMean(local)
	if err != nil {
		return StepInfo{}, err
	}
	info := StepInfo{
		Step: e.globalStep + 1, Loss: stats.MeanLoss, MainLoss: mean[0], GradNorm: stats.GradNorm,
		Outputs: mean[3:], Duration: time.Since(start),
	}
	for phase, d := range []time.Duration{stats.Compute, stats.Encode, stats.Exchange, stats.Decode, stats.Update} {
		p.split[phase] = append(p.split[phase], d)
	}
	if e.history.Exchange == nil {
		e.history.Exchange = &ExchangeTotals{}
	}
	e.history.Exchange.Steps++
	e.history.Exchange.BytesSent += mean[1]
	e.history.Exchange.CodedBytes += mean[2]
	return info, e.finishStep(info)
}

// allMean returns the mean over the workers of each of values (the same
// number on every worker), summed in rank order: the same on every worker.
func (p *parallelRank) allMean(values []float64) ([]float64, error) {
	buf := make([]byte, 0, 8*len(values))
	for _, v := range values {
		buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(v))
	}
	all, err := p.comm.AllGather(buf)
	if err != nil {
		return nil, errors.WithMessage(err, "exchanging the step's metrics")
	}
	mean := make([]float64, len(values))
	for r, payload := range all {
		if len(payload) != len(buf) {
			return nil, errors.Wrapf(dataparallel.ErrMismatch, "worker %d sent %d step metrics, worker %d has %d",
				r, len(payload)/8, p.comm.Rank(), len(values))
		}
		for i := range mean {
			mean[i] += math.Float64frombits(binary.LittleEndian.Uint64(payload[8*i:]))
		}
	}
	for i := range mean {
		mean[i] /= float64(len(all))
	}
	return mean, nil
}

// StepTimeSplit is the median time, in seconds, of each phase of a
// data-parallel step (see dataparallel.StepStats), over the steps rank 0 ran
// in the process that wrote the results.
type StepTimeSplit struct {
	Compute  float64 `json:"compute_s"`
	Encode   float64 `json:"encode_s"`
	Exchange float64 `json:"exchange_s"`
	Decode   float64 `json:"decode_s"`
	Update   float64 `json:"update_s"`
}

// ParallelResults are the measurements of a data-parallel run (fields
// inlined in Results).
type ParallelResults struct {
	// Workers is the number of workers.
	Workers int `json:"workers"`
	// BytesSentPerWorkerPerStep is the mean size of a worker's payload
	// (dataparallel.StepStats.BytesSent: header, framing and coded gradients),
	// over the workers and steps; CodedBytesPerWorkerPerStep the same for what
	// the compressors count (StepStats.CodedBits/8).
	BytesSentPerWorkerPerStep  float64 `json:"bytes_sent_per_worker_per_step"`
	CodedBytesPerWorkerPerStep float64 `json:"coded_bytes_per_worker_per_step"`
	// StepTimeSplit is the split of rank 0's step time.
	StepTimeSplit StepTimeSplit `json:"step_time_split"`
}

// parallelResults returns the data-parallel results (nil for a single worker).
func (e *Experiment) parallelResults() *ParallelResults {
	if e.parallel == nil {
		return nil
	}
	r := &ParallelResults{Workers: e.parallel.comm.Size()}
	if t := e.history.Exchange; t != nil && t.Steps > 0 {
		r.BytesSentPerWorkerPerStep = t.BytesSent / float64(t.Steps)
		r.CodedBytesPerWorkerPerStep = t.CodedBytes / float64(t.Steps)
	}
	median := func(phase int) float64 { return medianDuration(e.parallel.split[phase]).Seconds() }
	r.StepTimeSplit = StepTimeSplit{
		Compute: median(phaseCompute), Encode: median(phaseEncode), Exchange: median(phaseExchange),
		Decode: median(phaseDecode), Update: median(phaseUpdate),
	}
	return r
}

// medianDuration returns the median of times (0 if empty).
func medianDuration(times []time.Duration) time.Duration {
	if len(times) == 0 {
		return 0
	}
	sorted := slices.Clone(times)
	slices.Sort(sorted)
	return sorted[len(sorted)/2]
}
