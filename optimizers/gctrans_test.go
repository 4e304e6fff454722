package optimizers

import (
	"math"
	"testing"

	"github.com/ggprior/ggprior/internal/testbackend"
	"github.com/ggprior/ggprior/optimizers/ggrans"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train"
	"github.com/gomlx/gomlx/ml/train/optimizer"
	"github.com/stretchr/testify/require"
)

// ransOut is what the rANS GG quantizer produced for one tensor: its wire form,
// Decoded and Bits.
type ransOut struct {
	ints               []int32
	step, alpha, beta  float32
	decoded            []float32
	bits, zeroFraction float32
}

// ransCompress runs GGQuantizerRANS(bits) on grad (a Float32 vector) in a graph.
func ransCompress(t *testing.T, bits float64, grad []float32) ransOut {
	t.Helper()
	c := GGQuantizerRANS(bits)
	store := newStore(len(grad))
	v := store.GetVariable("/w")
	exec, err := model.NewExec(testbackend.Get(t), store, func(scope *model.Scope, x *Node) []*Node {
		out := c.Compress(scope, v, x)
		require.Equal(t, CodingGGRANS, out.Coding)
		for _, n := range []*Node{out.Step, out.Alpha, out.Beta} {
			require.Equal(t, dtypes.Float32, n.DType())
			require.True(t, n.Shape().IsScalar())
		}
		return []*Node{out.Ints, out.Step, out.Alpha, out.Beta, out.Decoded, out.Bits, out.ZeroFraction}
	})
	require.NoError(t, err)
	res, err := exec.Call(tensors.FromFlatDataAndDimensions(grad, len(grad)))
	require.NoError(t, err)
	return ransOut{
		ints:  tensors.MustCopyFlatData[int32](res[0]),
		step:  tensors.ToScalar[float32](res[1]),
		alpha: tensors.ToScalar[float32](res[2]), beta: tensors.ToScalar[float32](res[3]),
		decoded: tensors.MustCopyFlatData[float32](res[4]),
		bits:    tensors.ToScalar[float32](res[5]), zeroFraction: tensors.ToScalar[float32](res[6]),
	}
}

// hostFrame builds the frame of out on the host, checks that it decodes back
// to out's integers and parameters, and returns it.
func hostFrame(t *testing.T, out ransOut) []byte {
	t.Helper()
	frame, err := ggrans.AppendFrame(nil, out.ints, out.alpha, out.beta, out.step)
	require.NoError(t, err)
	got, h, err := ggrans.DecodeFrame(nil, frame)
	require.NoError(t, err)
	require.Equal(t, len(out.ints), h.Count)
	require.Equal(t, math.Float32bits(out.step), math.Float32bits(h.Step))
	if len(out.ints) > 0 {
		require.Equal(t, out.ints, got)
	}
	return frame
}

// TestGCTRANSFrameSize: the rANS quantizer's Bits is the size of the frame the
// host builds from its outputs (Ints, Alpha, Beta, Step) within 0.5%; Decoded
// is Ints times exactly the float32 step the frame carries; the error is at
// most half a step.
func TestGCTRANSFrameSize(t *testing.T) {
	const n = 1 << 15
	for _, beta := range []float64{0.4, 0.8, 1.5} {
		for _, target := range []float64{0.3, 0.5, 1, 2, 4} {
			grad := ggGradient(n, beta, 1e-3, uint64(100*beta+10*target))
			out := ransCompress(t, target, grad)
			frame := hostFrame(t, out)
			frameBits := float64(8 * len(frame))
			require.InEpsilon(t, frameBits, float64(out.bits), 0.005, "beta=%g target=%g", beta, target)
			zeros := 0
			for i, x := range grad {
				require.Equal(t, math.Float32bits(float32(out.ints[i])*out.step), math.Float32bits(out.decoded[i]), "element %d", i)
				require.LessOrEqual(t, math.Abs(float64(out.decoded[i]-x)), float64(out.step)/2*(1+1e-6))
				if out.ints[i] == 0 {
					zeros++
				}
			}
			require.InDelta(t, float64(zeros)/n, float64(out.zeroFraction), 1e-6)
			require.InDelta(t, beta, float64(out.beta), 0.1*beta)
			t.Logf("beta=%g target=%g: frame %.4f bits/element, graph %.4f (%+.1f bits)", beta, target,
				frameBits/n, float64(out.bits)/n, float64(out.bits)-frameBits)
		}
	}
}

// TestGCTRANSBitsNearTarget: on GG gradients the frames take the target bits
// per element within a few percent (header and checksum included), well below
// Exp-Golomb's 1-bit floor at 0.5 bits.
func TestGCTRANSBitsNearTarget(t *testing.T) {
	const n = 1 << 17
	for _, beta := range []float64{0.5, 1, 2} {
		for _, target := range []float64{0.5, 1, 2} {
			grad := ggGradient(n, beta, 1e-2, uint64(7*beta+target))
			out := ransCompress(t, target, grad)
			got := float64(8*len(hostFrame(t, out))) / n
			require.InEpsilon(t, target, got, 0.03, "beta=%g target=%g: %.4f bits/element", beta, target, got)
			t.Logf("beta=%g target=%g: %.4f bits/element (zeros %.3f)", beta, target, got, out.zeroFraction)
		}
	}
}

