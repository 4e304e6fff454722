package dataparallel

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/ggprior/ggprior/internal/testbackend"
	"github.com/ggprior/ggprior/optimizers"
	"github.com/ggprior/ggprior/optimizers/ggrans"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train"
	"github.com/gomlx/gomlx/ml/train/loss"
	"github.com/gomlx/gomlx/ml/train/optimizer"
	"github.com/stretchr/testify/require"
)

// TestGGRANSSameWeights: with GCT's GG quantizer and the rANS coder (1 and
// 0.5 bits per element), W=2 workers exchanging ggrans frames end every step
// with bit-identical weights (VerifyEvery(1)), the very weights of the same
// training with the quantizer's decoded gradients sent dense (so receivers
// rebuild exactly what each sender applies and keeps for its error feedback),
// for SGD and Adam; and training moves the weights.
func TestGGRANSSameWeights(t *testing.T) {
	const w, b, steps = 2, 8, 5
	xs, ys := dataset(w*b*steps, 21)
	for _, bits := range []float64{1, 0.5} {
		for _, inner := range []string{"sgd", "adam"} {
			name := fmt.Sprintf("%gbits/%s", bits, inner)
			run := func(c optimizers.Compressor) ([]*worker, [][]StepStats) {
				workers := newWorkersWith(t, w, func() *optimizers.Wrapper {
					in, _ := newOpt(t, inner, nil)
					return optimizers.GCT(in).Compressor(c).Done()
				})
				stats, errs := runSteps(workers, xs, ys, b, steps)
				require.NoError(t, errors.Join(errs...), name)
				return workers, stats
			}
			comp := optimizers.GGQuantizerRANS(bits)
			frames, frameStats := run(comp)
			dense, denseStats := run(asDense{comp})
			hash := WeightsHash(frames[0].store)
			require.Equal(t, hash, WeightsHash(frames[1].store), "%s: the ranks differ", name)
			require.Equal(t, WeightsHash(dense[0].store), hash, "%s: ggrans frames train differently than the decoded gradients sent dense", name)
			for s := range steps {
				f, d := frameStats[0][s], denseStats[0][s]
				require.Equal(t, d.GradNorm, f.GradNorm, "%s step %d", name, s+1)
				require.Equal(t, d.CodedBits, f.CodedBits, "%s step %d", name, s+1)
				for _, v := range f.Variables {
					require.Equal(t, KindGGRANS, v.Kind, "%s step %d %s", name, s+1, v.Path)
				}
				require.Less(t, f.BytesSent, d.BytesSent, "%s step %d", name, s+1)
			}
			init := newWorkers(t, 1, inner, nil, nil, 0)[0] // Same seed: the initial weights.
			_, errs := runSteps([]*worker{init}, xs, ys, b, 0)
			require.NoError(t, errs[0])
			require.NotEqual(t, hash, WeightsHash(init.store), name)
			last := frameStats[0][steps-1]
			t.Logf("%s: weights_hash=%s; first loss %.4f, last mean loss %.4f; sent %d bytes (dense: %d), coded %.1f bytes",
				name, hash[:16], frameStats[0][0].MeanLoss, last.MeanLoss, last.BytesSent, denseStats[0][steps-1].BytesSent, last.CodedBytes())
		}
	}
}

// TestGGRANSMatchesSingleProcess: one data-parallel worker with the rANS
// coder, whose update is the integers of its frames times their float32 step,
// ends with the weights of GoMLX's own trainer with the same GCT (which
// applies the quantizer's Decoded) on the same batches, bit for bit.
func TestGGRANSMatchesSingleProcess(t *testing.T) {
	const b, steps = 16, 5
	xs, ys := dataset(b*steps, 22)
	for _, inner := range []string{"sgd", "adam"} {
		mk := func() *optimizers.Wrapper {
			in, _ := newOpt(t, inner, nil)
			return optimizers.GCT(in).Coder(optimizers.CoderRANS).BitsPerElement(0.5).Done()
		}
		refStore := newStore()
		ref := train.NewTrainer(testbackend.Get(t), refStore, mlp, loss.MeanSquaredError, mk(), nil, nil)
		for s := range steps {
			x, y := batch(xs, ys, s*b, (s+1)*b)
			_, err := ref.TrainStep(train.Batch{Inputs: []*tensors.Tensor{x}, Labels: []*tensors.Tensor{y}})
			require.NoError(t, err)
		}
		workers := newWorkersWith(t, 1, mk)
		stats, errs := runSteps(workers, xs, ys, b, steps)
		require.NoError(t, errors.Join(errs...))
		for _, v := range stats[0][steps-1].Variables {
			require.Equal(t, KindGGRANS, v.Kind, v.Path)
		}
		require.Equal(t, weights(t, refStore), weights(t, workers[0].store), inner)
		require.Equal(t, WeightsHash(refStore), WeightsHash(workers[0].store), inner)
	}
}

