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

// DataParallel is a data-parallel run of the experiment, or this process's
// part of one: Train.Workers workers ("ranks"), each an Experiment with its
// own Store, exchanging gradients through an optimizers/dataparallel
// Communicator. Every worker draws the same batches (one stream, as a single
// worker would) and trains on its shard of Batch/Workers windows; the
// averaged update keeps their weights bit-identical.
//
// It runs in one of two ways, with the same results bit for bit:
//
//   - in-process (NewDataParallel): the W ranks in this process, each driven by
//     its own goroutine, over dataparallel.NewInProcess;
//   - one rank per process (NewDataParallelRank): each process of a
//     multi-process job (e.g. launched by mpirun, over dataparallel.NewMPI)
//     holds its own rank.
//
// Rank 0 validates (the others wait for it at their next exchange), shows the
// progress (set its Progress) and writes the results; every rank saves its
// checkpoints (rank 0 into Train.Checkpoint, rank r into its subdirectory
// "rank-r"), since each holds state of its own (GCT's error-feedback
// residuals, ACT's thresholds), and a resumed run resumes every rank from its
// own. The checkpoints of an in-process run and of a multi-process one with
// the same number of workers are interchangeable.
//
// The optimizer is GCT's wrapper around AdamW with the run's compressor (with
// Compress "none": plain fp32 gradients, without error feedback).
type DataParallel struct {
	// Ranks are the experiments of the ranks this process runs, in rank order:
	// all Train.Workers of an in-process run, or the one of this process in a
	// multi-process run (see Experiment.Rank).
	Ranks []*Experiment

	// ownsComms is set when the communicators were created here (in-process):
	// a worker's error then closes its communicator, so that the others fail
	// at once instead of waiting for the timeout.
	ownsComms bool
}

