package dataparallel

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/ggprior/ggprior/internal/testbackend"
	"github.com/ggprior/ggprior/optimizers"
	"github.com/ggprior/ggprior/optimizers/ggrans"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train"
	"github.com/gomlx/gomlx/ml/train/loss"
	"github.com/stretchr/testify/require"
)

// TestFP32MatchesSingleWorker: with uncompressed fp32 exchange, W workers on
// shards of b examples end with the weights of one GoMLX trainer on the
// W*b-example batches, up to float32 rounding. The only difference is the
// order of the sums in the mean gradient: (sum_1/b + sum_2/b)/2 against
// (sum_1 + sum_2)/(2b), a few float32 ulps (2^-24 relative each) of the
// gradient per step, so the weights agree to ~1e-6 relative; we allow 1e-5
// relative (of max(|w|, 1e-2), so that weights near zero don't need
// absurd relative precision).
func TestFP32MatchesSingleWorker(t *testing.T) {
	const w, b, steps = 2, 8, 5
	xs, ys := dataset(w*b*steps, 1)
	for _, inner := range []string{"sgd", "adam"} {
		t.Run(inner, func(t *testing.T) {
			// Reference: GoMLX's trainer, one worker, batch w*b.
			refStore := newStore()
			refInner, _ := newOpt(t, inner, nil)
			ref := train.NewTrainer(testbackend.Get(t), refStore, mlp, loss.MeanSquaredError, refInner, nil, nil)
			for s := range steps {
				x, y := batch(xs, ys, s*w*b, (s+1)*w*b)
				_, err := ref.TrainStep(train.Batch{Inputs: []*tensors.Tensor{x}, Labels: []*tensors.Tensor{y}})
				require.NoError(t, err)
			}

			workers := newWorkers(t, w, inner, optimizers.FP32(), nil, 0)
			stats, errs := runSteps(workers, xs, ys, b, steps)
			for r, err := range errs {
				require.NoError(t, err, "rank %d", r)
			}
			want := weights(t, refStore)
			maxRel := 0.0
			for r, wk := range workers {
				got := weights(t, wk.store)
				require.Len(t, got, len(want))
				for path, ref := range want {
					require.Len(t, got[path], len(ref), "rank %d %s", r, path)
					for i, x := range ref {
						scale := math.Max(math.Abs(float64(x)), 1e-2)
						rel := math.Abs(float64(got[path][i]-x)) / scale
						maxRel = math.Max(maxRel, rel)
						require.LessOrEqual(t, rel, 1e-5, "rank %d %s[%d]: got %g, single worker %g", r, path, i, got[path][i], x)
					}
				}
			}
			require.Equal(t, WeightsHash(workers[0].store), WeightsHash(workers[1].store))
			last := stats[0][steps-1]
			require.Equal(t, int64(steps), last.Step)
			require.InDelta(t, (stats[0][steps-1].Loss+stats[1][steps-1].Loss)/2, last.MeanLoss, 1e-6)
			t.Logf("%s: max relative difference to the single worker %.2g; last step: %s", inner, maxRel, last)
		})
	}
}

// TestGCTSameWeights: with GCT (2 bits per element), every rank ends every
// step with bit-identical weights (VerifyEvery(1) checks after each step), for
// W=2 and W=3, and training moves them.
func TestGCTSameWeights(t *testing.T) {
	const b, steps = 8, 6
	for _, w := range []int{2, 3} {
		for _, inner := range []string{"sgd", "adam"} {
			xs, ys := dataset(w*b*steps, 2)
			workers := newWorkers(t, w, inner, optimizers.GGQuantizer(2, 0), nil, 1)
			stats, errs := runSteps(workers, xs, ys, b, steps)
			for r, err := range errs {
				require.NoError(t, err, "W=%d %s rank %d", w, inner, r)
			}
			hash := WeightsHash(workers[0].store)
			for r, wk := range workers {
				require.Equal(t, hash, WeightsHash(wk.store), "W=%d %s rank %d", w, inner, r)
			}
			init := newWorkers(t, 1, inner, nil, nil, 0)[0] // Same seed: the initial weights.
			_, errs = runSteps([]*worker{init}, xs, ys, b, 0)
			require.NoError(t, errs[0])
			require.NotEqual(t, hash, WeightsHash(init.store))
			for _, st := range stats[0] {
				for _, v := range st.Variables {
					require.Equal(t, KindExpGolomb, v.Kind, "%s", v.Path)
				}
			}
			last := stats[0][steps-1]
			t.Logf("W=%d %s: weights_hash=%s; first loss %.4f, last mean loss %.4f; sent %d bytes (fp32 would be %d)",
				w, inner, hash[:16], stats[0][0].MeanLoss, last.MeanLoss, last.BytesSent, 4*(numFeatures*hiddenDim+2*hiddenDim+1))
		}
	}
}

