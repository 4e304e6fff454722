package dataparallel

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/ggprior/ggprior/internal/testbackend"
	"github.com/ggprior/ggprior/optimizers"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train/loss"
	"github.com/stretchr/testify/require"
)

// asDense wraps a compressor so that its gradients travel as their decoded
// tensor (CodingDense), as every baseline but int8 did in format version 1:
// the reference that the compact sections must reproduce exactly.
type asDense struct{ optimizers.Compressor }

func (c asDense) Compress(state *model.Scope, v *model.Variable, x *Node) optimizers.Compressed {
	out := c.Compressor.Compress(state, v, x)
	out.Coding = optimizers.CodingDense
	out.Mask, out.P, out.Q, out.Ints, out.Step = nil, nil, nil, nil, nil
	return out
}

// newWorkersWith creates w in-process workers whose optimizers mkOpt returns.
func newWorkersWith(t testing.TB, w int, mkOpt func() *optimizers.Wrapper) []*worker {
	group, err := NewInProcess(w, 20*time.Second)
	require.NoError(t, err)
	workers := make([]*worker, w)
	for r := range workers {
		store := newStore()
		tr, err := NewTrainer(testbackend.Get(t), store, mlp, loss.MeanSquaredError, mkOpt(), group[r]).VerifyEvery(1).Done()
		require.NoError(t, err)
		workers[r] = &worker{store: store, trainer: tr, comm: group[r]}
	}
	return workers
}

// TestCompactWireSameAsDense: Top-k (sparse sections), PowerSGD (lowrank)
// and SignSGD (sign) train W=2 workers to bit-identical weights on both
// ranks (VerifyEvery(1) checks every step), the very weights of the same
// training with their decoded gradients sent dense (format version 1), with
// and without GCT's warmup steps (sent dense, then compact), for SGD and Adam;
// and they send fewer bytes. (During warmup, a wire form is used where it
// decodes exactly to the uncompressed gradient: the sign of a one-element
// tensor, here the output bias.)
func TestCompactWireSameAsDense(t *testing.T) {
	const w, b, steps = 2, 8, 5
	xs, ys := dataset(w*b*steps, 12)
	for _, spec := range []string{"topk:0.01", "powersgd:2", "sign"} {
		comp, err := optimizers.ParseCompressor(spec, 2)
		require.NoError(t, err)
		for _, inner := range []string{"sgd", "adam"} {
			for _, warmup := range []int{0, 2} {
				name := fmt.Sprintf("%s/%s/warmup=%d", spec, inner, warmup)
				run := func(c optimizers.Compressor) ([]*worker, [][]StepStats) {
					workers := newWorkersWith(t, w, func() *optimizers.Wrapper {
						in, _ := newOpt(t, inner, nil)
						return optimizers.GCT(in).Compressor(c).WarmupSteps(warmup).Done()
					})
					stats, errs := runSteps(workers, xs, ys, b, steps)
					require.NoError(t, errors.Join(errs...), name)
					return workers, stats
				}
				compact, compactStats := run(comp)
				dense, denseStats := run(asDense{comp})
				hash := WeightsHash(compact[0].store)
				require.Equal(t, hash, WeightsHash(compact[1].store), "%s: the ranks differ", name)
				require.Equal(t, WeightsHash(dense[0].store), WeightsHash(dense[1].store), "%s: the dense reference's ranks differ", name)
				require.Equal(t, WeightsHash(dense[0].store), hash, "%s: compact sections train differently than dense ones", name)
				for s := range steps {
					c, d := compactStats[0][s], denseStats[0][s]
					require.Equal(t, d.GradNorm, c.GradNorm, "%s step %d", name, s+1)
					require.Equal(t, d.CodedBits, c.CodedBits, "%s step %d", name, s+1)
					compactKinds := 0
					for _, v := range c.Variables {
						if v.Kind != KindDense {
							compactKinds++
						}
						if s < warmup && v.Size > 1 {
							// Warmup steps travel dense, but where the compact form is exact:
							// sign for a single element, say.
							require.Equal(t, KindDense, v.Kind, "%s step %d: %s in a warmup step", name, s+1, v.Path)
						}
					}
					if s >= warmup {
						require.Positive(t, compactKinds, "%s step %d", name, s+1)
						require.Less(t, c.BytesSent, d.BytesSent, "%s step %d", name, s+1)
					}
				}
				t.Logf("%s: weights_hash=%s; last step sent %d bytes (dense: %d), coded %.1f bytes",
					name, hash[:16], compactStats[0][steps-1].BytesSent, denseStats[0][steps-1].BytesSent,
					compactStats[0][steps-1].CodedBytes())
			}
		}
	}
}

