package expgolomb_test

import (
	"fmt"

	"github.com/ggprior/ggprior/optimizers/expgolomb"
)

func Example() {
	// Quantized gradients: mostly zeros and small values.
	qs := []int32{0, 0, 1, -1, 0, 3, 0, 0, -2, 0, 0, 0, 17, 0, 1, 0}
	k, nbits := expgolomb.BestK(qs)
	frame := expgolomb.AppendFrame(nil, qs, k, 0.001)
	fmt.Printf("k=%d: %d payload bits, %d-byte frame\n", k, nbits, len(frame))

	decoded, header, err := expgolomb.DecodeFrame(nil, frame)
	if err != nil {
		panic(err)
	}
	fmt.Println(decoded, header.K, header.Delta)

	// A single flipped bit is caught.
	frame[30] ^= 0x04
	_, _, err = expgolomb.DecodeFrame(nil, frame)
	fmt.Println(err != nil)

	// Output:
	// k=0: 40 payload bits, 33-byte frame
	// [0 0 1 -1 0 3 0 0 -2 0 0 0 17 0 1 0] 0 0.001
	// true
}
