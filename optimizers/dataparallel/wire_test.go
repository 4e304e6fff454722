package dataparallel

import (
	"math/rand/v2"
	"testing"

	"github.com/ggprior/ggprior/internal/testbackend"
	"github.com/ggprior/ggprior/optimizers/expgolomb"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/stretchr/testify/require"
)

// wireFixture returns four variables' wire gradients, one of each kind, and their specs.
func wireFixture(seed uint64) ([]WireGradient, []VariableSpec) {
	rng := rand.New(rand.NewPCG(seed, 1))
	ints := make([]int32, 6*5)
	for i := range ints {
		ints[i] = int32(rng.IntN(7)) - 3
	}
	small := make([]int8, 7)
	for i := range small {
		small[i] = int8(rng.IntN(255) - 127)
	}
	dense := make([]float32, 4)
	for i := range dense {
		dense[i] = float32(rng.NormFloat64())
	}
	dense64 := []float64{rng.NormFloat64(), rng.NormFloat64()}
	grads := []WireGradient{
		{Kind: KindExpGolomb, Ints: tensors.FromFlatDataAndDimensions(ints, 6, 5), Step: 1e-3, K: 1},
		{Kind: KindInt8, Ints: tensors.FromFlatDataAndDimensions(small, 7), Step: 0.25},
		{Kind: KindDense, Dense: tensors.FromFlatDataAndDimensions(dense, 2, 2)},
		{Kind: KindDense, Dense: tensors.FromFlatDataAndDimensions(dense64, 2)},
	}
	specs := []VariableSpec{
		{"/a", shapes.Make(dtypes.Float32, 6, 5)},
		{"/b", shapes.Make(dtypes.Float32, 7)},
		{"/c", shapes.Make(dtypes.Float32, 2, 2)},
		{"/d", shapes.Make(dtypes.Float64, 2)},
	}
	return grads, specs
}

// TestPayloadRoundTrip: what AppendPayload writes, Decode reads back exactly,
// and the sizes are the documented ones.
func TestPayloadRoundTrip(t *testing.T) {
	grads, specs := wireFixture(1)
	hdr := PayloadHeader{Step: 42, Loss: 1.5}
	payload, sizes, err := AppendPayload([]byte("prefix"), hdr, grads)
	require.NoError(t, err)
	payload = payload[len("prefix"):]
	ints := tensors.MustCopyFlatData[int32](grads[0].Ints)
	require.Equal(t, []int{
		expgolomb.FrameOverhead + int((expgolomb.BitLen(ints, 1)+7)/8),
		7 + 8,
		4*4 + 4,
		2*8 + 4,
	}, sizes)
	require.Equal(t, PayloadHeaderSize(4)+sizes[0]+sizes[1]+sizes[2]+sizes[3], len(payload))

	dec := NewPayloadDecoder(testbackend.Get(t), specs)
	defer dec.Finalize()
	for range 2 { // The second time reuses the decoder's tensors.
		gotHdr, got, err := dec.Decode(1, payload)
		require.NoError(t, err)
		require.Equal(t, hdr, gotHdr)
		require.Len(t, got, 4)
		require.Equal(t, KindExpGolomb, got[0].Kind)
		require.Equal(t, 1, got[0].K)
		require.Equal(t, float32(1e-3), got[0].Step)
		require.Equal(t, ints, tensors.MustCopyFlatData[int32](got[0].Ints))
		require.Equal(t, []int{6, 5}, got[0].Ints.Shape().Dimensions)
		require.Equal(t, KindInt8, got[1].Kind)
		require.Equal(t, float32(0.25), got[1].Step)
		require.Equal(t, tensors.MustCopyFlatData[int8](grads[1].Ints), tensors.MustCopyFlatData[int8](got[1].Ints))
		require.Equal(t, tensors.MustCopyFlatData[float32](grads[2].Dense), tensors.MustCopyFlatData[float32](got[2].Dense))
		require.Equal(t, tensors.MustCopyFlatData[float64](grads[3].Dense), tensors.MustCopyFlatData[float64](got[3].Dense))
	}
}

// TestPayloadEveryBitFlipDetected: flipping any single bit of a payload (the
// header, the section table, a frame, an int8 or dense section, any CRC) is
// detected as ErrCorrupt.
func TestPayloadEveryBitFlipDetected(t *testing.T) {
	grads, specs := wireFixture(2)
	payload, _, err := AppendPayload(nil, PayloadHeader{Step: 3, Loss: 0.5}, grads)
	require.NoError(t, err)
	dec := NewPayloadDecoder(testbackend.Get(t), specs)
	defer dec.Finalize()
	for bit := range 8 * len(payload) {
		p := append([]byte(nil), payload...)
		p[bit/8] ^= 1 << (bit % 8)
		_, _, err := dec.Decode(5, p)
		require.ErrorIs(t, err, ErrCorrupt, "bit %d (byte %d)", bit, bit/8)
		require.Contains(t, err.Error(), "rank 5")
	}
	// Truncations and extensions too.
	for n := range len(payload) {
		_, _, err := dec.Decode(5, payload[:n])
		require.ErrorIs(t, err, ErrCorrupt, "truncated to %d bytes", n)
	}
	_, _, err = dec.Decode(5, append(append([]byte(nil), payload...), 0))
	require.ErrorIs(t, err, ErrCorrupt)
	// A payload for another model (a different shape) is refused.
	specs[2].Shape = shapes.Make(dtypes.Float32, 5)
	_, _, err = NewPayloadDecoder(testbackend.Get(t), specs).Decode(1, payload)
	require.ErrorIs(t, err, ErrCorrupt)
	require.Contains(t, err.Error(), `variable "/c"`)
}
