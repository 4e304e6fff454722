package charlm

import (
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/layers/attention/pos"
	"github.com/gomlx/gomlx/ml/model"
)

// llama builds the ArchLlama model: token embeddings (no position table),
// pre-RMSNorm blocks with rotary-embedded causal attention and a SwiGLU MLP, no
// biases anywhere, final RMSNorm, untied output projection.
func (m *Model) llama(scope *model.Scope, tokens *Node) *Node {
	cfg := m.Config
	g := tokens.Graph()
	seq := tokens.Shape().Dim(1)

	x := embed(m.weight(scope.In("token_embed"), g, "embeddings", KindEmbed, cfg.Vocab, cfg.Width), tokens)
	mask := causalMaskBias(g, seq)
	positions := Iota(g, shapes.Make(dtypes.Int32, seq), 0)
	rope := pos.NewRoPE(cfg.RoPEBase)
	for layer := range cfg.Layers {
		block := scope.In("block_%03d", layer)
		attn, mlp := block.In("attn"), block.In("mlp")
		h := m.activation(attn, SiteAttnIn, m.rmsNorm(block.In("norm1"), x))
		x = Add(x, m.llamaAttention(attn, h, mask, positions, rope))
		h = m.activation(mlp, siteMLPIn, m.rmsNorm(block.In("norm2"), x))
		x = Add(x, m.llamaMLP(mlp, h))
	}
	x = m.rmsNorm(scope.In("final_norm"), x)
	head := m.weight(scope.In("head"), g, "weights", KindHead, cfg.Width, cfg.Vocab)
	return linear(x, head, nil)
}

// rmsNorm is RMSNorm over the last axis with a gain (epsilon Config.NormEpsilon).
func (m *Model) rmsNorm(scope *model.Scope, x *Node) *Node {
	return rmsNorm(x, gain(scope, x.Graph(), "gain", x.Shape().Dim(-1)), m.Config.NormEpsilon)
}

// llamaAttention is causal multi-head attention with a fused QKV projection, rotary
// embeddings on queries and keys, and an output projection; no biases.
func (m *Model) llamaAttention(scope *model.Scope, x, mask, positions *Node, rope *pos.RoPE) *Node {
	cfg := m.Config
	g := x.Graph()
	q, k, v := projectQKV(x, m.weight(scope.In("qkv"), g, "weights", KindAttnQKV, cfg.Width, 3*cfg.Width), nil, cfg.Heads) // [batch, heads, seq, headWidth]
	q, k = rope.EncodeQK(q, k, positions, q.Rank()-2)                                                                      // sequence axis 2.
	y := causalAttention(q, k, v, mask)
	return linear(y, m.weight(scope.In("out"), g, "weights", KindAttnOut, cfg.Width, cfg.Width), nil)
}

// llamaMLP is the SwiGLU MLP: (silu(x Wgate) * (x Wup)) Wdown.
func (m *Model) llamaMLP(scope *model.Scope, x *Node) *Node {
	cfg := m.Config
	g := x.Graph()
	hidden := cfg.Hidden()
	wGate := m.weight(scope.In("gate"), g, "weights", kindMLPGate, cfg.Width, hidden)
	wUp := m.weight(scope.In("up"), g, "weights", KindMLPIn, cfg.Width, hidden)
	// One matmul for both projections: two independent matmuls (four in the
	// backward pass) running at once can exhaust the Go backend's worker pool.
	gateUp := linear(x, Concatenate([]*Node{wGate, wUp}, 1), nil) // [batch, seq, 2*hidden]
	gate := Slice(gateUp, AxisRange(), AxisRange(), AxisRange(0, hidden))
	up := Slice(gateUp, AxisRange(), AxisRange(), AxisRange(hidden, 2*hidden))
	h := Mul(Mul(gate, Sigmoid(gate)), up)
	h = m.activation(scope, SiteMLPHidden, h)
	return linear(h, m.weight(scope.In("down"), g, "weights", KindMLPOut, hidden, cfg.Width), nil)
}
