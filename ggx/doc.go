// Package ggx implements the generalized Gaussian (GG) distribution for GoMLX:
// on the host (density, CDF, quantile, sampling, fitting and goodness of fit, in
// the style of gonum's stat/distuv) and in the graph (a GG sampler built from
// fixed, unrolled ops, an in-graph moment-ratio fit, and GG variable initializers).
//
// The GG density with location mu, scale alpha > 0 and shape beta > 0 is
//
//	f(x) = beta / (2 * alpha * Gamma(1/beta)) * exp(-(|x - mu| / alpha)^beta)
//
// beta = 2 is a Gaussian (std = alpha/sqrt(2)), beta = 1 a Laplacian, and beta < 2
// is peakier with heavier tails than a Gaussian: the shape that trained weights,
// activations and gradients of neural networks show.
//
// Host side:
//
//	d := ggx.FromStdDev(0, 0.02, 1.4)      // or ggx.Dist{Mu: 0, Alpha: a, Beta: b}
//	fit, err := ggx.Fit(values)            // moment ratio (fast)
//	fit, err = ggx.FitMLE(values)          // maximum likelihood
//	report, err := ggx.Compare(values)     // GG vs Gaussian vs Laplacian
//
// Graph side, as a drop-in initializer (first line of a model function):
//
//	scope = scope.WithInitializer(ggx.Init(scope).Beta(1.4).Done())
package ggx
