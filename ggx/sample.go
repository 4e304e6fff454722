package ggx

import (
	"fmt"
	"math"
	"sync"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/support/exceptions"
)

// Sample returns GG variates of the given shape drawn from distribution d, using
// (and advancing) the random number generator state of scope's Store, as
// GoMLX's own random initializers do.
//
// Supported dtypes are Float32 and Float64; BFloat16 and Float16 are sampled in
// Float32 and converted. It panics (exceptions.Panicf, as GoMLX graph code does)
// on any other dtype or an invalid d (alpha or beta not positive and finite, mu
// not finite).
//
// See SampleWithState for how the variates are produced.
func Sample(scope *model.Scope, g *Graph, shape shapes.Shape, d Dist) *Node {
	checkGraphDist(d)
	uShape := sampleUniformShape(shape)
	u := scope.RandomUniform(g, uShape)
	return sampleFromUniform(u, shape.DType, d)
}

// SampleWithState is like Sample, but takes an explicit random number generator
// state (see graph.RNGStateFromSeed) and returns the updated state, as
// graph.RandomNormal does.
//
// The variates come from one uniform draw U per element, by inverting the GG
// cumulative distribution function: the sign is U >= 1/2, and the magnitude
// |X - mu| / alpha = G^(1/beta) with G ~ Gamma(1/beta) is read from the upper-tail
// probability q = frac(2U) through a table of the exact quantile function
// (computed on the host in float64 from the inverse regularized incomplete
// gamma function) indexed by log(-log q), on which the quantile is smooth, so
// that linear interpolation is accurate to about 1e-6 relative (see the tests).
// Every element costs one uniform, two logarithms, two table gathers and a few
// multiply-adds: no rejection, no loops, so it runs on every backend, and no
// value is ever NaN or infinite. The tails are as deep as the uniform's
// resolution allows: for Float32, |X - mu| reaches the quantile of tail
// probability 2^-32.
func SampleWithState(rngState *Node, shape shapes.Shape, d Dist) (newRNGState, values *Node) {
	checkGraphDist(d)
	var u *Node
	newRNGState, u = RandomUniform(rngState, sampleUniformShape(shape))
	return newRNGState, sampleFromUniform(u, shape.DType, d)
}

// sampleUniformShape returns the shape of the uniform draw for a sample of the given shape.
func sampleUniformShape(shape shapes.Shape) shapes.Shape {
	u := shape.Clone()
	switch shape.DType {
	case dtypes.Float32, dtypes.Float64:
	case dtypes.BFloat16, dtypes.Float16:
		u.DType = dtypes.Float32
	default:
		exceptions.Panicf("ggx.Sample: dtype %s not supported, only Float32, Float64, BFloat16 and Float16", shape.DType)
	}
	return u
}

// checkGraphDist panics if d is not a valid distribution.
func checkGraphDist(d Dist) {
	if _, err := New(d.Mu, d.Alpha, d.Beta); err != nil {
		exceptions.Panicf("ggx.Sample: %v", err)
	}
}

// sampleFromUniform transforms uniform values u in [0, 1) into GG variates.
func sampleFromUniform(u *Node, dtype dtypes.DType, d Dist) *Node {
	table := quantileTableFor(d.Beta, u.DType())
	half := ConstAs(u, 0.5)
	positive := GreaterOrEqual(u, half)
	// q = frac(2u): exact in floating point.
	q := MulScalar(u, 2)
	q = Where(positive, AddScalar(q, -1), q)
	q = MaxScalar(q, table.qMin)
	s := Neg(Log(q))                    // s in (0, -log(qMin)]: the magnitude's upper-tail "time".
	s = MaxScalar(s, table.sMin)        // q can round to 1.
	ratio := table.ratio.Lookup(Log(s)) // |X-mu|/alpha divided by s.
	mag := Mul(s, ratio)
	sign := Where(positive, ConstAs(u, 1), ConstAs(u, -1))
	x := Mul(sign, MulScalar(mag, d.Alpha))
	if d.Mu != 0 {
		x = AddScalar(x, d.Mu)
	}
	x = StopGradient(x)
	if x.DType() != dtype {
		x = ConvertDType(x, dtype)
	}
	return x
}

// quantileTable tabulates the GG magnitude quantile for one beta and one dtype
// of the uniform draw.
type quantileTable struct {
	qMin, sMin float64
	// ratio(x) = Y(s)/s at x = log(s), where Y(s) = G^(1/beta) and
	// Q(1/beta, G) = exp(-s): the standardized magnitude whose upper-tail
	// probability is exp(-s). It is smooth in x and tends to a constant
	// (Gamma(1+1/beta)) as s -> 0.
	ratio *Table
}

// quantileTableSize returns the number of grid points of a quantile table for
// beta over a range of width xRange. The interpolation error grows as
// (1/beta - 1)^2 h^2 (the magnitude grows like s^(1/beta)), so peakier shapes
// and wider ranges get more points: the relative error stays below 2e-6
// (TestQuantileTableAccuracy).
func quantileTableSize(beta, xRange float64) int {
	const h = 20.0 / 16384 // The spacing that is accurate enough up to 1/beta = 1/0.3.
	return int(xRange / h * math.Max(1, (1/beta-1)/(1/0.3-1)))
}

var quantileTables sync.Map // key string -> *quantileTable

// quantileTableFor returns the (cached) quantile table for beta and a uniform of the given dtype.
func quantileTableFor(beta float64, dtype dtypes.DType) *quantileTable {
	key := fmt.Sprintf("%s/%v", dtype, beta)
	if t, ok := quantileTables.Load(key); ok {
		return t.(*quantileTable)
	}
	var qMin, sMin float64
	switch dtype {
	case dtypes.Float64:
		qMin = math.Ldexp(1, -63) // Smallest positive frac(2u) for u = bits * 2^-64.
		sMin = 1e-17              // Below 2^-53: q never gets this close to 1.
	default:
		qMin = math.Ldexp(1, -31) // Smallest positive frac(2u) for u = bits * 2^-32.
		sMin = 1e-8               // Below 2^-24.
	}
	t := &quantileTable{qMin: qMin, sMin: sMin}
	x0, x1 := math.Log(sMin), math.Log(-math.Log(qMin))
	t.ratio = magnitudeRatioTable(beta, x0, x1, quantileTableSize(beta, x1-x0))
	actual, _ := quantileTables.LoadOrStore(key, t)
	return actual.(*quantileTable)
}

// magnitudeRatio returns Y(s)/s, where Y = G^(1/beta) is the standardized GG
// magnitude with upper-tail probability exp(-s).
func magnitudeRatio(beta, s float64) float64 {
	k := 1 / beta
	var gamma float64
	if s < math.Ln2 {
		gamma = invRegIncGammaP(k, -math.Expm1(-s))
	} else {
		gamma = invRegIncGammaQ(k, math.Exp(-s))
	}
	// Y/s = exp(log(G)/beta - log(s)), in logs to avoid underflow for large beta.
	return math.Exp(math.Log(gamma)/beta - math.Log(s))
}

// magnitudeRatioTable tabulates magnitudeRatio over x = log(s) in [x0, x1].
func magnitudeRatioTable(beta, x0, x1 float64, n int) *Table {
	h := (x1 - x0) / float64(n-1)
	y := make([]float64, n)
	for i := range y {
		y[i] = magnitudeRatio(beta, math.Exp(x0+float64(i)*h))
	}
	return &Table{X0: x0, H: h, Y: y}
}