// TestBytesSentMatchesCodec: the bytes a worker sends are its payload, and
// the payload is exactly the header plus, per variable, the codec's frame
// (Exp-Golomb: FrameOverhead + ceil((Bits-32)/8), Bits as the compressor
// counts them; ggrans, at 1 and 0.5 bits per element: Bits/8 within 2 bytes,
// the in-graph count of the whole frame), the int8 section (n + 8), the dense
// section (4n + 4), or the sparse (Top-k: ceil(Bits/8) + 8), sign
// (ceil(Bits/8) + 4) or lowrank (PowerSGD: Bits/8 + 4) section. The
// communicator's traffic counts the same bytes.
func TestBytesSentMatchesCodec(t *testing.T) {
	const w, b, steps = 2, 8, 3
	xs, ys := dataset(w*b*steps, 3)
	for _, comp := range []optimizers.Compressor{optimizers.GGQuantizer(2, 0), optimizers.Int8(), optimizers.FP32(),
		optimizers.TopKSparse(0.01), optimizers.TopKSparse(0.3), optimizers.PowerSGD(2), optimizers.SignSGD(),
		optimizers.GGQuantizerRANS(1), optimizers.GGQuantizerRANS(0.5)} {
		group, err := NewInProcess(w, 20*time.Second)
		require.NoError(t, err)
		rec := &recorder{Communicator: group[0]}
		workers := newWorkers(t, w, "sgd", comp, []Communicator{rec, group[1]}, 0)
		stats, errs := runSteps(workers, xs, ys, b, steps)
		require.NoError(t, errors.Join(errs...))
		require.Len(t, rec.sent, steps+1) // The initial weights broadcast, then one payload per step.
		var sum int64
		for _, p := range rec.sent {
			sum += int64(len(p))
		}
		require.Equal(t, sum, group[0].Traffic().BytesSent)
		for s, st := range stats[0] {
			payload := rec.sent[s+1]
			require.Equal(t, len(payload), st.BytesSent)
			want := PayloadHeaderSize(len(st.Variables))
			for _, v := range st.Variables {
				var section int
				switch v.Kind {
				case KindExpGolomb:
					require.Equal(t, comp.Name(), optimizers.GGQuantizer(2, 0).Name())
					section = 28 + int((int64(v.CodedBits)-32+7)/8) // expgolomb.FrameOverhead + payload bytes.
				case KindInt8:
					section = v.Size + 8
					require.Equal(t, float64(8*v.Size+32), v.CodedBits)
				case KindDense:
					section = 4*v.Size + DenseSectionOverhead
					require.Equal(t, float64(32*v.Size), v.CodedBits)
				case KindSparse:
					section = int(math.Ceil(v.CodedBits/8)) + SparseSectionOverhead
					kept := v.CodedBits / float64(32+optimizers.SparseIndexBits(v.Size))
					require.Equal(t, math.Round(kept), kept, "%s: bits for a whole number of values", v.Path)
					require.Less(t, kept, float64(v.Size))
				case KindSign:
					section = int(math.Ceil(v.CodedBits/8)) + SignSectionOverhead
					require.Equal(t, float64(v.Size+32), v.CodedBits)
				case KindLowRank:
					section = int(v.CodedBits/8) + LowRankSectionOverhead
					require.Less(t, v.CodedBits, float64(32*v.Size))
				case KindGGRANS:
					section = v.WireBytes
					require.InDelta(t, 8*float64(section), v.CodedBits, 16, "%s %s: the frame's size and its in-graph count", comp.Name(), v.Path)
					require.GreaterOrEqual(t, section, ggrans.FrameOverhead)
				}
				require.Equal(t, section, v.WireBytes, "%s %s", comp.Name(), v.Path)
				want += section
			}
			require.Equal(t, want, st.BytesSent, "%s step %d", comp.Name(), st.Step)
			require.Equal(t, stats[1][s].BytesSent, st.BytesReceived)
		}
		last := stats[0][steps-1]
		kinds := map[Kind]int{}
		for _, v := range last.Variables {
			kinds[v.Kind]++
		}
		switch comp.Name() {
		case "topk:0.01", "topk:0.3":
			require.Equal(t, 3, kinds[KindSparse], "%s: all but the 1-element bias sparse", comp.Name())
		case "powersgd:2":
			require.Equal(t, 1, kinds[KindLowRank], "%s: the hidden layer's weights", comp.Name())
		case "sign":
			require.Equal(t, 4, kinds[KindSign], comp.Name())
		case "gct-rans:1bits", "gct-rans:0.5bits":
			require.Equal(t, 4, kinds[KindGGRANS], comp.Name())
		}
		t.Logf("%-16s sent %5d bytes, coded %7.1f bytes (%.2f bits/element), sections %v", comp.Name(), last.BytesSent,
			last.CodedBytes(), last.CodedBits/float64(numFeatures*hiddenDim+2*hiddenDim+1), kinds)
	}
}

