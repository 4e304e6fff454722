package expgolomb

import (
	"errors"
	"fmt"
)

// Errors returned (wrapped, with details) by the decoders. Test for them with errors.Is.
var (
	// ErrTruncated means the input ends before all declared values or bytes could be read.
	ErrTruncated = errors.New("expgolomb: truncated input")

	// ErrInvalidCode means the bitstream holds a code that no int32 can produce: a zero
	// prefix longer than possible for the order k, or a value outside the int32 range.
	ErrInvalidCode = errors.New("expgolomb: invalid code")

	// ErrChecksum means the CRC-32C of a frame doesn't match its contents.
	ErrChecksum = errors.New("expgolomb: checksum mismatch")

	// ErrMalformed means a frame is structurally wrong: bad magic or version, an invalid k,
	// header fields that disagree with each other or with the payload, trailing bytes, or
	// non-zero padding bits. It is also used for invalid arguments to the decoders.
	ErrMalformed = errors.New("expgolomb: malformed input")
)

// checkK panics if k is not a valid order: encoding with an invalid k is a programming error.
// The panic value is an error, as GoMLX expects from graph-building functions.
func checkK(k int) {
	if k < 0 || k > MaxK {
		panic(fmt.Errorf("expgolomb: order k=%d out of range [0, %d]", k, MaxK))
	}
}

// validK returns an error wrapping ErrMalformed if k is not a valid order.
func validK(k int) error {
	if k < 0 || k > MaxK {
		return fmt.Errorf("%w: order k=%d out of range [0, %d]", ErrMalformed, k, MaxK)
	}
	return nil
}
