package optimizers

import (
	"fmt"
	"math"
	"sync"

	"github.com/ggprior/ggprior/ggx"
	"github.com/ggprior/ggprior/internal/dotsum"
	"github.com/ggprior/ggprior/internal/storevars"
	"github.com/ggprior/ggprior/optimizers/expgolomb"
	"github.com/ggprior/ggprior/optimizers/ggrans"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/initializer"
	"github.com/gomlx/gomlx/support/exceptions"
)

// GGQuantizer returns GCT's compressor: q = round(x/delta) coded with
// Exp-Golomb of order k, where delta = alpha * c(beta) follows from the GG fitted
// to x in the graph (ggx.FitGraph) so that the expected code length is bits per
// element (see ExpectedBits), or a fixed delta with FixedStep. The bit count it
// reports is the exact Exp-Golomb length of q plus a 32-bit step. bits must be
// above k+1, Exp-Golomb's minimum (GGQuantizerRANS goes below).
func GGQuantizer(bits float64, k int) Compressor {
	return newGGQuantizer("optimizers.GGQuantizer", bits, k, CoderExpGolomb)
}

// GGQuantizerRANS returns GCT's compressor with the rANS coder of package
// ggrans (CoderRANS): q = round(x/delta), with delta = alpha * c(beta) from the
// GG fitted to x in the graph so that the expected size of the ggrans frame is
// bits per element (ggrans.StepTable; any bits > 0, e.g. 0.5), coded under that
// same GG (CodingGGRANS). The bit count it reports is the in-graph size of the
// whole frame, header and checksum included (ggrans.FrameBitsGraph: within a
// few bits of the host's ggrans.AppendFrame). Its name is "gct-rans:<bits>bits".
//
// The frame's float32 parameters are the fitted alpha and beta and the step;
// for a tensor without spread (constant, or a single element), where the fit
// gives alpha = 0, alpha and the step are the tensor's root mean square
// instead (a constant tensor is then sent as q = +-1 times its magnitude, to
// within float32 rounding, at about 2 bits per element), and for a tensor of
// zeros (root mean square below 2^-126) alpha = 2^-126 and the step 2^-26
// (its zeros then cost about 0.0014 bits each). Alpha and the step are at
// least 2^-126 (the smallest normal float32), so that every tensor of finite
// values makes a valid frame; non-finite values make an invalid one (NaN
// parameters or bits, which ggrans.AppendFrame refuses).
func GGQuantizerRANS(bits float64) Compressor {
	return newGGQuantizer("optimizers.GGQuantizerRANS", bits, 0, CoderRANS)
}

// GGQuantizerWith returns GCT's GG quantizer at bits per element with the
// given coder: GGQuantizer(bits, k) for CoderExpGolomb, GGQuantizerRANS(bits)
// for CoderRANS (which ignores k). It panics (GoMLX style) if the target is out
// of the coder's reach.
func GGQuantizerWith(bits float64, k int, coder Coder) Compressor {
	return newGGQuantizer("optimizers.GGQuantizerWith", bits, k, coder)
}

// newGGQuantizer validates the target and builds (and caches) its rate table.
func newGGQuantizer(who string, bits float64, k int, coder Coder) Compressor {
	switch coder {
	case CoderExpGolomb:
		if k < 0 || k > expgolomb.MaxK {
			exceptions.Panicf("%s: Exp-Golomb order k=%d, want 0..%d", who, k, expgolomb.MaxK)
		}
		if _, err := stepTableFor(bits, k); err != nil {
			exceptions.Panicf("%s: %v", who, err)
		}
		return ggQuantizer{bits: bits, k: k}
	case CoderRANS, CoderAuto:
		if _, err := ransStepTable(bits); err != nil {
			exceptions.Panicf("%s: %v", who, err)
		}
		return ggQuantizer{bits: bits, coder: coder, rateGain: DefaultRateGain}
	}
	exceptions.Panicf("%s: unknown coder %d", who, int(coder))
	return nil
}

