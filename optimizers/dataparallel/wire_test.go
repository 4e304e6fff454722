package dataparallel

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/ggprior/ggprior/internal/testbackend"
	"github.com/ggprior/ggprior/optimizers/expgolomb"
	"github.com/ggprior/ggprior/optimizers/ggrans"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/stretchr/testify/require"
)

// wireFixture returns eight variables' wire gradients, one of each kind
// (two dense), and their specs: expgolomb, int8, dense float32, dense
// float64, sparse (4 of 37 elements), sign (13 elements), lowrank (a
// [3, 2, 5] variable viewed as [6, 5], rank 2), ggrans ([4, 25], mostly
// zeros, with an escape).
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
	sparseMask := make([]bool, 37)
	sparseValues := make([]float32, 37)
	for _, j := range []int{0, 5, 17, 36} {
		sparseMask[j] = true
		sparseValues[j] = float32(rng.NormFloat64())
	}
	signMask := make([]bool, 13)
	signDense := make([]float32, 13)
	const scale = float32(0.375)
	for j := range signMask {
		signMask[j] = rng.IntN(2) == 0
		signDense[j] = scale
		if signMask[j] {
			signDense[j] = -scale
		}
	}
	p := make([]float32, 6*2)
	q := make([]float32, 5*2)
	for j := range p {
		p[j] = float32(rng.NormFloat64())
	}
	for j := range q {
		q[j] = float32(rng.NormFloat64())
	}
	ransInts := make([]int32, 4*25)
	for i := range ransInts {
		if rng.IntN(4) == 0 {
			ransInts[i] = int32(rng.IntN(5)) - 2
		}
	}
	ransInts[17] = -1000 // Beyond the model's alphabet: escaped.
	grads := []WireGradient{
		{Kind: KindExpGolomb, Ints: tensors.FromFlatDataAndDimensions(ints, 6, 5), Step: 1e-3, K: 1},
		{Kind: KindInt8, Ints: tensors.FromFlatDataAndDimensions(small, 7), Step: 0.25},
		{Kind: KindDense, Dense: tensors.FromFlatDataAndDimensions(dense, 2, 2)},
		{Kind: KindDense, Dense: tensors.FromFlatDataAndDimensions(dense64, 2)},
		{Kind: KindSparse, Mask: tensors.FromFlatDataAndDimensions(sparseMask, 37),
			Dense: tensors.FromFlatDataAndDimensions(sparseValues, 37)},
		{Kind: KindSign, Mask: tensors.FromFlatDataAndDimensions(signMask, 13), Step: scale,
			Dense: tensors.FromFlatDataAndDimensions(signDense, 13)},
		{Kind: KindLowRank, P: tensors.FromFlatDataAndDimensions(p, 6, 2), Q: tensors.FromFlatDataAndDimensions(q, 5, 2)},
		{Kind: KindGGRANS, Ints: tensors.FromFlatDataAndDimensions(ransInts, 4, 25), Alpha: 2e-3, Beta: 0.7, Step: 3e-3},
	}
	specs := []VariableSpec{
		{"/a", shapes.Make(dtypes.Float32, 6, 5)},
		{"/b", shapes.Make(dtypes.Float32, 7)},
		{"/c", shapes.Make(dtypes.Float32, 2, 2)},
		{"/d", shapes.Make(dtypes.Float64, 2)},
		{"/e", shapes.Make(dtypes.Float32, 37)},
		{"/f", shapes.Make(dtypes.Float32, 13)},
		{"/g", shapes.Make(dtypes.Float32, 3, 2, 5)},
		{"/h", shapes.Make(dtypes.Float32, 4, 25)},
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
	ransInts := tensors.MustCopyFlatData[int32](grads[7].Ints)
	frame, err := ggrans.AppendFrame(nil, ransInts, 2e-3, 0.7, 3e-3)
	require.NoError(t, err)
	require.Equal(t, []int{
		expgolomb.FrameOverhead + int((expgolomb.BitLen(ints, 1)+7)/8),
		7 + 8,
		4*4 + 4,
		2*8 + 4,
		4 + (4*6+7)/8 + 4*4 + 4, // Count, 4 indices of 6 bits, 4 values, CRC.
		4 + 2 + 4,               // Scale, 13 bits, CRC.
		4*(6+5)*2 + 4,           // P, Q, CRC.
		len(frame),              // The ggrans frame.
	}, sizes)
	require.Equal(t, frame, payload[len(payload)-len(frame):])
	total := PayloadHeaderSize(len(grads))
	for _, size := range sizes {
		total += size
	}
	require.Equal(t, total, len(payload))

	dec := NewPayloadDecoder(testbackend.Get(t), specs)
	defer dec.Finalize()
	for range 2 { // The second time reuses the decoder's tensors.
		gotHdr, got, err := dec.Decode(1, payload)
		require.NoError(t, err)
		require.Equal(t, hdr, gotHdr)
		require.Len(t, got, len(grads))
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
		for _, i := range []int{4, 5} { // Sparse and sign: rebuilt exactly, as float32 of the variable's shape.
			require.Equal(t, grads[i].Kind, got[i].Kind)
			require.Equal(t, []int{specs[i].Shape.Size()}, got[i].Dense.Shape().Dimensions)
			require.Equal(t, float32Bits(grads[i].Dense), float32Bits(got[i].Dense), "section %d", i)
		}
		require.Equal(t, float32(0.375), got[5].Step)
		require.Equal(t, KindLowRank, got[6].Kind)
		require.Equal(t, tensors.MustCopyFlatData[float32](grads[6].P), tensors.MustCopyFlatData[float32](got[6].P))
		require.Equal(t, tensors.MustCopyFlatData[float32](grads[6].Q), tensors.MustCopyFlatData[float32](got[6].Q))
		require.Equal(t, []int{6, 2}, got[6].P.Shape().Dimensions)
		require.Equal(t, []int{5, 2}, got[6].Q.Shape().Dimensions)
		require.Equal(t, KindGGRANS, got[7].Kind)
		require.Equal(t, ransInts, tensors.MustCopyFlatData[int32](got[7].Ints))
		require.Equal(t, []int{4, 25}, got[7].Ints.Shape().Dimensions)
		require.Equal(t, [3]float32{2e-3, 0.7, 3e-3}, [3]float32{got[7].Alpha, got[7].Beta, got[7].Step})
	}
}