// recorder is a Communicator that keeps a copy of every payload it sends.
type recorder struct {
	Communicator
	sent [][]byte
}

func (c *recorder) AllGather(payload []byte) ([][]byte, error) {
	c.sent = append(c.sent, append([]byte(nil), payload...))
	return c.Communicator.AllGather(payload)
}

// flipper is a Communicator that flips one bit of what it receives from rank
// `from` in its call number `call` (counting from 0).
type flipper struct {
	Communicator
	from, call, bit int
	calls           int
}

func (c *flipper) AllGather(payload []byte) ([][]byte, error) {
	all, err := c.Communicator.AllGather(payload)
	if err == nil && c.calls == c.call {
		p := append([]byte(nil), all[c.from]...)
		bit := c.bit
		if bit < 0 {
			bit += 8 * len(p)
		}
		p[bit/8] ^= 1 << (bit % 8)
		all[c.from] = p
	}
	c.calls++
	return all, err
}

// TestCorruptPayload: a bit flipped in transit (in the header, in a frame's
// bitstream, in a CRC) makes Step fail with ErrCorrupt naming the sender and
// the variable; the receiver's weights are not updated.
func TestCorruptPayload(t *testing.T) {
	const w, b = 2, 8
	xs, ys := dataset(w*b*3, 4)
	for _, tc := range []struct {
		name, wantIn string
		bit          int
	}{
		{"header", "header", 8*12 + 3}, // The step number.
		{"first frame", `variable "/hidden/dense/weights" (section 0)`, 8*(PayloadHeaderSize(4)+30) + 1}, // A bitstream byte.
		{"last crc", `variable "/out/dense/biases" (section 3)`, -2},                                     // The last frame's CRC.
	} {
		t.Run(tc.name, func(t *testing.T) {
			group, err := NewInProcess(w, 20*time.Second)
			require.NoError(t, err)
			// Call 0 is the weights broadcast, 1 and 2 the first steps: corrupt step 3.
			flip := &flipper{Communicator: group[0], from: 1, call: 3, bit: tc.bit}
			workers := newWorkers(t, w, "adam", optimizers.GGQuantizer(2, 0), []Communicator{flip, group[1]}, 0)
			_, errs := runSteps(workers, xs, ys, b, 2)
			require.NoError(t, errors.Join(errs...))
			before := WeightsHash(workers[0].store)
			stats, errs := runSteps(workers, xs, ys, b, 1)
			require.NoError(t, errs[1], "rank 1 received an intact payload")
			require.Error(t, errs[0])
			require.ErrorIs(t, errs[0], ErrCorrupt)
			require.Contains(t, errs[0].Error(), "payload from rank 1")
			require.Contains(t, errs[0].Error(), tc.wantIn)
			require.Equal(t, before, WeightsHash(workers[0].store), "the corrupted step must not be applied")
			require.Len(t, stats[0], 0)
			// The trainer refuses to go on.
			_, errs = runSteps(workers[:1], xs, ys, b, 1)
			require.ErrorIs(t, errs[0], ErrCorrupt)
			t.Logf("%s: %v", tc.name, errs[0])
		})
	}
}