// TestGGRANSWireDecodesToDecoded: what receivers decode from the ggrans
// section of a tensor (GG gradients, zeros, a constant, one element) is, in
// the update graph, bit for bit the Decoded that the sender keeps, and the
// section's size is the quantizer's Bits within 0.5% plus 2 bytes.
func TestGGRANSWireDecodesToDecoded(t *testing.T) {
	backend := testbackend.Get(t)
	rng := rand.New(rand.NewPCG(3, 4))
	for _, bits := range []float64{0.5, 1, 2} {
		comp := optimizers.GGQuantizerRANS(bits)
		for _, tc := range []struct {
			name string
			dims []int
			fill func(i int) float32
		}{
			{"gg", []int{64, 80}, func(i int) float32 { return float32(rng.NormFloat64() * rng.ExpFloat64() * 1e-3) }},
			{"zeros", []int{7, 9}, func(int) float32 { return 0 }},
			{"constant", []int{50}, func(int) float32 { return 0.125 }},
			{"one", []int{1}, func(int) float32 { return -3 }},
		} {
			name := fmt.Sprintf("%gbits/%s", bits, tc.name)
			store := newStore()
			v := store.RootScope().VariableWithShape("w", shapes.Make(dtypes.Float32, tc.dims...))
			exec, err := model.NewExec(backend, store, func(scope *model.Scope, x *Node) []*Node {
				c := comp.Compress(scope.In("state"), v, x)
				return []*Node{c.Ints, c.Step, c.Alpha, c.Beta, c.Decoded, c.Bits}
			})
			require.NoError(t, err)
			grad := make([]float32, v.Shape().Size())
			for i := range grad {
				grad[i] = tc.fill(i)
			}
			out, err := exec.Call(tensors.FromFlatDataAndDimensions(grad, tc.dims...))
			require.NoError(t, err)
			wg := WireGradient{Kind: KindGGRANS, Ints: out[0], Step: tensors.ToScalar[float32](out[1]),
				Alpha: tensors.ToScalar[float32](out[2]), Beta: tensors.ToScalar[float32](out[3])}
			payload, sizes, err := AppendPayload(nil, PayloadHeader{Step: 1}, []WireGradient{wg})
			require.NoError(t, err, name)
			codedBits := float64(tensors.ToScalar[float32](out[5]))
			require.InDelta(t, codedBits, 8*float64(sizes[0]), 16+0.005*codedBits, name)
			dec := NewPayloadDecoder(backend, []VariableSpec{{Path: v.Path(), Shape: v.Shape()}})
			_, got, err := dec.Decode(1, payload)
			require.NoError(t, err, name)
			require.Equal(t, wg.Step, got[0].Step)
			received, err := ExecOnce(backend, func(ints, step *Node) *Node {
				return Mul(ConvertDType(ints, dtypes.Float32), step) // As the update graph does.
			}, got[0].Ints, got[0].Step)
			require.NoError(t, err)
			require.Equal(t, float32Bits(out[4]), float32Bits(received), name)
			frame := payload[PayloadHeaderSize(1):]
			_, h, err := ggrans.DecodeFrame(nil, frame)
			require.NoError(t, err)
			require.Equal(t, v.Shape().Size(), h.Count)
			t.Logf("%s: %d bytes (%.3f bits/element), Bits %.0f", name, len(frame), 8*float64(len(frame))/float64(h.Count), codedBits)
			dec.Finalize()
		}
	}
}

