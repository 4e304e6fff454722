package expgolomb

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"slices"
)

// decFastMaxLen is the longest code decoded from a window without reloading it: a window read
// at any bit offset holds at least 64-7 = 57 valid bits.
const decFastMaxLen = 57

// Decode decodes exactly n order-k Exp-Golomb codes from the bitstream src (as written by
// [AppendEncode]) and appends the values to dst. Bits of src after the n-th code are ignored.
//
// It returns the extended slice, or dst unchanged (its spare capacity possibly overwritten)
// and an error wrapping [ErrTruncated] if src ends before the n-th code, [ErrInvalidCode] if a
// code can't be the image of an int32, or [ErrMalformed] if k or n are out of range. It never
// panics and never reads outside src. Since every code takes at least k+1 bits, n is checked
// against len(src) before anything is allocated.
func Decode(dst []int32, src []byte, n, k int) ([]int32, error) {
	if err := validK(k); err != nil {
		return dst, err
	}
	if n < 0 {
		return dst, fmt.Errorf("%w: negative element count %d", ErrMalformed, n)
	}
	srcBits := uint64(len(src)) * 8
	if uint64(n) > srcBits/uint64(k+1) {
		return dst, fmt.Errorf("%w: %d values of at least %d bits each need more than the %d bytes given",
			ErrTruncated, n, k+1, len(src))
	}
	start := len(dst)
	dst = slices.Grow(dst, n)[:start+n]
	if _, err := decode(dst[start:], src, srcBits, uint(k)); err != nil {
		return dst[:start], err
	}
	return dst, nil
}

// decode fills out with the values of len(out) codes read from the first end bits of src
// (end <= 8*len(src)), and returns the number of bits consumed.
//
// It has three loops, from fastest to most careful:
//
//   - For small k, decodeTableRun: groups of table steps, each decoding up to decTableValues
//     codes at once from the next decTableBits bits with one look-up (see decTable).
//   - Code by code: the zero prefix of each code is counted with one leading-zeros instruction
//     on a 64-bit window of the stream, which is reloaded only when the next code doesn't fit.
//   - For codes that are long, invalid or cross the end of the stream: decodeOne.
func decode(out []int32, src []byte, end uint64, k uint) (uint64, error) {
	// Windows can be loaded with one 8-byte read while pos>>3 <= fastEnd: the window then
	// lies entirely within the first end bits of src.
	fastEnd := int64(end>>3) - 8
	// Codes with more than lim bits take the slow path: they are either too long for one
	// window or long enough (v >= 2^32) that their value needs an int32 range check.
	lim := min(uint(63-k), decFastMaxLen)
	k1 := k + 1
	pow := uint64(1) << k

	var pos uint64 // Bit position in src of the next code.
	i := 0         // Index in out of the next code.
	if k <= decTableMaxK {
		decTablesOnce.Do(buildDecTables)
		for {
			i, pos = decodeTableRun(out, i, src, pos, fastEnd, k)
			if i > len(out)-decGroupValues || int64(pos>>3) > fastEnd {
				break
			}
			// The code at pos is longer than decTableBits: decode it alone.
			w := binary.BigEndian.Uint64(src[pos>>3:]) << (pos & 7)
			if l := 2*uint(bits.LeadingZeros64(w)) + k1; l <= lim {
				out[i] = unmap(w>>(64-l) - pow)
				pos += uint64(l)
			} else {
				q, n, err := decodeOne(src, pos, end, k)
				if err != nil {
					return pos, fmt.Errorf("%w (value %d of %d, at bit %d)", err, i, len(out), pos)
				}
				out[i] = q
				pos += uint64(n)
			}
			i++
		}
	}

	var w uint64   // Window of upcoming bits, left-aligned.
	var avail uint // Bits of w that codes may use before a reload.
	for ; i < len(out); i++ {
		l := 2*uint(bits.LeadingZeros64(w)) + k1
		if l > avail {
			if int64(pos>>3) <= fastEnd {
				w = binary.BigEndian.Uint64(src[pos>>3:]) << (pos & 7)
				avail = min(64-uint(pos&7), lim)
			} else {
				w = peek(src, pos, end)
				avail = uint(min(end-pos, uint64(lim)))
			}
			l = 2*uint(bits.LeadingZeros64(w)) + k1
			if l > avail {
				q, n, err := decodeOne(src, pos, end, k)
				if err != nil {
					return pos, fmt.Errorf("%w (value %d of %d, at bit %d)", err, i, len(out), pos)
				}
				out[i] = q
				pos += uint64(n)
				w, avail = 0, 0 // Forces a reload for the next value.
				continue
			}
		}
		v := w >> ((64 - l) & 63)
		w <<= l & 63
		avail -= l
		pos += uint64(l)
		out[i] = unmap(v - pow)
	}
	return pos, nil
}

