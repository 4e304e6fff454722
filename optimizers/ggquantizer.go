package optimizers

import (
	"fmt"
	"math"

	"github.com/ggprior/ggprior/ggx"
	"github.com/ggprior/ggprior/optimizers/expgolomb"
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/support/exceptions"
)

// GGQuantizer returns GCT's compressor: q = round(x/delta) coded with
// Exp-Golomb of order k, where delta = alpha * c(beta) follows from the GG fitted
// to x in the graph (ggx.FitGraph) so that the expected code length is bits per
// element (see ExpectedBits), or a fixed delta with FixedStep. The bit count it
// reports is the exact Exp-Golomb length of q plus a 32-bit step.
func GGQuantizer(bits float64, k int) Compressor {
	if k < 0 || k > expgolomb.MaxK {
		exceptions.Panicf("optimizers.GGQuantizer: Exp-Golomb order k=%d, want 0..%d", k, expgolomb.MaxK)
	}
	if _, err := stepTableFor(bits, k); err != nil {
		exceptions.Panicf("optimizers.GGQuantizer: %v", err)
	}
	return ggQuantizer{bits: bits, k: k}
}

// FixedStep returns GCT's compressor with a fixed quantization step delta > 0.
func FixedStep(delta float64, k int) Compressor {
	if !(delta > 0) || math.IsInf(delta, 0) {
		exceptions.Panicf("optimizers.FixedStep: delta=%g, want a finite value > 0", delta)
	}
	if k < 0 || k > expgolomb.MaxK {
		exceptions.Panicf("optimizers.FixedStep: Exp-Golomb order k=%d, want 0..%d", k, expgolomb.MaxK)
	}
	return ggQuantizer{delta: delta, k: k}
}

type ggQuantizer struct {
	bits  float64 // Target bits per element (when delta == 0).
	delta float64 // Fixed step, if > 0.
	k     int
}

func (c ggQuantizer) Name() string {
	if c.delta > 0 {
		return fmt.Sprintf("gct:delta=%g", c.delta)
	}
	return fmt.Sprintf("gct:%gbits", c.bits)
}

func (c ggQuantizer) Compress(_ *model.Scope, _ *model.Variable, x *Node) Compressed {
	checkFloat("GCT", x)
	g := x.Graph()
	beta, alpha := ggx.FitGraph(x)
	var step *Node
	if c.delta > 0 {
		step = Scalar(g, x.DType(), c.delta)
	} else {
		table, err := stepTableFor(c.bits, c.k)
		if err != nil {
			exceptions.Panicf("optimizers.GCT: %v", err)
		}
		step = Mul(alpha, Exp(table.Lookup(Log(beta))))
	}
	step = StopGradient(Max(step, ConstAs(step, x.DType().SmallestNonZeroValueForDType())))
	q := Round(Div(x, step))
	q = ClipScalar(q, math.MinInt32, math.MaxInt32)
	ints := ConvertDType(q, dtypes.Int32)
	bits := AddScalar(ConvertDType(expgolomb.BitLenGraph(ints, c.k), dtypes.Float32), 32)
	return Compressed{
		Decoded: Mul(q, step), Bits: bits,
		Coding: CodingExpGolomb, Ints: ints, Step: step, K: c.k,
		ZeroFraction: zeroFraction(ints), Beta: ConvertDType(beta, dtypes.Float32),
	}
}