// TestCompactWireDecodesToDecoded: what receivers rebuild from a sparse,
// sign or lowrank section (the lowrank one through the update graph's
// optimizers.LowRankDecode) is bit for bit the Decoded that the sender keeps
// for its error-feedback residual, and what the sender itself feeds its
// update graph.
func TestCompactWireDecodesToDecoded(t *testing.T) {
	backend := testbackend.Get(t)
	for _, comp := range []optimizers.Compressor{optimizers.TopKSparse(0.05), optimizers.SignSGD(), optimizers.PowerSGD(3)} {
		for _, dims := range [][]int{{24, 20}, {3, 5, 16}, {200}} {
			name := fmt.Sprintf("%s%v", comp.Name(), dims)
			store := newStore()
			v := store.RootScope().VariableWithShape("w", shapes.Make(dtypes.Float32, dims...))
			exec, err := model.NewExec(backend, store, func(scope *model.Scope, x *Node) []*Node {
				c := comp.Compress(scope.In("state"), v, x)
				if c.Coding == optimizers.CodingDense {
					return []*Node{c.Decoded}
				}
				return append(compactWireForm(v, c), c.Decoded)
			})
			require.NoError(t, err)
			rng := rand.New(rand.NewPCG(uint64(len(dims)), 5))
			grad := make([]float32, v.Shape().Size())
			for step := range 3 { // PowerSGD warm-starts: a few steps.
				for i := range grad {
					grad[i] = float32(rng.NormFloat64() * float64(1+i%7))
				}
				out, err := exec.Call(tensors.FromFlatDataAndDimensions(grad, dims...))
				require.NoError(t, err)
				decoded := out[len(out)-1]
				if len(out) == 1 {
					require.Equal(t, "powersgd:3", comp.Name(), "%s: only PowerSGD sends some tensors dense", name)
					require.Len(t, dims, 1, name)
					continue
				}
				require.True(t, tensors.ToScalar[bool](out[0]), "%s step %d: not faithful", name, step)
				var wg WireGradient
				switch len(out) {
				case 5: // Sign: faithful, Mask, Step, the gradient, Decoded.
					wg = WireGradient{Kind: KindSign, Mask: out[1], Step: tensors.ToScalar[float32](out[2]), Dense: out[3]}
				case 4:
					if out[1].DType() == dtypes.Bool {
						wg = WireGradient{Kind: KindSparse, Mask: out[1], Dense: out[2]}
					} else {
						wg = WireGradient{Kind: KindLowRank, P: out[1], Q: out[2]}
					}
				}
				payload, _, err := AppendPayload(nil, PayloadHeader{Step: 1}, []WireGradient{wg})
				require.NoError(t, err)
				dec := NewPayloadDecoder(backend, []VariableSpec{{Path: v.Path(), Shape: v.Shape()}})
				_, got, err := dec.Decode(1, payload)
				require.NoError(t, err, name)
				received := got[0].Dense
				if wg.Kind == KindLowRank {
					received, err = ExecOnce(backend, func(p, q *Node) *Node {
						return optimizers.LowRankDecode(p, q, dims...)
					}, got[0].P, got[0].Q)
					require.NoError(t, err)
				} else {
					require.Equal(t, float32Bits(wg.Dense), float32Bits(received), "%s step %d: what the sender feeds its update", name, step)
				}
				require.Equal(t, float32Bits(decoded), float32Bits(received), "%s step %d", name, step)
				require.Equal(t, dims, received.Shape().Dimensions)
				dec.Finalize()
			}
		}
	}
}
