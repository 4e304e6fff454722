package ggx

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/stat/distuv"
)

// TestCompare fits the three models to 1e5 values of Laplace, Gaussian (both
// drawn with gonum's samplers, independent of Dist.Rand) and GG(beta = 0.5) data.
//
// "Wins or ties" is judged with the KS test at the 1% level (critical value
// 1.63/sqrt(n), conservative since the parameters are fitted): the true model
// and GG are both accepted (a tie) or GG is best, and the wrong model is
// rejected. Since GG nests the Gaussian and the Laplacian and picks the same
// location as the true model (the median for the Laplacian, the mean for the
// Gaussian), its log-likelihood is at least theirs (up to the convergence of the
// shape, 1e-9 per value). On GG(0.5) data GG must win clearly: best KS, accepted
// while both others are rejected, and a log-likelihood above both by more than
// the 1% likelihood-ratio threshold (chi2_1: 6.63/2).
func TestCompare(t *testing.T) {
	const n = 100000
	draw := func(r interface{ Rand() float64 }) []float64 {
		xs := make([]float64, n)
		for i := range xs {
			xs[i] = r.Rand()
		}
		return xs
	}
	crit := hostKS99(n)
	models := func(c Comparison) map[string]ModelFit {
		return map[string]ModelFit{ModelGG: c.GG, ModelGaussian: c.Gaussian, ModelLaplacian: c.Laplacian}
	}
	for _, tc := range []struct {
		name, truth, wrong string
		xs                 []float64
	}{
		{"laplace", ModelLaplacian, ModelGaussian, draw(distuv.Laplace{Mu: 1, Scale: 0.3, Src: rand.NewPCG(1, 1)})},
		{"gaussian", ModelGaussian, ModelLaplacian, draw(distuv.Normal{Mu: -1, Sigma: 2, Src: rand.NewPCG(2, 2)})},
	} {
		c, err := Compare(tc.xs)
		require.NoError(t, err, tc.name)
		t.Logf("%s data:\n%s", tc.name, c)
		m := models(c)
		require.Equal(t, n, c.N)
		require.Less(t, m[ModelGG].KS, crit, "%s: GG rejected", tc.name)
		require.Less(t, m[tc.truth].KS, crit, "%s: true model rejected", tc.name)
		require.Greater(t, m[tc.wrong].KS, crit, "%s: wrong model accepted", tc.name)
		require.Contains(t, []string{ModelGG, tc.truth}, c.Best, tc.name)
		require.GreaterOrEqual(t, m[ModelGG].LogLik, m[tc.truth].LogLik-1e-9*n, tc.name)
		require.Greater(t, m[ModelGG].LogLik, m[tc.wrong].LogLik, tc.name)
		require.Equal(t, m[tc.truth].Dist.Mu, m[ModelGG].Dist.Mu, "%s: GG picks the true model's location estimate", tc.name)
	}

	xs := hostDraw(Dist{Mu: 0, Alpha: 1, Beta: 0.5}, 3, n)
	c, err := Compare(xs)
	require.NoError(t, err)
	t.Logf("GG(beta=0.5) data:\n%s", c)
	require.Equal(t, ModelGG, c.Best)
	require.Less(t, c.GG.KS, crit)
	require.Greater(t, c.Gaussian.KS, crit)
	require.Greater(t, c.Laplacian.KS, crit)
	require.Greater(t, c.GG.LogLik-c.Laplacian.LogLik, 6.63/2)
	require.Greater(t, c.GG.LogLik-c.Gaussian.LogLik, 6.63/2)

	// The log-likelihoods are the sums of LogProb, the Gaussian and Laplacian
	// parameters their closed-form MLEs.
	for _, mf := range c.Models() {
		var ll float64
		for _, x := range xs {
			ll += mf.Dist.LogProb(x)
		}
		require.InEpsilon(t, ll, mf.LogLik, 1e-10, mf.Name)
	}
	mean, variance := hostMeanVar(xs)
	require.InEpsilon(t, mean, c.Gaussian.Dist.Mu, 1e-12)
	require.InEpsilon(t, math.Sqrt(variance), c.Gaussian.Dist.StdDev(), 1e-12)
	require.Equal(t, 2.0, c.Gaussian.Dist.Beta)
	require.Equal(t, sampleMedian(xs), c.Laplacian.Dist.Mu)
	var mad float64
	for _, x := range xs {
		mad += math.Abs(x - c.Laplacian.Dist.Mu)
	}
	require.InEpsilon(t, mad/n, c.Laplacian.Dist.Alpha, 1e-12)
	require.Equal(t, 1.0, c.Laplacian.Dist.Beta)

	s := c.String()
	for _, want := range []string{"100000 values", "* " + ModelGG, ModelGaussian, ModelLaplacian, "log-likelihood", "KS"} {
		require.Contains(t, s, want)
	}
	require.Equal(t, 1, strings.Count(s, "*"))
}