// float32Bits returns the bits of a Float32 tensor's values (so that -0 and
// +0 differ, and NaNs compare).
func float32Bits(t *tensors.Tensor) []uint32 {
	values := tensors.MustCopyFlatData[float32](t)
	out := make([]uint32, len(values))
	for i, x := range values {
		out[i] = math.Float32bits(x)
	}
	return out
}

// TestPayloadEveryBitFlipDetected: flipping any single bit of a payload (the
// header, the section table, an Exp-Golomb or ggrans frame, an int8, dense,
// sparse, sign or lowrank section, any CRC) is detected as ErrCorrupt.
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

// rawSection is a section written by hand: its kind, dtype and body (the CRC-32C is appended).
type rawSection struct {
	kind  Kind
	dtype dtypes.DType
	body  []byte
}

// rawPayload assembles a payload of hand-written sections, with valid header
// and section CRCs: what a buggy or malicious sender could send.
func rawPayload(sections ...rawSection) []byte { return assemblePayload(true, sections) }

// framePayload assembles a payload of hand-written sections taken as they
// are (frames, which hold their own CRC-32C), with a valid header.
func framePayload(sections ...rawSection) []byte { return assemblePayload(false, sections) }

func assemblePayload(sectionCRC bool, sections []rawSection) []byte {
	p := make([]byte, PayloadHeaderSize(len(sections)))
	copy(p, payloadMagic)
	binary.LittleEndian.PutUint16(p[4:], payloadVersion)
	binary.LittleEndian.PutUint32(p[20:], uint32(len(sections)))
	for i, s := range sections {
		body := s.body
		if sectionCRC {
			body = binary.LittleEndian.AppendUint32(append([]byte(nil), s.body...), crc32.Checksum(s.body, castagnoli))
		}
		entry := p[payloadFixedSize+sectionEntrySize*i:]
		entry[0], entry[1] = byte(s.kind), byte(s.dtype)
		binary.LittleEndian.PutUint64(entry[8:], uint64(len(body)))
		p = append(p, body...)
	}
	crcAt := PayloadHeaderSize(len(sections)) - payloadCRCSize
	binary.LittleEndian.PutUint32(p[crcAt:], crc32.Checksum(p[:crcAt], castagnoli))
	return p
}

