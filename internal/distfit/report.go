package distfit

import (
	"fmt"
	"math"

	"github.com/ggprior/ggprior/ggx"
	"github.com/ggprior/ggprior/internal/tensorkind"
)

// Model names used as keys of TensorReport.KS and TensorReport.LogLik and as
// values of TensorReport.Best.
const (
	ModelGG        = "gg"
	ModelGaussian  = "gaussian"
	ModelLaplacian = "laplacian"
)

// models lists the model names in the order tables and summaries use.
var models = []string{ModelGG, ModelGaussian, ModelLaplacian}

// modelNames maps ggx's model names to ours.
var modelNames = map[string]string{
	ggx.ModelGG:        ModelGG,
	ggx.ModelGaussian:  ModelGaussian,
	ggx.ModelLaplacian: ModelLaplacian,
}

// defaultMinDistinct is the default of Options.MinDistinct.
const defaultMinDistinct = 32

// Options configures Analyze and AnalyzeSample.
type Options struct {
	// SampleSize is the largest number of values fitted per tensor: larger tensors
	// are subsampled uniformly without replacement (see SampleIndices) with a seed
	// derived from Seed and the tensor's name (see TensorSeed). 0 means
	// DefaultSampleSize; a negative value means no subsampling.
	SampleSize int `json:"sample_size"`
	// Seed of the subsampling.
	Seed uint64 `json:"seed"`
	// Kind is the kind of the tensors analyzed: tensorkind.Weights (the default when
	// empty), tensorkind.Activations or tensorkind.Gradients.
	Kind string `json:"kind,omitempty"`
	// MinDistinct is the least number of distinct values a (sampled) tensor must
	// hold to be fitted: tensors with fewer are discrete (masks, quantized or
	// constant tensors), for which neither the fits nor the KS distance (which
	// assumes a continuous distribution) mean anything. 0 means
	// defaultMinDistinct.
	MinDistinct int `json:"min_distinct,omitempty"`
}

// sampleSize returns the effective sample size: 0 for "no subsampling".
func (o Options) sampleSize() int {
	switch {
	case o.SampleSize == 0:
		return DefaultSampleSize
	case o.SampleSize < 0:
		return 0
	}
	return o.SampleSize
}

// kind returns the effective kind.
func (o Options) kind() string {
	if o.Kind == "" {
		return tensorkind.Weights
	}
	return o.Kind
}

// Indices returns the indices of the values that Analyze fits for a tensor called
// name holding n values: nil (all of them) if n is at most the sample size,
// otherwise SampleIndices(n, size, TensorSeed(o.Seed, name)). A reader of large
// files can fetch just these values and call AnalyzeSample, with the same result
// as Analyze on the whole tensor.
func (o Options) Indices(name string, n int) []int {
	k := o.sampleSize()
	if k == 0 {
		return nil
	}
	return sampleIndices(n, k, tensorSeed(o.Seed, name))
}

// TensorReport is the evidence for the GG claim on one tensor: the GG fitted
// two ways, the Gaussian and Laplacian fitted by maximum likelihood, and the
// goodness of fit of each.
type TensorReport struct {
	// Name of the tensor, as in its file or model.
	Name string `json:"name"`
	// Kind is tensorkind.Weights, tensorkind.Activations or tensorkind.Gradients.
	Kind string `json:"kind"`
	// Layer is the kind of layer guessed from the name (see LayerKind).
	Layer string `json:"layer"`
	// Shape of the tensor, if the caller set it (Analyze does not know it).
	Shape []int `json:"shape,omitempty"`
	// N is the number of values in the tensor; Sampled the number fitted.
	N       int `json:"n"`
	Sampled int `json:"sampled"`
	// Zeros is the fraction of the fitted values that are exactly zero (a spike
	// at zero, e.g. sparse activations, is something no continuous model fits).
	Zeros float64 `json:"zeros"`
	// Moment is the GG fitted by the moment ratio (ggx.Fit), the fast estimate
	// the paper uses.
	Moment ggx.Dist `json:"-"`
	// MLE is the GG fitted by maximum likelihood (ggx.FitMLE).
	MLE ggx.Dist `json:"-"`
	// Gaussian and Laplacian are the two fixed-shape models fitted by maximum
	// likelihood (Beta 2 and 1), as in ggx.Compare.
	Gaussian  ggx.Dist `json:"-"`
	Laplacian ggx.Dist `json:"-"`
	// KS holds the Kolmogorov-Smirnov distance between the fitted values and each
	// model (ModelGG is the MLE fit), keyed by ModelGG, ModelGaussian and
	// ModelLaplacian.
	KS map[string]float64 `json:"ks"`
	// LogLik holds the mean log-likelihood per value of each model, with the same
	// keys (per value so that tensors of different sizes compare; multiply by
	// Sampled for the total).
	LogLik map[string]float64 `json:"loglik"`
	// KSCritical is the 1% critical value of the KS distance for Sampled values,
	// 1.63/sqrt(Sampled): a model with a larger distance is rejected by the data
	// (conservatively, since its parameters were fitted).
	KSCritical float64 `json:"ks_critical_99"`
	// Best is the model with the smallest KS distance.
	Best string `json:"best"`
}

