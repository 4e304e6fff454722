package expgolomb

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"slices"
)

// runRoom is the room in bytes the zero-run encoder keeps after pos: the codes of a run and of a
// value (at most 127 + 65 bits, stored in at most four whole words), or of the last run and the
// last partial word; plus 8 bytes, so that a frame's checksum can follow without reallocating.
const runRoom = 48

// nextNonzero returns the index of the first nonzero value of qs at or after i, or len(qs) if
// there is none (i <= len(qs)). It skips zeros 8 at a time.
func nextNonzero(qs []int32, i int) int {
	for ; i <= len(qs)-8; i += 8 {
		b := (*[8]int32)(qs[i : i+8])
		if b[0]|b[1]|b[2]|b[3]|b[4]|b[5]|b[6]|b[7] != 0 {
			break
		}
	}
	for i < len(qs) && qs[i] == 0 {
		i++
	}
	return i
}

// runCodeLen returns the length in bits of the order-k Exp-Golomb code of the run length r: the
// fewest bits that code r values in zero-run mode, all zeros (see ParseFrameHeader).
func runCodeLen(r uint64, k uint) int {
	return codeLen(r, k)
}

// RunBitLen returns the exact length in bits of the zero-run code of qs with orders kr (for the
// runs of zeros) and kv (for the nonzero values): the payload size of [AppendEncodeRuns] and
// [AppendRunFrame] before padding to a whole byte, so
// len(AppendEncodeRuns(nil, qs, kr, kv)) == (RunBitLen(qs, kr, kv)+7)/8.
//
// Each nonzero q costs the order-kr code of the run r of zeros before it, 2*floor(log2(r + 2^kr))
// - kr + 1 bits, plus the order-kv code of MapSigned(q)-1; the trailing run costs its code too.
// Zeros cost nothing by themselves, only through the length of their run's code. See
// [AppendEncodeRuns].
//
// It panics if kr or kv is not in [0, MaxK].
func RunBitLen(qs []int32, kr, kv int) int64 {
	checkK(kr)
	checkK(kv)
	return runBitLen(qs, uint(kr), uint(kv))
}

// runBitLen implements RunBitLen, for valid orders.
func runBitLen(qs []int32, kr, kv uint) int64 {
	powR, powV := uint64(1)<<kr, uint64(1)<<kv
	// Sum of 2*Len(v) over the codes, minus k+1 per code.
	var sum, nnz int64
	next := 0 // Start of the current run.
	for i := nextNonzero(qs, 0); i < len(qs); i = nextNonzero(qs, i+1) {
		sum += int64(bits.Len64(uint64(i-next)+powR) + bits.Len64(MapSigned(qs[i])-1+powV))
		nnz++
		next = i + 1
	}
	sum += int64(bits.Len64(uint64(len(qs)-next) + powR))
	return 2*sum - (nnz+1)*int64(kr+1) - nnz*int64(kv+1)
}

// BestRunK returns the orders kr and kv in [0, MaxK] that minimise RunBitLen(qs, kr, kv), and
// that minimum. The runs of zeros and the nonzero values are coded independently, so each order
// is the cheapest for its own part; ties go to the smallest order. An empty qs gives kr = kv = 0
// and 1 bit (the code of its empty final run).
//
// Like [BestK], it makes a single pass over qs, building histograms of the runs' and the values'
// (m, t) buckets, which give every code length exactly.
func BestRunK(qs []int32) (kr, kv int, nbits int64) {
	var runHist [runLenBuckets * runLenBuckets]int64
	var valueHist [lenBuckets * lenBuckets]int64
	next := 0 // Start of the current run.
	for i := nextNonzero(qs, 0); i < len(qs); i = nextNonzero(qs, i+1) {
		runHist[lengthBucket(uint64(i-next), runLenBuckets)]++
		valueHist[lengthBucket(MapSigned(qs[i])-1, lenBuckets)]++
		next = i + 1
	}
	runHist[lengthBucket(uint64(len(qs)-next), runLenBuckets)]++
	kr, runBits := cheapestK(bitLensFromHistogram(runHist[:], runLenBuckets))
	kv, valueBits := cheapestK(bitLensFromHistogram(valueHist[:], lenBuckets))
	return kr, kv, runBits + valueBits
}

// AppendEncodeRuns appends the zero-run code of qs with orders kr and kv to dst, as one bitstream
// starting at a byte boundary, most significant bit first, with the last byte padded with zero
// bits. It returns the extended buffer, which grows by exactly (RunBitLen(qs, kr, kv)+7)/8 bytes.
//
// For each nonzero value q, in order, the stream holds the order-kr Exp-Golomb code of the number
// r of zeros before it (since the previous nonzero value or the start), then the order-kv code of
// MapSigned(q)-1; and last, always, the order-kr code of the number of trailing zeros (so an
// empty or all-zero qs is a single run code). Zeros cost no bits of their own, which suits
// sparse data: with 95% zeros, a few tenths of a bit per value, where [AppendEncode] takes at
// least one bit per value. Use [BestRunK] to pick the orders.
//
// The stream doesn't record len(qs), kr or kv: use [AppendRunFrame] for a self-describing
// format. Reusing dst with enough capacity avoids allocations altogether; otherwise the buffer
// grows once, to the exact size needed (computed by a second pass over the values left).
//
// It panics if kr or kv is not in [0, MaxK].
func AppendEncodeRuns(dst []byte, qs []int32, kr, kv int) []byte {
	checkK(kr)
	checkK(kv)
	out, _ := appendEncodeRuns(dst, qs, uint(kr), uint(kv))
	return out
}