// TestPayloadBadCompactSections: sparse, sign and lowrank sections whose CRCs
// are right but whose contents disagree with the model or the format are
// errors (ErrCorrupt, naming the variable and what is wrong), not panics.
func TestPayloadBadCompactSections(t *testing.T) {
	u32 := func(vs ...uint32) []byte {
		var b []byte
		for _, v := range vs {
			b = binary.LittleEndian.AppendUint32(b, v)
		}
		return b
	}
	cat := func(parts ...[]byte) []byte { return slices.Concat(parts...) }
	vec := VariableSpec{"/v", shapes.Make(dtypes.Float32, 10)}      // Index bits: 4.
	mat := VariableSpec{"/m", shapes.Make(dtypes.Float32, 2, 3, 4)} // [6, 4] matrix.
	for _, tc := range []struct {
		name    string
		spec    VariableSpec
		section rawSection
		want    string
	}{
		{"sparse count over size", vec, rawSection{KindSparse, dtypes.Float32, cat(u32(11), make([]byte, 6+44))}, "11 values, the variable has 10"},
		{"sparse short", vec, rawSection{KindSparse, dtypes.Float32, []byte{1, 0}}, "shorter than its count"},
		{"sparse no crc", vec, rawSection{KindSparse, dtypes.Float32, nil}, "CRC-32C"},
		{"sparse length", vec, rawSection{KindSparse, dtypes.Float32, cat(u32(2), []byte{0x21}, u32(1))}, "need 13"},
		{"sparse not increasing", vec, rawSection{KindSparse, dtypes.Float32, cat(u32(2), []byte{0x13}, u32(1, 2))}, "want increasing indices"},
		{"sparse repeated", vec, rawSection{KindSparse, dtypes.Float32, cat(u32(2), []byte{0x33}, u32(1, 2))}, "want increasing indices"},
		{"sparse index over size", vec, rawSection{KindSparse, dtypes.Float32, cat(u32(2), []byte{0xa1}, u32(1, 2))}, "index 10"},
		{"sparse padding", vec, rawSection{KindSparse, dtypes.Float32, cat(u32(1), []byte{0x81}, u32(1))}, "padding"},
		{"sparse dtype", vec, rawSection{KindSparse, dtypes.Float64, cat(u32(0))}, "dtype Float64"},
		{"sign length", vec, rawSection{KindSign, dtypes.Float32, cat(u32(0), []byte{0})}, "10 elements need 6"},
		{"sign padding", vec, rawSection{KindSign, dtypes.Float32, cat(u32(0), []byte{0, 4})}, "padding"},
		{"lowrank vector", vec, rawSection{KindLowRank, dtypes.Float32, make([]byte, 40)}, "fewer than 2 axes"},
		{"lowrank length", mat, rawSection{KindLowRank, dtypes.Float32, make([]byte, 41)}, "not a positive multiple"},
		{"lowrank empty", mat, rawSection{KindLowRank, dtypes.Float32, nil}, "CRC-32C"},
		{"lowrank zero rank", mat, rawSection{KindLowRank, dtypes.Float32, []byte{}}, "not a positive multiple"},
		{"unknown kind", vec, rawSection{Kind(99), dtypes.Float32, nil}, "unknown section kind 99"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dec := NewPayloadDecoder(testbackend.Get(t), []VariableSpec{tc.spec})
			defer dec.Finalize()
			payload := rawPayload(tc.section)
			if tc.name == "sparse no crc" || tc.name == "lowrank empty" {
				// A section shorter than a CRC: truncate the section (and fix the header).
				binary.LittleEndian.PutUint64(payload[payloadFixedSize+8:], 2)
				payload = payload[:PayloadHeaderSize(1)+2]
				crcAt := PayloadHeaderSize(1) - payloadCRCSize
				binary.LittleEndian.PutUint32(payload[crcAt:], crc32.Checksum(payload[:crcAt], castagnoli))
			}
			_, _, err := dec.Decode(3, payload)
			require.ErrorIs(t, err, ErrCorrupt)
			require.ErrorContains(t, err, "payload from rank 3")
			require.ErrorContains(t, err, fmt.Sprintf("variable %q", tc.spec.Path))
			require.ErrorContains(t, err, tc.want)
			t.Logf("%s: %v", tc.name, err)
		})
	}
	// The same layouts, right, decode.
	dec := NewPayloadDecoder(testbackend.Get(t), []VariableSpec{vec, vec, mat})
	defer dec.Finalize()
	_, got, err := dec.Decode(3, rawPayload(
		rawSection{KindSparse, dtypes.Float32, cat(u32(2), []byte{0x91}, u32(math.Float32bits(1), math.Float32bits(-2)))},
		rawSection{KindSign, dtypes.Float32, cat(u32(math.Float32bits(0.5)), []byte{0x81, 2})},
		rawSection{KindLowRank, dtypes.Float32, make([]byte, 4*(6+4)*3)},
	))
	require.NoError(t, err)
	require.Equal(t, []float32{0, 1, 0, 0, 0, 0, 0, 0, 0, -2}, tensors.MustCopyFlatData[float32](got[0].Dense))
	require.Equal(t, []float32{-0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, -0.5, 0.5, -0.5}, tensors.MustCopyFlatData[float32](got[1].Dense))
	require.Equal(t, []int{6, 3}, got[2].P.Shape().Dimensions)
	require.Equal(t, []int{4, 3}, got[2].Q.Shape().Dimensions)
}

