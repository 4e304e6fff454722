package dataparallel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/ggprior/ggprior/optimizers"
	"github.com/gomlx/compute"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train"
)

// TrainerConfig configures a Trainer; create it with NewTrainer, finish with Done.
type TrainerConfig struct {
	backend     compute.Backend
	store       *model.Store
	modelFn     train.ModelFn
	lossFn      train.LossFn
	gct         *optimizers.Wrapper
	comm        Communicator
	verifyEvery int
	outputsFn   OutputsFn
	err         error
}

// OutputsFn returns extra scalars computed in a worker's gradient graph (see
// TrainerConfig.Outputs). It is called when the graph is built, after the
// forward and backward passes and GCT's compression, so it can read the losses
// (train.GetMainLoss, train.GetRegularizationLoss) and the values that layers
// and the compressor stored in variables this step (Variable.NodeValue).
type OutputsFn func(scope *model.Scope, g *Graph) []*Node

// NewTrainer configures the data-parallel training of one worker: the model
// (modelFn, predictions from inputs, as train.NewTrainer takes it) and its loss
// (lossFn, e.g. loss.MeanSquaredError; nil if the model adds its loss with
// train.AddMainLoss), whose variables live in store; the optimizer, GCT's
// wrapper (optimizers.GCT(inner)...Done(); with Compressor(optimizers.FP32())
// for uncompressed fp32 exchange), which compresses the gradients and whose
// inner optimizer applies the averaged ones; and comm, the link to the other
// workers.
//
// Each worker of the job runs the same program with its own store and its own
// shard of every batch, and calls Trainer.Step in lockstep with the others:
//
//	comm := ...                               // NewInProcess(w, timeout)[rank] or NewMPI(timeout)
//	opt := optimizers.GCT(optimizer.Adam().Done()).BitsPerElement(2).Done()
//	tr, err := dataparallel.NewTrainer(backend, store, modelFn, loss.MeanSquaredError, opt, comm).Done()
//	for ... {
//	    stats, err := tr.Step(inputsShard, labelsShard)
//	}
//	fmt.Printf("weights_hash=%s\n", dataparallel.WeightsHash(store))
//
// The loss should be a mean over the shard's examples (as GoMLX's losses are)
// so that the average of the workers' gradients is the gradient of the mean
// loss over the whole batch.
func NewTrainer[M train.ModelFnCompatible](backend compute.Backend, store *model.Store, modelFn M,
	lossFn train.LossFn, gct *optimizers.Wrapper, comm Communicator) *TrainerConfig {
	c := &TrainerConfig{backend: backend, store: store, lossFn: lossFn, gct: gct, comm: comm}
	c.modelFn, c.err = toModelFn(modelFn)
	return c
}

// VerifyEvery makes the Trainer compare the ranks' WeightsHash every n steps
// (an all-gather of 32 bytes plus a SHA-256 of the weights): Step returns an
// error wrapping ErrMismatch if they differ. 0, the default, never verifies.
func (c *TrainerConfig) VerifyEvery(n int) *TrainerConfig {
	c.verifyEvery = n
	return c
}

// Outputs makes every step also return the scalars fn computes in the
// gradient graph, in StepStats.Outputs (as float64, in fn's order): metrics of
// this worker's shard, such as its main loss without regularization, an
// activation's sparsity or the gradient's coded bits. They are local to the
// worker, not exchanged.
func (c *TrainerConfig) Outputs(fn OutputsFn) *TrainerConfig {
	c.outputsFn = fn
	return c
}

// Done validates the configuration and returns the Trainer.
func (c *TrainerConfig) Done() (*Trainer, error) {
	if c.err != nil {
		return nil, c.err
	}
	switch {
	case c.backend == nil:
		return nil, errors.New("dataparallel.NewTrainer: backend is nil")
	case c.store == nil:
		return nil, errors.New("dataparallel.NewTrainer: store is nil")
	case c.gct == nil:
		return nil, errors.New("dataparallel.NewTrainer: the optimizer is nil, want GCT's wrapper " +
			"(optimizers.GCT(inner)...Done(), with .Compressor(optimizers.FP32()) for no compression)")
	case c.comm == nil:
		return nil, errors.New("dataparallel.NewTrainer: communicator is nil")
	case c.comm.Size() < 1 || c.comm.Rank() < 0 || c.comm.Rank() >= c.comm.Size():
		return nil, fmt.Errorf("dataparallel.NewTrainer: communicator has rank %d of size %d", c.comm.Rank(), c.comm.Size())
	case c.verifyEvery < 0:
		return nil, fmt.Errorf("dataparallel.NewTrainer: VerifyEvery(%d), want >= 0", c.verifyEvery)
	case binary.NativeEndian.Uint16([]byte{1, 0}) != 1:
		return nil, errors.New("dataparallel.NewTrainer: the wire format sends raw little-endian tensors; this host is big-endian")
	}
	return &Trainer{cfg: *c, rank: c.comm.Rank(), size: c.comm.Size()}, nil
}

