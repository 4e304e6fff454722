package expgolomb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRunKnownVectors(t *testing.T) {
	minInt32 := strings.Repeat("0", 32) + "1" + strings.Repeat("0", 32) // kv=0: u' = 2^32-1, v = 2^32.
	for _, tc := range []struct {
		qs     []int32
		kr, kv int
		bits   string
	}{
		// No values: only the final run of 0 zeros.
		{nil, 0, 0, "1"},
		{nil, 3, 1, "1000"},
		// All zeros: one run of 3, v = 3+1 = 4 = 100 after two zeros; with kr=2, v = 3+4 = 7.
		{[]int32{0, 0, 0}, 0, 0, "00100"},
		{[]int32{0, 0, 0}, 2, 0, "111"},
		// One nonzero: run 0, value MapSigned(q)-1, final run 0.
		{[]int32{1}, 0, 0, "1" + "1" + "1"},
		{[]int32{-1}, 0, 0, "1" + "010" + "1"},
		{[]int32{2}, 0, 0, "1" + "011" + "1"},
		{[]int32{-2}, 0, 0, "1" + "00100" + "1"},
		{[]int32{1, 1}, 0, 0, "1" + "1" + "1" + "1" + "1"},
		// Runs 2 and 1, values 5 (u' = 8) and -2 (u' = 3), final run 1, with kr=1 and kv=2:
		// run 2: v = 4 = 100 after one zero; 5: v = 12 = 1100 after one zero; run 1: v = 3 = 11;
		// -2: v = 7 = 111; final run 1: v = 3 = 11.
		{[]int32{0, 0, 5, 0, -2, 0}, 1, 2, "0100" + "01100" + "11" + "111" + "11"},
		// A nonzero at the end: the final run of 0 is still written.
		{[]int32{0, 7}, 0, 0, "010" + "0001101" + "1"},
		// The longest value code, 65 bits, and MaxInt32 with kv=30: u' = 2^32-4, v = u' + 2^30.
		{[]int32{math.MinInt32}, 0, 0, "1" + minInt32 + "1"},
		{[]int32{0, math.MaxInt32}, 0, 30, "010" + "00" + "100" + strings.Repeat("1", 28) + "00" + "1"},
	} {
		name := strconv.Itoa(len(tc.bits)) + " bits " + tc.bits
		require.Equalf(t, int64(len(tc.bits)), RunBitLen(tc.qs, tc.kr, tc.kv), "RunBitLen, %s", name)
		enc := AppendEncodeRuns(nil, tc.qs, tc.kr, tc.kv)
		require.Lenf(t, enc, (len(tc.bits)+7)/8, "%s", name)
		require.Equalf(t, tc.bits, bitString(enc, int64(len(tc.bits))), "%s", name)
		require.Equalf(t, strings.Repeat("0", len(enc)*8-len(tc.bits)), bitString(enc, int64(len(enc)*8))[len(tc.bits):],
			"padding, %s", name)
		dec, err := DecodeRuns(nil, enc, len(tc.qs), tc.kr, tc.kv)
		require.NoErrorf(t, err, "%s", name)
		requireSameValues(t, tc.qs, dec, "%s", name)
	}
}

// naiveRunBitLen is RunBitLen from its definition, with CodeLen: a run r in order k takes
// CodeLen(-r, k) bits when 2r fits an int32 (MapSigned(-r) = 2r), and a value q takes the code
// of MapSigned(q)-1, that is CodeLen of the int32 mapped to it.
func naiveRunBitLen(qs []int32, kr, kv int) int64 {
	runLen := func(r int) int64 { return int64(codeLen(uint64(r), uint(kr))) }
	var total int64
	run := 0
	for _, q := range qs {
		if q == 0 {
			run++
			continue
		}
		total += runLen(run) + int64(codeLen(MapSigned(q)-1, uint(kv)))
		run = 0
	}
	return total + runLen(run)
}

