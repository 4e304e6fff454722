package optimizers

import (
	"fmt"
	"math"
	"testing"

	"github.com/ggprior/ggprior/internal/testbackend"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train/optimizer"
	"github.com/stretchr/testify/require"
)

// TestSecondMomentScale: the scale is sqrt(m2), floored at GeometryFloor
// times the root mean square, and 1 everywhere for a second moment of zeros.
func TestSecondMomentScale(t *testing.T) {
	backend := testbackend.Get(t)
	m2 := []float32{4, 1, 0, 1e-12, 0.25, 2.75}
	got := MustExecOnce(backend, SecondMomentScale, m2)
	mean := 0.0
	for _, v := range m2 {
		mean += float64(v)
	}
	floor := GeometryFloor * math.Sqrt(mean/float64(len(m2)))
	for i, s := range tensors.MustCopyFlatData[float32](got) {
		require.InDelta(t, max(math.Sqrt(float64(m2[i])), floor), float64(s), 1e-6, "m2=%g", m2[i])
	}
	zeros := MustExecOnce(backend, SecondMomentScale, []float32{0, 0, 0})
	require.Equal(t, []float32{1, 1, 1}, tensors.MustCopyFlatData[float32](zeros))
}

// fixedScale is a Preconditioner whose scale is a constant tensor.
type fixedScale []float32

func (f fixedScale) GradientScale(_ *model.Scope, g *Graph, v *model.Variable) *Node {
	return Reshape(Const(g, []float32(f)), v.Shape().Dimensions...)
}

// multiStep runs steps of CompressGradients on fixed gradients of the
// variables "/v0", "/v1", ... (sizes as grads) and returns, per variable, the
// last step's Decoded, Ints, Step, Bits and, if any, Scale.
type multiOut struct {
	decoded, scale []float32
	ints           []int32
	step, bits     float32
}

func multiStep(t *testing.T, w *Wrapper, grads [][]float32, steps int) []multiOut {
	t.Helper()
	out, err := multiStepErr(t, w, grads, steps)
	require.NoError(t, err)
	return out
}

func multiStepErr(t *testing.T, w *Wrapper, grads [][]float32, steps int) ([]multiOut, error) {
	store := model.NewStore()
	for i, g := range grads {
		store.RootScope().VariableWithShape(fmt.Sprintf("v%d", i), shapes.Make(dtypes.Float32, len(g)))
	}
	exec, err := model.NewExec(testbackend.Get(t), store, func(scope *model.Scope, ins []*Node) []*Node {
		for i := range grads { // In use: CompressGradients compresses their gradients.
			_ = store.GetVariable(fmt.Sprintf("/v%d", i)).NodeValue(ins[0].Graph())
		}
		var outs []*Node
		for _, vg := range w.CompressGradients(scope, ins) {
			c := vg.Compressed
			scale := OnesLike(c.Decoded)
			if c.Scale != nil {
				scale = c.Scale
			}
			outs = append(outs, c.Decoded, scale, c.Ints, ConvertDType(c.Step, dtypes.Float32), c.Bits)
		}
		// The Go backend fails to run a graph with an unused parameter node
		// after every output node (here the metric variables' parameters,
		// which SetNodeValue creates after their values): one more output,
		// made last.
		g := ins[0].Graph()
		last := Scalar(g, dtypes.Float32, 0)
		for v := range store.IterVariables() {
			if v.InUseByGraph(g) {
				last = Add(last, ConvertDType(ReduceAllSum(v.NodeValue(g)), dtypes.Float32))
			}
		}
		return append(outs, last)
	})
	if err != nil {
		return nil, err
	}
	args := make([]any, len(grads))
	for i, g := range grads {
		args[i] = g
	}
	var res []*tensors.Tensor
	for range steps {
		if res, err = exec.Exec(args...); err != nil {
			return nil, err
		}
	}
	out := make([]multiOut, len(grads))
	for i := range grads {
		r := res[5*i:]
		out[i] = multiOut{decoded: tensors.MustCopyFlatData[float32](r[0]), scale: tensors.MustCopyFlatData[float32](r[1]),
			ints: tensors.MustCopyFlatData[int32](r[2]), step: tensors.ToScalar[float32](r[3]), bits: tensors.ToScalar[float32](r[4])}
	}
	return out, nil
}