// TestPayloadBadGGRANSSections: ggrans sections whose payload header is right
// but whose frame disagrees with the model (count, size, dtype) or is
// corrupt (header fields, the frame's CRC-32C) are errors (ErrCorrupt, naming
// the variable and what is wrong), not panics; the right one decodes.
func TestPayloadBadGGRANSSections(t *testing.T) {
	spec := VariableSpec{"/r", shapes.Make(dtypes.Float32, 10, 10)}
	ints := make([]int32, 100)
	for i := range ints {
		ints[i] = int32(i%7) - 3
	}
	frame, err := ggrans.AppendFrame(nil, ints, 1, 1.2, 0.5)
	require.NoError(t, err)
	short, err := ggrans.AppendFrame(nil, ints[:99], 1, 1.2, 0.5)
	require.NoError(t, err)
	patched := func(at int, b byte) []byte {
		f := slices.Clone(frame)
		f[at] ^= b
		return f
	}
	for _, tc := range []struct {
		name    string
		section rawSection
		want    string
	}{
		{"count", rawSection{KindGGRANS, dtypes.Int32, short}, "ggrans frame of 99 values, the variable has 100"},
		{"trailing byte", rawSection{KindGGRANS, dtypes.Int32, append(slices.Clone(frame), 0)}, fmt.Sprintf("ggrans frame of %d bytes in a section of %d", len(frame), len(frame)+1)},
		{"truncated", rawSection{KindGGRANS, dtypes.Int32, frame[:len(frame)-1]}, fmt.Sprintf("ggrans frame of %d bytes in a section of %d", len(frame), len(frame)-1)},
		{"header only", rawSection{KindGGRANS, dtypes.Int32, frame[:20]}, "truncated input"},
		{"dtype", rawSection{KindGGRANS, dtypes.Float32, frame}, "ggrans section of dtype Float32, want Int32"},
		{"magic", rawSection{KindGGRANS, dtypes.Int32, patched(0, 1)}, "bad frame magic"},
		{"negative step", rawSection{KindGGRANS, dtypes.Int32, patched(23, 0x80)}, "step must be positive and finite"},
		{"words", rawSection{KindGGRANS, dtypes.Int32, patched(ggrans.FrameHeaderSize+1, 4)}, "checksum mismatch"},
		{"crc", rawSection{KindGGRANS, dtypes.Int32, patched(len(frame)-1, 0x10)}, "checksum mismatch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dec := NewPayloadDecoder(testbackend.Get(t), []VariableSpec{spec})
			defer dec.Finalize()
			_, _, err := dec.Decode(2, framePayload(tc.section))
			require.ErrorIs(t, err, ErrCorrupt)
			require.ErrorContains(t, err, "payload from rank 2")
			require.ErrorContains(t, err, `variable "/r" (section 0)`)
			require.ErrorContains(t, err, "ggrans section")
			require.ErrorContains(t, err, tc.want)
			t.Logf("%s: %v", tc.name, err)
		})
	}
	dec := NewPayloadDecoder(testbackend.Get(t), []VariableSpec{spec})
	defer dec.Finalize()
	_, got, err := dec.Decode(2, framePayload(rawSection{KindGGRANS, dtypes.Int32, frame}))
	require.NoError(t, err)
	require.Equal(t, ints, tensors.MustCopyFlatData[int32](got[0].Ints))
	require.Equal(t, float32(0.5), got[0].Step)

	// A sender whose graph gave invalid model parameters can't send.
	_, _, err = AppendPayload(nil, PayloadHeader{}, []WireGradient{{Kind: KindGGRANS,
		Ints: tensors.FromFlatDataAndDimensions(ints, 10, 10), Alpha: 0, Beta: 1, Step: 0.5}})
	require.ErrorContains(t, err, "section 0: ggrans gradient")
	require.ErrorIs(t, err, ggrans.ErrParameter)
}

