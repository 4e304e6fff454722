package dataparallel

import (
	"fmt"
	"slices"

	"github.com/ggprior/ggprior/optimizers"
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train"
	"github.com/gomlx/gomlx/support/exceptions"
)

// layout describes the outputs of the gradient graph: the loss, then per
// variable its wire form.
type layout struct {
	lossDType  dtypes.DType
	vars       []varLayout
	numOutputs int // Extra scalars of TrainerConfig.Outputs, after the variables' outputs.
	// noise: GCT's second-moment correction; the variables' outputs are
	// followed by their noise powers (Float32 [len(vars)]).
	noise bool
}

// varLayout is one variable's outputs. Dense codings output Decoded (in its
// wire dtype) and Bits. The others output first faithful (Bool: the wire form
// decodes exactly to Decoded; false e.g. during GCT's warmup steps, which send
// the uncompressed gradient, and then the variable travels dense), then their
// wire form, then Decoded and Bits. The wire forms:
//
//	expgolomb, int8  Ints (Int32, or Int8 for int8), Step (Float32)
//	ggrans           Ints (Int32), Step, Alpha, Beta (Float32)
//	sparse           Mask (Bool), the gradient as float32, zero outside Mask
//	sign             Mask (Bool), Step (Float32), the gradient as float32
//	                 (Where(Mask, -Step, Step): what receivers rebuild)
//	lowrank          P, Q (Float32)
type varLayout struct {
	variable *model.Variable
	coding   optimizers.Coding
	k        int
}

func (v varLayout) numOutputs() int {
	switch v.coding {
	case optimizers.CodingDense:
		return 2
	case optimizers.CodingSign:
		return 6
	case optimizers.CodingGGRANS:
		return 7
	}
	return 5
}

// computeGraph is the first execution: forward, backward and compression on
// this worker's shard. It records the layout of its outputs.
func (t *Trainer) computeGraph(scope *model.Scope, inputsAndLabels []*Node) []*Node {
	inputs, labels := inputsAndLabels[:t.numInputs], inputsAndLabels[t.numInputs:]
	g := inputsAndLabels[0].Graph()
	t.cfg.store.SetTraining(g, true)
	predictions := t.cfg.modelFn(scope, nil, inputs)
	if t.cfg.lossFn != nil {
		l := t.cfg.lossFn(labels, predictions)
		if !l.Shape().IsScalar() {
			l = ReduceAllMean(l)
		}
		train.AddMainLoss(l)
	}
	loss := train.TotalLoss(g)
	if loss == nil {
		exceptions.Panicf("dataparallel: no loss: the loss function is nil (or returned nil) and the model added none with train.AddMainLoss")
	}
	grads := scope.BuildTrainableVariablesGradientsGraph(loss)
	compressed := t.cfg.gct.CompressGradients(scope, grads)
	train.ExecPerStepUpdateGraphFn(g)

	// bfloat16 values travel as bfloat16 (exactly: the bf16 compressor's output is bf16-rounded).
	denseDType := dtypes.InvalidDType
	if t.cfg.gct.CompressorName(scope) == optimizers.BF16().Name() {
		denseDType = dtypes.BFloat16
	}
	lay := &layout{lossDType: loss.DType(), vars: make([]varLayout, len(compressed))}
	outputs := []*Node{ConvertDType(loss, dtypes.Float64)}
	for i, vg := range compressed {
		c := vg.Compressed
		lay.vars[i] = varLayout{variable: vg.Variable, coding: c.Coding, k: c.K}
		bits := ConvertDType(c.Bits, dtypes.Float64)
		switch c.Coding {
		case optimizers.CodingExpGolomb, optimizers.CodingInt8:
			if c.Ints == nil || c.Step == nil {
				exceptions.Panicf("dataparallel: variable %q: %s coding without Ints or Step", vg.Variable.Path(), c.Coding)
			}
			dtype := c.Decoded.DType()
			step := ConvertDType(c.Step, dtypes.Float32) // The wire carries a float32 step.
			recon := scaled(Mul(ConvertDType(c.Ints, dtype), ConvertDType(step, dtype)), c.Scale)
			faithful := LogicalAll(Equal(recon, c.Decoded))
			ints := c.Ints
			if c.Coding == optimizers.CodingInt8 {
				ints = ConvertDType(ints, dtypes.Int8)
			}
			outputs = append(outputs, faithful, ints, step, c.Decoded, bits)
		case optimizers.CodingGGRANS:
			if c.Ints == nil || c.Step == nil || c.Alpha == nil || c.Beta == nil {
				exceptions.Panicf("dataparallel: variable %q: %s coding without Ints, Step, Alpha or Beta", vg.Variable.Path(), c.Coding)
			}
			// The frame carries the float32 parameters: the gradient is Ints
			// times exactly the float32 step.
			f32 := func(x *Node) *Node { return ConvertDType(x, dtypes.Float32) }
			step := f32(c.Step)
			dtype := c.Decoded.DType()
			recon := scaled(Mul(ConvertDType(c.Ints, dtype), ConvertDType(step, dtype)), c.Scale)
			faithful := LogicalAll(Equal(recon, c.Decoded))
			outputs = append(outputs, faithful, c.Ints, step, f32(c.Alpha), f32(c.Beta), c.Decoded, bits)
		case optimizers.CodingDense:
			decoded := c.Decoded
			if denseDType != dtypes.InvalidDType && decoded.DType() != denseDType {
				decoded = ConvertDType(decoded, denseDType)
			}
			outputs = append(outputs, decoded, bits)
		case optimizers.CodingSparse, optimizers.CodingSign, optimizers.CodingLowRank:
			outputs = append(outputs, compactWireForm(vg.Variable, c)...)
			outputs = append(outputs, c.Decoded, bits)
		default:
			exceptions.Panicf("dataparallel: variable %q: unknown coding %q", vg.Variable.Path(), c.Coding)
		}
	}
	if t.cfg.gct.MomentCorrection(scope) {
		lay.noise = true
		powers := make([]*Node, len(compressed))
		for i, vg := range compressed {
			if vg.Compressed.NoisePower == nil {
				exceptions.Panicf("dataparallel: variable %q: GCT's second-moment correction without a noise power", vg.Variable.Path())
			}
			powers[i] = Reshape(ConvertDType(vg.Compressed.NoisePower, dtypes.Float32), 1)
		}
		outputs = append(outputs, Concatenate(powers, 0))
	}
	if t.cfg.outputsFn != nil {
		extra := t.cfg.outputsFn(scope, g)
		for i, x := range extra {
			if x == nil || !x.Shape().IsScalar() {
				exceptions.Panicf("dataparallel: output %d of TrainerConfig.Outputs must be a scalar node, got %v", i, x)
			}
			outputs = append(outputs, ConvertDType(x, dtypes.Float64))
		}
		lay.numOutputs = len(extra)
	}
	if t.layout != nil && !t.layout.sameAs(lay) {
		exceptions.Panicf("dataparallel: the gradient graph for new input shapes has different variables or codings than the first one")
	}
	t.layout = lay
	return outputs
}

