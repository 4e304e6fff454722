package charlm

import (
	"slices"

	"github.com/ggprior/ggprior/internal/tensorkind"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/support/exceptions"
	"github.com/pkg/errors"
)

// CaptureSink receives the tensors a Capturer takes, of the kinds of package
// tensorkind (those of the GG evidence tool, internal/distfit):
//
//   - tensorkind.Weights: the values of the trainable variables (weights,
//     embeddings, biases, normalization parameters), named by their path.
//   - tensorkind.Activations: the activations of a forward pass at every site
//     the model hands its ActivationFn (Model.Activation; e.g. the MLP hidden
//     activation after GELU, SiteMLPHidden), as the rest of the model sees
//     them (after the model's own ActivationFn, if any), named
//     "<scope>/<site>", e.g. "/block_000/mlp/mlp_hidden".
//   - tensorkind.Gradients: the gradients of the mean cross-entropy of a
//     batch with respect to each trainable variable, named by the variable's
//     path: raw gradients, before the optimizer's clipping or any compression.
//
// kind is one of tensorkind.All, name identifies the tensor within its kind, and values is a host
// copy of its elements that the sink must not keep (the Capturer reuses it).
// The GG evidence tool's distfit.Sink has this method.
type CaptureSink interface {
	Observe(kind, name string, values []float64) error
}

// captureSeedMix derives the seed of the capture batches from the run's seed.
const captureSeedMix = 0x63617074757265 // "capture"

// Capturer takes host copies of the weights, activations and gradients of an
// Experiment's model and hands them to a CaptureSink, at the steps it is asked
// to (CaptureNow) or, as an OnStep hook (see OnStep), every Every steps and at
// the run's last step.
//
// Activations and gradients are computed by a graph of their own, on batches
// from a generator of their own (seeded from the run's seed), with the current
// weights: capturing does not change the training batches, the weights or
// anything else of the run, which stays bit for bit the run it would be
// without the Capturer.
type Capturer struct {
	// Every, if > 0, makes OnStep capture after every Every-th step. OnStep
	// always captures after the run's last step (Train.Steps).
	Every int

	exp     *Experiment
	kinds   []string
	sink    CaptureSink
	batches *Batches
	exec    *model.Exec
	outputs []capturedOutput // The graph's outputs after the loss, filled when it is built.
	steps   []int
	counts  map[string]int
	scratch []float64
}

// capturedOutput names an output of the capture graph.
type capturedOutput struct{ kind, name string }

// newCapturer returns a Capturer of exp's model that sends the given kinds
// (a non-empty subset of tensorkind.All) to sink.
func newCapturer(exp *Experiment, kinds []string, sink CaptureSink) (*Capturer, error) {
	if exp == nil || sink == nil {
		return nil, errors.New("charlm: NewCapturer needs an experiment and a sink")
	}
	if len(kinds) == 0 {
		return nil, errors.Errorf("charlm: nothing to capture: give one or more of %q", tensorkind.All)
	}
	c := &Capturer{exp: exp, sink: sink, counts: map[string]int{}}
	for _, kind := range tensorkind.All { // Sending order.
		if slices.Contains(kinds, kind) {
			c.kinds = append(c.kinds, kind)
		}
	}
	for _, kind := range kinds {
		if !slices.Contains(tensorkind.All, kind) {
			return nil, errors.Errorf("charlm: unknown capture kind %q: valid kinds are %q", kind, tensorkind.All)
		}
	}
	batches, err := newBatches(exp.Corpus.Train, exp.Train.Batch, exp.Config.Block, exp.Train.Seed^captureSeedMix)
	if err != nil {
		return nil, errors.WithMessage(err, "charlm: capture batches")
	}
	c.batches = batches
	return c, nil
}

// Steps returns the global steps at which the Capturer captured so far.
func (c *Capturer) Steps() []int { return slices.Clone(c.steps) }

// Tensors returns the number of tensors of each kind sent at each capture.
func (c *Capturer) Tensors() map[string]int {
	out := make(map[string]int, len(c.counts))
	for k, n := range c.counts {
		out[k] = n
	}
	return out
}

