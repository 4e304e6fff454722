package study

import "gonum.org/v1/gonum/stat"

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
