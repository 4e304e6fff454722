package sparse_test

import (
	"fmt"

	"github.com/ggprior/ggprior/layers/sparse"
)

// The layer after an ACT site, for one token: an activation of 4 with 2 zeros
// times a Dense kernel [4, 3] (GoMLX's [in, out] layout), plus its bias.
func ExampleMatVec() {
	x := []float32{0, 2, 0, -1}
	w := []float32{
		1, 2, 3, // Row 0, skipped: x[0] is 0.
		4, 5, 6,
		7, 8, 9, // Row 2, skipped.
		1, 1, 1,
	}
	bias := []float32{0.5, 0, -0.5}
	y := make([]float32, 3)
	sparse.MatVec(y, x, w, bias, 4, 3)
	fmt.Println(y, sparse.Sparsity(x))
	// Output: [7.5 9 10.5] 0.5
}