// wants reports whether kind is captured.
func (c *Capturer) wants(kind string) bool { return slices.Contains(c.kinds, kind) }

// OnStep is an Experiment.OnStep hook: it captures after every Every-th step
// (if Every > 0) and after the run's last step.
func (c *Capturer) OnStep(exp *Experiment, info StepInfo) error {
	if info.Step == exp.Train.Steps || (c.Every > 0 && info.Step%c.Every == 0) {
		return c.CaptureNow()
	}
	return nil
}

// CaptureNow captures the requested kinds with the model's current weights
// and sends them to the sink: weights first, then activations, then
// gradients; within a kind, in the order the model creates them.
func (c *Capturer) CaptureNow() error {
	step := c.exp.GlobalStep()
	if c.wants(tensorkind.Weights) {
		if step == 0 { // Before training: the variables may not exist yet.
			if _, err := c.exp.modelVariables(); err != nil {
				return errors.WithMessagef(err, "capture at step %d", step)
			}
		}
		n := 0
		for v := range c.exp.Store.IterVariables() {
			if !v.Trainable {
				continue // Optimizer state, counters, generator state.
			}
			value, err := v.Value()
			if err != nil {
				return errors.WithMessagef(err, "capture at step %d: variable %q", step, v.Path())
			}
			if err := c.send(tensorkind.Weights, v.Path(), value); err != nil {
				return errors.WithMessagef(err, "capture at step %d", step)
			}
			n++
		}
		c.counts[tensorkind.Weights] = n
	}
	if c.wants(tensorkind.Activations) || c.wants(tensorkind.Gradients) {
		if err := c.captureGraphOutputs(); err != nil {
			return errors.WithMessagef(err, "capture at step %d", step)
		}
	}
	c.steps = append(c.steps, step)
	return nil
}

// captureGraphOutputs runs the capture graph on the next capture batch and
// sends its outputs.
func (c *Capturer) captureGraphOutputs() error {
	if c.exec == nil {
		exec, err := model.NewExec(c.exp.Backend, c.exp.Store, c.graph)
		if err != nil {
			return errors.WithMessage(err, "failed to create the capture graph")
		}
		c.exec = exec.WithName("charlm-capture")
	}
	tokens, targets := c.batches.Next()
	var outputs []*tensors.Tensor
	err := exceptions.TryCatch[error](func() {
		var err error
		outputs, err = c.exec.Call(tokens, targets)
		if err != nil {
			panic(err)
		}
	})
	if err != nil {
		return errors.WithMessage(err, "capture graph failed")
	}
	defer func() {
		for _, t := range outputs {
			_ = t.FinalizeAll()
		}
	}()
	if len(outputs) != 1+len(c.outputs) {
		return errors.Errorf("capture graph returned %d outputs, want %d", len(outputs), 1+len(c.outputs))
	}
	counts := map[string]int{}
	for i, out := range c.outputs {
		if err := c.send(out.kind, out.name, outputs[1+i]); err != nil {
			return err
		}
		counts[out.kind]++
	}
	for _, kind := range []string{tensorkind.Activations, tensorkind.Gradients} {
		if c.wants(kind) {
			c.counts[kind] = counts[kind]
		}
	}
	return nil
}

// send copies t to the host as float64 and hands it to the sink.
func (c *Capturer) send(kind, name string, t *tensors.Tensor) error {
	var convErr error
	err := t.ConstFlatData(func(flat any) {
		switch xs := flat.(type) {
		case []float32:
			c.scratch = c.scratch[:0]
			for _, x := range xs {
				c.scratch = append(c.scratch, float64(x))
			}
		case []float64:
			c.scratch = append(c.scratch[:0], xs...)
		default:
			convErr = errors.Errorf("%s %q has dtype %s: only float32 and float64 are captured", kind, name, t.DType())
		}
	})
	if err != nil {
		return errors.WithMessagef(err, "failed to read %s %q", kind, name)
	}
	if convErr != nil {
		return convErr
	}
	if err := c.sink.Observe(kind, name, c.scratch); err != nil {
		return errors.WithMessagef(err, "sink refused %s %q", kind, name)
	}
	return nil
}