// Analyze fits the GG (moment ratio and maximum likelihood), the Gaussian and the
// Laplacian to values (the elements of the tensor called name) and measures the
// goodness of fit of each. Tensors with more values than the sample size of opts
// are subsampled first (see Options.Indices): the result then depends only on
// opts, the name and the values, and not on other tensors. values is not
// modified.
//
// It returns an error naming the tensor for data that cannot be fitted: fewer
// than opts.MinDistinct distinct values (constant, binary or quantized tensors),
// NaN or infinite values, and the errors of ggx.Fit and ggx.FitMLE.
func Analyze(name string, values []float64, opts Options) (TensorReport, error) {
	return AnalyzeSample(name, Gather(values, opts.Indices(name, len(values))), len(values), opts)
}

// AnalyzeSample is Analyze for values already subsampled: sample holds the
// fitted values of a tensor of n values in total. Readers that fetch only the
// sampled elements of a large tensor (with opts.Indices) call it directly.
func AnalyzeSample(name string, sample []float64, n int, opts Options) (TensorReport, error) {
	r := TensorReport{Name: name, Kind: opts.kind(), Layer: layerKind(name), N: n, Sampled: len(sample)}
	minDistinct := opts.MinDistinct
	if minDistinct <= 0 {
		minDistinct = defaultMinDistinct
	}
	var zeros int
	for i, x := range sample {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return r, fmt.Errorf("analysis: tensor %q: value %d of the sample is %g: all values must be finite", name, i, x)
		}
		if x == 0 {
			zeros++
		}
	}
	if d := countDistinct(sample, minDistinct); d < minDistinct {
		return r, fmt.Errorf("analysis: tensor %q has only %d distinct values in %d: not a continuous distribution, not fitted",
			name, d, len(sample))
	}
	r.Zeros = float64(zeros) / float64(len(sample))

	moment, err := ggx.Fit(sample)
	if err != nil {
		return r, fmt.Errorf("analysis: tensor %q: moment fit: %w", name, err)
	}
	cmp, err := ggx.Compare(sample)
	if err != nil {
		return r, fmt.Errorf("analysis: tensor %q: maximum-likelihood fits: %w", name, err)
	}
	r.Moment, r.MLE, r.Gaussian, r.Laplacian = moment, cmp.GG.Dist, cmp.Gaussian.Dist, cmp.Laplacian.Dist
	r.KS = make(map[string]float64, 3)
	r.LogLik = make(map[string]float64, 3)
	for _, m := range cmp.Models() {
		key := modelNames[m.Name]
		r.KS[key] = m.KS
		r.LogLik[key] = m.LogLik / float64(len(sample))
	}
	r.Best = modelNames[cmp.Best]
	r.KSCritical = 1.63 / math.Sqrt(float64(len(sample)))
	return r, nil
}

// countDistinct returns the number of distinct values in xs, counting no further
// than limit (it stops early once limit is reached).
func countDistinct(xs []float64, limit int) int {
	seen := make(map[float64]struct{}, limit)
	for _, x := range xs {
		seen[x] = struct{}{}
		if len(seen) >= limit {
			break
		}
	}
	return len(seen)
}
