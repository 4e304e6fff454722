package charlm

import (
	"math"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/nn"
)

// gpt builds the ArchGPT model of the benchmark specification: learned token and position
// embeddings, pre-LayerNorm blocks x + attn(ln1(x)), x + mlp(ln2(x)), final
// LayerNorm, untied output projection without bias.
func (m *Model) gpt(scope *model.Scope, tokens *Node) *Node {
	cfg := m.Config
	g := tokens.Graph()
	seq := tokens.Shape().Dim(1)

	x := embed(m.weight(scope.In("token_embed"), g, "embeddings", KindEmbed, cfg.Vocab, cfg.Width), tokens)
	pos := m.weight(scope.In("pos_embed"), g, "embeddings", KindPos, cfg.Block, cfg.Width)
	if seq < cfg.Block {
		pos = Slice(pos, AxisRange(0, seq))
	}
	x = Add(x, InsertAxes(pos, 0))

	mask := causalMaskBias(g, seq)
	for layer := range cfg.Layers {
		block := scope.In("block_%03d", layer)
		attn, mlp := block.In("attn"), block.In("mlp")
		h := m.activation(attn, SiteAttnIn, m.layerNorm(block.In("ln1"), x))
		x = Add(x, m.gptAttention(attn, h, mask))
		h = m.activation(mlp, siteMLPIn, m.layerNorm(block.In("ln2"), x))
		x = Add(x, m.gptMLP(mlp, h))
	}
	x = m.layerNorm(scope.In("final_norm"), x)
	head := m.weight(scope.In("head"), g, "weights", KindHead, cfg.Width, cfg.Vocab)
	return linear(x, head, nil)
}

// layerNorm over the last axis with gain and bias (epsilon Config.NormEpsilon).
func (m *Model) layerNorm(scope *model.Scope, x *Node) *Node {
	g := x.Graph()
	d := x.Shape().Dim(-1)
	return nn.LayerNorm(x, []int{-1}, m.Config.NormEpsilon, gain(scope, g, "gain", d), bias(scope, g, "offset", d), nil)
}

// gptAttention is causal multi-head self-attention with one fused QKV projection
// (with bias) and an output projection (with bias).
func (m *Model) gptAttention(scope *model.Scope, x, mask *Node) *Node {
	cfg := m.Config
	g := x.Graph()
	qkvScope := scope.In("qkv")
	q, k, v := projectQKV(x,
		m.weight(qkvScope, g, "weights", KindAttnQKV, cfg.Width, 3*cfg.Width),
		bias(qkvScope, g, "biases", 3*cfg.Width), cfg.Heads)
	y := causalAttention(q, k, v, mask)
	outScope := scope.In("out")
	return linear(y,
		m.weight(outScope, g, "weights", KindAttnOut, cfg.Width, cfg.Width),
		bias(outScope, g, "biases", cfg.Width))
}

// gptMLP is Linear(width -> hidden) + exact GELU + Linear(hidden -> width), with biases.
func (m *Model) gptMLP(scope *model.Scope, x *Node) *Node {
	cfg := m.Config
	g := x.Graph()
	hidden := cfg.Hidden()
	inScope := scope.In("in")
	h := linear(x,
		m.weight(inScope, g, "weights", KindMLPIn, cfg.Width, hidden),
		bias(inScope, g, "biases", hidden))
	h = gelu(h)
	h = m.activation(scope, SiteMLPHidden, h)
	outScope := scope.In("out")
	return linear(h,
		m.weight(outScope, g, "weights", KindMLPOut, hidden, cfg.Width),
		bias(outScope, g, "biases", cfg.Width))
}

// attentionScale is the score scaling of causal attention: 1/sqrt(head width).
func attentionScale(headWidth int) float64 { return 1 / math.Sqrt(float64(headWidth)) }
