package expgolomb

import (
	"encoding/binary"
	"math/bits"
	"slices"
)

// encChunk is how many values are encoded between two checks of the output capacity.
const encChunk = 1 << 12

// encodedMaxBytes bounds the bytes stored when encoding n values: their codes, a partial word
// carried from previous values, and the final 8-byte store of the last partial word. It adds 8
// bytes, so that a frame's checksum can follow the stream without reallocating.
func encodedMaxBytes(n int) int {
	return n*MaxCodeLen/8 + 24
}

// AppendEncode appends the order-k Exp-Golomb codes of qs to dst, as one bitstream starting at
// a byte boundary, most significant bit first, with the last byte padded with zero bits.
// It returns the extended buffer, which grows by exactly (BitLen(qs, k)+7)/8 bytes.
//
// The stream doesn't record len(qs) or k: use [AppendFrame] for a self-describing format.
// Reusing dst (e.g. AppendEncode(buf[:0], ...)) avoids allocations altogether; otherwise the
// buffer grows as needed, usually with a single reallocation whose size is extrapolated from
// the first few thousand values.
//
// It panics if k is not in [0, MaxK].
func AppendEncode(dst []byte, qs []int32, k int) []byte {
	checkK(k)
	out, _ := appendEncode(dst, qs, uint(k))
	return out
}

// appendEncode implements AppendEncode and also returns the stream length in bits.
//
// Bits are gathered most significant first in acc, a 64-bit accumulator with free unused low
// bits, and stored one whole word at a time to buf[pos:], which always has room for the next
// chunk of values: buf is used up to its capacity.
func appendEncode(dst []byte, qs []int32, k uint) ([]byte, int64) {
	encTablesOnce.Do(buildEncTables)
	start := len(dst)
	buf, pos := dst[:cap(dst)], start
	acc, free := uint64(0), uint(64)
	for done := 0; done < len(qs); done += encChunk {
		chunk := qs[done:min(done+encChunk, len(qs))]
		if len(buf)-pos < encodedMaxBytes(len(chunk)) {
			buf = ensureEncodeRoom(buf, pos, start, qs, done, k)
		}
		pos, acc, free = encodeChunk(buf, pos, acc, free, chunk, k)
	}
	return finishEncode(buf, start, pos, acc, free)
}

// finishEncode stores the last partial word of a stream that started at byte start of buf (there
// must be room for 8 bytes at pos), and returns the stream's buffer, cut after its last byte, and
// its length in bits.
func finishEncode(buf []byte, start, pos int, acc uint64, free uint) ([]byte, int64) {
	nbits := int64(pos-start)*8 + int64(64-free)
	if free < 64 {
		binary.BigEndian.PutUint64(buf[pos:], acc)
	}
	return buf[:start+int((nbits+7)/8)], nbits
}

// ensureEncodeRoom returns buf (used up to its capacity) with room after pos for the next chunk
// of values, qs[done:done+encChunk], whose exact size it computes. If buf must grow, the room
// also covers an estimate of the values after the chunk, extrapolated from the average size of
// the values encoded so far and of the chunk, with a margin: a large slice usually needs a single
// reallocation, and a small one gets a buffer of about its size.
func ensureEncodeRoom(buf []byte, pos, start int, qs []int32, done int, k uint) []byte {
	chunk := qs[done:min(done+encChunk, len(qs))]
	chunkBits := BitLen(chunk, int(k))
	need := int(chunkBits/8) + encodedMaxBytes(0)
	if len(buf)-pos >= need {
		return buf
	}
	if rest := len(qs) - done - len(chunk); rest > 0 {
		bitsPerValue := float64(int64(pos-start)*8+chunkBits) / float64(done+len(chunk))
		need += int(1.125 * bitsPerValue / 8 * float64(rest))
	}
	buf = slices.Grow(buf[:pos], need)
	return buf[:cap(buf)]
}