// appendEncodeRuns implements AppendEncodeRuns and also returns the stream length in bits. It
// uses the accumulator of appendEncode, and keeps runRoom bytes of room after pos.
func appendEncodeRuns(dst []byte, qs []int32, kr, kv uint) ([]byte, int64) {
	start := len(dst)
	buf, pos := dst[:cap(dst)], start
	acc, free := uint64(0), uint(64)
	powR, powV := uint64(1)<<kr, uint64(1)<<kv
	next := 0 // Start of the current run.
	for i := nextNonzero(qs, 0); ; i = nextNonzero(qs, i+1) {
		if len(buf)-pos < runRoom {
			// Room for everything left: the current run and the values after it.
			need := int(runBitLen(qs[next:], kr, kv)/8) + 2*runRoom
			buf = slices.Grow(buf[:pos], need)
			buf = buf[:cap(buf)]
		}
		vr := uint64(i-next) + powR
		if i == len(qs) {
			pos, acc, free = putCode(buf, pos, acc, free, vr, kr)
			break
		}
		vv := MapSigned(qs[i]) - 1 + powV
		lr := 2*uint(bits.Len64(vr)) - kr - 1
		lv := 2*uint(bits.Len64(vv)) - kv - 1
		if lr+lv <= 64 {
			// Both codes at once: the usual case.
			pos, acc, free = put(buf, pos, acc, free, vr<<lv|vv, lr+lv)
		} else {
			pos, acc, free = putCode(buf, pos, acc, free, vr, kr)
			pos, acc, free = putCode(buf, pos, acc, free, vv, kv)
		}
		next = i + 1
	}
	return finishEncode(buf, start, pos, acc, free)
}

// DecodeRuns decodes the zero-run code of exactly n values with orders kr and kv from src (as
// written by [AppendEncodeRuns]) and appends the values to dst.
//
// src must hold exactly the stream: after the code of the last run, only the zero padding bits of
// the last byte may follow. Together with the checks on every run (a run can't extend past n
// values, and the last one must end exactly at n), this makes accepted streams canonical:
// AppendEncodeRuns of the values gives back src.
//
// It returns the extended slice, or dst unchanged (its spare capacity possibly overwritten) and an
// error wrapping [ErrTruncated] if src ends early, [ErrInvalidCode] if a run overflows n or a code
// can't be the image of a nonzero int32, or [ErrMalformed] if kr, kv or n are out of range or src
// has trailing bits. It never panics and never reads outside src.
//
// Zeros take so few bits that n isn't bounded by len(src) as in [Decode], but a wrong n or a
// corrupt src can't cause a large allocation either: n values take at least the code of a run
// of n zeros, 2*bits.Len64(n + 2^kr) - kr - 1 bits (no stream of n values is shorter), which is
// checked first; and if dst lacks room for n values and n exceeds 8 values per bit of src (plus
// 4096), a first pass validates the whole stream before anything is allocated.
func DecodeRuns(dst []int32, src []byte, n, kr, kv int) ([]int32, error) {
	if err := validK(kr); err != nil {
		return dst, err
	}
	if err := validK(kv); err != nil {
		return dst, err
	}
	if n < 0 {
		return dst, fmt.Errorf("%w: negative element count %d", ErrMalformed, n)
	}
	srcBits := uint64(len(src)) * 8
	if minBits := runCodeLen(uint64(n), uint(kr)); uint64(minBits) > srcBits {
		return dst, fmt.Errorf("%w: %d values take at least %d bits, but only %d bytes are given",
			ErrTruncated, n, minBits, len(src))
	}
	return appendRuns(dst, n, src, srcBits, uint(kr), uint(kv), false)
}

const (
	// runPreallocPerBit and runPreallocMin bound the values that appendRuns allocates before it has
	// validated a stream: runPreallocPerBit per bit of the stream, plus runPreallocMin.
	runPreallocPerBit = 8
	runPreallocMin    = 1 << 12
)