// TestPayloadNoisePowers: with the header's NoisePowers, each section's
// noise power travels in its table entry, bit for bit (a negative one, a
// zero, a subnormal); without it they read as 0; unknown header flags are
// corrupt; every bit flip of a payload with noise powers is detected.
func TestPayloadNoisePowers(t *testing.T) {
	grads, specs := wireFixture(1)
	powers := []float32{1.5, -2.25, 0, 1e-40, 3, 4, 5, 6}
	for i := range grads {
		grads[i].NoisePower = powers[i]
	}
	dec := NewPayloadDecoder(testbackend.Get(t), specs)
	defer dec.Finalize()
	for _, on := range []bool{false, true} {
		hdr := PayloadHeader{Step: 7, Loss: 0.5, NoisePowers: on}
		payload, _, err := AppendPayload(nil, hdr, grads)
		require.NoError(t, err)
		gotHdr, got, err := dec.Decode(0, payload)
		require.NoError(t, err)
		require.Equal(t, hdr, gotHdr)
		for i := range got {
			want := float32(0)
			if on {
				want = powers[i]
			}
			require.Equal(t, math.Float32bits(want), math.Float32bits(got[i].NoisePower), "section %d", i)
		}
		if on {
			for bit := range 8 * PayloadHeaderSize(len(grads)) {
				bad := slices.Clone(payload)
				bad[bit/8] ^= 1 << (bit % 8)
				_, _, err := dec.Decode(0, bad)
				require.ErrorIs(t, err, ErrCorrupt, "bit %d", bit)
			}
		}
	}
	payload, _, err := AppendPayload(nil, PayloadHeader{Step: 7}, grads)
	require.NoError(t, err)
	payload[6] = 2 // An unknown flag (the header CRC catches it first).
	_, _, err = dec.Decode(0, payload)
	require.ErrorIs(t, err, ErrCorrupt)
}