// roundTripRuns encodes qs in zero-run mode after a prefix, checks sizes, and decodes it back.
func roundTripRuns(t *testing.T, name string, qs []int32, kr, kv int) {
	t.Helper()
	prefix := []byte{0xAA, 0x55, 0x01}
	enc := AppendEncodeRuns(append([]byte(nil), prefix...), qs, kr, kv)
	require.Equalf(t, prefix, enc[:len(prefix)], "%s kr=%d kv=%d: prefix clobbered", name, kr, kv)
	nbits := RunBitLen(qs, kr, kv)
	require.Equalf(t, naiveRunBitLen(qs, kr, kv), nbits, "%s kr=%d kv=%d: RunBitLen", name, kr, kv)
	stream := enc[len(prefix):]
	require.Equalf(t, int((nbits+7)/8), len(stream), "%s kr=%d kv=%d: encoded size", name, kr, kv)
	if pad := nbits % 8; pad != 0 {
		require.Zerof(t, stream[len(stream)-1]<<pad, "%s kr=%d kv=%d: padding bits", name, kr, kv)
	}
	head := []int32{7, -7}
	dec, err := DecodeRuns(append([]int32(nil), head...), stream, len(qs), kr, kv)
	require.NoErrorf(t, err, "%s kr=%d kv=%d", name, kr, kv)
	require.Equalf(t, head, dec[:len(head)], "%s kr=%d kv=%d: dst prefix clobbered", name, kr, kv)
	requireSameValues(t, qs, dec[len(head):], "%s kr=%d kv=%d: decoded values", name, kr, kv)

	// Decoding into spare capacity full of garbage: zeros must be written, not assumed.
	dirty := make([]int32, len(qs)+1)
	for i := range dirty {
		dirty[i] = -99
	}
	dec, err = DecodeRuns(dirty[:0], stream, len(qs), kr, kv)
	require.NoErrorf(t, err, "%s kr=%d kv=%d", name, kr, kv)
	requireSameValues(t, qs, dec, "%s kr=%d kv=%d: decoded into dirty capacity", name, kr, kv)

	// A stream without its last byte, a stream with a byte more, and the wrong count all fail.
	_, err = DecodeRuns(nil, stream[:len(stream)-1], len(qs), kr, kv)
	require.ErrorIsf(t, err, ErrTruncated, "%s kr=%d kv=%d: decoding a truncated stream", name, kr, kv)
	_, err = DecodeRuns(nil, append(stream[:len(stream):len(stream)], 0), len(qs), kr, kv)
	require.ErrorIsf(t, err, ErrMalformed, "%s kr=%d kv=%d: decoding with a trailing byte", name, kr, kv)
	for _, n := range []int{len(qs) - 1, len(qs) + 1} {
		if n >= 0 {
			_, err = DecodeRuns(nil, stream, n, kr, kv)
			require.Errorf(t, err, "%s kr=%d kv=%d: decoding %d values instead of %d", name, kr, kv, n, len(qs))
		}
	}
}

// sparsify sets each value of qs to zero with probability p, in place, and returns qs.
func sparsify(rng *rand.Rand, qs []int32, p float64) []int32 {
	for i := range qs {
		if rng.Float64() < p {
			qs[i] = 0
		}
	}
	return qs
}

func TestRunRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	for _, kr := range []int{0, 1, 2, 3, 5, 9, 17, MaxK} {
		for _, kv := range []int{0, 1, 2, 4, 6, 13, MaxK} {
			roundTripRuns(t, "empty", nil, kr, kv)
			roundTripRuns(t, "single zero", []int32{0}, kr, kv)
			roundTripRuns(t, "single one", []int32{1}, kr, kv)
			roundTripRuns(t, "single min", []int32{math.MinInt32}, kr, kv)
			roundTripRuns(t, "extremes", []int32{math.MinInt32, math.MaxInt32, 0, math.MinInt32 + 1, -1, 0, 0, 1}, kr, kv)
			roundTripRuns(t, "zeros", make([]int32, 1+rng.IntN(300)), kr, kv)
			roundTripRuns(t, "no zeros", sparsify(rng, logUniformInts(rng, 500), 0), kr, kv)
			roundTripRuns(t, "uniform", sparsify(rng, uniformInts(rng, 500), 0.5), kr, kv)
			roundTripRuns(t, "sparse", sparsify(rng, logUniformInts(rng, 2000), 0.97), kr, kv)
		}
	}
	// Long codes at every bit alignment, after runs of every short length.
	for off := range 100 {
		qs := append(make([]int32, off), math.MinInt32, 1, 0, math.MinInt32, math.MaxInt32, 0, 0, 0, math.MinInt32)
		for _, k := range [][2]int{{0, 0}, {1, 2}, {7, 0}, {30, 30}} {
			roundTripRuns(t, "aligned extremes", qs, k[0], k[1])
		}
	}
	// Runs whose lengths cross powers of two, at the start, in the middle and at the end.
	for _, r := range []int{1, 2, 3, 7, 8, 9, 63, 64, 65, 255, 256, 1023, 1024, 1025, 1 << 16, 1<<16 + 1, 1 << 20} {
		qs := make([]int32, 2*r+3)
		qs[r], qs[r+1] = 3, -1
		for _, k := range [][2]int{{0, 0}, {2, 1}, {4, 4}, {10, 0}, {30, 30}} {
			roundTripRuns(t, "long runs", qs, k[0], k[1])
		}
	}
	// Sparse int8 data like the benchmarks' over sizes around the 8-value zero scan, and random mixes.
	for _, zeroFrac := range []float64{0.5, 0.9, 0.95, 0.99} {
		qs := sparseInts(20000, 1, zeroFrac)
		kr, kv, _ := BestRunK(qs)
		for _, k := range [][2]int{{0, 0}, {kr, kv}, {kr + 1, kv + 1}} {
			roundTripRuns(t, "sparse gg", qs, k[0], k[1])
		}
	}
	for range 300 {
		qs := sparsify(rng, logUniformInts(rng, rng.IntN(100)), rng.Float64())
		roundTripRuns(t, "mix", qs, rng.IntN(MaxK+1), rng.IntN(MaxK+1))
	}
}

func TestBestRunK(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	check := func(name string, qs []int32) {
		t.Helper()
		bestKR, bestKV, bestBits := -1, -1, int64(math.MaxInt64)
		for kr := 0; kr <= MaxK; kr++ {
			for kv := 0; kv <= MaxK; kv++ {
				if b := RunBitLen(qs, kr, kv); b < bestBits {
					bestKR, bestKV, bestBits = kr, kv, b
				}
			}
		}
		kr, kv, nbits := BestRunK(qs)
		require.Equalf(t, [3]int64{int64(bestKR), int64(bestKV), bestBits}, [3]int64{int64(kr), int64(kv), nbits},
			"%s: kr, kv, bits", name)
	}
	check("empty", nil)
	check("zeros", make([]int32, 1000))
	check("short", []int32{0, 3, -1, 0, 0, 200})
	check("no zeros", sparsify(rng, logUniformInts(rng, 3000), 0))
	check("very sparse", sparsify(rng, uniformInts(rng, 50000), 0.999))
	for _, zeroFrac := range []float64{0, 0.5, 0.9, 0.95, 0.99} {
		check("sparse gg", sparseInts(5000, 1, zeroFrac))
	}
	big := make([]int32, 1<<21) // Long runs of zeros and large values: large orders are best.
	for i := 1<<16 - 1; i < len(big); i += 1 << 16 {
		big[i] = 1<<29 + int32(i)
	}
	check("big", big)
	kr, kv, _ := BestRunK(big)
	require.Greater(t, kr, 10)
	require.Greater(t, kv, 20)
}

func TestNextNonzero(t *testing.T) {
	rng := rand.New(rand.NewPCG(25, 26))
	for range 2000 {
		qs := sparsify(rng, logUniformInts(rng, rng.IntN(40)), rng.Float64())
		i := rng.IntN(len(qs) + 1)
		want := i
		for want < len(qs) && qs[want] == 0 {
			want++
		}
		require.Equal(t, want, nextNonzero(qs, i))
	}
}

// referenceDecodeRuns decodes a zero-run stream bit by bit from its rendering as a string of '0'
// and '1': the definition, written independently of decodeRuns and readCode. It returns ok=false
// for any invalid stream.
func referenceDecodeRuns(s string, n, kr, kv int) (qs []int32, ok bool) {
	pos := 0
	read := func(k int) (uint64, bool) { // Returns u = v - 2^k.
		z := strings.IndexByte(s[pos:], '1')
		if z < 0 || z > 63-k || pos+2*z+k+1 > len(s) {
			return 0, false
		}
		v, _ := strconv.ParseUint(s[pos+z:pos+2*z+k+1], 2, 64)
		pos += 2*z + k + 1
		return v - 1<<k, true
	}
	qs = []int32{}
	for {
		r, ok := read(kr)
		if !ok || r > uint64(n-len(qs)) {
			return nil, false
		}
		qs = append(qs, make([]int32, r)...)
		if len(qs) == n {
			break
		}
		u, ok := read(kv)
		if !ok {
			return nil, false
		}
		q, ok := UnmapSigned(u + 1)
		if !ok {
			return nil, false
		}
		qs = append(qs, q)
	}
	// Only zero padding may follow, up to the end of the last byte.
	if (pos+7)/8*8 != len(s) || strings.Contains(s[pos:], "1") {
		return nil, false
	}
	return qs, true
}