// ransStepTable returns the (cached) ggrans.StepTable for bits, with an error
// that says the reachable range.
func ransStepTable(bits float64) (*ggx.Table, error) {
	if !(bits > 0) || math.IsInf(bits, 0) {
		return nil, fmt.Errorf("optimizers: %g bits per element is not a valid target for the rANS coder: want a finite value > 0", bits)
	}
	t, err := ggrans.StepTable(bits)
	if err != nil {
		return nil, fmt.Errorf("optimizers: %g bits per element is out of the rANS coder's reach: %w", bits, err)
	}
	return t, nil
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
	bits     float64 // Target bits per element (when delta == 0).
	delta    float64 // Fixed step, if > 0 (Exp-Golomb only).
	k        int
	coder    Coder
	rateGain float64 // Rate control of the rANS-coded tensors (see ParamRateGain); 0: off.
	fitted   bool    // ReconstructionFitted (rANS and auto coders).
	// totalScale (a graph's Float32 scalar, nil: 1) multiplies the rate
	// control's per-variable targets: the total rate control's exp(s) (see
	// TotalRateCorrectionVar), set by GCT for the graph it builds.
	totalScale *Node
}

// withRateGain returns the quantizer with the rate control's gain set (for
// the rANS and auto coders; others ignore it).
func (c ggQuantizer) withRateGain(gain float64) ggQuantizer {
	checkRateGain(gain)
	c.rateGain = gain
	return c
}

func (c ggQuantizer) Name() string {
	switch {
	case c.delta > 0:
		return fmt.Sprintf("gct:delta=%g", c.delta)
	case c.coder == CoderRANS:
		return fmt.Sprintf("gct-rans:%gbits", c.bits)
	case c.coder == CoderAuto:
		return fmt.Sprintf("gct-auto:%gbits", c.bits)
	}
	return fmt.Sprintf("gct:%gbits", c.bits)
}