// decodeTableRun decodes codes from src at bit pos into out[i:] with the table of order k, a
// group of decGroupSteps table steps per 64-bit window, while there's room in out for a whole
// group and the window fits below byte fastEnd of src. It returns the new i and pos, early if
// the code at pos is longer than decTableBits. It is the hot loop of the decoder, kept apart so
// the compiler holds all its state in registers.
func decodeTableRun(out []int32, i int, src []byte, pos uint64, fastEnd int64, k uint) (int, uint64) {
	t := &decTables[k]
	for i <= len(out)-decGroupValues && int64(pos>>3) <= fastEnd {
		w := binary.BigEndian.Uint64(src[pos>>3:]) << (pos & 7)
		for range decGroupSteps {
			idx := w >> (64 - decTableBits)
			m := uint(t.meta[idx])
			if m == 0 {
				return i, pos
			}
			*(*[decTableValues]int32)(out[i : i+decTableValues]) = t.vals[idx]
			w <<= m & 15
			pos += uint64(m & 15)
			i += int(m >> 4)
		}
	}
	return i, pos
}

// peek returns the 64 bits of src starting at bit pos, with the bits at or after bit end
// (end <= 8*len(src)) set to zero.
func peek(src []byte, pos, end uint64) uint64 {
	if pos >= end {
		return 0
	}
	var b [9]byte
	i := pos >> 3
	copy(b[:], src[i:min(uint64(len(src)), i+9)])
	sh := pos & 7
	w := binary.BigEndian.Uint64(b[:8])<<sh | uint64(b[8])>>(8-sh)
	if rem := end - pos; rem < 64 {
		w &^= ^uint64(0) >> rem
	}
	return w
}

// decodeOne decodes the code at bit pos, checking everything: the slow path of decode.
// It returns the value and the code length.
func decodeOne(src []byte, pos, end uint64, k uint) (int32, uint, error) {
	// Longest valid zero prefix: v = MapSigned(MinInt32) + 2^k < 2^33.
	v, l, err := readCode(src, pos, end, k, 32-k)
	if err != nil {
		return 0, 0, err
	}
	q, ok := UnmapSigned(v - uint64(1)<<k)
	if !ok {
		return 0, 0, fmt.Errorf("%w: decoded value %d is outside the int32 range", ErrInvalidCode, v-uint64(1)<<k)
	}
	return q, l, nil
}

// readCode reads the order-k Exp-Golomb code at bit pos of the first end bits of src, checking
// everything: its zero prefix may be at most maxZeros bits long (maxZeros <= 63-k), and the code
// must end by bit end. It returns the code's value field v = u + 2^k and the code length.
func readCode(src []byte, pos, end uint64, k, maxZeros uint) (uint64, uint, error) {
	avail := end - pos
	z := uint(bits.LeadingZeros64(peek(src, pos, end)))
	// The zero bits before the end: z, or all that's left if there's no terminating one bit.
	if min(uint64(z), avail) > uint64(maxZeros) {
		return 0, 0, fmt.Errorf("%w: more than %d leading zero bits, the most a valid code has here (k=%d)",
			ErrInvalidCode, maxZeros, k)
	}
	if uint64(z) >= avail {
		return 0, 0, fmt.Errorf("%w: stream ends inside a code's zero prefix", ErrTruncated)
	}
	n := z + k + 1 // Bits of v = u + 2^k: at most 64.
	l := z + n
	if uint64(l) > avail {
		return 0, 0, fmt.Errorf("%w: code of %d bits but only %d bits left", ErrTruncated, l, avail)
	}
	return peek(src, pos+uint64(z), end) >> (64 - n), l, nil
}