// TestDeadWorker: a worker that stops calling Step makes the others fail
// with ErrTimeout, naming it, within the timeout (not hang); a worker that
// closes its communicator makes the others fail at once with ErrClosed.
func TestDeadWorker(t *testing.T) {
	const w, b = 3, 4
	xs, ys := dataset(w*b*4, 5)
	t.Run("stops", func(t *testing.T) {
		const timeout = 500 * time.Millisecond
		group, err := NewInProcess(w, timeout)
		require.NoError(t, err)
		comms := []Communicator{group[0], group[1], group[2]}
		workers := newWorkers(t, w, "sgd", optimizers.GGQuantizer(2, 0), comms, 0)
		_, errs := runSteps(workers, xs, ys, b, 1) // Compiles, broadcasts the weights, one step.
		require.NoError(t, errors.Join(errs...))
		start := time.Now()
		_, errs = runSteps(workers[:2], xs, ys, b, 1) // Rank 2 is dead.
		elapsed := time.Since(start)
		for r, err := range errs {
			require.ErrorIs(t, err, ErrTimeout, "rank %d", r)
		}
		require.Contains(t, errors.Join(errs...).Error(), "rank(s) [2]")
		require.Less(t, elapsed, timeout+5*time.Second)
		t.Logf("after %s: %v", elapsed, errs[0])
	})
	t.Run("closes", func(t *testing.T) {
		group, err := NewInProcess(w, 30*time.Second)
		require.NoError(t, err)
		comms := []Communicator{group[0], group[1], group[2]}
		workers := newWorkers(t, w, "sgd", optimizers.GGQuantizer(2, 0), comms, 0)
		_, errs := runSteps(workers, xs, ys, b, 1)
		require.NoError(t, errors.Join(errs...))
		require.NoError(t, group[2].Close())
		start := time.Now()
		_, errs = runSteps(workers[:2], xs, ys, b, 1)
		elapsed := time.Since(start)
		for r, err := range errs {
			require.ErrorIs(t, err, ErrClosed, "rank %d", r)
			require.Contains(t, err.Error(), "rank 2 closed")
		}
		require.Less(t, elapsed, 5*time.Second)
	})
}

// TestCompressorsConsistent: with every baseline compressor, and with GCT's
// warmup steps (sent uncompressed), the ranks end with the same weights, and
// each variable travels as its coding says: bf16 as 2 bytes per element, sign
// as bits, Top-k sparse (but where it keeps everything), PowerSGD low-rank
// (but where the factors would not be smaller).
func TestCompressorsConsistent(t *testing.T) {
	const w, b, steps = 2, 8, 3
	xs, ys := dataset(w*b*steps, 6)
	for _, comp := range []optimizers.Compressor{
		optimizers.BF16(), optimizers.Int8(), optimizers.SignSGD(), optimizers.TopKSparse(0.1), optimizers.PowerSGD(1),
	} {
		workers := newWorkers(t, w, "adam", comp, nil, 0)
		stats, errs := runSteps(workers, xs, ys, b, steps)
		require.NoError(t, errors.Join(errs...), comp.Name())
		require.Equal(t, WeightsHash(workers[0].store), WeightsHash(workers[1].store), comp.Name())
		for _, v := range stats[0][steps-1].Variables {
			switch {
			case comp.Name() == "int8":
				require.Equal(t, KindInt8, v.Kind)
			case comp.Name() == "bf16":
				require.Equal(t, KindDense, v.Kind)
				require.Equal(t, 2*v.Size+4, v.WireBytes, "%s", v.Path)
			case comp.Name() == "sign":
				require.Equal(t, KindSign, v.Kind)
				require.Equal(t, (v.Size+7)/8+8, v.WireBytes, "%s", v.Path)
			case comp.Name() == "topk:0.1" && v.Size > 1:
				require.Equal(t, KindSparse, v.Kind, "%s", v.Path)
			case comp.Name() == "powersgd:1" && v.Path == "/hidden/dense/weights":
				require.Equal(t, KindLowRank, v.Kind, "%s", v.Path)
				require.Equal(t, 4*(numFeatures+hiddenDim)+4, v.WireBytes, "%s", v.Path)
			default:
				require.Equal(t, KindDense, v.Kind)
				require.Equal(t, 4*v.Size+4, v.WireBytes, "%s", v.Path)
			}
		}
		last := stats[0][steps-1]
		t.Logf("%-10s sent %4d bytes, coded %6.1f bytes", comp.Name(), last.BytesSent, last.CodedBytes())
	}

	// GCT with 2 warmup steps: dense first, Exp-Golomb after.
	workers := make([]*worker, w)
	group, err := NewInProcess(w, 20*time.Second)
	require.NoError(t, err)
	for r := range workers {
		store := newStore()
		in, _ := newOpt(t, "sgd", nil)
		opt := optimizers.GCT(in).BitsPerElement(2).WarmupSteps(2).Done()
		tr, err := NewTrainer(testbackend.Get(t), store, mlp, loss.MeanSquaredError, opt, group[r]).Done()
		require.NoError(t, err)
		workers[r] = &worker{store: store, trainer: tr, comm: group[r]}
	}
	stats, errs := runSteps(workers, xs, ys, b, steps)
	require.NoError(t, errors.Join(errs...))
	require.Equal(t, WeightsHash(workers[0].store), WeightsHash(workers[1].store))
	for s, st := range stats[0] {
		want := KindExpGolomb
		if s < 2 {
			want = KindDense
		}
		for _, v := range st.Variables {
			require.Equal(t, want, v.Kind, "step %d %s", st.Step, v.Path)
		}
	}
}

