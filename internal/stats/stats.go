// Package stats holds the statistics of measurements over seeds that the
// experiments report: mean ± sample standard deviation, the t-tests of a
// paired difference, and the median.
package stats

import (
	"math"
	"slices"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"
)

// MeanStd is a mean and its spread over seeds.
type MeanStd struct {
	Mean float64 `json:"mean"`
	// Std is the sample standard deviation (n-1 normalization; 0 for one value).
	Std float64 `json:"std"`
	// N is the number of values (seeds).
	N int `json:"n"`
}

// NewMeanStd returns the mean and sample standard deviation of xs (the zero
// MeanStd for no values).
func NewMeanStd(xs []float64) MeanStd {
	switch len(xs) {
	case 0:
		return MeanStd{}
	case 1:
		return MeanStd{Mean: xs[0], N: 1}
	}
	m, s := stat.MeanStdDev(xs, nil)
	return MeanStd{Mean: m, Std: s, N: len(xs)}
}

// T returns the t statistic of the mean against zero, Mean / (Std /
// sqrt(N)), with N-1 degrees of freedom; NaN with fewer than 2 values or no
// spread.
func (m MeanStd) T() float64 {
	if m.N < 2 || m.Std == 0 {
		return math.NaN()
	}
	return m.Mean / (m.Std / math.Sqrt(float64(m.N)))
}

// BelowZero reports whether the mean is below zero by a two-sided t-test at
// level alpha (e.g. 0.05) with N-1 degrees of freedom. tested is false, and
// below only says whether the mean is negative, when the test cannot be
// made: fewer than 2 values, or no spread.
func (m MeanStd) BelowZero(alpha float64) (below, tested bool) {
	t := m.T()
	if math.IsNaN(t) {
		return m.Mean < 0, false
	}
	return t < -m.tCritical(alpha), true
}

// Significant reports whether the mean differs from zero, in either
// direction, by a two-sided t-test at level alpha with N-1 degrees of
// freedom; tested is false (and significant false) when the test cannot be
// made: fewer than 2 values, or no spread.
func (m MeanStd) Significant(alpha float64) (significant, tested bool) {
	t := m.T()
	if math.IsNaN(t) {
		return false, false
	}
	return math.Abs(t) > m.tCritical(alpha), true
}

// tCritical is the two-sided critical value of Student's t at level alpha
// with N-1 degrees of freedom.
func (m MeanStd) tCritical(alpha float64) float64 {
	return distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(m.N - 1)}.Quantile(1 - alpha/2)
}

// Median returns the median of xs (the mean of the two middle values for an
// even count; NaN for none); xs is not modified.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	k := len(s) / 2
	if len(s)%2 == 1 {
		return s[k]
	}
	return (s[k-1] + s[k]) / 2
}