func TestDecodeRunsMatchesReference(t *testing.T) {
	// Random streams, biased toward short codes, and valid streams with a bit flipped or cut: both
	// decoders must agree on success or failure and on the values; accepted streams are canonical.
	rng := rand.New(rand.NewPCG(27, 28))
	for iter := range 20000 {
		var src []byte
		var n, kr, kv int
		if iter%2 == 0 {
			src = make([]byte, rng.IntN(24))
			density := rng.IntN(4)
			for i := range src {
				b := byte(rng.Uint32())
				for range density {
					b |= byte(rng.Uint32())
				}
				src[i] = b
			}
			n, kr, kv = rng.IntN(60), rng.IntN(4), rng.IntN(4)
		} else {
			qs := sparsify(rng, logUniformInts(rng, rng.IntN(50)), rng.Float64())
			n, kr, kv = len(qs), rng.IntN(MaxK+1), rng.IntN(MaxK+1)
			src = AppendEncodeRuns(nil, qs, kr, kv)
			switch rng.IntN(3) {
			case 0:
				src[rng.IntN(len(src))] ^= 1 << rng.IntN(8)
			case 1:
				src = src[:rng.IntN(len(src)+1)]
			}
		}
		got, err := DecodeRuns(nil, src, n, kr, kv)
		want, ok := referenceDecodeRuns(bitString(src, int64(len(src))*8), n, kr, kv)
		require.Equalf(t, ok, err == nil, "stream %x n=%d kr=%d kv=%d: DecodeRuns error %v", src, n, kr, kv, err)
		if err != nil {
			require.Truef(t, errors.Is(err, ErrTruncated) || errors.Is(err, ErrInvalidCode) || errors.Is(err, ErrMalformed),
				"error wraps no sentinel: %v", err)
			continue
		}
		requireSameValues(t, want, got)
		require.Equal(t, src, AppendEncodeRuns(nil, got, kr, kv), "accepted stream is not canonical")
	}
}

func TestDecodeRunsErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		bits    string
		n       int
		kr, kv  int
		wantErr error
	}{
		{"empty stream", "", 0, 0, 0, ErrTruncated},
		{"empty stream, one value", "", 1, 0, 0, ErrTruncated},
		{"zero values", "10000000", 0, 0, 0, nil},
		{"zero values, bad padding", "10000001", 0, 0, 0, ErrMalformed},
		{"zero values, trailing byte", "1000000000000000", 0, 0, 0, ErrMalformed},
		{"zero values, run of 1", "01000000", 0, 0, 0, ErrInvalidCode},
		{"run overflows n", "00100000", 2, 0, 0, ErrInvalidCode},                              // Run of 3 zeros.
		{"run overflows n after a value", "1" + "1" + "011" + "000", 2, 0, 0, ErrInvalidCode}, // Runs 0, 2.
		{"run of n", "00100000", 3, 0, 0, nil},
		{"missing final run", "11000000", 1, 0, 0, ErrInvalidCode},     // Run 0, value 1, then the padding.
		{"final run cut", "1000" + "1" + "100", 1, 3, 0, ErrTruncated}, // The final run takes 4 bits.
		{"final run after a value must be 0", "1" + "1" + "010" + "000", 1, 0, 0, ErrInvalidCode},
		{"truncated in a value", "1" + "00001" + "00", 1, 0, 0, ErrTruncated},
		{"truncated in a value's prefix", "1" + "0000000", 1, 0, 0, ErrTruncated},
		{"value prefix too long", "1" + strings.Repeat("0", 33) + "1" + strings.Repeat("0", 33) + "1", 1, 0, 0, ErrInvalidCode},
		// u' = 2^32-2 would be MapSigned(q) = 2^32-1, the image of 2^31: no int32.
		{"value 2^31", "1" + strings.Repeat("0", 31) + strings.Repeat("1", 32) + "1", 1, 0, 0, ErrInvalidCode},
		{"value MinInt32", "1" + strings.Repeat("0", 32) + "1" + strings.Repeat("0", 32) + "1", 1, 0, 0, nil},
		{"value over 2^32", "1" + strings.Repeat("0", 32) + "11" + strings.Repeat("0", 31) + "1", 1, 0, 0, ErrInvalidCode},
		{"value over 2^32, kv=30", "1" + "00" + "11" + strings.Repeat("0", 31) + "1", 1, 0, 30, ErrInvalidCode},
		{"value prefix too long, kv=30", "1" + "000" + "1" + strings.Repeat("0", 33) + "1", 1, 0, 30, ErrInvalidCode},
		{"run code longer than 64 bits", strings.Repeat("0", 40) + "1" + strings.Repeat("0", 40), 5, 0, 0, ErrInvalidCode},
		{"all zeros", strings.Repeat("0", 200), 3, 0, 0, ErrInvalidCode},
		{"garbage after the stream", "1" + "1" + "1" + "00001", 1, 0, 0, ErrMalformed},
		{"garbage byte after the stream", "11100000" + "00000001", 1, 0, 0, ErrMalformed},
		{"bad kr", "1", 0, -1, 0, ErrMalformed},
		{"bad kv", "1", 0, 0, MaxK + 1, ErrMalformed},
		{"negative n", "1", -1, 0, 0, ErrMalformed},
		{"n too large for the bytes", "11111111", 1 << 20, 0, 0, ErrTruncated},
	} {
		got, err := DecodeRuns([]int32{1, 2, 3}, codeBits(tc.bits), tc.n, tc.kr, tc.kv)
		requireDecoded(t, tc.name, got, err, tc.n, tc.wantErr)
	}

	// The smallest stream of n values is a single run; n + 1 values can't fit in it.
	for _, kr := range []int{0, 1, 5, MaxK} {
		for _, n := range []int{0, 1, 2, 3, 100, 1 << 20} {
			enc := AppendEncodeRuns(nil, make([]int32, n), kr, 0)
			require.Len(t, enc, (runCodeLen(uint64(n), uint(kr))+7)/8)
			_, err := DecodeRuns(nil, enc, n, kr, 0)
			require.NoError(t, err)
			_, err = DecodeRuns(nil, enc[:len(enc)-1], n, kr, 0)
			require.ErrorIs(t, err, ErrTruncated)
		}
	}
}

// TestRunMinimalSize checks the bound used to validate counts before allocating: no stream of
// n values is shorter than the code of a single run of n zeros.
func TestRunMinimalSize(t *testing.T) {
	rng := rand.New(rand.NewPCG(29, 30))
	for range 20000 {
		n := rng.IntN(200)
		qs := make([]int32, n)
		for i := range qs {
			if rng.IntN(1+rng.IntN(8)) == 0 {
				qs[i] = int32(rng.IntN(3)) - 1
			}
		}
		kr, kv := rng.IntN(6), rng.IntN(3)
		require.GreaterOrEqual(t, RunBitLen(qs, kr, kv), int64(runCodeLen(uint64(n), uint(kr))))
	}
}

