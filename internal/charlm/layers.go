package charlm

import (
	"github.com/gomlx/compute"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/nn"
	. "github.com/gomlx/gomlx/support/exceptions"
)

// maskedScore is added to the attention scores of future positions: exp() of it
// (relative to any real score) is exactly 0 in float32, and unlike -Inf it can
// never produce NaN.
const maskedScore = -1e9

// linear computes x @ w (+ b): x is [..., in], w is [in, out], b is [out] or nil.
func linear(x, w, b *Node) *Node {
	return nn.Dense(x, w, b, compute.DenseLayoutInputOutputs)
}

// causalMaskBias returns the constant [seq, seq] added to attention scores: 0 where
// key position <= query position, maskedScore elsewhere.
func causalMaskBias(g *Graph, seq int) *Node {
	mask := make([][]float32, seq)
	for q := range mask {
		mask[q] = make([]float32, seq)
		for k := q + 1; k < seq; k++ {
			mask[q][k] = maskedScore
		}
	}
	return Const(g, mask)
}

// projectQKV computes the query, key and value projections of x [batch, seq,
// width] with a fused QKV weight w [width, 3*width] (columns: query, key, value)
// and optional fused bias b [3*width], and returns each split into heads:
// [batch, heads, seq, headWidth].
//
// It is one matmul followed by a split of the activation. (Three matmuls on
// slices of the weight would avoid the zero-padding that the activation split
// costs in the backward pass, but three independent matmuls running at once
// can exhaust the Go backend's worker pool, which then deadlocks.)
func projectQKV(x, w, b *Node, heads int) (q, k, v *Node) {
	width := x.Shape().Dim(-1)
	if w.Rank() != 2 || w.Shape().Dim(0) != width || w.Shape().Dim(1) != 3*width || width%heads != 0 {
		Panicf("charlm: fused QKV weight must be [%d, %d] for %d heads, got %s", width, 3*width, heads, w.Shape())
	}
	batch, seq, headWidth := x.Shape().Dim(0), x.Shape().Dim(1), width/heads
	qkv := linear(x, w, b)                              // [batch, seq, 3*width]
	qkv = Reshape(qkv, batch, seq, 3, heads, headWidth) // [batch, seq, 3, heads, headWidth]
	qkv = TransposeAllDims(qkv, 2, 0, 3, 1, 4)          // [3, batch, heads, seq, headWidth]
	parts := make([]*Node, 3)
	for i := range parts {
		parts[i] = Reshape(Slice(qkv, AxisElem(i)), batch, heads, seq, headWidth)
	}
	return parts[0], parts[1], parts[2]
}

// causalAttention computes softmax(q k^T / sqrt(headWidth) + mask) v for q, k, v
// shaped [batch, heads, seq, headWidth] and returns the heads merged back:
// [batch, seq, heads*headWidth].
func causalAttention(q, k, v, mask *Node) *Node {
	dims := q.Shape().Dimensions
	batch, heads, seq, headWidth := dims[0], dims[1], dims[2], dims[3]
	scores := Einsum("bhqd,bhkd->bhqk", q, k)
	scores = MulScalar(scores, attentionScale(headWidth))
	scores = Add(scores, ExpandLeftToRank(mask, 4)) // [1, 1, seq, seq]: broadcast over batch and heads.
	probs := softmax(scores)
	y := Einsum("bhqk,bhkd->bhqd", probs, v)
	y = TransposeAllDims(y, 0, 2, 1, 3) // [batch, seq, heads, headWidth]
	return Reshape(y, batch, seq, heads*headWidth)
}

// rmsNorm normalizes x by the root mean square of its last axis: x / sqrt(mean(x^2) + eps) * gain.
func rmsNorm(x, gain *Node, epsilon float64) *Node {
	meanSquare := ReduceAndKeep(Square(x), ReduceMean, -1)
	return Mul(Div(x, Sqrt(AddScalar(meanSquare, epsilon))), ExpandLeftToRank(gain, x.Rank()))
}

// crossEntropy returns the cross-entropy in nats of each next-byte prediction:
// logits is [batch, seq, vocab], targets is an integer tensor [batch, seq], and
// the result is [batch, seq].
func crossEntropy(logits, targets *Node) *Node {
	if logits.Rank() != 3 || targets.Rank() != 2 || !targets.DType().IsInt() {
		Panicf("charlm: CrossEntropy wants logits [batch, seq, vocab] and integer targets [batch, seq], got %s and %s",
			logits.Shape(), targets.Shape())
	}
	logProbs := LogSoftmax(logits, -1)
	oneHot := OneHot(targets, logits.Shape().Dim(-1), logits.DType())
	return Neg(ReduceSum(Mul(oneHot, logProbs), -1))
}