// Trainer runs data-parallel training steps for one worker. See NewTrainer.
//
// A step is two executions of GoMLX graphs around a host-side exchange:
//
//  1. compute: forward and backward on this worker's shard, then GCT's
//     compression (rate constraint, error feedback, quantization): the graph
//     outputs each variable's wire form (integers and step, or the dense
//     decoded gradient) and the loss;
//  2. the host encodes the wire forms into one payload (Exp-Golomb frames,
//     int8 bytes or raw floats), all-gathers the payloads, and checks and
//     decodes the peers' ones;
//  3. update: a second graph averages the W gradients, sum_w Ints_w*Step_w/W
//     (or the dense ones), and applies the inner optimizer.
//
// Every rank feeds the second graph the same tensors in the same order (its
// own wire tensors are bit-identical to what the peers decode), so the weights
// and the inner optimizer's state stay bit-identical on all ranks; GCT's
// error-feedback residuals stay local to each worker, as they should.
//
// Before the first step, rank 0's initial weights are broadcast to all ranks.
// After any error the Trainer is unusable (the ranks may no longer agree):
// every later Step returns the first error.
type Trainer struct {
	cfg        TrainerConfig
	rank, size int

	exec1, exec2 *model.Exec
	numInputs    int
	numLabels    int
	layout       *layout // Set when the first graph is built.
	decoder      *PayloadDecoder
	sendBuf      []byte
	step         int64
	broken       error
}

// Rank returns the communicator's rank.
func (t *Trainer) Rank() int { return t.rank }

// Size returns the number of workers.
func (t *Trainer) Size() int { return t.size }

// Store returns the model's store.
func (t *Trainer) Store() *model.Store { return t.cfg.store }

// StepCount returns the number of steps completed.
func (t *Trainer) StepCount() int64 { return t.step }

// fail marks the trainer unusable and returns err.
func (t *Trainer) fail(err error) error {
	if t.broken == nil {
		t.broken = err
	}
	return err
}

