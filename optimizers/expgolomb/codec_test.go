package expgolomb

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// bitString renders the first nbits bits of b, most significant bit first.
func bitString(b []byte, nbits int64) string {
	var sb strings.Builder
	for i := range nbits {
		sb.WriteByte('0' + b[i/8]>>(7-i%8)&1)
	}
	return sb.String()
}

func TestKnownVectors(t *testing.T) {
	minInt32K0 := strings.Repeat("0", 32) + "1" + strings.Repeat("0", 31) + "1" // v = 2^32 + 1.
	for _, tc := range []struct {
		k    int
		q    int32
		bits string
	}{
		{0, 0, "1"}, {0, 1, "010"}, {0, -1, "011"}, {0, 2, "00100"}, {0, -2, "00101"},
		{0, 3, "00110"}, {0, -3, "00111"}, {0, 4, "0001000"}, {0, -8, "000010001"},
		{0, math.MinInt32, minInt32K0},
		{0, math.MaxInt32, strings.Repeat("0", 31) + strings.Repeat("1", 31) + "0"}, // v = 2^32 - 2.
		{1, 0, "10"}, {1, 1, "11"}, {1, -1, "0100"}, {1, 2, "0101"}, {1, -2, "0110"},
		{1, 3, "0111"}, {1, -3, "001000"},
		{2, 0, "100"}, {2, 1, "101"}, {2, -1, "110"}, {2, 2, "111"}, {2, -2, "01000"},
		{2, 5, "01101"}, {2, -6, "0010000"},
		{30, 0, "1" + strings.Repeat("0", 30)},
		{30, math.MinInt32, "00" + "101" + strings.Repeat("0", 30)}, // v = 2^32 + 2^30.
	} {
		require.Equalf(t, len(tc.bits), CodeLen(tc.q, tc.k), "CodeLen(%d, %d)", tc.q, tc.k)
		enc := AppendEncode(nil, []int32{tc.q}, tc.k)
		require.Lenf(t, enc, (len(tc.bits)+7)/8, "encoding of %d with k=%d", tc.q, tc.k)
		require.Equalf(t, tc.bits, bitString(enc, int64(len(tc.bits))), "encoding of %d with k=%d", tc.q, tc.k)
		require.Equalf(t, strings.Repeat("0", len(enc)*8-len(tc.bits)), bitString(enc, int64(len(enc)*8))[len(tc.bits):],
			"padding of %d with k=%d", tc.q, tc.k)
		dec, err := Decode(nil, enc, 1, tc.k)
		require.NoError(t, err)
		require.Equal(t, []int32{tc.q}, dec)
	}

	// Codes are concatenated without alignment.
	enc := AppendEncode(nil, []int32{0, 1, -1, 2, 0, 0}, 0)
	require.Equal(t, "1"+"010"+"011"+"00100"+"1"+"1"+"00", bitString(enc, 16))
}

// roundTrip encodes qs with k after a prefix, checks sizes, and decodes it back.
func roundTrip(t *testing.T, name string, qs []int32, k int) {
	t.Helper()
	prefix := []byte{0xAA, 0x55, 0x01}
	enc := AppendEncode(append([]byte(nil), prefix...), qs, k)
	require.Equalf(t, prefix, enc[:len(prefix)], "%s k=%d: prefix clobbered", name, k)
	nbits := BitLen(qs, k)
	require.Equalf(t, int((nbits+7)/8), len(enc)-len(prefix), "%s k=%d: encoded size", name, k)
	if pad := nbits % 8; pad != 0 {
		require.Zerof(t, enc[len(enc)-1]<<pad, "%s k=%d: padding bits", name, k)
	}
	head := []int32{7, -7}
	dec, err := Decode(append([]int32(nil), head...), enc[len(prefix):], len(qs), k)
	require.NoErrorf(t, err, "%s k=%d", name, k)
	require.Equalf(t, head, dec[:len(head)], "%s k=%d: dst prefix clobbered", name, k)
	requireSameValues(t, qs, dec[len(head):], "%s k=%d: decoded values", name, k)
	if len(qs) > 0 {
		requireSameValues(t, qs[:len(qs)-1], must1(Decode(nil, enc[len(prefix):], len(qs)-1, k)),
			"%s k=%d: decoding fewer values", name, k)
	}
	if len(enc) > len(prefix) {
		// All values can't fit in the stream without its last byte.
		_, err = Decode(nil, enc[len(prefix):len(enc)-1], len(qs), k)
		require.Errorf(t, err, "%s k=%d: decoding a truncated stream", name, k)
		require.ErrorIsf(t, err, ErrTruncated, "%s k=%d: decoding a truncated stream", name, k)
	}
}

// requireSameValues is require.Equal for slices, with nil and empty slices equal.
func requireSameValues(t *testing.T, want, got []int32, msgAndArgs ...any) {
	t.Helper()
	if len(want) == 0 && len(got) == 0 {
		return
	}
	require.Equal(t, want, got, msgAndArgs...)
}