// appendRuns appends to dst the n values of the zero-run stream held in the first end bits of
// src, and checks that the stream ends there: exactly at bit end if exact (frames, whose padding
// the caller checks), or else in the last byte of src, followed by zero padding bits.
//
// If dst must grow by much more than the stream's size (see runPreallocPerBit), a first pass
// decodes the stream without storing values, so that invalid streams allocate nothing.
func appendRuns(dst []int32, n int, src []byte, end uint64, kr, kv uint, exact bool) ([]int32, error) {
	if n > cap(dst)-len(dst) && uint64(n) > runPreallocPerBit*end+runPreallocMin {
		if err := decodeRunStream(nil, n, src, end, kr, kv, exact); err != nil {
			return dst, err
		}
	}
	start := len(dst)
	dst = slices.Grow(dst, n)[:start+n]
	if err := decodeRunStream(dst[start:], n, src, end, kr, kv, exact); err != nil {
		return dst[:start], err
	}
	return dst, nil
}

// decodeRunStream is decodeRuns followed by the checks of appendRuns on the end of the stream.
func decodeRunStream(out []int32, n int, src []byte, end uint64, kr, kv uint, exact bool) error {
	used, err := decodeRuns(out, n, src, end, kr, kv)
	switch {
	case err != nil:
		return err
	case exact:
		return checkAllBitsUsed(n, used, end)
	case end-used >= 8:
		return fmt.Errorf("%w: the stream ends at bit %d, but %d bytes are given", ErrMalformed, used, len(src))
	}
	return checkPadding(src, used)
}

// checkAllBitsUsed returns an error wrapping ErrMalformed if the n values of a frame used fewer
// than its end payload bits.
func checkAllBitsUsed(n int, used, end uint64) error {
	if used != end {
		return fmt.Errorf("%w: %d values use %d bits, but the header declares %d payload bits", ErrMalformed, n, used, end)
	}
	return nil
}

// checkPadding returns an error wrapping ErrMalformed if the bits of src after the first end bits
// (end > 8*len(src)-8) aren't all zeros.
func checkPadding(src []byte, end uint64) error {
	if pad := end & 7; pad != 0 && src[len(src)-1]<<pad != 0 {
		return fmt.Errorf("%w: non-zero padding bits after the %d payload bits", ErrMalformed, end)
	}
	return nil
}

// decodeRuns decodes the n values of a zero-run stream from the first end bits of src (end <=
// 8*len(src)) into out, which has length n or is nil to only validate the codes, and returns the
// number of bits consumed.
//
// Most run and value pairs fit in one 64-bit window, read with one load and decoded with two
// count-leading-zeros instructions; the others, and those close to the end of the stream, are
// decoded code by code with readCode, which checks everything.
func decodeRuns(out []int32, n int, src []byte, end uint64, kr, kv uint) (uint64, error) {
	fastEnd := int64(end>>3) - 8 // As in decode.
	powR, powV := uint64(1)<<kr, uint64(1)<<kv
	// Value codes of at most valueLim bits have v < 2^31: they code valid int32 values.
	valueLim := 61 - kv
	var pos uint64 // Bit position in src of the next code.
	i := 0         // Index of the next value.
	for {
		if int64(pos>>3) <= fastEnd {
			w := binary.BigEndian.Uint64(src[pos>>3:]) << (pos & 7)
			lr := 2*uint(bits.LeadingZeros64(w)) + kr + 1
			lv := 2*uint(bits.LeadingZeros64(w<<(lr&63))) + kv + 1 // Meaningful if lr < 64.
			if lr+lv <= decFastMaxLen && lv <= valueLim {
				if r := w>>(64-lr) - powR; r < uint64(n-i) { // Not the last run: a value follows.
					r := int(r)
					if out != nil {
						clear(out[i : i+r])
						out[i+r] = unmap(w<<(lr&63)>>((64-lv)&63) - powV + 1)
					}
					i += r + 1
					pos += uint64(lr + lv)
					continue
				}
			}
		}
		// The careful path: a run, then a value unless the run was the last.
		rest := uint64(n - i)
		maxZeros := uint(bits.Len64(rest+powR)) - kr - 1 // Zero prefix of the longest run left.
		v, l, err := readCode(src, pos, end, kr, maxZeros)
		if err == nil && v-powR > rest {
			err = fmt.Errorf("%w: run of %d zeros, but only %d values are left", ErrInvalidCode, v-powR, rest)
		}
		if err != nil {
			return pos, fmt.Errorf("%w (run before value %d of %d, at bit %d)", err, i, n, pos)
		}
		if out != nil {
			clear(out[i : i+int(v-powR)])
		}
		i += int(v - powR)
		pos += uint64(l)
		if i == n {
			return pos, nil
		}
		v, l, err = readCode(src, pos, end, kv, 32-kv)
		q, ok := UnmapSigned(v - powV + 1)
		if err == nil && !ok {
			err = fmt.Errorf("%w: decoded value %d is not the image of a nonzero int32", ErrInvalidCode, v-powV)
		}
		if err != nil {
			return pos, fmt.Errorf("%w (value %d of %d, at bit %d)", err, i, n, pos)
		}
		if out != nil {
			out[i] = q
		}
		i++
		pos += uint64(l)
	}
}