// TestGeometryAdam: in Adam's geometry the decoded gradient is exactly the
// integers times the step times the preconditioner's scale, and for a
// gradient whose elements have scales 1 and 1/100 (half each), the error
// weighted as Adam weighs it, (x - decoded)^2 / s^2, is lower than the
// gradient geometry's at the same bits (after 20 steps of the same gradient
// without error feedback, for the rate control to bring both to the
// target: the mixture is no GG), and on the small half a third of it: the
// gradient geometry rounds that half to zero.
func TestGeometryAdam(t *testing.T) {
	const n = 1 << 14
	z := ggGradient(n, 1, 1, 5)
	x := make([]float32, n)
	s := make(fixedScale, n)
	for i := range x {
		s[i] = 1
		if i%2 == 1 {
			s[i] = 0.01
		}
		x[i] = z[i] * s[i]
	}
	weighted := map[Geometry]float64{} // Over all elements.
	small := map[Geometry]float64{}    // Over the elements of scale 1/100.
	for _, geometry := range Geometries {
		w := GCT(optimizer.StochasticGradientDescent()).Coder(CoderRANS).BitsPerElement(1).ErrorFeedback(false).
			Geometry(geometry).Preconditioner(s).Done()
		out := multiStep(t, w, [][]float32{x}, 20)[0] // The rate control brings both to the target.
		for i := range x {
			if geometry == GeometryAdam {
				require.Equal(t, s[i], out.scale[i])
				require.Equal(t, float32(out.ints[i])*out.step*s[i], out.decoded[i], "element %d", i)
			}
			e := float64(x[i]-out.decoded[i]) / float64(s[i])
			weighted[geometry] += e * e / n
			if i%2 == 1 {
				small[geometry] += e * e / (n / 2)
			}
		}
		bits := float64(out.bits) / n
		require.InEpsilon(t, 1, bits, 0.05, "%s: %.4f bits/element", geometry, bits)
		t.Logf("%s: %.4f bits/element, weighted MSE %.4g (elements of scale 1/100: %.4g)", geometry, bits, weighted[geometry], small[geometry])
	}
	// The gradient geometry rounds the small half to zero: its weighted
	// error there is the mean of z^2, 1 within a few standard errors
	// (sqrt(5/8192) = 0.025 for a unit Laplacian); in Adam's geometry every
	// element gets a share of the bit, and the error is a 1-bit quantizer's
	// (about a third of the variance).
	require.Greater(t, small[GeometryGradient], 0.9)
	require.Less(t, small[GeometryAdam], 0.5)
	require.Less(t, weighted[GeometryAdam], weighted[GeometryGradient])
}

// TestGeometryNeedsPreconditioner: GeometryAdam over an optimizer without a
// Preconditioner, and AllocationRD with Exp-Golomb codes, are refused with
// errors that say what to do; bad names are refused.
func TestGeometryNeedsPreconditioner(t *testing.T) {
	grads := [][]float32{ggGradient(1024, 1, 1, 1)}
	w := GCT(optimizer.StochasticGradientDescent()).Geometry(GeometryAdam).Done()
	_, err := multiStepErr(t, w, grads, 1)
	require.ErrorContains(t, err, "Preconditioner")
	w = GCT(optimizer.StochasticGradientDescent()).Allocation(AllocationRD).Done()
	_, err = multiStepErr(t, w, grads, 1)
	require.ErrorContains(t, err, "rANS coder")
	require.Panics(t, func() { GCT(optimizer.StochasticGradientDescent()).Geometry("adamw") })
	require.Panics(t, func() { GCT(optimizer.StochasticGradientDescent()).Allocation("greedy") })
	_, err = ParseGeometry("x")
	require.ErrorContains(t, err, `"gradient" or "adam"`)
	_, err = ParseAllocation("x")
	require.ErrorContains(t, err, `"equal" or "rd"`)
	// From the scope, by name.
	store := model.NewStore()
	store.RootScope().SetParam(ParamGeometry, "adam")
	store.RootScope().SetParam(ParamAllocation, "rd")
	require.Equal(t, GeometryAdam, GeometryFromScope(store.RootScope()))
	require.Equal(t, AllocationRD, AllocationFromScope(store.RootScope()))
	store.RootScope().SetParam(ParamGeometry, 3)
	require.Panics(t, func() { GeometryFromScope(store.RootScope()) })
}

// TestAllocationRD: one step for all tensors (three tensors of spreads 1,
// 0.1 and 0.01), whose rate control brings the total to the target (within
// 2% after 40 steps of the same gradients); at that total the summed squared
// error is below equal bits' (which spend as many bits on the narrow tensors
// as on the wide one).
func TestAllocationRD(t *testing.T) {
	const n = 1 << 13
	grads := [][]float32{ggGradient(n, 1, 1, 1), ggGradient(n, 1, 0.1, 2), ggGradient(n, 0.8, 0.01, 3)}
	const bits = 1.0
	mse := map[Allocation]float64{}
	total := map[Allocation]float64{}
	for _, alloc := range Allocations {
		w := GCT(optimizer.StochasticGradientDescent()).Coder(CoderRANS).BitsPerElement(bits).ErrorFeedback(false).
			Allocation(alloc).Done()
		out := multiStep(t, w, grads, 40)
		for i, o := range out {
			if alloc == AllocationRD {
				require.Equal(t, out[0].step, o.step, "tensor %d", i)
			}
			total[alloc] += float64(o.bits)
			for j, x := range grads[i] {
				e := float64(x - o.decoded[j])
				mse[alloc] += e * e
			}
			t.Logf("%s: tensor %d: %.3f bits/element, step %.3g", alloc, i, float64(o.bits)/n, o.step)
		}
		total[alloc] /= 3 * n
		t.Logf("%s: %.4f bits/element, squared error %.4g", alloc, total[alloc], mse[alloc])
	}
	require.InEpsilon(t, bits, total[AllocationRD], 0.02)
	require.LessOrEqual(t, total[AllocationRD], total[AllocationEqual]*1.02)
	require.Less(t, mse[AllocationRD], mse[AllocationEqual])
}

