package ggx_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/ggprior/ggprior/ggx"
)

// Draw from a GG distribution set by its standard deviation, then recover its
// parameters with both fits.
func ExampleFitMLE() {
	d := ggx.FromStdDev(0, 0.02, 0.8)
	d.Src = rand.NewPCG(1, 2)
	xs := make([]float64, 100000)
	for i := range xs {
		xs[i] = d.Rand()
	}
	mom, err := ggx.Fit(xs)
	if err != nil {
		panic(err)
	}
	mle, err := ggx.FitMLE(xs)
	if err != nil {
		panic(err)
	}
	fmt.Printf("moments: beta=%.1f std=%.3f\n", mom.Beta, mom.StdDev())
	fmt.Printf("MLE:     beta=%.1f std=%.3f\n", mle.Beta, mle.StdDev())
	// Output:
	// moments: beta=0.8 std=0.020
	// MLE:     beta=0.8 std=0.020
}

// Tail probabilities and quantiles keep their relative accuracy far out: here
// P(X > 5000) = Q(2, sqrt(5000))/2 = (1 + sqrt(5000)) exp(-sqrt(5000))/2.
func ExampleDist_Survival() {
	d := ggx.Dist{Mu: 0, Alpha: 1, Beta: 0.5}
	s := d.Survival(5000)
	fmt.Printf("P(X > 5000) = %.6g\n", s)
	fmt.Printf("its quantile by symmetry: %.6g\n", -d.Quantile(s))
	// Output:
	// P(X > 5000) = 7.0032e-30
	// its quantile by symmetry: 5000
}
