package distfit

import (
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sync"

	"github.com/ggprior/ggprior/internal/tensorkind"
)

// Sink receives tensors observed during a live run of a model: activations
// after a forward pass, gradients after a backward pass, weights at some step.
// kind is tensorkind.Weights, tensorkind.Activations or tensorkind.Gradients; name identifies the
// tensor within its kind (e.g. the scope of the layer, "/block_000/mlp/act");
// values is a host copy of the tensor's elements, which the Sink does not keep
// (it copies what it needs), so the caller may reuse the slice.
//
// A live run calls Observe for the same (kind, name) once per captured step;
// the Sink pools the values over steps. Implementations must be safe for concurrent use.
type Sink interface {
	Observe(kind, name string, values []float64) error
}

// CaptureOptions configures a live run for CaptureFunc.
type CaptureOptions struct {
	// Kinds lists what to capture: a non-empty subset of tensorkind.Weights,
	// tensorkind.Activations, tensorkind.Gradients.
	Kinds []string
	// Steps is the number of training steps of the run (> 0).
	Steps int
	// Every, if > 0, captures after every Every-th step as well as after the
	// last; 0 captures after the last step only.
	Every int
	// Seed seeds the run (initialization and data).
	Seed int64
	// Checkpoint, if not empty, is a checkpoint directory whose trained
	// weights the run starts from, instead of a fresh initialization.
	Checkpoint string
	// Arch, Init and Beta choose the model's architecture, initialization and
	// its shape parameter, by the names the live model defines; empty means
	// its defaults (with Checkpoint: the checkpoint's architecture).
	Arch, Init, Beta string
	// Progress, if not nil, receives the run's progress.
	Progress io.Writer
}

// CaptureFunc is what a live model implements to feed the GG evidence tool: it
// trains (or runs) the model as opts says and, at the steps opts chooses, sends
// to sink the tensors of the requested kinds. It returns when the steps are
// done or on the first error (including an error from sink), with a one-line
// description of the run (model, steps captured, tensors sent) for the report.
//
// The tool then analyzes the pooled values of each (kind, name) as it does
// tensors read from files.
type CaptureFunc func(opts CaptureOptions, sink Sink) (description string, err error)

// Accumulator is a Sink that keeps, for every (kind, name) it is sent, a uniform
// random sample of bounded size of all the values observed over the run
// (reservoir sampling, seeded per tensor by TensorSeed(opts.Seed, kind+"/"+name),
// so a run that observes the same values in the same order gives the same
// sample), and the total count. Memory is bounded by the sample size per tensor,
// however many steps the run takes.
type Accumulator struct {
	opts  Options
	mu    sync.Mutex
	order []key
	pools map[key]*reservoir
}

// key identifies an observed tensor.
type key struct{ kind, name string }

// reservoir is the running uniform sample of one tensor's values.
type reservoir struct {
	rng    *rand.Rand
	sample []float64
	seen   int
}

// NewAccumulator returns an empty Accumulator keeping at most opts's sample size
// (Options.SampleSize; 0 for DefaultSampleSize; negative keeps every value) per
// tensor.
func NewAccumulator(opts Options) *Accumulator {
	return &Accumulator{opts: opts, pools: map[key]*reservoir{}}
}

// Observe implements Sink: it adds values to the pool of (kind, name). kind must
// be one of tensorkind.All.
func (a *Accumulator) Observe(kind, name string, values []float64) error {
	if !slices.Contains(tensorkind.All, kind) {
		return fmt.Errorf("analysis: Observe(%q, %q): kind must be one of %v", kind, name, tensorkind.All)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	k := key{kind, name}
	res, ok := a.pools[k]
	if !ok {
		res = &reservoir{rng: rand.New(rand.NewPCG(tensorSeed(a.opts.Seed, kind+"/"+name), 0x2545f4914f6cdd1d))}
		a.pools[k] = res
		a.order = append(a.order, k)
	}
	limit := a.opts.sampleSize()
	for _, x := range values {
		res.seen++
		switch {
		case limit == 0 || len(res.sample) < limit:
			res.sample = append(res.sample, x)
		default:
			// Algorithm R: the i-th value replaces a random slot with probability
			// limit/i.
			if j := res.rng.IntN(res.seen); j < limit {
				res.sample[j] = x
			}
		}
	}
	return nil
}

// Each calls fn for every observed tensor, in the order first observed, with its
// kind, name, total number of values observed and the pooled sample (owned by
// the Accumulator: do not modify). It stops at, and returns, fn's first error.
// It holds the Accumulator's lock: fn must not call Observe.
func (a *Accumulator) Each(fn func(kind, name string, total int, sample []float64) error) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, k := range a.order {
		res := a.pools[k]
		if err := fn(k.kind, k.name, res.seen, res.sample); err != nil {
			return err
		}
	}
	return nil
}

// Reports analyzes every observed tensor (see AnalyzeSample, with the
// Accumulator's options and each tensor's kind) and returns the reports, in the
// order first observed, and the tensors that could not be fitted.
func (a *Accumulator) Reports() ([]TensorReport, []Skip) {
	var reports []TensorReport
	var skipped []Skip
	_ = a.Each(func(kind, name string, total int, sample []float64) error {
		opts := a.opts
		opts.Kind = kind
		r, err := AnalyzeSample(name, sample, total, opts)
		if err != nil {
			skipped = append(skipped, Skip{Name: name, Reason: err.Error()})
			return nil
		}
		reports = append(reports, r)
		return nil
	})
	return reports, skipped
}