// scaled returns x * scale, or x if scale is nil: the decoded value of an
// integer coding with GCT's geometry scale (optimizers.Compressed.Scale), in
// the order GCT computes it.
func scaled(x, scale *Node) *Node {
	if scale == nil {
		return x
	}
	return Mul(x, scale)
}

// compactWireForm returns the faithful flag and the wire form of a sparse,
// sign or lowrank coding (see varLayout). The values travel as float32: the
// flag is false where they don't decode exactly to c.Decoded.
func compactWireForm(v *model.Variable, c optimizers.Compressed) []*Node {
	dtype := c.Decoded.DType()
	need := func(what string, x *Node) {
		if x == nil {
			exceptions.Panicf("dataparallel: variable %q: %s coding without %s", v.Path(), c.Coding, what)
		}
	}
	switch c.Coding {
	case optimizers.CodingSparse:
		need("Mask", c.Mask)
		values := ConvertDType(c.Decoded, dtypes.Float32)
		values = Where(c.Mask, values, ZerosLike(values))
		faithful := LogicalAll(Equal(ConvertDType(values, dtype), c.Decoded))
		return []*Node{faithful, c.Mask, values}
	case optimizers.CodingSign:
		need("Mask", c.Mask)
		need("Step", c.Step)
		step := ConvertDType(c.Step, dtypes.Float32)
		steps := BroadcastToDims(step, c.Mask.Shape().Dimensions...)
		signed := Where(c.Mask, Neg(steps), steps) // Neg flips the sign bit: as receivers do.
		faithful := LogicalAll(Equal(ConvertDType(signed, dtype), c.Decoded))
		return []*Node{faithful, c.Mask, step, signed}
	default: // optimizers.CodingLowRank
		need("P", c.P)
		need("Q", c.Q)
		p, q := ConvertDType(c.P, dtypes.Float32), ConvertDType(c.Q, dtypes.Float32)
		recon := ConvertDType(optimizers.LowRankDecode(p, q, c.Decoded.Shape().Dimensions...), dtype)
		faithful := LogicalAll(Equal(recon, c.Decoded))
		return []*Node{faithful, p, q}
	}
}

