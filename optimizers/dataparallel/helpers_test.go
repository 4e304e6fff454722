package dataparallel

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/ggprior/ggprior/internal/testbackend"
	"github.com/ggprior/ggprior/optimizers"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/layers"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train/loss"
	"github.com/gomlx/gomlx/ml/train/optimizer"
	"github.com/stretchr/testify/require"
)

const (
	numFeatures = 6
	hiddenDim   = 16
)

// mlp is a tiny MLP: 6 -> 16 (tanh) -> 1.
func mlp(scope *model.Scope, x *Node) *Node {
	h := Tanh(layers.Dense(scope.In("hidden"), x, true, hiddenDim))
	return layers.Dense(scope.In("out"), h, true, 1)
}

// newStore returns an empty store whose initializers are seeded.
func newStore() *model.Store {
	store := model.NewStore()
	store.SetParam(model.ParamInitialSeed, int64(7))
	return store
}

// dataset returns n examples of a noisy nonlinear regression, seeded.
func dataset(n int, seed uint64) (xs [][]float32, ys [][]float32) {
	rng := rand.New(rand.NewPCG(seed, 3))
	xs = make([][]float32, n)
	ys = make([][]float32, n)
	for i := range xs {
		xs[i] = make([]float32, numFeatures)
		var y float64
		for j := range xs[i] {
			v := rng.NormFloat64()
			xs[i][j] = float32(v)
			y += float64(j+1) * 0.1 * v
		}
		ys[i] = []float32{float32(y*y/4 + 0.1*rng.NormFloat64())}
	}
	return
}

// batch returns rows [from, to) of the dataset as tensors.
func batch(xs, ys [][]float32, from, to int) (*tensors.Tensor, *tensors.Tensor) {
	return tensors.FromValue(xs[from:to]), tensors.FromValue(ys[from:to])
}

// newOpt returns the inner optimizer by name, and the GCT wrapper around it.
func newOpt(t testing.TB, inner string, comp optimizers.Compressor) (optimizer.Interface, *optimizers.Wrapper) {
	var in optimizer.Interface
	switch inner {
	case "sgd":
		in = optimizer.StochasticGradientDescent().WithDecay(false).WithLearningRate(0.05).Done()
	case "adam":
		in = optimizer.Adam().LearningRate(0.01).Done()
	default:
		t.Fatalf("unknown optimizer %q", inner)
	}
	cfg := optimizers.GCT(in)
	if comp != nil {
		cfg = cfg.Compressor(comp)
	}
	return in, cfg.Done()
}

// worker is one rank of an in-process job.
type worker struct {
	store   *model.Store
	trainer *Trainer
	comm    Communicator
}

// newWorkers creates w workers on comms (nil: an in-process group).
func newWorkers(t testing.TB, w int, inner string, comp optimizers.Compressor, comms []Communicator, verifyEvery int) []*worker {
	if comms == nil {
		group, err := NewInProcess(w, 20*time.Second)
		require.NoError(t, err)
		for _, c := range group {
			comms = append(comms, c)
		}
	}
	workers := make([]*worker, w)
	for r := range workers {
		store := newStore()
		_, opt := newOpt(t, inner, comp)
		tr, err := NewTrainer(testbackend.Get(t), store, mlp, loss.MeanSquaredError, opt, comms[r]).
			VerifyEvery(verifyEvery).Done()
		require.NoError(t, err)
		workers[r] = &worker{store: store, trainer: tr, comm: comms[r]}
	}
	return workers
}

// runSteps runs steps on all workers concurrently, worker r on its shard of
// size b of each global batch of w*b examples; it returns each worker's stats
// and first error.
func runSteps(workers []*worker, xs, ys [][]float32, b, steps int) ([][]StepStats, []error) {
	w := len(workers)
	stats := make([][]StepStats, w)
	errs := make([]error, w)
	var wg sync.WaitGroup
	for r, wk := range workers {
		wg.Go(func() {
			for s := range steps {
				from := (s*w + r) * b % len(xs)
				x, y := batch(xs, ys, from, from+b)
				st, err := wk.trainer.Step([]*tensors.Tensor{x}, []*tensors.Tensor{y})
				x.MustFinalizeAll()
				y.MustFinalizeAll()
				if err != nil {
					errs[r] = fmt.Errorf("step %d: %w", s+1, err)
					return
				}
				stats[r] = append(stats[r], st)
			}
		})
	}
	wg.Wait()
	return stats, errs
}

// weights returns the trainable variables' values by path (float32).
func weights(t testing.TB, store *model.Store) map[string][]float32 {
	out := map[string][]float32{}
	for _, v := range trainableByPath(store) {
		value, err := v.Value()
		require.NoError(t, err)
		out[v.Path()] = tensors.MustCopyFlatData[float32](value)
	}
	return out
}
