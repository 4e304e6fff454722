package mnist

import (
	"fmt"
	"io"
	"iter"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ggprior/ggprior/ggx"
	"github.com/ggprior/ggprior/internal/charlm"
	"github.com/ggprior/ggprior/internal/codedsize"
	"github.com/ggprior/ggprior/internal/progress"
	ggpriorlayers "github.com/ggprior/ggprior/layers"
	"github.com/ggprior/ggprior/optimizers"
	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/layers"
	"github.com/gomlx/gomlx/ml/layers/activation"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/initializer"
	"github.com/gomlx/gomlx/ml/train"
	"github.com/gomlx/gomlx/ml/train/loss"
	"github.com/gomlx/gomlx/ml/train/metric"
	"github.com/gomlx/gomlx/ml/train/optimizer"
)

// Initializations of the weights (Config.Init).
const (
	// InitHe is GoMLX's He initializer: Gaussian, variance 2/fan_in, zero biases.
	InitHe = "he"
	// InitGG is ggprior's generalized Gaussian initializer (ggx.Init) of shape
	// Config.Beta at the same variance, zero biases.
	InitGG = "gg"
)

// Gradient compressions (Config.Compress).
const (
	// compressNone trains with plain Adam.
	compressNone = "none"
	// CompressGCT wraps Adam in optimizers.GCT with its generalized-Gaussian
	// quantizer at Config.GCTBits bits per gradient element.
	CompressGCT = "gct"
)

// Normalization of the pixels: x = (p/255 - PixelMean) / PixelStd, the mean and
// standard deviation of MNIST's training images.
const (
	pixelMean = 0.1307
	pixelStd  = 0.3081
)

// Config configures a training run of the MLP classifier. Start from
// DefaultConfig.
type Config struct {
	// Hidden are the widths of the hidden layers (Dense + ReLU each); the
	// output layer is Dense with NumClasses logits.
	Hidden []int `json:"hidden"`
	// Steps is the number of training steps.
	Steps int `json:"steps"`
	// Batch is the number of training images per step (drawn without
	// replacement from a new permutation of the training split every epoch).
	Batch int `json:"batch"`
	// LearningRate is Adam's learning rate.
	LearningRate float64 `json:"learning_rate"`
	// Seed seeds the initialization and the order of the training images.
	Seed int64 `json:"seed"`
	// Init is InitHe or InitGG.
	Init string `json:"init"`
	// Beta is the shape of the GG initializer (InitGG only), in
	// [ggx.MinBeta, ggx.MaxBeta].
	Beta float64 `json:"beta,omitempty"`
	// ACT, if > 0, is the final target sparsity in (0, 1) of layers.ACT placed
	// after the ReLU of every hidden layer. Its constraint ramps up from 5% to
	// 60% of the steps (charlm.DefaultACTRamp), with ACT's other defaults.
	// 0: no ACT.
	ACT float64 `json:"act,omitempty"`
	// Compress is CompressNone or CompressGCT.
	Compress string `json:"compress"`
	// GCTBits is GCT's target coded size in bits per gradient element (0:
	// optimizers.DefaultBits).
	GCTBits float64 `json:"gct_bits,omitempty"`
	// LogEvery is the period, in steps, of the training-loss curve.
	LogEvery int `json:"log_every"`
	// EvalBatch is the number of test images per evaluation batch.
	EvalBatch int `json:"eval_batch"`
}

// DefaultConfig returns the default run: two hidden layers of 256, 2000 steps of
// batch 128 (about 4 epochs), Adam at 1e-3, seed 1, He initialization, no ACT,
// no compression.
func DefaultConfig() Config {
	return Config{
		Hidden:       []int{256, 256},
		Steps:        2000,
		Batch:        128,
		LearningRate: 1e-3,
		Seed:         1,
		Init:         InitHe,
		Beta:         ggx.DefaultBeta,
		Compress:     compressNone,
		LogEvery:     50,
		EvalBatch:    1000,
	}
}