func (l *layout) sameAs(o *layout) bool {
	if len(l.vars) != len(o.vars) || l.numOutputs != o.numOutputs || l.noise != o.noise {
		return false
	}
	for i := range l.vars {
		if l.vars[i] != o.vars[i] {
			return false
		}
	}
	return true
}

// wireGradients reads the gradient graph's outputs: the loss and the extra
// outputs into stats, and this worker's wire gradients (whose tensors are the
// outputs themselves).
func (l *layout) wireGradients(outputs []*tensors.Tensor, stats *StepStats) ([]WireGradient, error) {
	want := 1 + l.numOutputs
	if l.noise {
		want++
	}
	for _, v := range l.vars {
		want += v.numOutputs()
	}
	if len(outputs) != want {
		return nil, fmt.Errorf("gradient graph returned %d outputs, want %d", len(outputs), want)
	}
	stats.Loss = tensors.ToScalar[float64](outputs[0])
	grads := make([]WireGradient, len(l.vars))
	stats.Variables = make([]VariableStats, len(l.vars))
	pos := 1
	for i, v := range l.vars {
		out := outputs[pos : pos+v.numOutputs()]
		pos += v.numOutputs()
		vs := &stats.Variables[i]
		vs.Path, vs.Size = v.variable.Path(), v.variable.Shape().Size()
		vs.CodedBits = tensors.ToScalar[float64](out[len(out)-1])
		stats.CodedBits += vs.CodedBits
		switch {
		case v.coding == optimizers.CodingDense:
			grads[i] = WireGradient{Kind: KindDense, Dense: out[0]}
		case !tensors.ToScalar[bool](out[0]):
			grads[i] = WireGradient{Kind: KindDense, Dense: out[len(out)-2]}
		case v.coding == optimizers.CodingExpGolomb:
			grads[i] = WireGradient{Kind: KindExpGolomb, Ints: out[1], Step: tensors.ToScalar[float32](out[2]), K: v.k}
		case v.coding == optimizers.CodingInt8:
			grads[i] = WireGradient{Kind: KindInt8, Ints: out[1], Step: tensors.ToScalar[float32](out[2])}
		case v.coding == optimizers.CodingGGRANS:
			grads[i] = WireGradient{Kind: KindGGRANS, Ints: out[1], Step: tensors.ToScalar[float32](out[2]),
				Alpha: tensors.ToScalar[float32](out[3]), Beta: tensors.ToScalar[float32](out[4])}
		case v.coding == optimizers.CodingSparse:
			grads[i] = WireGradient{Kind: KindSparse, Mask: out[1], Dense: out[2]}
		case v.coding == optimizers.CodingSign:
			grads[i] = WireGradient{Kind: KindSign, Mask: out[1], Step: tensors.ToScalar[float32](out[2]), Dense: out[3]}
		case v.coding == optimizers.CodingLowRank:
			grads[i] = WireGradient{Kind: KindLowRank, P: out[1], Q: out[2]}
		default:
			return nil, fmt.Errorf("variable %q: unknown coding %q", v.variable.Path(), v.coding)
		}
		vs.Kind = grads[i].Kind
	}
	if l.noise {
		powers := tensors.MustCopyFlatData[float32](outputs[pos])
		pos++
		for i := range grads {
			grads[i].NoisePower = powers[i]
		}
	}
	stats.Outputs = make([]float64, l.numOutputs)
	for i, x := range outputs[pos:] {
		stats.Outputs[i] = tensors.ToScalar[float64](x)
	}
	return grads, nil
}

