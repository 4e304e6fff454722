package ggx

import (
	"math"
	"slices"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mathext"
)

// hostMomentSE returns the asymptotic standard errors of the moment-ratio
// estimates of Fit, relative to the true Beta and Alpha, for n values from d.
//
// Delta method: Fit is a smooth function of m1 = mean|x-mu| and m2 = mean (x-mu)^2
// (the plug-in of the sample mean for mu has no first-order effect, both
// moments being stationary in mu for a symmetric density), whose covariance is
// [[m2 - m1^2, m3 - m1 m2], [m3 - m1 m2, m4 - m2^2]]/n with mk = E|X-mu|^k.
// beta = B(m2/m1^2), B the inverse of momentRatio; alpha = sqrt(m2) c(beta) with
// c(b) = sqrt(Gamma(1/b)/Gamma(3/b)).
func hostMomentSE(d Dist, n int) (seBeta, seAlpha float64) {
	m1, m2, m3, m4 := hostAbsMoment(d, 1), hostAbsMoment(d, 2), hostAbsMoment(d, 3), hostAbsMoment(d, 4)
	v11, v22, v12 := m2-m1*m1, m4-m2*m2, m3-m1*m2
	rho := m2 / (m1 * m1)
	dRhoDBeta := rho * dLogMomentRatio(d.Beta) / d.Beta
	db1 := -2 * m2 / (m1 * m1 * m1) / dRhoDBeta
	db2 := 1 / (m1 * m1) / dRhoDBeta
	c := alphaFromStdDev(1, d.Beta)
	dc := c * 0.5 * (3*mathext.Digamma(3/d.Beta) - mathext.Digamma(1/d.Beta)) / (d.Beta * d.Beta)
	da1 := math.Sqrt(m2) * dc * db1
	da2 := c/(2*math.Sqrt(m2)) + math.Sqrt(m2)*dc*db2
	vb := db1*db1*v11 + 2*db1*db2*v12 + db2*db2*v22
	va := da1*da1*v11 + 2*da1*da2*v12 + da2*da2*v22
	return math.Sqrt(vb/float64(n)) / d.Beta, math.Sqrt(va/float64(n)) / d.Alpha
}

// hostMLESE returns the asymptotic standard errors of the maximum-likelihood
// estimates of Beta and Alpha (Cramer-Rao bound), relative to their true values,
// for n values from d.
//
// Per value, with a = 1/beta and t = (|x-mu|/alpha)^beta ~ Gamma(a, 1), the scores
// are d/dalpha = (beta t - 1)/alpha and d/dbeta = 1/beta + psi(a)/beta^2 -
// t log(t)/beta; with E[t^s log^k t] from the derivatives of Gamma(a+s)/Gamma(a),
//
//	I_aa = beta/alpha^2
//	I_ab = -(a/alpha) (1 + psi(a+1))
//	I_bb = (a(a+1)(psi(a+2)^2 + psi'(a+2)) - a^2 psi(a+1)^2) / beta^2
//
// Mu is orthogonal to (alpha, beta) by symmetry; the covariance is I^-1 / n.
func hostMLESE(d Dist, n int) (seBeta, seAlpha float64) {
	a := 1 / d.Beta
	iaa := d.Beta / (d.Alpha * d.Alpha)
	iab := -(a / d.Alpha) * (1 + mathext.Digamma(a+1))
	p1, p2 := mathext.Digamma(a+1), mathext.Digamma(a+2)
	ibb := (a*(a+1)*(p2*p2+trigamma(a+2)) - a*a*p1*p1) / (d.Beta * d.Beta)
	det := iaa*ibb - iab*iab
	return math.Sqrt(iaa/det/float64(n)) / d.Beta, math.Sqrt(ibb/det/float64(n)) / d.Alpha
}

// hostLocationSE returns the asymptotic standard errors of the sample mean,
// sqrt(Var/n), and of the sample median, 1/(2 f(mu) sqrt(n)).
func hostLocationSE(d Dist, n int) (seMean, seMedian float64) {
	return math.Sqrt(d.Variance() / float64(n)), 1 / (2 * d.Prob(d.Mu) * math.Sqrt(float64(n)))
}