// Validate returns an error for the first invalid field, if any.
func (c Config) Validate() error {
	if len(c.Hidden) == 0 {
		return fmt.Errorf("mnist: no hidden layer")
	}
	for _, h := range c.Hidden {
		if h <= 0 {
			return fmt.Errorf("mnist: hidden widths %v: want positive widths", c.Hidden)
		}
	}
	switch {
	case c.Steps <= 0, c.Batch <= 0, c.LogEvery <= 0, c.EvalBatch <= 0:
		return fmt.Errorf("mnist: steps (%d), batch (%d), log-every (%d) and eval batch (%d) must be > 0", c.Steps, c.Batch, c.LogEvery, c.EvalBatch)
	case !(c.LearningRate > 0) || math.IsInf(c.LearningRate, 0):
		return fmt.Errorf("mnist: learning rate %g: want a finite value > 0", c.LearningRate)
	case c.Init != InitHe && c.Init != InitGG:
		return fmt.Errorf("mnist: init %q: want %q or %q", c.Init, InitHe, InitGG)
	case c.Init == InitGG && !(c.Beta >= ggx.MinBeta && c.Beta <= ggx.MaxBeta):
		return fmt.Errorf("mnist: beta %g: want a shape in [%g, %g]", c.Beta, ggx.MinBeta, ggx.MaxBeta)
	case !(c.ACT >= 0 && c.ACT < 1):
		return fmt.Errorf("mnist: ACT target sparsity %g: want a value in [0, 1) (0: no ACT)", c.ACT)
	case c.Compress != compressNone && c.Compress != CompressGCT:
		return fmt.Errorf("mnist: compress %q: want %q or %q", c.Compress, compressNone, CompressGCT)
	case c.GCTBits < 0 || math.IsNaN(c.GCTBits) || math.IsInf(c.GCTBits, 0):
		return fmt.Errorf("mnist: GCT bits %g: want a finite value > 0 (0: the default)", c.GCTBits)
	}
	return nil
}

// Label returns a short name of the run: "he" or "gg(beta=1.4)", then
// "+act(0.9)" and "+gct" as they apply.
func (c Config) Label() string {
	label := c.Init
	if c.Init == InitGG {
		label += "(beta=" + strconv.FormatFloat(c.Beta, 'g', -1, 64) + ")"
	}
	if c.ACT > 0 {
		label += "+act(" + strconv.FormatFloat(c.ACT, 'g', -1, 64) + ")"
	}
	if c.Compress == CompressGCT {
		label += "+gct"
	}
	return label
}

// gctBits returns GCT's target bits per element.
func (c Config) gctBits() float64 {
	if c.GCTBits > 0 {
		return c.GCTBits
	}
	return optimizers.DefaultBits
}

// LossPoint is one point of the training-loss curve.
type LossPoint struct {
	// Step is the last step of the interval.
	Step int `json:"step"`
	// Loss is the mean batch loss over the interval (LogEvery steps, or fewer
	// for the last): cross-entropy plus, with ACT, its small rate term.
	Loss float64 `json:"loss"`
}

// ACTResults are ACT's metrics at the end of a run (from layers.ReadMetrics),
// sites named by their hidden layer ("hidden_0", ...).
type ACTResults struct {
	// Sparsity is the achieved fraction of zeros of the last step, the mean over the sites.
	Sparsity float64 `json:"sparsity"`
	// SparsityBySite is each site's.
	SparsityBySite map[string]float64 `json:"sparsity_by_site"`
	// BitsPerActivation is the coded size (int8 + Exp-Golomb) of the last
	// step's activations, the mean over the sites (all of the same width
	// by default; weighted by width otherwise).
	BitsPerActivation float64 `json:"bits_per_activation"`
	// ThresholdBySite is each site's running threshold, the one inference uses.
	ThresholdBySite map[string]float64 `json:"threshold_by_site"`
}

// GCTResults are GCT's metrics of a run.
type GCTResults struct {
	// TargetBits is the quantizer's target, in bits per gradient element.
	TargetBits float64 `json:"target_bits"`
	// BitsPerElement is the coded size of the gradients, in bits per element,
	// the mean over the steps.
	BitsPerElement float64 `json:"bits_per_element"`
	// ZeroFraction is the fraction of zeros among the quantized gradients, the
	// mean over the steps.
	ZeroFraction float64 `json:"zero_fraction"`
	// LastBitsPerElement and LastBeta are those of the last step
	// (optimizers.ReadMetrics): its coded size and mean fitted GG shape.
	LastBitsPerElement float64 `json:"last_bits_per_element"`
	LastBeta           float64 `json:"last_beta"`
}