func must1[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for k := 0; k <= MaxK; k++ {
		roundTrip(t, "empty", nil, k)
		roundTrip(t, "empty", []int32{}, k)
		roundTrip(t, "single zero", []int32{0}, k)
		roundTrip(t, "single min", []int32{math.MinInt32}, k)
		roundTrip(t, "extremes", []int32{math.MinInt32, math.MaxInt32, 0, math.MinInt32, math.MinInt32 + 1, -1, 1}, k)
		roundTrip(t, "uniform", uniformInts(rng, 3000), k)
		roundTrip(t, "log-uniform", logUniformInts(rng, 3000), k)
		roundTrip(t, "zeros", make([]int32, 1+rng.IntN(200)), k)
	}
	// The longest codes at every bit alignment.
	for off := range 130 {
		qs := append(make([]int32, off), math.MinInt32, 1, math.MinInt32, math.MaxInt32, math.MinInt32)
		for _, k := range []int{0, 1, 2, 7, 30} {
			roundTrip(t, "aligned extremes", qs, k)
		}
	}
	// Peaky GG-like data, over sizes that cross the encoder's chunk boundaries.
	for _, beta := range []float64{0.3, 0.5, 1, 2} {
		xs := generalizedGaussian(rng, 3*encChunk+17, beta)
		for _, delta := range []float64{1e-4, 0.01, 0.3, 3} {
			qs := quantize(xs, delta)
			for _, k := range []int{0, 1, 2, 3, 5, 8, 13, 21, 30} {
				roundTrip(t, "gg", qs, k)
			}
		}
	}
	// Random lengths and mixes, including long runs of long codes.
	for range 200 {
		n := rng.IntN(300)
		qs := logUniformInts(rng, n)
		for i := range qs {
			if rng.IntN(2) == 0 {
				qs[i] = int32(rng.IntN(5)) - 2
			}
		}
		roundTrip(t, "mix", qs, rng.IntN(MaxK+1))
	}
}

func TestEncodeGrowth(t *testing.T) {
	// Long codes after a sparse first chunk: the size estimate after the first chunk is far too
	// small, and growth must still be right.
	rng := rand.New(rand.NewPCG(9, 10))
	qs := make([]int32, 5*encChunk)
	for i := encChunk; i < len(qs); i++ {
		qs[i] = math.MinInt32
	}
	roundTrip(t, "sparse then long", qs, 0)
	for i := range qs {
		qs[i] = int32(rng.Uint32())
	}
	roundTrip(t, "uniform", qs, 0)

	// Appending into a buffer with enough capacity (the encoded size and a chunk's worst case) keeps it.
	qs = quantize(generalizedGaussian(rng, 10000, 0.5), 0.1)
	enc := AppendEncode(nil, qs, 0)
	buf := make([]byte, 0, len(enc)+encodedMaxBytes(encChunk))
	out := AppendEncode(buf, qs, 0)
	require.Equal(t, enc, out)
	require.Equal(t, &buf[:1][0], &out[0], "buffer with enough capacity was reallocated")

	// Small inputs get small buffers.
	require.Less(t, cap(AppendEncode(nil, []int32{1, 2, 3}, 0)), 64)
	require.Less(t, cap(AppendFrame(nil, []int32{1, 2, 3}, 0, 1)), 128)

	// Re-encoding into the previous result and decoding into a reused slice don't allocate.
	dec := make([]int32, 0, len(qs))
	frame := AppendFrame(nil, qs, 0, 0.1)
	allocs := testing.AllocsPerRun(5, func() {
		enc = AppendEncode(enc[:0], qs, 0)
		dec, _ = Decode(dec[:0], enc, len(qs), 0)
		frame = AppendFrame(frame[:0], qs, 0, 0.1)
		dec, _, _ = DecodeFrame(dec[:0], frame)
	})
	require.Zero(t, allocs)
	requireSameValues(t, qs, dec)
	require.Panics(t, func() { AppendEncode(nil, qs, -1) })
	require.Panics(t, func() { AppendEncode(nil, qs, MaxK+1) })
}

// codeBits builds a bitstream from a string of '0' and '1'.
func codeBits(s string) []byte {
	b := make([]byte, (len(s)+7)/8)
	for i, c := range s {
		if c == '1' {
			b[i/8] |= 0x80 >> (i % 8)
		}
	}
	return b
}

