// Command quickstart trains a small MLP twice on a synthetic task, once with
// GoMLX's default initializer (He: Gaussian, variance 2/fan_in) and once with
// ggprior's generalized Gaussian initializer of the same variance
// (ggx.Init(scope).Beta(beta)), and prints both loss curves side by side.
//
//	go run ./examples/quickstart [-steps 600] [-beta 1.4] [-seed 1]
//
// The task: classify points of three interleaved noisy spirals in the plane.
// Both runs see the same batches and start from the same random stream; only
// the shape of the initial weight distribution differs. It runs in well under a
// minute on two cores with the pure-Go backend.
//
// The table goes to stdout. The progress goes to stderr (none with -quiet): a
// bar on a terminal; otherwise (a log) a line per evaluation.
package main

import (
	"flag"
	"fmt"
	"io"
	"iter"
	"math"
	"math/rand/v2"
	"os"
	"strings"

	"github.com/ggprior/ggprior/backends"
	"github.com/ggprior/ggprior/ggx"
	"github.com/ggprior/ggprior/internal/progress"
	"github.com/gomlx/compute"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/layers"
	"github.com/gomlx/gomlx/ml/layers/activation"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train"
	"github.com/gomlx/gomlx/ml/train/loss"
	"github.com/gomlx/gomlx/ml/train/metric"
	"github.com/gomlx/gomlx/ml/train/optimizer"
	"github.com/janpfeifer/must"
)

var (
	flagSteps  = flag.Int("steps", 600, "training steps per run")
	flagBatch  = flag.Int("batch", 128, "batch size")
	flagBeta   = flag.Float64("beta", ggx.DefaultBeta, "shape of the GG initializer")
	flagSeed   = flag.Int64("seed", 1, "seed of the data and of the initialization")
	flagEvery  = flag.Int("every", 50, "evaluate every this many steps")
	flagDepth  = flag.Int("depth", 4, "hidden layers")
	flagWidth  = flag.Int("width", 128, "hidden width")
	flagLR     = flag.Float64("lr", 1e-3, "Adam learning rate")
	flagQuiet  = flag.Bool("quiet", false, "no progress (bar on a terminal, a line per evaluation otherwise)")
	numClasses = 3
)

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

// curve is a run's evaluation points.
type curve struct {
	name            string
	steps           []int
	trainLoss       []float64
	valLoss, valAcc []float64
}

func run() error {
	if *flagSteps <= 0 || *flagBatch <= 0 || *flagEvery <= 0 || *flagDepth <= 0 || *flagWidth <= 0 {
		return fmt.Errorf("-steps, -batch, -every, -depth and -width must be positive")
	}
	if !(*flagBeta >= ggx.MinBeta && *flagBeta <= ggx.MaxBeta) {
		return fmt.Errorf("-beta=%g: want a shape in [%g, %g]", *flagBeta, ggx.MinBeta, ggx.MaxBeta)
	}
	backend, err := backends.New(os.Stderr)
	if err != nil {
		return err
	}
	val := spirals(rand.New(rand.NewPCG(uint64(*flagSeed), 99)), 3000)
	var curves []curve
	for _, init := range []string{"default", "gg"} {
		c, err := trainOnce(backend, init, val)
		if err != nil {
			return err
		}
		curves = append(curves, c)
	}
	printTable(curves)
	return nil
}

// trainOnce trains the MLP with the named initializer and returns its curve.
func trainOnce(backend compute.Backend, init string, val train.Batch) (curve, error) {
	c := curve{name: init}
	store := model.NewStore()
	store.SetParam(model.ParamInitialSeed, *flagSeed)
	modelFn := func(scope *model.Scope, x *Node) *Node {
		if init == "gg" {
			scope = scope.WithInitializer(ggx.Init(scope).Beta(*flagBeta).Done())
		}
		for i := range *flagDepth {
			x = layers.Dense(scope.In("hidden_%d", i), x, true, *flagWidth)
			x = activation.Relu(x)
		}
		return layers.Dense(scope.In("logits"), x, true, numClasses)
	}
	trainer := train.NewTrainer(backend, store, modelFn, loss.SparseCategoricalCrossEntropyLogits,
		optimizer.Adam().LearningRate(*flagLR).Done(), nil,
		[]metric.Interface{metric.NewSparseCategoricalAccuracy("Accuracy", "acc")})
	rng := rand.New(rand.NewPCG(uint64(*flagSeed), 7)) // Same batches for both runs.
	// The progress: nil (none) with -quiet.
	var out io.Writer
	if !*flagQuiet {
		out = os.Stderr
	}
	bar := progress.New(out, *flagSteps, fmt.Sprintf("%-8s", init))
	defer bar.Finish()
	evaluate := func(step int, trainLoss float64) error {
		metrics, err := trainer.Eval(oneBatch{val})
		if err != nil {
			return err
		}
		c.steps = append(c.steps, step)
		c.trainLoss = append(c.trainLoss, trainLoss)
		c.valLoss = append(c.valLoss, tensors.ToScalar[float64](convert64(metrics[0])))
		c.valAcc = append(c.valAcc, tensors.ToScalar[float64](convert64(metrics[1])))
		bar.Report(fmt.Sprintf("%-8s step %d/%d: val loss %.4f, acc %.1f%%", init, step, *flagSteps,
			c.valLoss[len(c.valLoss)-1], 100*c.valAcc[len(c.valAcc)-1]))
		return nil
	}
	if err := evaluate(0, math.NaN()); err != nil {
		return c, err
	}
	var lossSum float64 // Sum of batch losses since the last evaluation.
	var lossCount int
	for step := 1; step <= *flagSteps; step++ {
		metrics, err := trainer.TrainStep(spirals(rng, *flagBatch))
		if err != nil {
			return c, err
		}
		lossSum += tensors.ToScalar[float64](convert64(metrics[0]))
		lossCount++
		if step%*flagEvery == 0 || step == *flagSteps {
			if err := evaluate(step, lossSum/float64(lossCount)); err != nil {
				return c, err
			}
			lossSum, lossCount = 0, 0
		}
		bar.Add(1, nil)
	}
	return c, nil
}