// put writes the l-bit field v (1 <= l <= 64, v < 2^l): into acc if it fits, otherwise the
// part that fits completes acc, which is stored to buf[pos:], and the rest starts a new word.
// It returns the new pos, acc and free. Small enough to be inlined.
func put(buf []byte, pos int, acc uint64, free uint, v uint64, l uint) (int, uint64, uint) {
	if l < free {
		free -= l
		return pos, acc | v<<(free&63), free
	}
	over := l - free // Bits of v that don't fit, in [0, 63].
	binary.BigEndian.PutUint64(buf[pos:], acc|v>>(over&63))
	free = 64 - over
	return pos + 8, v << free, free // v << 64 is 0.
}

// encodeChunk encodes qs, with room for encodedMaxBytes(len(qs)) bytes in buf[pos:].
// Pairs of small values are coded with one look-up in encPairTables when k <= encPairMaxK; other
// values use encTables, and the arithmetic for the few larger values.
func encodeChunk(buf []byte, pos int, acc uint64, free uint, qs []int32, k uint) (int, uint64, uint) {
	i := 0
	if k <= encPairMaxK {
		for {
			var e uint64
			i, acc, free, e = encodePairRun(qs, i, k, acc, free)
			if e != 0 {
				pos, acc, free = put(buf, pos, acc, free, e>>8, uint(e&0xFF))
				continue
			}
			if i+1 >= len(qs) {
				break
			}
			// A pair with a larger value: code it value by value.
			pos, acc, free = encodeSingles(buf, pos, acc, free, qs[i:i+2], k)
			i += 2
		}
	}
	return encodeSingles(buf, pos, acc, free, qs[i:], k)
}

// encodePairRun codes pairs of small values qs[i], qs[i+1] into acc, with the pair table of some
// order, for as long as they fit. It returns the new i, acc and free, and e: zero if it stopped
// at the end of qs or at a pair with a larger value, or otherwise the table entry of the pair that
// didn't fit in acc, which the caller must write (i is already past that pair).
// It is the hot loop of the encoder, kept apart so the compiler holds all its state in registers.
func encodePairRun(qs []int32, i int, k uint, acc uint64, free uint) (int, uint64, uint, uint64) {
	table := &encPairTables[k]
	// Loop on the index j of the second value of the pair: 0 < j < len(qs) proves both in range.
	j := i + 1
	for ; j < len(qs) && j > 0; j += 2 {
		ia, ib := uint32(qs[j-1]+encPairRadius), uint32(qs[j]+encPairRadius)
		if ia|ib >= 2*encPairRadius {
			break
		}
		e := table[(ia*2*encPairRadius+ib)%(4*encPairRadius*encPairRadius)]
		l := uint(e & 0xFF)
		if l >= free {
			return j + 1, acc, free, e
		}
		free -= l
		acc |= e >> 8 << (free & 63)
	}
	return j - 1, acc, free, 0
}

// encodeSingles is encodeChunk one value at a time.
func encodeSingles(buf []byte, pos int, acc uint64, free uint, qs []int32, k uint) (int, uint64, uint) {
	table := &encTables[k]
	pow := uint64(1) << k
	for _, q := range qs {
		var v uint64
		var l uint
		if idx := uint32(q + encTableRadius); idx < 2*encTableRadius {
			e := table[idx]
			v, l = e>>8, uint(e&0xFF)
		} else {
			pos, acc, free = putCode(buf, pos, acc, free, MapSigned(q)+pow, k)
			continue
		}
		pos, acc, free = put(buf, pos, acc, free, v, l)
	}
	return pos, acc, free
}

// putCode writes the order-k Exp-Golomb code whose value field is v = u + 2^k (so 2^k <= v), of
// any length: a code longer than 64 bits (math.MinInt32 with k = 0, or a long run of zeros) is
// written as its zero prefix, then v. It stores at most two words to buf[pos:].
func putCode(buf []byte, pos int, acc uint64, free uint, v uint64, k uint) (int, uint64, uint) {
	n := uint(bits.Len64(v))
	l := 2*n - k - 1
	if l > 64 {
		// The zero prefix n-k-1 is then in [1, 63], as n <= 64.
		pos, acc, free = put(buf, pos, acc, free, 0, n-k-1)
		l = n
	}
	return put(buf, pos, acc, free, v, l)
}
