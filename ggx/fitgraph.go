package ggx

import (
	"math"
	"sync"

	"github.com/ggprior/ggprior/internal/dotsum"
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/support/exceptions"
)

const (
	// GraphBetaMin and GraphBetaMax bound the shape that FitGraph reports: data
	// peakier than GraphBetaMin or flatter than GraphBetaMax is reported at the bound.
	GraphBetaMin = 0.05
	GraphBetaMax = 20.0
)

// FitGraph fits a zero-centred GG to all the values of x in the graph, by the
// moment ratio, as the host Fit does: with m the mean of x,
// rho = E[(x-m)^2] / E[|x-m|]^2 is solved for beta (through a table of the exact
// inverse, interpolated in log(rho)), and alpha = sigma * sqrt(Gamma(1/beta)/Gamma(3/beta)).
//
// It returns scalar nodes of x's dtype (Float32 for half precision inputs). No
// gradient flows through the fit (it is a statistic of x, as ACT and GCT use it).
// beta is clamped to [GraphBetaMin, GraphBetaMax]; for constant x (no spread)
// beta is GraphBetaMax and alpha is 0. x must be a float tensor with at least
// one element.
func FitGraph(x *Node) (beta, alpha *Node) {
	x = fitInput("ggx.FitGraph", x)
	centered := Sub(x, ReduceAllMean(x))
	return fitMoments(x, ReduceAllMean(Square(centered)), ReduceAllMean(Abs(centered)))
}

// FitGraphDot is FitGraph with its sums over all the elements computed as
// dot products (package internal/dotsum) and |x - m| as max(x-m, m-x): the
// same fit up to float rounding, about four times faster on GoMLX's Go
// backend, whose reductions over all axes walk a generic index iterator.
// GCT's rANS quantizer fits every gradient with it, each step.
func FitGraphDot(x *Node) (beta, alpha *Node) {
	x = fitInput("ggx.FitGraphDot", x)
	centered := Sub(x, dotsum.Mean(x))
	n := float64(x.Shape().Size())
	return fitMoments(x, DivScalar(dotsum.SumSquares(centered), n), dotsum.Mean(dotsum.Abs(centered)))
}

// fitInput checks x and returns it without gradient, in float32 or float64.
func fitInput(who string, x *Node) *Node {
	if !x.DType().IsFloat() {
		exceptions.Panicf("%s: x must be a float tensor, got %s", who, x.Shape())
	}
	if x.Shape().Size() == 0 {
		exceptions.Panicf("%s: x is empty (shape %s)", who, x.Shape())
	}
	x = StopGradient(x)
	if x.DType() != dtypes.Float32 && x.DType() != dtypes.Float64 {
		x = ConvertDType(x, dtypes.Float32)
	}
	return x
}

// fitMoments returns the fit of x from its centred moments, E[(x-m)^2] and E[|x-m|].
func fitMoments(x, variance, meanAbs *Node) (beta, alpha *Node) {
	tiny := x.DType().SmallestNonZeroValueForDType()
	// rho >= 1 always (Jensen); constant input gives 0/0: map it to the flat end.
	rho := Div(variance, Max(Square(meanAbs), ConstAs(x, tiny)))
	t := momentRatioTables()
	// Table coordinate: log(rho - 4/3); 4/3 is the limit of rho as beta -> infinity.
	r := Log(Max(AddScalar(rho, -rhoLimit), ConstAs(x, rhoLimitFloor)))
	beta = Exp(t.logBeta.Lookup(r))
	alpha = Mul(Sqrt(variance), t.alphaFactor.Lookup(r))
	return
}

// rhoLimit is the moment ratio of the uniform distribution, the limit of the GG's
// as beta -> infinity; rhoLimitFloor keeps log(rho - rhoLimit) finite for data
// flatter than any GG (it lies far beyond GraphBetaMax).
const (
	rhoLimit      = 4.0 / 3.0
	rhoLimitFloor = 1e-30
)

// fitTables tabulates, over r = log(rho - 4/3) on a uniform grid (on which
// log(beta) is smooth at both ends), log(beta) and the
// factor sqrt(Gamma(1/beta)/Gamma(3/beta)) that turns a standard deviation into alpha.
type fitTables struct {
	logBeta, alphaFactor *Table
}

const fitTableSize = 4096

var momentRatioTables = sync.OnceValue(func() *fitTables {
	r0 := math.Log(momentRatio(GraphBetaMax) - rhoLimit)
	r1 := math.Log(momentRatio(GraphBetaMin) - rhoLimit)
	h := (r1 - r0) / float64(fitTableSize-1)
	logBeta := make([]float64, fitTableSize)
	factor := make([]float64, fitTableSize)
	for i := range logBeta {
		var b float64
		switch i {
		case 0:
			b = GraphBetaMax
		case fitTableSize - 1:
			b = GraphBetaMin
		default:
			var err error
			b, err = betaFromMomentRatio(rhoLimit + math.Exp(r0+float64(i)*h))
			if err != nil {
				exceptions.Panicf("ggx: building the moment-ratio table: %v", err)
			}
		}
		logBeta[i] = math.Log(b)
		factor[i] = alphaFromStdDev(1, b)
	}
	return &fitTables{
		logBeta:     &Table{X0: r0, H: h, Y: logBeta},
		alphaFactor: &Table{X0: r0, H: h, Y: factor},
	}
})