// convert64 returns a float64 scalar tensor's value as a float64 tensor.
func convert64(t *tensors.Tensor) *tensors.Tensor {
	switch v := t.Value().(type) {
	case float32:
		return tensors.FromValue(float64(v))
	}
	return t
}

// printTable prints the curves side by side.
func printTable(curves []curve) {
	fmt.Printf("\nMLP %dx%d (ReLU) on 3 spirals, Adam lr=%g, batch %d, seed %d; GG beta=%g at the same variance (2/fan_in)\n\n",
		*flagDepth, *flagWidth, *flagLR, *flagBatch, *flagSeed, *flagBeta)
	header := fmt.Sprintf("%6s", "step")
	for _, c := range curves {
		header += fmt.Sprintf(" | %-8s train   val loss  val acc", c.name)
	}
	fmt.Println("(train: mean batch loss since the previous row; val: 3000 held-out points)")
	fmt.Println(header)
	fmt.Println(strings.Repeat("-", len(header)))
	for i := range curves[0].steps {
		line := fmt.Sprintf("%6d", curves[0].steps[i])
		for _, c := range curves {
			train := "     -"
			if !math.IsNaN(c.trainLoss[i]) {
				train = fmt.Sprintf("%6.3f", c.trainLoss[i])
			}
			line += fmt.Sprintf(" | %-8s %s   %7.4f  %6.1f%%", "", train, c.valLoss[i], 100*c.valAcc[i])
		}
		fmt.Println(line)
	}
	last := len(curves[0].steps) - 1
	fmt.Printf("\nfinal validation loss: default %.4f, gg %.4f (%+.1f%%)\n", curves[0].valLoss[last], curves[1].valLoss[last],
		100*(curves[1].valLoss[last]/curves[0].valLoss[last]-1))
}

// spirals returns a batch of n points of three interleaved noisy spirals:
// inputs [n, 2] float32, labels [n, 1] int32.
func spirals(rng *rand.Rand, n int) train.Batch {
	xs := make([][]float32, n)
	labels := make([][]int32, n)
	for i := range n {
		class := rng.IntN(numClasses)
		r := rng.Float64()
		theta := 4*r + 2*math.Pi*float64(class)/float64(numClasses)
		x := r*math.Cos(theta) + 0.05*rng.NormFloat64()
		y := r*math.Sin(theta) + 0.05*rng.NormFloat64()
		xs[i] = []float32{float32(x), float32(y)}
		labels[i] = []int32{int32(class)}
	}
	return train.Batch{Inputs: []*tensors.Tensor{tensors.FromValue(xs)}, Labels: []*tensors.Tensor{tensors.FromValue(labels)}}
}

// oneBatch is a dataset of one batch that is yielded again at every iteration
// (copies, since the trainer takes ownership of what it is given).
type oneBatch struct{ b train.Batch }

func (o oneBatch) Name() string { return "validation" }

func (o oneBatch) Iter() iter.Seq2[train.Batch, error] {
	return func(yield func(train.Batch, error) bool) {
		yield(train.Batch{Inputs: cloneAll(o.b.Inputs), Labels: cloneAll(o.b.Labels)}, nil)
	}
}

func cloneAll(ts []*tensors.Tensor) []*tensors.Tensor {
	out := make([]*tensors.Tensor, len(ts))
	for i, t := range ts {
		out[i] = must.M1(t.LocalClone())
	}
	return out
}