// Results are the measurements of a run.
type Results struct {
	// Config is the run's configuration.
	Config Config `json:"config"`
	// Label is Config.Label().
	Label string `json:"label"`
	// Params is the number of trainable parameters.
	Params int `json:"params"`
	// Steps is the number of training steps run.
	Steps int `json:"steps"`
	// TestAccuracy and TestLoss are measured on the whole test split after the
	// last step (inference mode: ACT zeroes activations below its frozen thresholds).
	TestAccuracy float64 `json:"test_accuracy"`
	TestLoss     float64 `json:"test_loss"`
	// TrainLoss is the training-loss curve, one point every LogEvery steps and
	// one at the last step.
	TrainLoss []LossPoint `json:"train_loss"`
	// TrainSeconds is the wall time of the training steps; SecondsPerStep the
	// mean time of a step, the first (which compiles the graph) excluded when
	// there are more.
	TrainSeconds   float64 `json:"train_seconds"`
	SecondsPerStep float64 `json:"seconds_per_step"`
	// ACT holds ACT's metrics (nil without ACT).
	ACT *ACTResults `json:"act,omitempty"`
	// GCT holds GCT's metrics (nil without GCT).
	GCT *GCTResults `json:"gct,omitempty"`
	// CodedSize is the coded size of the trained weights (codedsize.FromStore:
	// int8 per tensor + Exp-Golomb), beside their fp32 size.
	CodedSize codedsize.Report `json:"coded_size"`
	// Store holds the trained model (weights, optimizer and ACT/GCT state).
	Store *model.Store `json:"-"`
}

