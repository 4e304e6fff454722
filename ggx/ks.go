package ggx

import (
	"math"
	"sort"
)

// KS returns the Kolmogorov-Smirnov distance between the empirical distribution
// of xs and the distribution d:
//
//	D = sup_x |F_n(x) - F(x)| = max_i max(i/n - F(x_(i)), F(x_(i)) - (i-1)/n)
//
// over the sorted values x_(1) <= ... <= x_(n). xs is not modified (a copy is
// sorted). It returns NaN if xs is empty or holds a NaN.
//
// Under the hypothesis that xs are n independent draws from d, sqrt(n)*D
// converges in distribution to the Kolmogorov distribution, whose 95% and 99%
// quantiles are 1.36 and 1.63: D > 1.63/sqrt(n) rejects d at the 1% level. When
// the parameters of d were fitted to xs the true quantiles are smaller, so the
// test is conservative.
func KS(xs []float64, d Dist) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return ksSorted(s, d)
}

// ksSorted returns KS for values already sorted in increasing order.
func ksSorted(s []float64, d Dist) float64 {
	if len(s) == 0 || math.IsNaN(s[0]) { // sort.Float64s puts NaNs first.
		return math.NaN()
	}
	n := float64(len(s))
	var dist float64
	for i, x := range s {
		f := d.CDF(x)
		dist = math.Max(dist, math.Max(float64(i+1)/n-f, f-float64(i)/n))
	}
	return dist
}
