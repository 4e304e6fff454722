package ggrans

import "errors"

// Errors returned (wrapped, with details) by the decoders and the model. Test for them with
// errors.Is.
var (
	// ErrTruncated means the input ends before all declared bytes could be read.
	ErrTruncated = errors.New("ggrans: truncated input")

	// ErrChecksum means the CRC-32C of a frame doesn't match its contents.
	ErrChecksum = errors.New("ggrans: checksum mismatch")

	// ErrMalformed means a frame is structurally wrong: bad magic or version, header fields that
	// disagree with each other or with the payload, trailing bytes, non-zero padding bits, or a
	// stream that is not the canonical coding of its values.
	ErrMalformed = errors.New("ggrans: malformed input")

	// ErrInvalidCode means a stream decodes to something no encoder writes: a rANS stream that
	// ends early or doesn't return to its initial states, or an escape code outside the int32
	// range.
	ErrInvalidCode = errors.New("ggrans: invalid code")

	// ErrModelMismatch means the decoder built a different probability table from the frame's
	// parameters than the encoder did (the frame carries a checksum of the table). It can only
	// happen between machines whose float64 math library rounds differently.
	ErrModelMismatch = errors.New("ggrans: probability model mismatch")

	// ErrParameter means invalid model parameters: alpha, beta or step not positive and finite.
	ErrParameter = errors.New("ggrans: invalid model parameter")
)