// TestGCTRANSDegenerate: tensors without spread (all zeros, constant, a single
// element, tiny values) still make valid frames, counted honestly; a constant
// tensor is sent exactly.
func TestGCTRANSDegenerate(t *testing.T) {
	constant := make([]float32, 1000)
	for i := range constant {
		constant[i] = -0.25
	}
	tiny := ggGradient(1000, 1, 1e-37, 3)
	for _, tc := range []struct {
		name  string
		grad  []float32
		exact bool
	}{
		{"zeros", make([]float32, 1000), true},
		{"constant", constant, true},
		{"one element", []float32{3.5}, true},
		{"one zero", []float32{0}, true},
		{"two values", []float32{1e-3, -2e-3}, false},
		{"tiny", tiny, false},
	} {
		for _, target := range []float64{0.5, 2} {
			out := ransCompress(t, target, tc.grad)
			require.Greater(t, out.alpha, float32(0), tc.name)
			require.Greater(t, out.step, float32(0), tc.name)
			frame := hostFrame(t, out)
			frameBits := float64(8 * len(frame))
			require.InDelta(t, frameBits, float64(out.bits), 16+0.005*frameBits, "%s target=%g", tc.name, target)
			switch tc.name {
			case "zeros", "one zero": // Zeros cost next to nothing: the frame's fixed part, 56 bytes and the states.
				require.Less(t, len(frame), ggrans.FrameOverhead+24, tc.name)
			case "constant": // About 2 bits per element.
				require.Less(t, len(frame), ggrans.FrameOverhead+24+2*len(tc.grad)/8*11/10, tc.name)
			}
			for i, x := range tc.grad {
				if tc.exact {
					require.Equal(t, x, out.decoded[i], "%s element %d", tc.name, i)
				} else {
					require.LessOrEqual(t, math.Abs(float64(out.decoded[i]-x)), float64(out.step)/2*(1+1e-6), "%s element %d", tc.name, i)
				}
			}
			t.Logf("%s target=%g: alpha=%g beta=%g step=%g, frame %d bytes, graph %.1f bits", tc.name, target,
				out.alpha, out.beta, out.step, len(frame), out.bits)
		}
	}
}

// TestGCTCoderChoice: the coder comes from the builder or the scope's
// gct_coder; Exp-Golomb refuses targets at or below 1 bit with a message that
// points to the rANS coder, which takes any target above 0.
func TestGCTCoderChoice(t *testing.T) {
	for _, name := range []string{"expgolomb", "rans"} {
		c, err := ParseCoder(name)
		require.NoError(t, err)
		require.Equal(t, name, c.String())
		text, err := c.MarshalText()
		require.NoError(t, err)
		require.Equal(t, name, string(text))
		var back Coder
		require.NoError(t, back.UnmarshalText(text))
		require.Equal(t, c, back)
	}
	_, err := ParseCoder("huffman")
	require.ErrorContains(t, err, `coder "huffman": want "expgolomb", "rans" or "auto"`)
	require.Equal(t, CoderExpGolomb, DefaultCoder)

	// Exp-Golomb below its minimum.
	require.PanicsWithError(t, "optimizers.GGQuantizer: optimizers: 0.5 bits per element is not reachable with Exp-Golomb order 0 "+
		"(its minimum is 1, when every value is 0; the rANS coder, CoderRANS or gct_coder=rans, goes below)",
		func() { GGQuantizer(0.5, 0) })
	require.Panics(t, func() { GCT(optimizer.StochasticGradientDescent()).BitsPerElement(1).Coder(CoderExpGolomb).Done() })
	require.Panics(t, func() { GCT(optimizer.StochasticGradientDescent()).BitsPerElement(0).Done() })
	require.Panics(t, func() { GGQuantizerRANS(0) })
	require.Panics(t, func() { GGQuantizerRANS(-1) })
	require.Panics(t, func() { GGQuantizerRANS(math.Inf(1)) })
	require.Panics(t, func() { GGQuantizerRANS(100) }) // Beyond the coder's reach.
	_, err = ParseCompressor("gct:0.5", 2)
	require.EqualError(t, err, `compressor "gct:0.5": 0.5 bits per element: must be > 1 with Exp-Golomb codes, which take at least 1 bit per element `+
		`(the rANS coder, gct-rans or gct_coder=rans, goes below)`)
	_, err = ParseCompressor("gct", 1)
	require.ErrorContains(t, err, "must be > 1 with Exp-Golomb codes")
	_, err = ParseCompressor("gct-rans:0", 2)
	require.EqualError(t, err, `compressor "gct-rans:0": 0 bits per element: must be > 0 with the rANS coder`)
	_, err = ParseCompressor("gct-rans:100", 2)
	require.ErrorContains(t, err, "out of the rANS coder's reach")
	for spec, want := range map[string]string{"gct:1.5": "gct:1.5bits", "gct": "gct:2bits", "gct-rans:0.5": "gct-rans:0.5bits", "gct-rans": "gct-rans:2bits"} {
		c, err := ParseCompressor(spec, 2)
		require.NoError(t, err, spec)
		require.Equal(t, want, c.Name(), spec)
	}
	require.Equal(t, "gct-rans:0.5bits", GGQuantizerWith(0.5, 3, CoderRANS).Name())
	require.Equal(t, "gct:3bits", GGQuantizerWith(3, 0, CoderExpGolomb).Name())

	// The builder, and the scope.
	store := newStore(10)
	sgd := optimizer.StochasticGradientDescent()
	require.Equal(t, "gct-rans:0.5bits", GCT(sgd).BitsPerElement(0.5).Coder(CoderRANS).Done().CompressorName(store.RootScope()))
	require.Equal(t, "gct:2bits", GCT(sgd).Done().CompressorName(store.RootScope()))
	store.SetParam(ParamCoder, "rans")
	require.Equal(t, "gct-rans:2bits", GCT(sgd).Done().CompressorName(store.RootScope()))
	require.Equal(t, "gct-rans:0.5bits", GCT(sgd).BitsPerElement(0.5).Done().CompressorName(store.RootScope()))
	require.Equal(t, "gct:3bits", GCT(sgd).BitsPerElement(3).Coder(CoderExpGolomb).Done().CompressorName(store.RootScope()))
	store.SetParam(ParamBits, 0.7)
	require.Equal(t, "gct-rans:0.7bits", GCT(sgd).Done().CompressorName(store.RootScope()))
	store.SetParam(ParamCoder, CoderExpGolomb)
	require.PanicsWithError(t, "optimizers.GCT: optimizers: 0.7 bits per element is not reachable with Exp-Golomb order 0 "+
		"(its minimum is 1, when every value is 0; the rANS coder, CoderRANS or gct_coder=rans, goes below)",
		func() { GCT(sgd).Done().CompressorName(store.RootScope()) })
	store.SetParam(ParamCoder, "huffman")
	require.PanicsWithError(t, `optimizers.GCT: hyperparameter gct_coder: coder "huffman": want "expgolomb", "rans" or "auto"`,
		func() { GCT(sgd).Done().CompressorName(store.RootScope()) })
	store.SetParam(ParamCoder, 1.5)
	require.Panics(t, func() { GCT(sgd).Done().CompressorName(store.RootScope()) })
}