// hostStatedBound checks one of the stated accuracy requirements (beta
// within 2%, alpha within 1%): it is asserted when the bound is at least 2
// standard errors of the estimator (so an estimator as good as its asymptotic
// distribution meets it with probability >= 95%), or when force is set.
// Otherwise it is statistically unattainable at this sample size (the error is
// then only held to 5 standard errors by the caller) and the measured error is
// logged for the record.
func hostStatedBound(t *testing.T, force bool, name string, relErr, bound, se float64) {
	t.Helper()
	if force || bound >= 2*se {
		require.Less(t, math.Abs(relErr), bound, "%s: |relative error| %.4f over the stated bound %.2f (SE %.4f)", name, relErr, bound, se)
		return
	}
	t.Logf("%s: stated bound %.2f is %.2f SE (SE %.4f): not attainable, not asserted; measured relative error %+.4f (%s)",
		name, bound, bound/se, se, relErr, map[bool]string{true: "within", false: "OUTSIDE"}[math.Abs(relErr) < bound])
}

// TestFitRecovery draws 1e5 values from GG(mu=0.7, alpha=1.3, beta) for each
// beta in {0.3, 0.5, 1, 1.5, 2, 3, 4} and 3 seeds, and checks that Fit and FitMLE
// recover the parameters:
//
//   - within 5 asymptotic standard errors (delta method for Fit, Cramer-Rao bound
//     for FitMLE, sample mean / median for the location), for every parameter;
//   - within the stated bounds, 2% in beta and 1% in alpha, where they are
//     attainable (>= 2 SE, see hostStatedBound), and always for FitMLE's beta.
//
// At n = 1e5 the stated bounds exceed what the data can support in several
// cases: the Cramer-Rao bound on alpha's relative SE is 3.9% at beta = 0.3, 2.1%
// at 0.5, 0.89% at 1, 0.57% at 1.5; Fit's SE in beta is 1.9% at beta = 0.3, 1.0%
// at 3 and 1.4% at 4, and in alpha 16% at 0.3 and 3.8% at 0.5. Those cases are
// logged, not asserted against the stated bound.
func TestFitRecovery(t *testing.T) {
	const n = 100000
	for _, beta := range hostRandBetas {
		d := Dist{Mu: 0.7, Alpha: 1.3, Beta: beta}
		momBeta, momAlpha := hostMomentSE(d, n)
		mleBeta, mleAlpha := hostMLESE(d, n)
		seMean, seMedian := hostLocationSE(d, n)
		for seed := uint64(1); seed <= 3; seed++ {
			xs := hostDraw(d, seed, n)
			fit, err := Fit(xs)
			require.NoError(t, err)
			mle, err := FitMLE(xs)
			require.NoError(t, err)

			name := func(est, param string) string {
				return est + " beta=" + hostFormatG(beta) + " seed=" + hostFormatG(float64(seed)) + " " + param
			}
			eb, ea := fit.Beta/beta-1, fit.Alpha/d.Alpha-1
			require.Less(t, math.Abs(eb), 5*momBeta, "%s: %+.4f vs SE %.4f", name("Fit", "beta"), eb, momBeta)
			require.Less(t, math.Abs(ea), 5*momAlpha, "%s: %+.4f vs SE %.4f", name("Fit", "alpha"), ea, momAlpha)
			require.Less(t, math.Abs(fit.Mu-d.Mu), 5*seMean, "%s", name("Fit", "mu"))
			hostStatedBound(t, false, name("Fit", "beta"), eb, 0.02, momBeta)
			hostStatedBound(t, false, name("Fit", "alpha"), ea, 0.01, momAlpha)

			eb, ea = mle.Beta/beta-1, mle.Alpha/d.Alpha-1
			require.Less(t, math.Abs(eb), 5*mleBeta, "%s: %+.4f vs SE %.4f", name("FitMLE", "beta"), eb, mleBeta)
			require.Less(t, math.Abs(ea), 5*mleAlpha, "%s: %+.4f vs SE %.4f", name("FitMLE", "alpha"), ea, mleAlpha)
			seMu := seMean
			if medianMoreEfficient(fit.Beta) {
				seMu = seMedian
			}
			require.Less(t, math.Abs(mle.Mu-d.Mu), 5*seMu, "%s", name("FitMLE", "mu"))
			hostStatedBound(t, true, name("FitMLE", "beta"), eb, 0.02, mleBeta)
			hostStatedBound(t, false, name("FitMLE", "alpha"), ea, 0.01, mleAlpha)
		}
	}
}

// hostFormatG formats a float64 compactly for messages.
func hostFormatG(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }

// TestFitMLEIsMaximum checks on one sample per shape that FitMLE returns a
// stationary point of the likelihood in (alpha, beta) that is a maximum: the
// total log-likelihood at the fit is at least its value with alpha or beta moved
// by +-1e-3 relative (for which a maximum predicts a decrease of order
// n * 1e-6 * I, well above rounding).
func TestFitMLEIsMaximum(t *testing.T) {
	const n = 20000
	for i, beta := range []float64{0.3, 1, 2.5, 8} {
		xs := hostDraw(Dist{Mu: -1, Alpha: 0.2, Beta: beta}, uint64(300+i), n)
		mle, err := FitMLE(xs)
		require.NoError(t, err)
		ll := func(d Dist) float64 {
			var s float64
			for _, x := range xs {
				s += d.LogProb(x)
			}
			return s
		}
		best := ll(mle)
		for _, f := range []float64{1 - 1e-3, 1 + 1e-3} {
			moved := mle
			moved.Alpha *= f
			require.Less(t, ll(moved), best, "beta=%g: alpha*%g", beta, f)
			moved = mle
			moved.Beta *= f
			require.Less(t, ll(moved), best, "beta=%g: beta*%g", beta, f)
		}
	}
}

// TestFitErrors checks the errors of Fit, FitMLE and Compare on bad input.
func TestFitErrors(t *testing.T) {
	heavy := make([]float64, 300000) // moment ratio ~ n/4 = 7.5e4 > momentRatio(0.05) ~ 4.05e4
	heavy[17] = 1
	twoPoint := []float64{-1, 1, -1, 1, -1, 1} // moment ratio 1 < 4/3
	for _, c := range []struct {
		name string
		xs   []float64
		want []string
	}{
		{"nil", nil, []string{"at least 2 values", "got 0"}},
		{"one value", []float64{3}, []string{"at least 2 values", "got 1"}},
		{"NaN", []float64{1, 2, 3, math.NaN(), 5}, []string{"index 3", "NaN"}},
		{"+Inf", []float64{math.Inf(1), 2, 3}, []string{"index 0", "+Inf"}},
		{"-Inf", []float64{1, 2, math.Inf(-1)}, []string{"index 2", "-Inf"}},
		{"all equal", []float64{0.1, 0.1, 0.1, 0.1}, []string{"all 4 values are equal", "zero variance"}},
		{"heavy", heavy, []string{"moment ratio", "outside the supported range"}},
		{"two-point", twoPoint, []string{"moment ratio", "outside the supported range"}},
	} {
		_, err := Fit(c.xs)
		require.Error(t, err, "Fit %s", c.name)
		_, errMLE := FitMLE(c.xs)
		require.Error(t, errMLE, "FitMLE %s", c.name)
		_, errCmp := Compare(c.xs)
		require.Error(t, errCmp, "Compare %s", c.name)
		for _, e := range []error{err, errMLE, errCmp} {
			require.Contains(t, e.Error(), "ggx:", c.name)
			for _, w := range c.want {
				require.Contains(t, e.Error(), w, c.name)
			}
		}
	}
}

// TestFitKeepsInput checks that the fits do not modify their input, and that
// two values are enough.
func TestFitKeepsInput(t *testing.T) {
	xs := hostDraw(Dist{Mu: 0, Alpha: 1, Beta: 0.8}, 9, 1001)
	orig := slices.Clone(xs)
	_, err := Fit(xs)
	require.NoError(t, err)
	_, err = FitMLE(xs)
	require.NoError(t, err)
	_, err = Compare(xs)
	require.NoError(t, err)
	_ = KS(xs, Dist{Alpha: 1, Beta: 1})
	require.Equal(t, orig, xs)

	// Two distinct values: moment ratio exactly 1, out of range; three values
	// {-1, 0, 1}: ratio 3/2, beta ~ 2.6.
	_, err = Fit([]float64{-1, 1})
	require.Error(t, err)
	d, err := Fit([]float64{-1, 0, 1})
	require.NoError(t, err)
	require.InEpsilon(t, 1.5, momentRatio(d.Beta), 1e-12)
}

// hostBigSample returns 1e6 values from GG(0, 1, 1.4) for the benchmarks.
func hostBigSample() []float64 { return hostDraw(Dist{Mu: 0, Alpha: 1, Beta: 1.4}, 77, 1000000) }

// BenchmarkFit1e6 measures Fit on 1e6 values (the requirement is under 20 ms).
func BenchmarkFit1e6(b *testing.B) {
	xs := hostBigSample()
	for b.Loop() {
		if _, err := Fit(xs); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFitMLE1e6 measures FitMLE on 1e6 values.
func BenchmarkFitMLE1e6(b *testing.B) {
	xs := hostBigSample()
	for b.Loop() {
		if _, err := FitMLE(xs); err != nil {
			b.Fatal(err)
		}
	}
}