// TestReconstructionFitted: the fitted reconstruction keeps the cell-centre
// quantizer's integers and (within 0.1%) its coded size, decodes them as the
// integers times the step on the wire, and its squared error is at most the
// centre's (the least-squares gain minimizes it); on a peaked GG (shape 0.6)
// at 1 bit the gain is below 1. It needs the rANS coder.
func TestReconstructionFitted(t *testing.T) {
	const n = 1 << 14
	grads := [][]float32{ggGradient(n, 0.6, 1e-3, 9), ggGradient(300, 1, 1e-3, 10)} // A rANS frame and (auto) Exp-Golomb codes.
	outs := map[Reconstruction][]multiOut{}
	for _, recon := range Reconstructions {
		w := GCT(optimizer.StochasticGradientDescent()).Coder(CoderAuto).BitsPerElement(1).ErrorFeedback(false).
			RateGain(0).Reconstruction(recon).Done()
		outs[recon] = multiStep(t, w, grads, 1)
	}
	for i, x := range grads {
		center, fitted := outs[ReconstructionCenter][i], outs[ReconstructionFitted][i]
		require.Equal(t, center.ints, fitted.ints, "tensor %d", i)
		require.InEpsilon(t, center.bits, fitted.bits, 1e-3, "tensor %d", i)
		var errCenter, errFitted float64
		for j := range x {
			require.Equal(t, float32(fitted.ints[j])*fitted.step, fitted.decoded[j])
			errCenter += math.Pow(float64(x[j]-center.decoded[j]), 2)
			errFitted += math.Pow(float64(x[j]-fitted.decoded[j]), 2)
		}
		gain := fitted.step / center.step
		t.Logf("tensor %d: gain %.4f, squared error %.4g (center: %.4g)", i, gain, errFitted, errCenter)
		require.LessOrEqual(t, errFitted, errCenter*(1+1e-6), "tensor %d", i)
		if i == 0 {
			require.Less(t, gain, float32(1))
		}
	}
	_, err := multiStepErr(t, GCT(optimizer.StochasticGradientDescent()).Reconstruction(ReconstructionFitted).Done(), grads, 1)
	require.ErrorContains(t, err, "rANS coder")
}

// TestMomentCorrectionFactor: the factor, from the noise power, is
// sum(decoded^2)/sum(grad^2),
// clamped to [1/16, 16], and 1 for a gradient of zeros; GCT refuses it over
// an inner optimizer that is not a NoiseAwareOptimizer.
func TestMomentCorrectionFactor(t *testing.T) {
	backend := testbackend.Get(t)
	factor := func(d, g []float32) float32 {
		return tensors.ToScalar[float32](MustExecOnce(backend, func(d, g *Node) *Node {
			return MomentCorrectionFactor(d, NoisePower(d, g))
		}, d, g))
	}
	require.InDelta(t, (4.0+1+0)/(1+1+1), factor([]float32{2, -1, 0}, []float32{1, 1, -1}), 1e-6)
	require.Equal(t, float32(1), factor([]float32{2, 1}, []float32{0, 0}))
	require.Equal(t, float32(16), factor([]float32{100, 0}, []float32{1, 0}))
	require.Equal(t, float32(1.0/16), factor([]float32{0, 0.01}, []float32{1, 0}))

	store := model.NewStore()
	store.RootScope().VariableWithShape("w", shapes.Make(dtypes.Float32, 4))
	w := GCT(optimizer.StochasticGradientDescent()).MomentCorrection(true).Done()
	exec, err := model.NewExec(testbackend.Get(t), store, func(scope *model.Scope, x *Node) *Node {
		_ = store.GetVariable("/w").NodeValue(x.Graph())
		w.UpdateGraphWithGradients(scope, []*Node{x}, dtypes.Float32)
		return x
	})
	if err == nil {
		_, err = exec.Exec([]float32{1, 2, 3, 4})
	}
	require.ErrorContains(t, err, "NoiseAwareOptimizer")
}