// TestGCTRANSTrains: GCT with the rANS coder at 1 and 0.5 bits per element
// trains a linear regression (Adam, error feedback): the loss falls by far,
// and the coded size is near the target.
func TestGCTRANSTrains(t *testing.T) {
	const n, dim, steps = 256, 64, 100
	xs := ggGradient(n*dim, 2, 1, 1)
	wTrue := ggGradient(dim, 1, 1, 2)
	ys := make([]float32, n)
	for i := range ys {
		for j := range dim {
			ys[i] += xs[i*dim+j] * wTrue[j]
		}
	}
	for _, bits := range []float64{1, 0.5} {
		store := model.NewStore()
		store.SetParam(model.ParamInitialSeed, int64(1))
		opt := GCT(optimizer.Adam().LearningRate(0.05).Done()).Coder(CoderRANS).BitsPerElement(bits).Done()
		modelFn := func(scope *model.Scope, _ any, inputs []*Node) []*Node {
			w := scope.VariableWithShape("w", shapes.Make(dtypes.Float32, dim, 1)).NodeValue(inputs[0].Graph())
			return []*Node{MatMul(inputs[0], w)}
		}
		lossFn := func(labels, predictions []*Node) *Node {
			return ReduceAllMean(Square(Sub(predictions[0], labels[0])))
		}
		trainer := train.NewTrainer(testbackend.Get(t), store, modelFn, lossFn, opt, nil, nil)
		x := tensors.FromFlatDataAndDimensions(xs, n, dim)
		y := tensors.FromFlatDataAndDimensions(ys, n, 1)
		var first, last float32
		for s := range steps {
			metrics, err := trainer.TrainStep(train.Batch{Inputs: []*tensors.Tensor{x}, Labels: []*tensors.Tensor{y}})
			require.NoError(t, err)
			loss := tensors.ToScalar[float32](metrics[0])
			if s == 0 {
				first = loss
			}
			last = loss
		}
		m, err := ReadMetrics(store)
		require.NoError(t, err)
		require.Less(t, last, first/5, "bits=%g: loss %g -> %g", bits, first, last)
		// 64 elements: the frame's fixed part (about 600 bits) dominates.
		require.Greater(t, m.BitsPerElement, bits)
		require.Less(t, m.BitsPerElement, bits+700.0/dim)
		t.Logf("bits=%g: loss %.4g -> %.4g in %d steps, %.2f bits/element (frame overhead included), beta %.2f",
			bits, first, last, steps, m.BitsPerElement, m.Beta)
	}
}