func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		src     []byte
		n, k    int
		wantErr error
	}{
		{"empty stream", nil, 1, 0, ErrTruncated},
		{"n larger than possible", []byte{0xFF}, 9, 0, ErrTruncated},
		{"n larger than possible for k", []byte{0xFF, 0xFF}, 6, 2, ErrTruncated},
		{"truncated in prefix", codeBits("00000000"), 1, 0, ErrTruncated},
		{"truncated in value", codeBits("00010000"), 2, 0, ErrTruncated},
		{"exactly enough bits", codeBits("11111111"), 8, 0, nil},
		{"all zeros", make([]byte, 20), 1, 0, ErrInvalidCode},
		{"33 zeros", codeBits(strings.Repeat("0", 33) + "1" + strings.Repeat("0", 40)), 1, 0, ErrInvalidCode},
		{"3 zeros for k=30", codeBits("0001" + strings.Repeat("0", 40)), 1, 30, ErrInvalidCode},
		// v - 2^k = 2^32 - 1 is the image of 2^31, not an int32.
		{"u = 2^32-1", codeBits(strings.Repeat("0", 32) + strings.Repeat("1", 33)), 1, 0, ErrInvalidCode},
		{"u > 2^32", codeBits(strings.Repeat("0", 32) + "11" + strings.Repeat("0", 31)), 1, 0, ErrInvalidCode},
		{"u > 2^32 k=20", codeBits(strings.Repeat("0", 12) + "11" + strings.Repeat("0", 31)), 1, 20, ErrInvalidCode},
		{"u = 2^32", codeBits(strings.Repeat("0", 32) + "1" + strings.Repeat("0", 31) + "1"), 1, 0, nil},
		{"invalid code after good ones", append(codeBits("1111"), make([]byte, 30)...), 5, 0, ErrInvalidCode},
		{"bad k", []byte{0xFF}, 1, -1, ErrMalformed},
		{"bad k", []byte{0xFF}, 1, MaxK + 1, ErrMalformed},
		{"negative n", []byte{0xFF}, -1, 0, ErrMalformed},
	} {
		got, err := Decode([]int32{1, 2, 3}, tc.src, tc.n, tc.k)
		requireDecoded(t, tc.name, got, err, tc.n, tc.wantErr)
	}

	// Garbage never panics, and decoding a prefix of garbage agrees with decoding all of it.
	rng := rand.New(rand.NewPCG(11, 12))
	for range 2000 {
		src := make([]byte, rng.IntN(40))
		for i := range src {
			src[i] = byte(rng.Uint32() & rng.Uint32()) // Biased toward zeros: longer codes.
		}
		k := rng.IntN(MaxK + 1)
		n := rng.IntN(len(src)*8/(k+1) + 2)
		all, errAll := Decode(nil, src, n, k)
		if errAll == nil && n > 0 {
			part, err := Decode(nil, src, n-1, k)
			require.NoError(t, err)
			requireSameValues(t, all[:n-1], part)
		}
	}
}

// requireDecoded checks the result of decoding n values appended to dst = {1, 2, 3}: success if
// wantErr is nil, otherwise an error wrapping wantErr, with dst returned unchanged.
func requireDecoded(t *testing.T, name string, got []int32, err error, n int, wantErr error) {
	t.Helper()
	if wantErr == nil {
		require.NoErrorf(t, err, name)
		require.Lenf(t, got, 3+n, name)
		return
	}
	require.Errorf(t, err, name)
	require.Truef(t, errors.Is(err, wantErr), "%s: got error %v, want %v", name, err, wantErr)
	require.Equalf(t, []int32{1, 2, 3}, got, "%s: dst must be returned unchanged", name)
}

// referenceDecode decodes code by code with decodeOne, the fully checked slow path.
func referenceDecode(src []byte, n, k int) ([]int32, error) {
	if k < 0 || k > MaxK || n < 0 {
		return nil, ErrMalformed
	}
	end := uint64(len(src)) * 8
	var pos uint64
	out := make([]int32, 0, min(n, len(src)*8))
	for range n {
		q, l, err := decodeOne(src, pos, end, uint(k))
		if err != nil {
			return nil, err
		}
		out = append(out, q)
		pos += uint64(l)
	}
	return out, nil
}

func TestDecodeMatchesReference(t *testing.T) {
	// Random streams biased toward short codes, with every k: both decoders must agree on the
	// values, and on success versus failure, wherever the stream breaks.
	rng := rand.New(rand.NewPCG(19, 20))
	for range 3000 {
		src := make([]byte, rng.IntN(200))
		density := rng.IntN(4)
		for i := range src {
			b := byte(rng.Uint32())
			for range density {
				b |= byte(rng.Uint32()) // More ones: shorter codes, for the table decoder.
			}
			src[i] = b
		}
		k := rng.IntN(MaxK + 1)
		if rng.IntN(2) == 0 {
			k = rng.IntN(decTableMaxK + 2)
		}
		n := rng.IntN(len(src)*8/(k+1) + 2)
		got, err := Decode(nil, src, n, k)
		want, wantErr := referenceDecode(src, n, k)
		require.Equalf(t, wantErr == nil, err == nil, "Decode error %v, reference error %v", err, wantErr)
		if err == nil {
			requireSameValues(t, want, got)
		} else if n*(k+1) <= len(src)*8 { // Otherwise Decode rejects n before reading anything.
			require.ErrorIs(t, err, errors.Unwrap(wantErr))
		}
	}
}