// TestNewTrainerErrors: misconfigurations are errors that say what to do.
func TestNewTrainerErrors(t *testing.T) {
	group, err := NewInProcess(1, time.Second)
	require.NoError(t, err)
	_, opt := newOpt(t, "sgd", nil)
	_, err = NewTrainer(testbackend.Get(t), newStore(), mlp, loss.MeanSquaredError, nil, group[0]).Done()
	require.ErrorContains(t, err, "want GCT's wrapper")
	_, err = NewTrainer(testbackend.Get(t), newStore(), mlp, loss.MeanSquaredError, opt, nil).Done()
	require.ErrorContains(t, err, "communicator is nil")
	_, err = NewTrainer(testbackend.Get(t), newStore(), mlp, loss.MeanSquaredError, opt, group[0]).VerifyEvery(-1).Done()
	require.ErrorContains(t, err, "VerifyEvery")

	// One worker is a valid (if pointless) job.
	tr, err := NewTrainer(testbackend.Get(t), newStore(), mlp, loss.MeanSquaredError, opt, group[0]).Done()
	require.NoError(t, err)
	xs, ys := dataset(8, 7)
	x, y := batch(xs, ys, 0, 8)
	st, err := tr.Step([]*tensors.Tensor{x}, []*tensors.Tensor{y})
	require.NoError(t, err)
	require.Equal(t, st.Loss, st.MeanLoss)
	require.Zero(t, st.BytesReceived)
	_, err = tr.Step([]*tensors.Tensor{x}, nil)
	require.ErrorContains(t, err, "0 labels")
	tr.Finalize()
	_, err = tr.Step([]*tensors.Tensor{x}, []*tensors.Tensor{y})
	require.ErrorContains(t, err, "finalized")
}

// TestOutputs: the scalars of TrainerConfig.Outputs come back in every step's
// stats, computed on the worker's own shard: here the main loss, which without
// regularization is the loss the step reports, and a constant.
func TestOutputs(t *testing.T) {
	group, err := NewInProcess(1, 20*time.Second)
	require.NoError(t, err)
	_, opt := newOpt(t, "sgd", optimizers.FP32())
	tr, err := NewTrainer(testbackend.Get(t), newStore(), mlp, loss.MeanSquaredError, opt, group[0]).
		Outputs(func(_ *model.Scope, g *graph.Graph) []*graph.Node {
			return []*graph.Node{train.GetMainLoss(g), graph.Const(g, int32(7))}
		}).Done()
	require.NoError(t, err)
	defer tr.Finalize()
	xs, ys := dataset(16, 8)
	for s := range 2 {
		x, y := batch(xs, ys, 8*s, 8*s+8)
		st, err := tr.Step([]*tensors.Tensor{x}, []*tensors.Tensor{y})
		require.NoError(t, err)
		require.Len(t, st.Outputs, 2)
		require.Equal(t, st.Loss, st.Outputs[0])
		require.Equal(t, 7.0, st.Outputs[1])
	}
}

// TestResumedStateKept: a worker whose store already holds GCT's state (as
// one resumed from a checkpoint does) continues from it: here GCT's step
// counter, at 4, is 5 after one step (the gradient graph's building must not
// reset it).
func TestResumedStateKept(t *testing.T) {
	group, err := NewInProcess(1, 20*time.Second)
	require.NoError(t, err)
	_, opt := newOpt(t, "sgd", optimizers.GGQuantizer(2, 0))
	store := newStore()
	store.VariableWithValue("/gct/step", int64(4)).SetTrainable(false)
	tr, err := NewTrainer(testbackend.Get(t), store, mlp, loss.MeanSquaredError, opt, group[0]).Done()
	require.NoError(t, err)
	defer tr.Finalize()
	xs, ys := dataset(8, 7)
	x, y := batch(xs, ys, 0, 8)
	_, err = tr.Step([]*tensors.Tensor{x}, []*tensors.Tensor{y})
	require.NoError(t, err)
	require.Equal(t, int64(5), tensors.ToScalar[int64](store.GetVariable("/gct/step").MustValue()))
}
