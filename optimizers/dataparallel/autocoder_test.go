package dataparallel

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ggprior/ggprior/internal/testbackend"
	"github.com/ggprior/ggprior/optimizers"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/layers"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train/loss"
	"github.com/stretchr/testify/require"
)

// wideHidden makes wideMLP's hidden kernel (6 x 512 = 3072 values) larger,
// and its biases and output kernel (512 values) smaller, than the auto
// coder's break-even sizes at 0.5 and 1 bit per element.
const wideHidden = 512

// wideMLP is an MLP 6 -> 512 (tanh) -> 1.
func wideMLP(scope *model.Scope, x *Node) *Node {
	h := Tanh(layers.Dense(scope.In("hidden"), x, true, wideHidden))
	return layers.Dense(scope.In("out"), h, true, 1)
}

// TestAutoCoderSameWeights: with GCT's auto coder (0.5 and 1 bit per
// element), the hidden kernel travels as a ggrans frame and the small
// tensors as Exp-Golomb frames; W=2 workers end every step with identical
// weights, those of the same training with the decoded gradients sent
// dense; every section is the size its Bits says (Exp-Golomb: its frame
// overhead plus ceil((Bits-32)/8) bytes; ggrans: Bits/8 within 2 bytes) and
// the payload is their sum plus the header.
func TestAutoCoderSameWeights(t *testing.T) {
	const w, b, steps = 2, 8, 4
	xs, ys := dataset(w*b*steps, 23)
	for _, bits := range []float64{0.5, 1} {
		name := fmt.Sprintf("auto:%gbits", bits)
		require.Less(t, float64(wideHidden), optimizers.AutoBreakEven(bits), name)
		require.Greater(t, float64(numFeatures*wideHidden), optimizers.AutoBreakEven(bits), name)
		run := func(dense bool) ([]*worker, [][]StepStats) {
			group, err := NewInProcess(w, 20*time.Second)
			require.NoError(t, err)
			workers := make([]*worker, w)
			for r := range workers {
				store := newStore()
				in, _ := newOpt(t, "adam", nil)
				// The quantizer given as a Compressor in both runs: the wrapper's own
				// adds a total rate control that asDense's can't have.
				opt := optimizers.GCT(in).Compressor(optimizers.GGQuantizerWith(bits, 0, optimizers.CoderAuto)).Done()
				if dense {
					opt = optimizers.GCT(in).Compressor(asDense{autoCompressor{bits}}).Done()
				}
				tr, err := NewTrainer(testbackend.Get(t), store, wideMLP, loss.MeanSquaredError, opt, group[r]).VerifyEvery(1).Done()
				require.NoError(t, err)
				workers[r] = &worker{store: store, trainer: tr, comm: group[r]}
			}
			stats, errs := runSteps(workers, xs, ys, b, steps)
			require.NoError(t, errors.Join(errs...), name)
			return workers, stats
		}
		frames, stats := run(false)
		dense, denseStats := run(true)
		hash := WeightsHash(frames[0].store)
		require.Equal(t, hash, WeightsHash(frames[1].store), "%s: the ranks differ", name)
		require.Equal(t, WeightsHash(dense[0].store), hash, "%s: the frames train differently than the decoded gradients sent dense", name)
		for s, st := range stats[0] {
			require.Equal(t, denseStats[0][s].CodedBits, st.CodedBits, "%s step %d", name, s+1)
			want := PayloadHeaderSize(len(st.Variables))
			for _, v := range st.Variables {
				if v.Path == "/hidden/dense/weights" {
					require.Equal(t, KindGGRANS, v.Kind, "%s step %d %s", name, s+1, v.Path)
					require.InDelta(t, 8*float64(v.WireBytes), v.CodedBits, 16, "%s step %d %s", name, s+1, v.Path)
				} else {
					require.Equal(t, KindExpGolomb, v.Kind, "%s step %d %s", name, s+1, v.Path)
					require.Equal(t, 28+int((int64(v.CodedBits)-32+7)/8), v.WireBytes, "%s step %d %s", name, s+1, v.Path)
				}
				want += v.WireBytes
			}
			require.Equal(t, want, st.BytesSent, "%s step %d", name, s+1)
		}
		last := stats[0][steps-1]
		t.Logf("%s: weights_hash=%s; sent %d bytes (dense %d), coded %.1f bytes for %d values", name, hash[:16],
			last.BytesSent, denseStats[0][steps-1].BytesSent, last.CodedBytes(), numFeatures*wideHidden+2*wideHidden+1)
	}
}

// autoCompressor is the auto coder's quantizer as a Compressor (for asDense).
type autoCompressor struct{ bits float64 }

func (c autoCompressor) Name() string { return fmt.Sprintf("gct-auto:%gbits", c.bits) }

func (c autoCompressor) Compress(state *model.Scope, v *model.Variable, x *Node) optimizers.Compressed {
	return optimizers.GGQuantizerWith(c.bits, 0, optimizers.CoderAuto).Compress(state, v, x)
}