// parallelRank is an Experiment's part in a data-parallel run.
type parallelRank struct {
	comm    dataparallel.Communicator
	trainer *dataparallel.Trainer
	// corpus, if set, is the run's corpus, read once for the ranks of this
	// process (it is read-only); nil: the rank reads Train.Data itself.
	corpus *Corpus
	// verifyEvery is the period, in steps, of the ranks' weights check
	// (TrainConfig.VerifyEvery).
	verifyEvery int
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

// newDataParallel prepares a data-parallel run of train.Workers (>= 2)
// in-process workers, resuming each from its checkpoint if train.Checkpoint
// holds checkpoints.
func newDataParallel(backend compute.Backend, cfg Config, train TrainConfig) (*DataParallel, error) {
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
	corpus, err := loadCorpus(train.Data) // Once for all the workers.
	if err != nil {
		return nil, err
	}
	d := &DataParallel{ownsComms: true}
	resumed := make([]resumePoint, 0, len(comms))
	for _, comm := range comms {
		exp, err := newParallelRank(backend, cfg, train, comm, corpus)
		if err != nil {
			return nil, err
		}
		d.Ranks = append(d.Ranks, exp)
		resumed = append(resumed, exp.resumePoint())
	}
	if err := checkSameResumePoint(resumed); err != nil {
		return nil, err
	}
	return d, nil
}

// newDataParallelRank prepares this process's rank of a multi-process
// data-parallel run: comm connects the job's processes, one rank each (e.g.
// dataparallel.NewMPI in a program launched by mpirun), and the run has
// comm.Size() (>= 2) workers. train.Workers must be 0, 1 (then set to
// comm.Size()) or comm.Size(). Every process must call it with the same
// configuration, at the same time: it is a collective (the ranks check that
// they resume from the same step). The rank resumes from its checkpoint if
// its checkpoint directory holds checkpoints (see DataParallel).
//
// The returned DataParallel holds the one rank (Ranks[0]); Run and TrainTo
// train it in lockstep with the other processes. The caller owns comm: close
// it after the run (after an error, end the process instead: over MPI, a
// process that exits with an error makes mpirun end the whole job, while
// closing a communicator that did not fail waits for the other ranks).
func newDataParallelRank(backend compute.Backend, cfg Config, train TrainConfig, comm dataparallel.Communicator) (*DataParallel, error) {
	if comm == nil {
		return nil, errors.New("NewDataParallelRank: nil communicator")
	}
	size := comm.Size()
	switch {
	case size < 2:
		return nil, errors.Errorf("a data-parallel run needs at least 2 workers, the communicator has %d", size)
	case train.Workers >= 2 && train.Workers != size:
		return nil, errors.Errorf("the run is configured for %d workers, but the communicator connects %d ranks", train.Workers, size)
	}
	train.Workers = size
	exp, err := newParallelRank(backend, cfg, train, comm, nil)
	if err != nil {
		return nil, err
	}
	resumed, err := exp.gatherResumePoints()
	if err != nil {
		return nil, errors.WithMessagef(err, "worker %d", comm.Rank())
	}
	if err := checkSameResumePoint(resumed); err != nil {
		return nil, err
	}
	return &DataParallel{Ranks: []*Experiment{exp}}, nil
}

// newParallelRank creates the Experiment of the worker comm.Rank() of a
// data-parallel run of comm.Size() == train.Workers workers, with its
// checkpoint directory (Train.Checkpoint for rank 0, its subdirectory
// "rank-r" for rank r), on corpus if not nil (else it reads train.Data).
func newParallelRank(backend compute.Backend, cfg Config, train TrainConfig, comm dataparallel.Communicator, corpus *Corpus) (*Experiment, error) {
	r := comm.Rank()
	if train.Checkpoint != "" {
		train.Checkpoint = RankCheckpointDir(train.Checkpoint, r)
	}
	exp, err := newExperiment(backend, cfg, train, &parallelRank{comm: comm, corpus: corpus, verifyEvery: train.VerifyEvery})
	if err != nil {
		return nil, errors.WithMessagef(err, "worker %d", r)
	}
	return exp, nil
}

// RankCheckpointDir returns the checkpoint directory of a data-parallel run's
// rank, given the run's: dir itself for rank 0, its subdirectory "rank-r" for
// rank r > 0.
func RankCheckpointDir(dir string, rank int) string {
	if rank == 0 {
		return dir
	}
	return filepath.Join(dir, fmt.Sprintf("rank-%d", rank))
}

// resumePoint is where a rank resumes: its global step and checkpoint.
type resumePoint struct {
	step int
	from string
}

// resumePoint returns where the experiment resumes.
func (e *Experiment) resumePoint() resumePoint {
	return resumePoint{step: e.globalStep, from: e.ResumedFrom}
}

// gatherResumePoints all-gathers the ranks' resume points (a collective).
func (e *Experiment) gatherResumePoints() ([]resumePoint, error) {
	own := e.resumePoint()
	payload := binary.LittleEndian.AppendUint64(nil, uint64(own.step))
	payload = append(payload, own.from...)
	all, err := e.parallel.comm.AllGather(payload)
	if err != nil {
		return nil, errors.WithMessage(err, "exchanging the ranks' resume steps")
	}
	points := make([]resumePoint, len(all))
	for r, p := range all {
		if len(p) < 8 {
			return nil, errors.Wrapf(dataparallel.ErrCorrupt, "worker %d sent a resume point of %d bytes", r, len(p))
		}
		points[r] = resumePoint{step: int(binary.LittleEndian.Uint64(p)), from: string(p[8:])}
	}
	return points, nil
}

// checkSameResumePoint returns an error if the ranks (points by rank) resume
// from different steps.
func checkSameResumePoint(points []resumePoint) error {
	for r, p := range points {
		if p.step != points[0].step {
			return errors.Errorf("worker %d resumes at step %d (checkpoint %q), worker 0 at step %d (%q): "+
				"the checkpoints of a data-parallel run must be from the same step", r, p.step, p.from,
				points[0].step, points[0].from)
		}
	}
	return nil
}

// Run trains every worker of this process to Train.Steps (see TrainTo) and
// returns the results of Ranks[0]: rank 0's, except in the processes of a
// multi-process run other than rank 0's, whose results lack the validation
// losses (rank 0 validates).
func (d *DataParallel) Run() (*Results, error) {
	if err := d.TrainTo(d.Ranks[0].Train.Steps); err != nil {
		return nil, err
	}
	return d.Ranks[0].Results(), nil
}

// TrainTo trains every worker of this process until the global step reaches
// target (at most Train.Steps), each in its own goroutine, with the
// validations and checkpoints on the way, then checks that all the ranks hold
// the same weights (a collective). In-process, a worker's error stops the
// others (it closes its communicator, which makes the run unusable), and is
// the error returned.
func (d *DataParallel) TrainTo(target int) error {
	errs := make([]error, len(d.Ranks))
	var wg sync.WaitGroup
	for i, exp := range d.Ranks {
		wg.Go(func() {
			err := exp.TrainTo(target)
			if err == nil && exp.parallel.trainer != nil {
				if err = exp.parallel.trainer.Verify(); err != nil {
					err = errors.WithMessagef(err, "the data-parallel ranks' weights differ at global step %d", exp.globalStep)
				}
			}
			if err != nil {
				errs[i] = errors.WithMessagef(err, "worker %d", exp.Rank())
				if d.ownsComms {
					_ = exp.parallel.comm.Close() // The others fail at once instead of waiting.
				}
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

// WeightsHashes returns the dataparallel.WeightsHash of each worker of this
// process, in the order of Ranks (by rank, in-process).
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
		mainLoss := ReduceAllMean(crossEntropy(e.Model.Logits(scope, inputs[0]), inputs[1]))
		train.AddMainLoss(mainLoss)
		return []*Node{mainLoss}
	}
	outputs := func(scope *model.Scope, g *Graph) []*Node {
		mainLoss := train.GetMainLoss(g)
		return append([]*Node{mainLoss}, e.stepOutputNodes(scope, g, mainLoss.DType())...)
	}
	if e.gct == nil {
		return errors.New("a data-parallel run trains with the GCT wrapper charlm builds: leave Experiment.Optimizer unset")
	}
	tr, err := dataparallel.NewTrainer(e.Backend, e.Store, modelFn, nil, e.gct, e.parallel.comm).
		Outputs(outputs).VerifyEvery(e.parallel.verifyEvery).Done()
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
	if errors.Is(err, dataparallel.ErrMismatch) && p.verifyEvery > 0 && stats.Step%int64(p.verifyEvery) == 0 {
		return StepInfo{}, errors.WithMessagef(err, "the data-parallel ranks' weights diverged "+
			"(checked every %d steps, -verify-every; on XLA GPUs, -deterministic keeps them equal)", p.verifyEvery)
	}
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
