package optimizers

import (
	"fmt"
	"math"
	"testing"

	"github.com/ggprior/ggprior/internal/testbackend"
	"github.com/ggprior/ggprior/optimizers/ggrans"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train/optimizer"
	"github.com/stretchr/testify/require"
)

// TestAutoBreakEven: the auto coder's break-even size is where the expected
// Exp-Golomb code and rANS frame are the same size; it grows with the target
// (the rANS gain shrinks); the coder's names parse.
func TestAutoBreakEven(t *testing.T) {
	prev := 0.0
	for _, bits := range []float64{0.3, 0.5, 1, 1.5, 2} {
		n := AutoBreakEven(bits)
		require.Greater(t, n, prev, "bits=%g", bits)
		prev = n
		c, err := ggrans.StepForBits(AutoRefBeta, bits)
		require.NoError(t, err)
		eg := n*ExpectedBits(AutoRefBeta, c, 0) + 32
		rans := n*ggrans.ExpectedBits(AutoRefBeta, c) + ggrans.FrameFixedBits
		require.InEpsilon(t, eg, rans, 1e-9, "bits=%g", bits)
		require.Equal(t, CodingExpGolomb, AutoCoding(int(n), bits))
		require.Equal(t, CodingGGRANS, AutoCoding(int(n)+1, bits))
		t.Logf("%g bits: break-even %.0f elements", bits, n)
	}
	require.InDelta(t, 842, AutoBreakEven(0.5), 10)
	coder, err := ParseCoder("auto")
	require.NoError(t, err)
	require.Equal(t, CoderAuto, coder)
	require.NoError(t, CheckBits(0.5, CoderAuto))
	require.Error(t, CheckBits(0, CoderAuto))
	require.Equal(t, "gct-auto:0.5bits", GGQuantizerWith(0.5, 0, CoderAuto).Name())
}

// TestAutoCoderPerTensor: GCT with the auto coder sends the small tensors
// (128 and 512 elements, biases and gains) as Exp-Golomb codes and the large
// ones (16384 and 65536) as rANS frames, at 0.5, 1 and 2 bits, all quantized
// at the rANS table's step; each costs what its Bits say (the Exp-Golomb
// length plus 32, or the host's rANS frame within 0.5%), and the total is
// below what the rANS coder alone takes.
func TestAutoCoderPerTensor(t *testing.T) {
	sizes := []int{128, 512, 16384, 65536}
	for _, bits := range []float64{0.5, 1, 2} {
		totals := map[Coder]float64{}
		for _, coder := range []Coder{CoderRANS, CoderAuto} {
			store := model.NewStore()
			grads := make([][]float32, len(sizes))
			for i, n := range sizes {
				store.RootScope().VariableWithShape(fmt.Sprintf("v%d", i), shapes.Make(dtypes.Float32, n))
				grads[i] = ggGradient(n, 0.8, 1e-3, uint64(i+1))
			}
			w := GCT(optimizer.StochasticGradientDescent()).Coder(coder).BitsPerElement(bits).Done()
			var codings []Coding
			exec, err := model.NewExec(testbackend.Get(t), store, func(scope *model.Scope, flat *Node) []*Node {
				var ins []*Node
				offset := 0
				for i, n := range sizes {
					_ = store.GetVariable(fmt.Sprintf("/v%d", i)).NodeValue(flat.Graph())
					ins = append(ins, Slice(flat, AxisRange(offset, offset+n)))
					offset += n
				}
				var outs []*Node
				codings = nil
				for _, vg := range w.CompressGradients(scope, ins) {
					c := vg.Compressed
					codings = append(codings, c.Coding)
					alpha := Neg(c.Step) // Unused for Exp-Golomb (and not a duplicate output).
					if c.Alpha != nil {
						alpha = c.Alpha
					}
					outs = append(outs, Reshape(c.Ints, -1), Neg(Neg(c.Step)), alpha, c.Beta, c.Bits)
				}
				return outs
			})
			require.NoError(t, err)
			var all []float32
			for _, g := range grads {
				all = append(all, g...)
			}
			res, err := exec.Call(all)
			require.NoError(t, err)
			for i, n := range sizes {
				want := CodingGGRANS
				if coder == CoderAuto && n < 1000 {
					want = CodingExpGolomb
				}
				require.Equal(t, want, codings[i], "%s %g bits, %d elements", coder, bits, n)
				ints := tensors.MustCopyFlatData[int32](res[5*i])
				step := tensors.ToScalar[float32](res[5*i+1])
				got := float64(tensors.ToScalar[float32](res[5*i+4]))
				var size float64
				if want == CodingExpGolomb {
					for _, q := range ints {
						u := uint64(2 * int64(q))
						if q <= 0 {
							u = uint64(-2 * int64(q))
						} else {
							u--
						}
						size += float64(2*bitLen(u+1) - 1)
					}
					size += 32
					require.Equal(t, size, got, "%s %g bits, %d elements", coder, bits, n)
				} else {
					frame, err := ggrans.AppendFrame(nil, ints, tensors.ToScalar[float32](res[5*i+2]), tensors.ToScalar[float32](res[5*i+3]), step)
					require.NoError(t, err)
					size = float64(8 * len(frame))
					require.InEpsilon(t, size, got, 0.005, "%s %g bits, %d elements", coder, bits, n)
				}
				totals[coder] += size
				t.Logf("%s %g bits, %5d elements: %s, %.3f bits/element", coder, bits, n, codings[i], size/float64(n))
			}
		}
		require.Less(t, totals[CoderAuto], totals[CoderRANS], "%g bits", bits)
	}
}

