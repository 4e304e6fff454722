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

func Example_zeroRuns() {
	// Sparse activations: mostly exact zeros, the others anywhere in the int8 range.
	qs := make([]int32, 64)
	qs[3], qs[10], qs[11], qs[40], qs[63] = 5, -1, 2, -120, 1
	kr, kv, nbits := expgolomb.BestRunK(qs)
	_, perValueBits := expgolomb.BestK(qs)
	frame := expgolomb.AppendRunFrame(nil, qs, kr, kv, 0.05)
	fmt.Printf("kr=%d kv=%d: %d payload bits (%d with per-value codes), %d-byte frame\n",
		kr, kv, nbits, perValueBits, len(frame))

	decoded, header, err := expgolomb.DecodeFrame(nil, frame)
	if err != nil {
		panic(err)
	}
	fmt.Println(decoded[:12], header.Runs, header.K, header.KV, header.Count)

	// Output:
	// kr=0 kv=2: 57 payload bits (92 with per-value codes), 36-byte frame
	// [0 0 0 5 0 0 0 0 0 0 -1 2] true 0 2 64
}