// Run trains the MLP classifier of cfg on data's training split with backend
// and evaluates it on the test split. Its progress goes to out (nil: none): a
// line about ten times per run and one with the test results, and, while it
// trains, a bar below them when out is a terminal (progress.Bar). Errors: an
// invalid cfg, an empty split, a failing step, a diverging loss.
//
// The model: the image's pixels, normalized (PixelMean, PixelStd), go through
// Dense + ReLU layers of widths cfg.Hidden (each followed by layers.ACT when
// cfg.ACT > 0) and a Dense layer of NumClasses logits, trained with Adam (in
// optimizers.GCT with CompressGCT) on the softmax cross-entropy.
func Run(backend compute.Backend, data *Dataset, cfg Config, out io.Writer) (*Results, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if data == nil || data.Train.N == 0 || data.Test.N == 0 || data.Pixels() == 0 {
		return nil, fmt.Errorf("mnist: empty dataset")
	}
	cfg.Hidden = slices.Clone(cfg.Hidden)
	store := model.NewStore()
	store.SetParam(model.ParamInitialSeed, cfg.Seed)
	var opt optimizer.Interface = optimizer.Adam().LearningRate(cfg.LearningRate).Done()
	var trainMetrics []metric.Interface
	if cfg.Compress == CompressGCT {
		opt = optimizers.GCT(opt).BitsPerElement(cfg.gctBits()).Done()
		trainMetrics = optimizers.Metrics()
	}
	trainer := train.NewTrainer(backend, store, cfg.modelFn(), loss.SparseCategoricalCrossEntropyLogits, opt,
		trainMetrics, []metric.Interface{metric.NewSparseCategoricalAccuracy("Accuracy", "acc")})

	r := &Results{Config: cfg, Label: cfg.Label(), Store: store}
	batches := newBatcher(data, cfg.Batch, cfg.Seed)
	every := max(cfg.LogEvery, cfg.Steps/10)
	bar := progress.New(out, cfg.Steps, "mnist "+r.Label)
	defer bar.Finish()
	var lossSum, gbitsSum, gzerosSum float64
	var lossCount int
	start := time.Now()
	var afterFirst time.Time
	for step := 1; step <= cfg.Steps; step++ {
		metrics, err := trainer.TrainStep(batches.next())
		if err != nil {
			return nil, fmt.Errorf("mnist: %s: training step %d: %w", r.Label, step, err)
		}
		batchLoss := scalar(metrics[0])
		if math.IsNaN(batchLoss) || math.IsInf(batchLoss, 0) {
			return nil, fmt.Errorf("mnist: %s: training diverged at step %d (loss %g)", r.Label, step, batchLoss)
		}
		if cfg.Compress == CompressGCT {
			gbitsSum += scalar(metrics[2])
			gzerosSum += scalar(metrics[3])
		}
		lossSum += batchLoss
		lossCount++
		if step == 1 {
			afterFirst = time.Now()
		}
		if step%cfg.LogEvery == 0 || step == cfg.Steps {
			r.TrainLoss = append(r.TrainLoss, LossPoint{Step: step, Loss: lossSum / float64(lossCount)})
			lossSum, lossCount = 0, 0
		}
		if step%every == 0 || step == cfg.Steps {
			elapsed := time.Since(start)
			bar.Printf("mnist %s: step %d/%d, train loss %.4f, %.1f ms/step", r.Label, step, cfg.Steps,
				r.TrainLoss[len(r.TrainLoss)-1].Loss, 1e3*elapsed.Seconds()/float64(step))
		}
		bar.Add(1, func() string { return fmt.Sprintf("mnist %s: batch loss %.4f", r.Label, batchLoss) })
	}
	end := time.Now()
	bar.Finish()
	r.Steps = cfg.Steps
	r.TrainSeconds = end.Sub(start).Seconds()
	r.SecondsPerStep = r.TrainSeconds
	if cfg.Steps > 1 {
		r.SecondsPerStep = end.Sub(afterFirst).Seconds() / float64(cfg.Steps-1)
	}

	evalMetrics, err := trainer.Eval(testSet{data: data, batch: cfg.EvalBatch})
	if err != nil {
		return nil, fmt.Errorf("mnist: %s: evaluating on the test split: %w", r.Label, err)
	}
	r.TestLoss, r.TestAccuracy = scalar(evalMetrics[0]), scalar(evalMetrics[1])
	if cfg.ACT > 0 {
		if r.ACT, err = actResults(store, cfg); err != nil {
			return nil, err
		}
	}
	if cfg.Compress == CompressGCT {
		last, err := optimizers.ReadMetrics(store)
		if err != nil {
			return nil, fmt.Errorf("mnist: %s: %w", r.Label, err)
		}
		r.GCT = &GCTResults{
			TargetBits:         cfg.gctBits(),
			BitsPerElement:     gbitsSum / float64(cfg.Steps),
			ZeroFraction:       gzerosSum / float64(cfg.Steps),
			LastBitsPerElement: last.BitsPerElement,
			LastBeta:           last.Beta,
		}
	}
	if r.CodedSize, err = codedsize.FromStore(store); err != nil {
		return nil, fmt.Errorf("mnist: %s: %w", r.Label, err)
	}
	r.Params = r.CodedSize.Params
	bar.Printf("mnist %s: test accuracy %.2f%%, test loss %.4f, weights %.3f bits/weight coded",
		r.Label, 100*r.TestAccuracy, r.TestLoss, r.CodedSize.BitsPerWeight)
	return r, nil
}

// modelFn returns the MLP's model function (inputs: [batch, pixels] float32;
// output: [batch, NumClasses] logits).
func (c Config) modelFn() func(scope *model.Scope, x *graph.Node) *graph.Node {
	actStart, actEnd := charlm.DefaultACTRamp(c.Steps)
	return func(scope *model.Scope, x *graph.Node) *graph.Node {
		if c.Init == InitGG {
			scope = scope.WithInitializer(ggx.Init(scope).Beta(c.Beta).Done())
		} else {
			scope = scope.WithInitializer(initializer.HeFn(scope))
		}
		for i, width := range c.Hidden {
			layerScope := scope.In("hidden_%d", i)
			x = activation.Relu(layers.Dense(layerScope, x, true, width))
			if c.ACT > 0 {
				x = ggpriorlayers.ACT(layerScope, x).TargetSparsity(c.ACT).Ramp(actStart, actEnd).Done()
			}
		}
		return layers.Dense(scope.In("logits"), x, true, NumClasses)
	}
}