func bitLen(u uint64) int {
	n := 0
	for ; u > 0; u >>= 1 {
		n++
	}
	return n
}

// TestRateControl: under error feedback, the rate of the rANS coder follows
// the target with the rate control (within 5% after 30 steps at 0.5 and 1
// bits, whole frames, of its aim TotalRateMargin below the target) where the
// rate table alone misses it; the correction is a
// non-trainable state variable under GCT's state scope.
func TestRateControl(t *testing.T) {
	const n, steps = 1 << 14, 30
	for _, bits := range []float64{0.5, 1} {
		rates := map[float64]float64{}
		for _, gain := range []float64{0, DefaultRateGain} {
			store := newStore(n)
			w := GCT(optimizer.StochasticGradientDescent()).Coder(CoderRANS).BitsPerElement(bits).RateGain(gain).Done()
			var sum float64
			for s := range steps {
				out := compressStep(t, store, w, ggGradient(n, 1, 1e-3, uint64(s+1)))
				if s >= steps-10 {
					sum += float64(out.bits) / n
				}
			}
			rates[gain] = sum / 10
			corr := store.GetVariable("/" + StateScope + "/" + model.EscapeScopeName("/w") + "/" + RateCorrectionVar)
			if gain == 0 {
				require.Nil(t, corr)
			} else {
				require.NotNil(t, corr)
				require.False(t, corr.Trainable)
				value, err := corr.Value()
				require.NoError(t, err)
				t.Logf("%g bits: correction %.3f", bits, tensors.ToScalar[float32](value))
			}
			t.Logf("%g bits, gain %g: %.4f bits/element (whole frame) over the last 10 steps", bits, gain, rates[gain])
		}
		// With the controls, the aim is the total control's, TotalRateMargin below the target.
		aim := bits * (1 - TotalRateMargin)
		require.InEpsilon(t, aim, rates[DefaultRateGain], 0.05, "%g bits", bits)
		require.Greater(t, math.Abs(rates[0]-aim), math.Abs(rates[DefaultRateGain]-aim), "%g bits", bits)
	}
}

// TestTotalRateControl: with the auto coder, the small tensors' Exp-Golomb
// codes cost more than the target (here 300 elements at about 1.5 bits
// each); the total rate control lowers the rANS-coded tensors' targets so
// that the whole step takes the target: within 0.1% after 40 steps of the
// same gradients, the rANS tensors below it.
func TestTotalRateControl(t *testing.T) {
	sizes := []int{300, 1 << 14, 1 << 16}
	grads := make([][]float32, len(sizes))
	var n float64
	for i, size := range sizes {
		grads[i] = ggGradient(size, 0.9, 1e-3, uint64(i+3))
		n += float64(size)
	}
	const bits = 1.0
	w := GCT(optimizer.StochasticGradientDescent()).Coder(CoderAuto).BitsPerElement(bits).ErrorFeedback(false).Done()
	out := multiStep(t, w, grads, 40)
	var total float64
	for i, o := range out {
		total += float64(o.bits)
		t.Logf("%6d elements: %.4f bits/element", sizes[i], float64(o.bits)/float64(sizes[i]))
	}
	t.Logf("total: %.4f bits/element", total/n)
	require.InEpsilon(t, bits*(1-TotalRateMargin), total/n, 0.001) // Without the control: 1.002.
	require.LessOrEqual(t, total/n, bits)
	require.Greater(t, float64(out[0].bits)/float64(sizes[0]), bits)
	require.Less(t, float64(out[2].bits)/float64(sizes[2]), bits)
}