func (c ggQuantizer) Compress(state *model.Scope, _ *model.Variable, x *Node) Compressed {
	checkFloat("GCT", x)
	switch c.coder {
	case CoderRANS:
		return c.compressRANS(state, x, CodingGGRANS)
	case CoderAuto:
		return c.compressRANS(state, x, AutoCoding(x.Shape().Size(), c.bits))
	}
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

const (
	// ransMinScale is the least alpha and step of a ggrans frame: the smallest
	// normal float32, 2^-126 (frames want them > 0, and backends may flush
	// subnormals to zero).
	ransMinScale = 0x1p-126

	// ransMaxInt bounds |q| for the rANS coder: the largest float32 below
	// 2^31, so that the rounded float q converts to the same int32 on every
	// backend (2^31 itself overflows int32).
	ransMaxInt = 1<<31 - 128

	// ransZeroStep is the step of a tensor of zeros: 2^100 times its alpha
	// (ransMinScale), so that the model gives 0 nearly all the mass.
	ransZeroStep = 0x1p-26
)

// compressRANS is Compress with the ggrans coder (see GGQuantizerRANS), or, for
// coding CodingExpGolomb (CoderAuto's small tensors), the same quantization
// coded with order-0 Exp-Golomb codes. The model parameters are computed in
// float32, the precision the frame carries them in, and Decoded is q times
// exactly the float32 step on the wire.
//
// With a rate gain > 0 and a state scope, the step of a rANS-coded tensor is
// the rate table's times exp(r), r a per-variable state (see ParamRateGain).
func (c ggQuantizer) compressRANS(state *model.Scope, x *Node, coding Coding) Compressed {
	f := c.fitRANS(x)
	step := f.modelStep
	var correction *model.Variable
	if coding == CodingGGRANS && c.rateGain > 0 && state != nil {
		correction = storevars.State(state.WithInitializer(initializer.Zero), RateCorrectionVar, shapes.Make(dtypes.Float32))
		step = Mul(step, Exp(correction.NodeValue(x.Graph())))
	}
	out := f.encode(x, step, coding)
	if correction != nil {
		correction.SetNodeValue(updateRateCorrection(correction.NodeValue(x.Graph()), out.Bits, f.flat, x.Shape().Size(), c.bits, c.rateGain, c.totalScale))
	}
	return out
}

// ransFit is the GG model of one tensor for the rANS coder (see
// GGQuantizerRANS), and the rate table's step for it: all Float32 scalars.
type ransFit struct {
	beta, alpha *Node
	// flat: the tensor has no spread (FitGraph's alpha below 2^-126); its
	// step is then flatStep, whatever step encode is given.
	flat, flatStep *Node
	// modelStep is the rate table's step for the target: alpha * c(beta).
	modelStep *Node
	// fitted: ReconstructionFitted.
	fitted bool
}

// fitRANS fits the GG to x and looks its step up in the rate table. The
// model parameters are computed in float32, the precision the frame carries
// them in.
func (c ggQuantizer) fitRANS(x *Node) ransFit {
	table, err := ransStepTable(c.bits)
	if err != nil {
		exceptions.Panicf("optimizers.GCT: %v", err)
	}
	beta, alpha := ggx.FitGraphDot(x)
	f32 := func(n *Node) *Node { return StopGradient(ConvertDType(n, dtypes.Float32)) }
	beta, alpha = f32(beta), f32(alpha)
	minScale := ConstAs(alpha, ransMinScale)
	// No spread (FitGraph's alpha = 0, or below float32's normal range: a
	// constant tensor): the root mean square, its magnitude, stands for alpha
	// and the step. A tensor of zeros (root mean square below 2^-126) gets a
	// step far above its scale, so that its zeros cost the least (about
	// 0.0014 bits each). (The sums are dot products: see package dotsum.)
	flat := LessThan(alpha, minScale)
	rms := Sqrt(DivScalar(dotsum.SumSquares(f32(x)), float64(x.Shape().Size())))
	zeros := LessThan(rms, minScale)
	alpha = Where(flat, Max(rms, minScale), alpha)
	flatStep := Where(zeros, ConstAs(alpha, ransZeroStep), rms)
	return ransFit{beta: beta, alpha: alpha, flat: flat, flatStep: flatStep,
		modelStep: Mul(alpha, Exp(table.Lookup(Log(beta)))), fitted: c.fitted}
}

// encode quantizes x at step (Float32 scalar; flatStep instead for a flat
// tensor; at least 2^-126) and codes it: a ggrans frame under the fitted
// GG, or for coding CodingExpGolomb (CoderAuto's small tensors) order-0
// Exp-Golomb codes. Decoded is q times exactly the float32 step on the wire.
func (f ransFit) encode(x, step *Node, coding Coding) Compressed {
	step = Where(f.flat, f.flatStep, step)
	step = Max(step, ConstAs(step, ransMinScale))
	stepX := step
	if x.DType() != dtypes.Float32 {
		stepX = ConvertDType(step, x.DType())
	}
	q := ClipScalar(Round(Div(StopGradient(x), stepX)), -ransMaxInt, ransMaxInt)
	ints := ConvertDType(q, dtypes.Int32)
	alpha := f.alpha
	if f.fitted {
		// ReconstructionFitted: the step and the model's scale on the wire
		// times the gain (the model depends on their ratio only).
		gain := fittedGain(x, ints, step)
		minScale := ConstAs(step, ransMinScale)
		step, alpha = Max(Mul(step, gain), minScale), Max(Mul(alpha, gain), minScale)
		stepX = step
		if x.DType() != dtypes.Float32 {
			stepX = ConvertDType(step, x.DType())
		}
	}
	// Decoded from the integers, as receivers compute it (so a -0 of q is +0).
	decoded := Mul(ConvertDType(ints, x.DType()), stepX)
	out := Compressed{Decoded: decoded, Ints: ints, Beta: f.beta}
	if coding == CodingExpGolomb {
		out.Coding, out.Step, out.K = CodingExpGolomb, stepX, 0
		out.Bits = AddScalar(ConvertDType(expgolomb.BitLenGraph(ints, 0), dtypes.Float32), 32)
		out.ZeroFraction = zeroFraction(ints)
		return out
	}
	out.Coding, out.Step, out.Alpha = CodingGGRANS, step, alpha
	// The zeros come from the frame count's histogram: the mean zeroFraction
	// computes (the same value, as its float32 sum of ones is exact), without
	// another pass over the integers.
	var numZeros *Node
	out.Bits, numZeros = ggrans.FrameBitsAndZerosGraph(ints, f.beta, alpha, step)
	out.ZeroFraction = MulScalar(ConvertDType(numZeros, dtypes.Float32), 1/float64(x.Shape().Size()))
	return out
}

// RateCorrectionVar is the name of the rate control's state variable, under
// each variable's scope in GCT's state scope (see ParamRateGain): the log of
// the factor on the rate table's step (Float32 scalar, 0 at the start).
const RateCorrectionVar = "rate_correction"

// rateCorrectionMax bounds |r|, the log of the rate control's factor on the
// step (e^6, about 400: far beyond what the model's drift needs).
const rateCorrectionMax = 6

// updateRateCorrection returns the rate control's next correction r' = r +
// gain * log(payload / target), payload the frame's bits less its fixed part
// (ggrans.FrameFixedBits) and target = RateTarget(n, bits) times targetScale
// (nil: 1; the total rate control's factor), clamped to
// +-rateCorrectionMax; r is kept for a tensor without spread (flat) or a
// non-finite update.
func updateRateCorrection(r, frameBits, flat *Node, n int, bits, gain float64, targetScale *Node) *Node {
	payload := Max(AddScalar(frameBits, -ggrans.FrameFixedBits), ConstAs(frameBits, 1))
	target := Scalar(r.Graph(), dtypes.Float32, RateTarget(n, bits))
	if targetScale != nil {
		target = Mul(target, targetScale)
	}
	next := Add(r, MulScalar(Log(Div(payload, target)), gain))
	next = ClipScalar(next, -rateCorrectionMax, rateCorrectionMax)
	keep := LogicalOr(flat, LogicalNot(IsFinite(next)))
	return StopGradient(Where(keep, r, next))
}

// RateTarget returns the payload, in bits, that the rate control aims the
// rANS frame of a tensor of n elements at for bits per element: n*bits less
// the frame's fixed part (ggrans.FrameFixedBits), so that the whole frame
// takes the target, but at least n*bits/2 (for the tensors of a few thousand
// elements, whose fixed part is a large share of the target).
func RateTarget(n int, bits float64) float64 {
	total := float64(n) * bits
	return max(total-ggrans.FrameFixedBits, total/2)
}

// AutoRefBeta is the GG shape at which AutoCoding compares the coders: 1, the
// Laplacian, near the shapes fitted to gradients. The break-even size hardly
// depends on it at 1 bit per element and below (1236 to 1345 elements at 1
// bit for shapes 0.5 to 14); at 2 bits it goes from 4175 (shape 0.5) to 1455
// (shape 2).
const AutoRefBeta = 1.0

// AutoCoding returns the wire form CoderAuto gives a tensor of n elements at
// bits per element: CodingGGRANS if n exceeds AutoBreakEven(bits), else
// CodingExpGolomb. It panics (GoMLX style) if bits is out of the rANS coder's
// reach.
func AutoCoding(n int, bits float64) Coding {
	if float64(n) > AutoBreakEven(bits) {
		return CodingGGRANS
	}
	return CodingExpGolomb
}

var autoBreakEvens sync.Map // bits (float64) -> float64

// AutoBreakEven returns the tensor size at which, quantized at the step of the
// rANS rate table for bits per element (ggrans.StepForBits at AutoRefBeta),
// the expected rANS frame, n*ggrans.ExpectedBits + ggrans.FrameFixedBits,
// and the expected Exp-Golomb code, n*ExpectedBits (order 0) + 32 bits of
// step, are the same size: above it the rANS frame is smaller. It is about
// 840 elements at 0.5 bits, 1300 at 1 bit, 1950 at 1.5 and 2500 at 2. It
// panics (GoMLX style) if bits is out of the rANS coder's reach.
func AutoBreakEven(bits float64) float64 {
	if v, ok := autoBreakEvens.Load(bits); ok {
		return v.(float64)
	}
	if _, err := ransStepTable(bits); err != nil {
		exceptions.Panicf("optimizers.AutoBreakEven: %v", err)
	}
	c, err := ggrans.StepForBits(AutoRefBeta, bits)
	if err != nil {
		exceptions.Panicf("optimizers.AutoBreakEven: %v", err)
	}
	gain := ExpectedBits(AutoRefBeta, c, 0) - ggrans.ExpectedBits(AutoRefBeta, c)
	n := math.Inf(1)
	if gain > 0 {
		n = (ggrans.FrameFixedBits - 32) / gain
	}
	autoBreakEvens.Store(bits, n)
	return n
}