// TestGeometryAdamMatchesSingleProcess: with GCT quantizing in Adam's
// geometry (the integers times the step times the scale from Adam's second
// moment, which is not sent), one rate-distortion step for all tensors and
// the fitted reconstruction (a gain on the step on the wire),
// one data-parallel worker ends with the weights of GoMLX's own trainer with
// the same GCT, bit for bit; two workers end with the same weights on both
// ranks, and their gradients travel as integer sections (rANS frames or
// Exp-Golomb codes), not dense.
func TestGeometryAdamMatchesSingleProcess(t *testing.T) {
	const b, steps = 16, 5
	xs, ys := dataset(b*steps, 23)
	mk := func() *optimizers.Wrapper {
		in, _ := newOpt(t, "adam", nil)
		return optimizers.GCT(in).Coder(optimizers.CoderAuto).BitsPerElement(1).
			Geometry(optimizers.GeometryAdam).Preconditioner(optimizers.AdamPreconditioner(optimizer.AdamDefaultScope)).
			Allocation(optimizers.AllocationRD).Reconstruction(optimizers.ReconstructionFitted).Done()
	}
	require.Equal(t, "gct-auto:1bits+adam+rd+fitted", mk().CompressorName(newStore().RootScope()))
	refStore := newStore()
	ref := train.NewTrainer(testbackend.Get(t), refStore, mlp, loss.MeanSquaredError, mk(), nil, nil)
	for s := range steps {
		x, y := batch(xs, ys, s*b, (s+1)*b)
		_, err := ref.TrainStep(train.Batch{Inputs: []*tensors.Tensor{x}, Labels: []*tensors.Tensor{y}})
		require.NoError(t, err)
	}
	workers := newWorkersWith(t, 1, mk)
	stats, errs := runSteps(workers, xs, ys, b, steps)
	require.NoError(t, errors.Join(errs...))
	for _, v := range stats[0][steps-1].Variables {
		require.Contains(t, []Kind{KindGGRANS, KindExpGolomb}, v.Kind, v.Path)
	}
	require.Equal(t, weights(t, refStore), weights(t, workers[0].store))

	pair := newWorkersWith(t, 2, mk)
	stats, errs = runSteps(pair, xs, ys, b, steps)
	require.NoError(t, errors.Join(errs...))
	for _, v := range stats[1][steps-1].Variables {
		require.Contains(t, []Kind{KindGGRANS, KindExpGolomb}, v.Kind, v.Path)
	}
	require.Equal(t, WeightsHash(pair[0].store), WeightsHash(pair[1].store))
	require.NotEqual(t, WeightsHash(pair[0].store), WeightsHash(workers[0].store), "two workers average two shards")
}

// noisySGD is SGD that implements optimizers.NoiseAwareOptimizer by scaling
// each variable's step by its factor: a test optimizer whose update shows the
// factors GCT's second-moment correction gives it.
type noisySGD struct{ lr float64 }

func (o noisySGD) UpdateGraph(scope *model.Scope, g *Graph, loss *Node) {
	o.UpdateGraphWithGradients(scope, scope.BuildTrainableVariablesGradientsGraph(loss), loss.DType())
}

func (o noisySGD) UpdateGraphWithGradients(scope *model.Scope, grads []*Node, lossDType dtypes.DType) {
	o.UpdateGraphWithNoisyGradients(scope, grads, nil, lossDType)
}

func (o noisySGD) UpdateGraphWithNoisyGradients(scope *model.Scope, grads, factors []*Node, _ dtypes.DType) {
	g := grads[0].Graph()
	i := 0
	for v := range scope.IterVariables() {
		if !v.Trainable || !v.InUseByGraph(g) {
			continue
		}
		step := MulScalar(grads[i], o.lr)
		if factors != nil {
			step = Mul(step, ConvertDType(factors[i], step.DType()))
		}
		v.SetNodeValue(Sub(v.NodeValue(g), step))
		i++
	}
}

func (o noisySGD) Clear(*model.Scope) error { return nil }

// TestMomentCorrectionMatchesSingleProcess: with GCT's second-moment
// correction, one data-parallel worker (whose payload carries the noise
// powers, and whose update recomputes the factors from them) ends with the
// weights of GoMLX's trainer with the same GCT, bit for bit; two workers agree
// with each other, and differ from the same training without the correction.
func TestMomentCorrectionMatchesSingleProcess(t *testing.T) {
	const b, steps = 16, 4
	xs, ys := dataset(b*steps, 24)
	mk := func(on bool) func() *optimizers.Wrapper {
		return func() *optimizers.Wrapper {
			return optimizers.GCT(noisySGD{lr: 0.05}).Coder(optimizers.CoderAuto).BitsPerElement(1).MomentCorrection(on).Done()
		}
	}
	refStore := newStore()
	ref := train.NewTrainer(testbackend.Get(t), refStore, mlp, loss.MeanSquaredError, mk(true)(), nil, nil)
	for s := range steps {
		x, y := batch(xs, ys, s*b, (s+1)*b)
		_, err := ref.TrainStep(train.Batch{Inputs: []*tensors.Tensor{x}, Labels: []*tensors.Tensor{y}})
		require.NoError(t, err)
	}
	one := newWorkersWith(t, 1, mk(true))
	_, errs := runSteps(one, xs, ys, b, steps)
	require.NoError(t, errors.Join(errs...))
	require.Equal(t, weights(t, refStore), weights(t, one[0].store))

	hashes := map[bool]string{}
	for _, on := range []bool{false, true} {
		pair := newWorkersWith(t, 2, mk(on))
		_, errs = runSteps(pair, xs, ys, b, steps)
		require.NoError(t, errors.Join(errs...))
		require.Equal(t, WeightsHash(pair[0].store), WeightsHash(pair[1].store), "correction %v", on)
		hashes[on] = WeightsHash(pair[0].store)
	}
	require.NotEqual(t, hashes[false], hashes[true])
}