func TestEncodeRunsGrowth(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	qs := sparseInts(100000, 1, 0.95)

	// A nil buffer grows once, to about the exact size.
	require.Equal(t, 1.0, testing.AllocsPerRun(5, func() { AppendEncodeRuns(nil, qs, 3, 4) }))
	enc := AppendEncodeRuns(nil, qs, 3, 4)
	require.Less(t, cap(enc), len(enc)*9/8+4*runRoom)
	require.LessOrEqual(t, cap(AppendEncodeRuns(nil, []int32{1, 0, 3}, 0, 0)), 2*runRoom+16)

	// Reusing buffers doesn't allocate, and neither does decoding into a reused slice.
	dec := make([]int32, 0, len(qs))
	frame := AppendRunFrame(nil, qs, 3, 4, 0.1)
	allocs := testing.AllocsPerRun(5, func() {
		enc = AppendEncodeRuns(enc[:0], qs, 3, 4)
		dec, _ = DecodeRuns(dec[:0], enc, len(qs), 3, 4)
		frame = AppendRunFrame(frame[:0], qs, 3, 4, 0.1)
		dec, _, _ = DecodeFrame(dec[:0], frame)
	})
	require.Zero(t, allocs)
	requireSameValues(t, qs, dec)

	// A buffer that runs out of room mid-stream (long codes after a sparse start) still works.
	long := make([]int32, 3*encChunk)
	for i := 2 * encChunk; i < len(long); i++ {
		long[i] = int32(rng.Uint32()) | 1
	}
	for _, c := range []int{0, 1, 30, 100, 2000} {
		out := AppendEncodeRuns(make([]byte, 1, c+1), long, 0, 0)
		require.Equal(t, AppendEncodeRuns(nil, long, 0, 0), out[1:])
	}
	require.Panics(t, func() { AppendEncodeRuns(nil, qs, -1, 0) })
	require.Panics(t, func() { AppendEncodeRuns(nil, qs, 0, MaxK+1) })
	require.Panics(t, func() { RunBitLen(qs, MaxK+1, 0) })
}

// FuzzDecodeRuns checks that DecodeRuns never panics on arbitrary streams, that it agrees with the
// bit-by-bit reference decoder, and that accepted streams are canonical.
func FuzzDecodeRuns(f *testing.F) {
	f.Add(AppendEncodeRuns(nil, []int32{0, 0, 1, -1, 0, 0, 0, 100, 0}, 1, 0), uint8(9), uint8(1), uint8(0))
	f.Add(AppendEncodeRuns(nil, []int32{math.MinInt32, 0, math.MaxInt32}, 0, 0), uint8(3), uint8(0), uint8(0))
	f.Add(AppendEncodeRuns(nil, make([]int32, 40), 2, 3), uint8(40), uint8(2), uint8(3))
	f.Fuzz(func(t *testing.T, src []byte, n8, kr8, kv8 uint8) {
		n, kr, kv := int(n8), int(kr8%(MaxK+1)), int(kv8%(MaxK+1))
		got, err := DecodeRuns(nil, src, n, kr, kv)
		want, ok := referenceDecodeRuns(bitString(src, int64(len(src))*8), n, kr, kv)
		if ok != (err == nil) {
			t.Fatalf("DecodeRuns error %v, reference ok=%v", err, ok)
		}
		if err != nil {
			return
		}
		if !slices.Equal(want, got) {
			t.Fatalf("got %v, reference %v", got, want)
		}
		if again := AppendEncodeRuns(nil, got, kr, kv); !bytes.Equal(again, src) {
			t.Fatalf("accepted stream is not canonical:\n got  %x\n want %x", again, src)
		}
	})
}

// TestRunsHugeCountsAllocateNothing checks that invalid streams declaring huge counts, which a
// single run code can, are rejected before the count is allocated.
func TestRunsHugeCountsAllocateNothing(t *testing.T) {
	code := func(u uint64, k int) string { // The order-k code of u, as a string of bits.
		v := strconv.FormatUint(u+1<<k, 2)
		return strings.Repeat("0", len(v)-k-1) + v
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)

	// A run of 2^40 zeros, the whole count, then a garbage byte.
	_, err := DecodeRuns(nil, append(codeBits(code(1<<40, 0)), 0xFF), 1<<40, 0, 0)
	require.ErrorIs(t, err, ErrMalformed)

	// A frame declaring MaxRunCount values, whose runs and value add up to one less.
	stream := code(MaxRunCount-2, 3) + code(0, 0) + code(0, 3)
	frame := append([]byte{'E', 'G', RunFrameVersion, 3}, make([]byte, FrameHeaderSize-4)...)
	binary.LittleEndian.PutUint64(frame[4:], MaxRunCount)
	binary.LittleEndian.PutUint64(frame[16:], uint64(len(stream)))
	frame = refreshCRC(append(append(frame, codeBits(stream)...), 0, 0, 0, 0))
	_, _, err = DecodeFrame(nil, frame)
	require.ErrorIs(t, err, ErrTruncated)

	runtime.ReadMemStats(&after)
	require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(1<<20), "bytes allocated")
}
