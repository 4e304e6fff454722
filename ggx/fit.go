package ggx

import (
	"fmt"
	"math"
)

// checkSample validates data for the fits and returns its mean. It reports an
// error for fewer than 2 values, for a NaN or infinite value (naming its index),
// and for data whose values are all equal (zero variance). One pass over xs.
func checkSample(xs []float64) (mean float64, err error) {
	if len(xs) < 2 {
		return 0, fmt.Errorf("ggx: need at least 2 values to fit a distribution, got %d", len(xs))
	}
	lo, hi := xs[0], xs[0]
	var sum, nonFinite float64
	for _, x := range xs {
		sum += x
		nonFinite += x - x // 0 for finite x, NaN for NaN and +-Inf
		if x < lo {
			lo = x
		}
		if x > hi {
			hi = x
		}
	}
	if nonFinite != 0 {
		for i, x := range xs {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return 0, fmt.Errorf("ggx: value at index %d is %g: all values must be finite", i, x)
			}
		}
	}
	if lo == hi {
		return 0, fmt.Errorf("ggx: all %d values are equal to %g: zero variance, the scale and shape are undefined", len(xs), lo)
	}
	n := float64(len(xs))
	mean = sum / n
	if math.IsInf(mean, 0) {
		// The sum overflowed: recompute with scaled values.
		mean = 0
		for _, x := range xs {
			mean += x / n
		}
	}
	return mean, nil
}

// Fit fits a GG distribution to xs by the method of moments on the moment ratio
// (fast, two passes over the data, no allocation):
//
//   - Mu is the sample mean m;
//   - the shape Beta solves momentRatio(Beta) = rho with
//     rho = mean((x-m)^2) / mean(|x-m|)^2 (see betaFromMomentRatio), a statistic
//     that does not depend on location or scale;
//   - Alpha is then set from the sample standard deviation (1/n normalization),
//     alpha = sigma * sqrt(Gamma(1/Beta)/Gamma(3/Beta)).
//
// It returns an error, naming the problem, for fewer than 2 values, any NaN or
// infinite value (with its index), all-equal values (zero variance), and a
// moment ratio outside the supported range (shape outside [0.05, 50]; ratios
// below 4/3 are not reachable by any GG distribution).
//
// The estimator is consistent but not efficient: its variance involves the
// fourth moment, so for heavy tails (small Beta) FitMLE is considerably more
// precise. At Beta = 0.3 and 1e5 values the standard errors are 1.9% in Beta and
// 16% in Alpha (FitMLE: 0.5% and 3.9%), and the sample mean is a poor location
// estimate (standard error 1.1*Alpha, against 0.03*Alpha for the median FitMLE
// uses).
func Fit(xs []float64) (Dist, error) {
	mean, err := checkSample(xs)
	if err != nil {
		return Dist{}, err
	}
	var s1, s2 float64
	for _, x := range xs {
		dx := x - mean
		s1 += math.Abs(dx)
		s2 += dx * dx
	}
	n := float64(len(xs))
	m1, m2 := s1/n, s2/n
	beta, err := betaFromMomentRatio(m2 / (m1 * m1))
	if err != nil {
		return Dist{}, err
	}
	return Dist{Mu: mean, Alpha: alphaFromStdDev(math.Sqrt(m2), beta), Beta: beta}, nil
}