// actResults reads ACT's metrics from the store.
func actResults(store *model.Store, cfg Config) (*ACTResults, error) {
	metrics, err := ggpriorlayers.ReadMetrics(store)
	if err != nil {
		return nil, fmt.Errorf("mnist: %s: %w", cfg.Label(), err)
	}
	r := &ACTResults{SparsityBySite: map[string]float64{}, ThresholdBySite: map[string]float64{}}
	var width, sparsity, bits float64
	for _, m := range metrics {
		name := strings.TrimSuffix(strings.Trim(m.Site, model.ScopeSeparator), model.ScopeSeparator+"act")
		var i int
		if _, err := fmt.Sscanf(name, "hidden_%d", &i); err != nil || i < 0 || i >= len(cfg.Hidden) {
			return nil, fmt.Errorf("mnist: unexpected ACT site %q", m.Site)
		}
		w := float64(cfg.Hidden[i])
		r.SparsityBySite[name] = m.Sparsity
		r.ThresholdBySite[name] = m.Threshold
		sparsity += m.Sparsity
		bits += w * m.BitsPerActivation
		width += w
	}
	r.Sparsity = sparsity / float64(len(metrics))
	r.BitsPerActivation = bits / width
	return r, nil
}

// scalar returns the value of a float scalar tensor.
func scalar(t *tensors.Tensor) float64 {
	switch v := t.Value().(type) {
	case float32:
		return float64(v)
	case float64:
		return v
	}
	return math.NaN()
}

// pixelTable maps a pixel byte to its normalized value.
var pixelTable = func() (table [256]float32) {
	for p := range table {
		table[p] = float32((float64(p)/255 - pixelMean) / pixelStd)
	}
	return
}()

// batchOf returns the inputs [n, pixels] and labels [n, 1] of the examples
// at indices of split.
func batchOf(split *Split, pixels int, indices []int) train.Batch {
	flat := make([]float32, len(indices)*pixels)
	for row, i := range indices {
		for j, p := range split.Images[i*pixels : (i+1)*pixels] {
			flat[row*pixels+j] = pixelTable[p]
		}
	}
	x := tensors.FromFlatDataAndDimensions(flat, len(indices), pixels)
	labels := make([]int32, len(indices))
	for row, i := range indices {
		labels[row] = int32(split.Labels[i])
	}
	y := tensors.FromFlatDataAndDimensions(labels, len(indices), 1)
	return train.Batch{Inputs: []*tensors.Tensor{x}, Labels: []*tensors.Tensor{y}}
}

// batcher draws training batches: the examples of a seeded permutation of the
// training split, a new permutation each epoch.
type batcher struct {
	data  *Dataset
	batch int
	rng   *rand.Rand
	perm  []int
	pos   int
}

func newBatcher(data *Dataset, batch int, seed int64) *batcher {
	return &batcher{data: data, batch: batch, rng: rand.New(rand.NewPCG(uint64(seed), 0x6d6e697374))}
}

// next returns the next batch.
func (b *batcher) next() train.Batch {
	indices := make([]int, b.batch)
	for i := range indices {
		if b.pos == len(b.perm) {
			b.perm, b.pos = b.rng.Perm(b.data.Train.N), 0
		}
		indices[i] = b.perm[b.pos]
		b.pos++
	}
	return batchOf(&b.data.Train, b.data.Pixels(), indices)
}

// testSet is the test split as a train.Dataset of batches of at most batch images.
type testSet struct {
	data  *Dataset
	batch int
}

// Name implements train.Dataset.
func (s testSet) Name() string { return "mnist test" }

// Iter implements train.Dataset.
func (s testSet) Iter() iter.Seq2[train.Batch, error] {
	return func(yield func(train.Batch, error) bool) {
		n := s.data.Test.N
		for start := 0; start < n; start += s.batch {
			indices := make([]int, min(s.batch, n-start))
			for i := range indices {
				indices[i] = start + i
			}
			if !yield(batchOf(&s.data.Test, s.data.Pixels(), indices), nil) {
				return
			}
		}
	}
}