// updateGraph is the second execution: it averages the W workers' gradients
// and applies the inner optimizer. Its inputs are, per rank, per variable,
// Ints and Step (an integer dtype: expgolomb, int8 and ggrans sections, times
// GCT's geometry scale if it has one, optimizers.Wrapper.GradientScale), the
// dense gradient (a float tensor of the variable's dimensions: dense, and
// sparse and sign sections decoded on the host), or the factors P and Q of a lowrank section (a float matrix whose
// dimensions are not the variable's: PowerSGD's P [rows, r] has r < cols).
// It returns the squared L2 norm of the averaged gradient (Float64).
func (t *Trainer) updateGraph(scope *model.Scope, inputs []*Node) []*Node {
	g := inputs[0].Graph()
	// With GCT's second-moment correction, the last t.size inputs are the
	// ranks' noise powers (Float32 [len(vars)] each).
	var noise []*Node
	if t.layout.noise {
		if len(inputs) < t.size {
			exceptions.Panicf("dataparallel: update graph got %d inputs, fewer than the %d ranks' noise powers", len(inputs), t.size)
		}
		inputs, noise = inputs[:len(inputs)-t.size], inputs[len(inputs)-t.size:]
	}
	vars := t.layout.vars
	// The inner optimizer updates the trainable variables the graph uses, in
	// store order: the same as the gradients' order.
	for _, v := range vars {
		_ = v.variable.NodeValue(g)
	}
	// The geometry's scales (GCT's GeometryAdam), from the inner optimizer's
	// state before its update: the same that each worker multiplied its
	// integers by.
	scales := make([]*Node, len(vars))
	for i, v := range vars {
		if v.coding == optimizers.CodingExpGolomb || v.coding == optimizers.CodingGGRANS || v.coding == optimizers.CodingInt8 {
			scales[i] = t.cfg.gct.GradientScale(scope, g, v.variable)
		}
	}
	sums := make([]*Node, len(vars))
	pos := 0
	for r := range t.size {
		for i, v := range vars {
			if pos >= len(inputs) {
				exceptions.Panicf("dataparallel: update graph got %d inputs, too few for %d ranks of %d variables", len(inputs), t.size, len(vars))
			}
			dtype := v.variable.Shape().DType
			x := inputs[pos]
			var term *Node
			dims := v.variable.Shape().Dimensions
			switch {
			case x.DType() == dtypes.Int32 || x.DType() == dtypes.Int8:
				step := inputs[pos+1]
				pos += 2
				term = scaled(Mul(ConvertDType(x, dtype), ConvertDType(step, dtype)), scales[i])
			case x.Rank() == 2 && !slices.Equal(x.Shape().Dimensions, dims):
				if pos+1 >= len(inputs) {
					exceptions.Panicf("dataparallel: update graph: rank %d's factor P of %q is its last input, Q is missing", r, v.variable.Path())
				}
				q := inputs[pos+1]
				pos += 2
				term = optimizers.LowRankDecode(x, q, dims...)
				if term.DType() != dtype {
					term = ConvertDType(term, dtype)
				}
			default:
				pos++
				term = x
				if term.DType() != dtype {
					term = ConvertDType(term, dtype)
				}
			}
			if !term.Shape().Equal(v.variable.Shape()) {
				exceptions.Panicf("dataparallel: rank %d's gradient for %q has shape %s, the variable %s",
					r, v.variable.Path(), term.Shape(), v.variable.Shape())
			}
			if sums[i] == nil {
				sums[i] = term
			} else {
				sums[i] = Add(sums[i], term)
			}
		}
	}
	if pos != len(inputs) {
		exceptions.Panicf("dataparallel: update graph got %d inputs, used %d", len(inputs), pos)
	}
	normSq := Scalar(g, dtypes.Float64, 0)
	for i, s := range sums {
		if t.size > 1 {
			sums[i] = DivScalar(s, float64(t.size))
		}
		normSq = Add(normSq, ReduceAllSum(Square(ConvertDType(sums[i], dtypes.Float64))))
	}
	if noise != nil {
		// The noise of the mean of W gradients: the sum of theirs over W^2
		// (independent noises add); with one worker, its own, as GCT's
		// single-process update computes it.
		factors := make([]*Node, len(sums))
		for i := range sums {
			var power *Node
			for _, perRank := range noise {
				p := Reshape(Slice(perRank, AxisElem(i)))
				power = addOrSet(power, p)
			}
			if t.size > 1 {
				power = DivScalar(power, float64(t.size*t.size))
			}
			factors[i] = optimizers.MomentCorrectionFactor(sums[i], power)
		}
		noiseAware, ok := t.cfg.gct.Inner().(optimizers.NoiseAwareOptimizer)
		if !ok {
			exceptions.Panicf("dataparallel: GCT's second-moment correction needs an inner optimizer that implements optimizers.NoiseAwareOptimizer, not %T",
				t.cfg.gct.Inner())
		}
		noiseAware.UpdateGraphWithNoisyGradients(scope, sums, factors, t.layout.lossDType)
		return []*Node{normSq}
	}
	t.cfg.gct.Inner().(train.OptimizeWithGradients).UpdateGraphWithGradients(scope, sums, t.layout.lossDType)
	return []*Node{normSq}
}

// addOrSet returns sum + x, or x if sum is nil.
func addOrSet(sum, x *Node) *Node {
	if sum == nil {
		return x
	}
	return Add(sum, x)
}