// Step runs one training step on this worker's shard: inputs for the model
// function, labels for the loss. All ranks must call it together; it returns
// when the averaged update is applied. The tensors remain owned by the caller.
//
// Errors: a peer that does not join within the communicator's timeout
// (ErrTimeout), a closed peer (ErrClosed), a payload that fails its checks
// (ErrCorrupt, naming the rank and the variable: it is not applied, and this
// worker's weights are left as they were), ranks that disagree on the step or
// the model (ErrMismatch).
func (t *Trainer) Step(inputs, labels []*tensors.Tensor) (stats StepStats, err error) {
	if t.broken != nil {
		return stats, fmt.Errorf("dataparallel: rank %d: trainer unusable after an earlier error: %w", t.rank, t.broken)
	}
	if len(inputs) == 0 {
		return stats, errors.New("dataparallel.Trainer.Step: no inputs")
	}
	args := make([]any, 0, len(inputs)+len(labels))
	for _, x := range inputs {
		args = append(args, x)
	}
	for _, x := range labels {
		args = append(args, x)
	}
	if t.exec1 == nil {
		if err := t.setup(len(inputs), len(labels), args); err != nil {
			return stats, t.fail(err)
		}
	} else if len(inputs) != t.numInputs || len(labels) != t.numLabels {
		return stats, fmt.Errorf("dataparallel.Trainer.Step: %d inputs and %d labels, the first step had %d and %d",
			len(inputs), len(labels), t.numInputs, t.numLabels)
	}
	stats.Step = t.step + 1

	// 1. Compute: forward, backward, compression.
	start := time.Now()
	outputs, err := t.exec1.Call(args...)
	if err != nil {
		return stats, t.fail(fmt.Errorf("dataparallel: rank %d, step %d: gradient graph failed: %w", t.rank, stats.Step, err))
	}
	defer finalizeAll(outputs)
	own, err := t.layout.wireGradients(outputs, &stats)
	if err != nil {
		return stats, t.fail(fmt.Errorf("dataparallel: rank %d, step %d: %w", t.rank, stats.Step, err))
	}
	stats.Compute = time.Since(start)

	// 2. Encode, exchange, decode.
	start = time.Now()
	payload, sizes, err := AppendPayload(t.sendBuf[:0], PayloadHeader{Step: stats.Step, Loss: float32(stats.Loss), NoisePowers: t.layout.noise}, own)
	if err != nil {
		return stats, t.fail(fmt.Errorf("dataparallel: rank %d, step %d: %w", t.rank, stats.Step, err))
	}
	t.sendBuf = payload
	stats.BytesSent = len(payload)
	for i := range stats.Variables {
		stats.Variables[i].WireBytes = sizes[i]
	}
	stats.Encode = time.Since(start)

	start = time.Now()
	all, err := t.cfg.comm.AllGather(payload)
	if err != nil {
		return stats, t.fail(fmt.Errorf("dataparallel: rank %d, step %d: gradient exchange failed: %w", t.rank, stats.Step, err))
	}
	stats.Exchange = time.Since(start)
	if len(all) != t.size {
		return stats, t.fail(fmt.Errorf("dataparallel: rank %d: AllGather returned %d payloads for %d ranks", t.rank, len(all), t.size))
	}

	start = time.Now()
	grads := make([][]WireGradient, t.size)
	grads[t.rank] = own
	var lossSum float64 // Of the float32 losses the payloads carry, in rank order: the same on every rank.
	for r, p := range all {
		if r == t.rank {
			lossSum += float64(float32(stats.Loss))
			continue
		}
		stats.BytesReceived += len(p)
		hdr, g, err := t.decoder.Decode(r, p)
		if err != nil {
			return stats, t.fail(fmt.Errorf("dataparallel: rank %d, step %d: %w (not applied)", t.rank, stats.Step, err))
		}
		if hdr.NoisePowers != t.layout.noise {
			return stats, t.fail(fmt.Errorf("%w: rank %d %s noise powers, rank %d %s", ErrMismatch, r, sendsOrNot(hdr.NoisePowers), t.rank, sendsOrNot(t.layout.noise)))
		}
		if hdr.Step != stats.Step {
			return stats, t.fail(fmt.Errorf("%w: rank %d is at step %d, rank %d sent step %d", ErrMismatch, t.rank, stats.Step, r, hdr.Step))
		}
		grads[r] = g
		lossSum += float64(hdr.Loss)
	}
	stats.MeanLoss = lossSum / float64(t.size)
	stats.Decode = time.Since(start)

	// 3. Update: average and apply.
	start = time.Now()
	updateArgs := make([]any, 0, 2*t.size*len(own))
	for _, perRank := range grads {
		for _, wg := range perRank {
			switch wg.Kind {
			case KindDense, KindSparse, KindSign: // Sparse and sign: decoded on the host.
				updateArgs = append(updateArgs, wg.Dense)
			case KindLowRank:
				updateArgs = append(updateArgs, wg.P, wg.Q)
			default:
				updateArgs = append(updateArgs, wg.Ints, wg.Step)
			}
		}
	}
	if t.layout.noise {
		for _, perRank := range grads {
			powers := make([]float32, len(perRank))
			for i, wg := range perRank {
				powers[i] = wg.NoisePower
			}
			updateArgs = append(updateArgs, tensors.FromValue(powers))
		}
	}
	res, err := t.exec2.Call(updateArgs...)
	if err != nil {
		return stats, t.fail(fmt.Errorf("dataparallel: rank %d, step %d: update graph failed: %w", t.rank, stats.Step, err))
	}
	stats.GradNorm = math.Sqrt(tensors.ToScalar[float64](res[0]))
	finalizeAll(res)
	stats.Update = time.Since(start)
	t.step = stats.Step

	if t.cfg.verifyEvery > 0 && t.step%int64(t.cfg.verifyEvery) == 0 {
		if err := t.Verify(); err != nil {
			return stats, t.fail(err)
		}
	}
	return stats, nil
}

