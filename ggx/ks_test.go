package ggx

import (
	"math"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/stat"
)

// TestKSHandExample checks KS on three values against a standard Laplacian
// (beta = 1, CDF in closed form): sorted {-1, 0.5, 2}, the largest gap is
// F(0.5) - 1/3 = 1 - e^-0.5/2 - 1/3.
func TestKSHandExample(t *testing.T) {
	d := Dist{Mu: 0, Alpha: 1, Beta: 1}
	xs := []float64{0.5, -1, 2}
	require.InDelta(t, 1-0.5*math.Exp(-0.5)-1.0/3, KS(xs, d), 1e-15)
	require.Equal(t, []float64{0.5, -1, 2}, xs, "input modified")
	// One value at the median: the empirical CDF jumps from 0 to 1 there.
	require.InDelta(t, 0.5, KS([]float64{0}, d), 1e-15)
	require.True(t, math.IsNaN(KS(nil, d)))
	require.True(t, math.IsNaN(KS([]float64{1, math.NaN()}, d)))
}

// TestKSVsGonum compares KS with gonum's two-sample stat.KolmogorovSmirnov
// between the data and the m midpoint quantiles Quantile((j-1/2)/m) of the
// distribution, whose empirical CDF is within 1/(2m) of the CDF everywhere: the
// two distances agree to 1/(2m) (plus rounding).
func TestKSVsGonum(t *testing.T) {
	const m = 50000
	for i, beta := range []float64{0.4, 1.3, 3} {
		d := Dist{Mu: 0.3, Alpha: 2, Beta: beta}
		ref := make([]float64, m)
		for j := range ref {
			ref[j] = d.Quantile((float64(j) + 0.5) / m)
		}
		for _, other := range []Dist{d, {Mu: 0.5, Alpha: 2, Beta: beta}, {Mu: 0.3, Alpha: 2.5, Beta: 1.5 * beta}} {
			xs := hostDraw(other, uint64(400+i), 2000)
			sorted := slices.Clone(xs)
			slices.Sort(sorted)
			want := stat.KolmogorovSmirnov(sorted, nil, ref, nil)
			require.InDelta(t, want, KS(xs, d), 0.5/m+1e-12, "beta=%g vs %+v", beta, other)
		}
	}
}

// BenchmarkCDF measures one CDF evaluation (beta = 1.4, in the bulk).
func BenchmarkCDF(b *testing.B) {
	d := Dist{Mu: 0, Alpha: 1, Beta: 1.4}
	x, s := -2.0, 0.0
	for b.Loop() {
		s += d.CDF(x)
		x += 1e-7
	}
	_ = s
}

// BenchmarkQuantile measures one Quantile evaluation (beta = 1.4, in the bulk).
func BenchmarkQuantile(b *testing.B) {
	d := Dist{Mu: 0, Alpha: 1, Beta: 1.4}
	p, s := 0.01, 0.0
	for b.Loop() {
		s += d.Quantile(p)
		p += 1e-9
		if p > 0.99 {
			p = 0.01
		}
	}
	_ = s
}