// setup builds the gradient graph for the first batch (which creates the
// model's variables), initializes the variables, broadcasts rank 0's weights,
// and creates the update executor.
func (t *Trainer) setup(numInputs, numLabels int, args []any) error {
	t.numInputs, t.numLabels = numInputs, numLabels
	exec1, err := model.NewExec(t.cfg.backend, t.cfg.store, t.computeGraph)
	if err != nil {
		return fmt.Errorf("dataparallel: rank %d: creating the gradient executor: %w", t.rank, err)
	}
	exec1.WithName("dataparallel.compute")
	if err := t.preCompileKeepingState(exec1, args); err != nil {
		return fmt.Errorf("dataparallel: rank %d: building the gradient graph: %w", t.rank, err)
	}
	if t.layout == nil {
		return fmt.Errorf("dataparallel: rank %d: the gradient graph was not built", t.rank)
	}
	if err := t.cfg.store.InitializeVariables(t.cfg.backend, nil); err != nil {
		return fmt.Errorf("dataparallel: rank %d: initializing the variables: %w", t.rank, err)
	}
	if err := t.broadcastWeights(); err != nil {
		return err
	}
	exec2, err := model.NewExec(t.cfg.backend, t.cfg.store, t.updateGraph)
	if err != nil {
		return fmt.Errorf("dataparallel: rank %d: creating the update executor: %w", t.rank, err)
	}
	exec2.WithName("dataparallel.update").SetMaxCache(graphCacheSize)
	t.exec1, t.exec2 = exec1, exec2
	specs := make([]VariableSpec, len(t.layout.vars))
	for i, v := range t.layout.vars {
		specs[i] = VariableSpec{Path: v.variable.Path(), Shape: v.variable.Shape()}
	}
	t.decoder = NewPayloadDecoder(t.cfg.backend, specs)
	return nil
}

// preCompileKeepingState builds the gradient graph (which creates the model's
// variables) without running it. GoMLX's PreCompile (v0.28) hands the graph
// the buffers of the variables it updates (GCT's residuals and counters,
// layers' running statistics), and drops their values, as if the graph had
// run: a store resumed from a checkpoint would lose that state, and
// InitializeVariables would reset it. So the values held before are kept and
// given back to the variables left without one.
func (t *Trainer) preCompileKeepingState(exec *model.Exec, args []any) error {
	held := map[*model.Variable]*tensors.Tensor{}
	defer func() {
		for _, x := range held {
			_ = x.FinalizeAll()
		}
	}()
	for v := range t.cfg.store.IterVariables() {
		if !v.HasValue() {
			continue
		}
		value, err := v.Value()
		if err == nil {
			held[v], err = value.LocalClone()
		}
		if err != nil {
			return fmt.Errorf("keeping the value of %q: %w", v.Path(), err)
		}
	}
	if err := exec.PreCompile(args...); err != nil {
		return err
	}
	for v, value := range held {
		if !v.HasValue() {
			if err := v.SetValue(value); err != nil {
				return fmt.Errorf("restoring the value of %q: %w", v.Path(), err)
			}
			delete(held, v)
		}
	}
	return nil
}

// graphCacheSize bounds the update graphs compiled: one per combination of
// the sections' kinds (they change only when a variable's wire form switches
// between integers and dense, e.g. during GCT's warmup steps).
const graphCacheSize = 64

// Finalize frees the compiled graphs and the decoder's buffers. It does not
// close the communicator (the caller owns it).
func (t *Trainer) Finalize() {
	if t.exec1 != nil {
		t.exec1.Finalize()
	}
	if t.exec2 != nil {
		t.exec2.Finalize()
	}
	if t.decoder != nil {
		t.decoder.Finalize()
	}
	t.exec1, t.exec2, t.decoder = nil, nil, nil
	t.broken = errors.New("dataparallel: the trainer was finalized")
}

func finalizeAll(ts []*tensors.Tensor) {
	for _, x := range ts {
		if x != nil {
			_ = x.FinalizeAll()
		}
	}
}

// sendsOrNot describes whether a payload carries noise powers, for errors.
func sendsOrNot(noise bool) string {
	if noise {
		return "sends"
	}
	return "sends no"
}
